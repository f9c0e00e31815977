"""$indexStats counters per member, and $collStats storageStats (MONGODB-FACTS section 6)."""

from __future__ import annotations

import datetime

import pymongo
from bson import Int64

from tests.support.server import MongoTestServer, ReplicaSetTestCluster


def _stats(collection: pymongo.collection.Collection) -> dict[str, dict]:
    return {doc["name"]: doc for doc in collection.aggregate([{"$indexStats": {}}])}


def test_index_stats_shape(client: pymongo.MongoClient, mongo_server: MongoTestServer) -> None:
    orders = client.shop.orders
    orders.create_index("sku", unique=True)
    stats = _stats(orders)
    assert set(stats) == {"_id_", "sku_1"}
    sku = stats["sku_1"]
    assert list(sku) == ["name", "key", "host", "accesses", "spec"]
    assert sku["host"] == mongo_server.host
    assert sku["spec"] == {"v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": True}
    assert sku["accesses"]["ops"] == 0 and isinstance(sku["accesses"]["since"], datetime.datetime)
    raw = client.shop.command(
        {"aggregate": "orders", "pipeline": [{"$indexStats": {}}], "cursor": {}}
    )
    assert raw["cursor"]["firstBatch"]


def test_queries_count_on_the_index_they_would_use(client: pymongo.MongoClient) -> None:
    orders = client.shop.orders
    orders.create_index([("sku", 1), ("size", 1)])
    orders.create_index("customer")
    orders.insert_many([{"sku": n, "size": n, "customer": n % 2} for n in range(5)])
    orders.find_one({"sku": 1})
    orders.find_one({"sku": 1, "size": 1})
    orders.count_documents({"customer": 1})
    orders.update_many({"customer": 0}, {"$set": {"seen": True}})
    orders.delete_one({"$and": [{"sku": 4}]})
    list(orders.aggregate([{"$match": {"customer": 1}}]))
    orders.find_one({"unindexed": 1})
    orders.find_one({}, hint="customer_1")
    stats = _stats(orders)
    assert stats["sku_1_size_1"]["accesses"]["ops"] == 3
    assert stats["customer_1"]["accesses"]["ops"] == 4
    assert stats["_id_"]["accesses"]["ops"] == 0


def test_hidden_indexes_are_not_used(client: pymongo.MongoClient) -> None:
    orders = client.shop.orders
    orders.create_index("sku", hidden=True)
    orders.find_one({"sku": 1})
    assert _stats(orders)["sku_1"]["accesses"]["ops"] == 0


def test_set_index_stats_and_building(
    mongo_server: MongoTestServer, client: pymongo.MongoClient
) -> None:
    client.shop.orders.create_index("sku")
    since = datetime.datetime(2024, 1, 2, 3, 4, 5)
    mongo_server.set_index_stats("shop", "orders", "sku_1", ops=41, since=since, building=True)
    client.shop.orders.find_one({"sku": 3})
    stats = _stats(client.shop.orders)["sku_1"]
    assert stats["accesses"] == {"ops": 42, "since": since}
    assert stats["building"] is True
    raw = client.shop.command(
        {"aggregate": "orders", "pipeline": [{"$indexStats": {}}], "cursor": {}}
    )
    [raw_sku] = [doc for doc in raw["cursor"]["firstBatch"] if doc["name"] == "sku_1"]
    assert isinstance(raw_sku["accesses"]["ops"], Int64)


def test_since_resets_on_coll_mod(
    client: pymongo.MongoClient, mongo_server: MongoTestServer
) -> None:
    client.shop.orders.create_index("day", expireAfterSeconds=60)
    mongo_server.set_index_stats(
        "shop", "orders", "day_1", ops=9, since=datetime.datetime(2020, 1, 1)
    )
    client.shop.command(
        {"collMod": "orders", "index": {"name": "day_1", "expireAfterSeconds": 120}}
    )
    stats = _stats(client.shop.orders)["day_1"]
    assert stats["accesses"]["ops"] == 0
    assert stats["accesses"]["since"] > datetime.datetime(2024, 1, 1)
    assert stats["spec"]["expireAfterSeconds"] == 120


def test_counters_are_per_member(replset: ReplicaSetTestCluster) -> None:
    primary = replset.client()
    try:
        primary.shop.orders.create_index("sku")
        primary.shop.orders.find_one({"sku": 1})
    finally:
        primary.close()
    replset.member(2).set_index_stats("shop", "orders", "sku_1", ops=7)
    counts = {}
    for member in replset.members:
        connection = member.client()
        try:
            stats = _stats(connection.shop.orders)["sku_1"]
            counts[member.index] = stats["accesses"]["ops"]
            assert stats["host"] == member.host
        finally:
            connection.close()
    # The $indexStats aggregate itself uses no index.
    assert counts == {0: 1, 1: 0, 2: 7}


def test_coll_stats_storage_stats(client: pymongo.MongoClient) -> None:
    client.shop.orders.insert_many([{"n": n} for n in range(3)])
    client.shop.orders.create_index("n")
    [document] = client.shop.orders.aggregate([{"$collStats": {"storageStats": {}}}])
    assert list(document) == ["ns", "host", "localTime", "storageStats"]
    stats = document["storageStats"]
    assert list(stats)[:7] == [
        "size",
        "count",
        "avgObjSize",
        "numOrphanDocs",
        "storageSize",
        "freeStorageSize",
        "capped",
    ]
    assert list(stats)[7:] == [
        "wiredTiger",
        "nindexes",
        "indexDetails",
        "indexBuilds",
        "totalIndexSize",
        "indexSizes",
        "totalSize",
        "scaleFactor",
    ]
    assert stats["count"] == 3 and stats["nindexes"] == 2
    assert set(stats["indexSizes"]) == {"_id_", "n_1"}
    assert stats["totalSize"] == stats["storageSize"] + stats["totalIndexSize"]
    assert stats["scaleFactor"] == 1


def test_coll_stats_of_capped_and_missing(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "log", "capped": True, "size": 8192, "max": 5})
    [document] = client.shop.log.aggregate([{"$collStats": {"storageStats": {}, "count": {}}}])
    assert document["storageStats"]["capped"] is True
    assert document["storageStats"]["maxSize"] == 8192 and document["storageStats"]["max"] == 5
    assert document["count"] == 0
    try:
        list(client.shop.missing.aggregate([{"$collStats": {"storageStats": {}}}]))
    except pymongo.errors.OperationFailure as error:
        assert error.code == 26
    else:
        raise AssertionError("expected NamespaceNotFound")


def test_capped_collection_keeps_the_newest(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "log", "capped": True, "size": 100000, "max": 3})
    client.shop.log.insert_many([{"n": n} for n in range(5)])
    assert [doc["n"] for doc in client.shop.log.find()] == [2, 3, 4]
