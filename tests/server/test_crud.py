"""Reads and writes through pymongo: cursors, updates, deletes, aggregation."""

from __future__ import annotations

import threading

import bson
import pymongo
import pytest
from bson import Int64
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import ReturnDocument
from pymongo.errors import BulkWriteError, OperationFailure, WriteError

from tests.support.server import MongoTestServer


@pytest.fixture
def items(client: pymongo.MongoClient) -> pymongo.collection.Collection:
    collection = client.shop.items
    collection.insert_many(
        [{"_id": n, "n": n, "group": n % 3, "tags": ["x", f"t{n % 2}"]} for n in range(1, 251)]
    )
    return collection


def test_insert_and_find_round_trip(client: pymongo.MongoClient) -> None:
    result = client.test.c.insert_one({"a": 1, "nested": {"b": [1, 2]}})
    found = client.test.c.find_one({"_id": result.inserted_id})
    assert found == {"_id": result.inserted_id, "a": 1, "nested": {"b": [1, 2]}}
    assert list(found) == ["_id", "a", "nested"]


def test_server_puts_missing_id_first(client: pymongo.MongoClient) -> None:
    client.test.command({"insert": "c", "documents": [{"a": 1}]})
    document = client.test.c.find_one()
    assert list(document) == ["_id", "a"]


def test_cursor_batches_use_int64_ids(client: pymongo.MongoClient, items) -> None:
    raw = CodecOptions(document_class=RawBSONDocument)
    reply = client.shop.command({"find": "items", "batchSize": 10}, codec_options=raw)
    cursor = reply["cursor"]
    assert b"\x12id\x00" in cursor.raw  # int64, as mongosh requires
    assert len(cursor["firstBatch"]) == 10
    more = client.shop.command(
        {"getMore": Int64(cursor["id"]), "collection": "items", "batchSize": 500}
    )
    assert len(more["cursor"]["nextBatch"]) == 240
    assert more["cursor"]["id"] == 0
    assert more["cursor"]["ns"] == "shop.items"


def test_default_first_batch_is_101(client: pymongo.MongoClient, items) -> None:
    reply = client.shop.command({"find": "items"})
    assert len(reply["cursor"]["firstBatch"]) == 101
    assert reply["cursor"]["id"] != 0
    assert len(list(items.find())) == 250


def test_get_more_on_unknown_cursor(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.test.command({"getMore": Int64(12345), "collection": "c"})
    assert error.value.code == 43


def test_kill_cursors(client: pymongo.MongoClient, items) -> None:
    reply = client.shop.command({"find": "items", "batchSize": 2})
    cursor_id = reply["cursor"]["id"]
    killed = client.shop.command({"killCursors": "items", "cursors": [cursor_id, Int64(7)]})
    assert killed["cursorsKilled"] == [cursor_id]
    assert killed["cursorsNotFound"] == [7]


def test_sort_skip_limit_projection(items) -> None:
    found = list(items.find({"group": 1}, {"_id": 0, "n": 1}).sort("n", -1).skip(2).limit(3))
    assert found == [{"n": 244}, {"n": 241}, {"n": 238}]


def test_natural_order_and_reverse(items) -> None:
    items.update_one({"_id": 1}, {"$set": {"touched": True}})  # updates keep their place
    forward = [doc["_id"] for doc in items.find().sort("$natural", 1).limit(3)]
    backward = [doc["_id"] for doc in items.find().sort("$natural", -1).limit(3)]
    assert forward == [1, 2, 3]
    assert backward == [250, 249, 248]


def test_find_raw_batches(items) -> None:
    batches = list(items.find_raw_batches({"group": 0}, batch_size=20))
    assert sum(len(bson.decode_all(batch)) for batch in batches) == 83


def test_hint_must_name_an_index(items) -> None:
    with pytest.raises(OperationFailure) as error:
        list(items.find().hint("nope_1"))
    assert error.value.code == 2
    assert len(list(items.find({"n": 1}).hint("_id_"))) == 1


def test_update_operators_upsert_and_multi(items) -> None:
    result = items.update_many({"group": 0}, {"$inc": {"n": 1000}, "$set": {"hit": True}})
    assert (result.matched_count, result.modified_count) == (83, 83)
    noop = items.update_one({"_id": 3}, {"$set": {"hit": True}})
    assert (noop.matched_count, noop.modified_count) == (1, 0)
    upserted = items.update_one(
        {"sku": "new"}, {"$set": {"qty": 1}, "$setOnInsert": {"a": 1}}, upsert=True
    )
    document = items.find_one({"_id": upserted.upserted_id})
    assert list(document) == ["_id", "sku", "qty", "a"]


def test_replacement_and_pipeline_updates(items) -> None:
    items.replace_one({"_id": 5}, {"only": "this"})
    assert items.find_one({"_id": 5}) == {"_id": 5, "only": "this"}
    items.update_one({"_id": 6}, [{"$set": {"double": {"$multiply": ["$n", 2]}}}])
    assert items.find_one({"_id": 6})["double"] == 12
    with pytest.raises(WriteError) as error:
        items.replace_one({"_id": 7}, {"_id": 700})
    assert error.value.code == 66


def test_update_reply_counts(client: pymongo.MongoClient, items) -> None:
    reply = client.shop.command(
        {
            "update": "items",
            "updates": [
                {"q": {"_id": 1}, "u": {"$set": {"a": 1}}},
                {"q": {"_id": "missing"}, "u": {"$set": {"a": 1}}, "upsert": True},
            ],
        }
    )
    assert reply == {
        "n": 2,
        "nModified": 1,
        "upserted": [{"index": 1, "_id": "missing"}],
        "ok": 1.0,
    }


def test_array_filters_are_refused_clearly(items) -> None:
    with pytest.raises(WriteError) as error:
        items.update_one({"_id": 1}, {"$set": {"tags.$[t]": "y"}}, array_filters=[{"t": "x"}])
    assert error.value.code == 238


def test_unknown_update_modifier(items) -> None:
    with pytest.raises(WriteError) as error:
        items.update_one({"_id": 1}, {"$set": {"a": 1}, "b": 2})
    assert error.value.code == 9


def test_delete_one_and_many(items) -> None:
    assert items.delete_one({"group": 2}).deleted_count == 1
    assert items.delete_many({"group": 2}).deleted_count == 82
    assert items.count_documents({}) == 167


def test_find_one_and_modify(items) -> None:
    before = items.find_one_and_update({"_id": 1}, {"$set": {"x": 1}})
    assert "x" not in before
    after = items.find_one_and_update(
        {"_id": 2}, {"$set": {"x": 2}}, return_document=ReturnDocument.AFTER, projection={"x": 1}
    )
    assert after == {"_id": 2, "x": 2}
    removed = items.find_one_and_delete({"group": 0}, sort=[("n", -1)])
    assert removed["_id"] == 249
    created = items.find_one_and_update(
        {"_id": 999}, {"$set": {"n": 999}}, upsert=True, return_document=ReturnDocument.AFTER
    )
    assert created == {"_id": 999, "n": 999}


def test_count_distinct_and_estimated(client: pymongo.MongoClient, items) -> None:
    assert client.shop.command({"count": "items", "query": {"group": 1}})["n"] == 84
    assert sorted(items.distinct("group")) == [0, 1, 2]
    assert sorted(items.distinct("tags")) == ["t0", "t1", "x"]
    assert items.estimated_document_count() == 250
    assert client.shop.command({"count": "missing"})["n"] == 0


def test_aggregate_pipeline(items) -> None:
    result = list(
        items.aggregate(
            [
                {"$match": {"n": {"$lte": 10}}},
                {"$group": {"_id": "$group", "total": {"$sum": "$n"}}},
                {"$sort": {"_id": 1}},
            ]
        )
    )
    assert result == [{"_id": 0, "total": 18}, {"_id": 1, "total": 22}, {"_id": 2, "total": 15}]
    assert list(result[0]) == ["_id", "total"]
    unset = list(items.aggregate([{"$match": {"_id": 1}}, {"$unset": ["tags", "group"]}]))
    assert unset == [{"_id": 1, "n": 1}]


def test_aggregate_lookup_and_out(client: pymongo.MongoClient) -> None:
    db = client.shop
    db.orders.insert_many([{"_id": 1, "sku": "a"}, {"_id": 2, "sku": "b"}])
    db.products.insert_many([{"_id": "a", "price": 3}, {"_id": "b", "price": 4}])
    joined = list(
        db.orders.aggregate(
            [
                {
                    "$lookup": {
                        "from": "products",
                        "localField": "sku",
                        "foreignField": "_id",
                        "as": "product",
                    }
                },
                {"$project": {"price": {"$first": "$product.price"}}},
            ]
        )
    )
    assert joined == [{"_id": 1, "price": 3}, {"_id": 2, "price": 4}]
    assert list(db.orders.aggregate([{"$match": {"_id": 1}}, {"$out": "copy"}])) == []
    assert list(db.copy.find()) == [{"_id": 1, "sku": "a"}]


def test_aggregate_needs_cursor_and_documents_stage(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.test.command({"aggregate": "c", "pipeline": []})
    assert error.value.code == 9
    reply = client.test.command(
        {"aggregate": 1, "pipeline": [{"$documents": [{"a": 1}]}], "cursor": {}}
    )
    assert reply["cursor"]["firstBatch"] == [{"a": 1}]
    assert reply["cursor"]["ns"] == "test.$cmd.aggregate"


def test_mongosh_atlascli_probe_is_empty(client: pymongo.MongoClient) -> None:
    reply = client.admin.command(
        {
            "aggregate": "atlascli",
            "pipeline": [
                {"$match": {"managedClusterType": "atlasCliLocalDevCluster"}},
                {"$group": {"_id": 1, "n": {"$sum": 1}}},
            ],
            "cursor": {},
        }
    )
    assert reply["cursor"] == {"firstBatch": [], "id": 0, "ns": "admin.atlascli"}


def test_ordered_and_unordered_bulk_errors(client: pymongo.MongoClient) -> None:
    collection = client.test.bulk
    collection.insert_one({"_id": 2})
    with pytest.raises(BulkWriteError) as ordered:
        collection.insert_many([{"_id": 1}, {"_id": 2}, {"_id": 3}])
    assert ordered.value.details["nInserted"] == 1
    with pytest.raises(BulkWriteError) as unordered:
        collection.insert_many([{"_id": 2}, {"_id": 4}, {"_id": 1}], ordered=False)
    assert unordered.value.details["nInserted"] == 1
    assert [error["index"] for error in unordered.value.details["writeErrors"]] == [0, 2]


def test_unacknowledged_writes_are_applied(mongo_server: MongoTestServer) -> None:
    connection = mongo_server.client(w=0)
    try:
        connection.test.c.insert_one({"_id": 1})
        acknowledged = mongo_server.client()
        try:
            for _ in range(100):
                if acknowledged.test.c.find_one({"_id": 1}):
                    break
            assert acknowledged.test.c.find_one({"_id": 1}) == {"_id": 1}
        finally:
            acknowledged.close()
    finally:
        connection.close()


def test_views_read_through_their_pipeline(client: pymongo.MongoClient, items) -> None:
    client.shop.command(
        {
            "create": "small",
            "viewOn": "items",
            "pipeline": [{"$match": {"n": {"$lt": 4}}}, {"$project": {"n": 1}}],
        }
    )
    assert list(client.shop.small.find({}, sort=[("n", -1)])) == [
        {"_id": 3, "n": 3},
        {"_id": 2, "n": 2},
        {"_id": 1, "n": 1},
    ]
    assert client.shop.small.count_documents({}) == 3
    with pytest.raises(OperationFailure) as error:
        client.shop.small.insert_one({"n": 1})
    assert error.value.code == 166


def test_db_stats(client: pymongo.MongoClient, items) -> None:
    client.shop.command({"create": "v", "viewOn": "items", "pipeline": []})
    stats = client.shop.command("dbStats")
    assert list(stats)[:5] == ["db", "collections", "views", "objects", "avgObjSize"]
    assert (stats["db"], stats["collections"], stats["views"], stats["objects"]) == (
        "shop",
        1,
        1,
        250,
    )
    assert stats["dataSize"] > 0 and stats["indexes"] == 1


def test_concurrent_clients_are_serialised(mongo_server: MongoTestServer) -> None:
    connection = mongo_server.client(maxPoolSize=8)
    connection.test.c.create_index("n", unique=True)

    def write(worker: int) -> None:
        for step in range(25):
            connection.test.c.insert_one({"n": worker * 1000 + step})
            connection.test.c.update_one({"n": worker * 1000 + step}, {"$inc": {"hits": 1}})

    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert connection.test.c.count_documents({"hits": 1}) == 200
        assert mongo_server.errors == []
    finally:
        connection.close()


def test_updates_and_deletes_do_not_create_collections(client: pymongo.MongoClient) -> None:
    db = client.shop
    assert db.ghost.update_one({"a": 1}, {"$set": {"b": 1}}).matched_count == 0
    assert db.ghost.delete_many({}).deleted_count == 0
    assert db.ghost.find_one_and_update({"a": 1}, {"$set": {"b": 1}}) is None
    assert db.ghost.find_one_and_delete({"a": 1}) is None
    assert "ghost" not in db.list_collection_names()
    db.ghost.update_one({"a": 1}, {"$set": {"b": 1}}, upsert=True)
    assert db.list_collection_names() == ["ghost"]
