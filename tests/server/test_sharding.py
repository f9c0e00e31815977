"""The mongos role: hello, sharding commands and the config database."""

from __future__ import annotations

import pymongo
import pytest
from bson import MaxKey, MinKey
from pymongo.errors import OperationFailure

from tests.support.server import MongoTestServer


def _failure(call, *args, **kwargs) -> OperationFailure:
    with pytest.raises(OperationFailure) as error:
        call(*args, **kwargs)
    return error.value


@pytest.fixture
def sharded(mongos_client: pymongo.MongoClient) -> pymongo.MongoClient:
    admin = mongos_client.admin
    admin.command("addShard", "shardA/127.0.0.1:27018,127.0.0.1:27019")
    admin.command("addShard", "shardB/127.0.0.1:27020")
    return mongos_client


def test_mongos_hello(mongos_client: pymongo.MongoClient) -> None:
    hello = mongos_client.admin.command("hello")
    assert list(hello) == [
        "isWritablePrimary",
        "msg",
        "topologyVersion",
        "maxBsonObjectSize",
        "maxMessageSizeBytes",
        "maxWriteBatchSize",
        "localTime",
        "logicalSessionTimeoutMinutes",
        "connectionId",
        "maxWireVersion",
        "minWireVersion",
        "ok",
    ]
    assert hello["msg"] == "isdbgrid"
    assert mongos_client.topology_description.topology_type_name == "Sharded"
    assert mongos_client.admin.command("serverStatus")["process"] == "mongos"


def test_mongod_only_and_mongos_only_commands(
    mongos_client: pymongo.MongoClient, client: pymongo.MongoClient
) -> None:
    assert _failure(mongos_client.admin.command, "replSetGetStatus").code == 59
    assert _failure(client.admin.command, "listShards").code == 59
    assert _failure(client.admin.command, "balancerStatus").code == 59


def test_add_and_list_shards(sharded: pymongo.MongoClient) -> None:
    shards = sharded.admin.command("listShards")["shards"]
    assert [(shard["_id"], shard["host"], shard["state"]) for shard in shards] == [
        ("shardA", "shardA/127.0.0.1:27018,127.0.0.1:27019", 1),
        ("shardB", "shardB/127.0.0.1:27020", 1),
    ]
    again = sharded.admin.command("addShard", "shardB/127.0.0.1:27020")
    assert again["shardAdded"] == "shardB"
    assert sharded.config.shards.count_documents({}) == 2


def test_enable_sharding_needs_a_shard(mongos_client: pymongo.MongoClient) -> None:
    failure = _failure(mongos_client.admin.command, "enableSharding", "shop")
    assert failure.code == 70


def test_shard_collection_on_empty_collection_creates_the_index(
    sharded: pymongo.MongoClient,
) -> None:
    reply = sharded.admin.command(
        "shardCollection", "shop.orders", key={"customer": 1}, unique=True
    )
    assert reply == {"collectionsharded": "shop.orders", "ok": 1.0}
    assert sharded.shop.orders.index_information()["customer_1"]["unique"] is True
    [recorded] = sharded.config.collections.find({"_id": "shop.orders"})
    assert recorded["key"] == {"customer": 1} and recorded["unique"] is True
    assert recorded["noBalance"] is False
    [database] = sharded.config.databases.find({"_id": "shop"})
    assert database["primary"] == "shardA"
    [chunk] = sharded.config.chunks.find({"uuid": recorded["uuid"]})
    assert chunk["min"] == {"customer": MinKey()} and chunk["max"] == {"customer": MaxKey()}
    same = sharded.admin.command("shardCollection", "shop.orders", key={"customer": 1}, unique=True)
    assert same["ok"] == 1.0
    other_key = _failure(sharded.admin.command, "shardCollection", "shop.orders", key={"sku": 1})
    assert other_key.code == 20


def test_shard_collection_with_data_needs_a_supporting_index(sharded: pymongo.MongoClient) -> None:
    sharded.shop.events.insert_one({"device": 1, "at": 2})
    refused = _failure(sharded.admin.command, "shardCollection", "shop.events", key={"device": 1})
    assert (refused.code, refused.details["errmsg"]) == (
        72,
        "Please create an index that starts with the proposed shard key before sharding "
        "the collection.",
    )
    sharded.shop.events.create_index([("device", 1), ("at", 1)])
    assert sharded.admin.command("shardCollection", "shop.events", key={"device": 1})["ok"] == 1
    hashed = _failure(
        sharded.admin.command, "shardCollection", "shop.events2", key={"a": "hashed"}, unique=True
    )
    assert hashed.code == 2


def test_unique_index_must_be_prefixed_by_the_shard_key(sharded: pymongo.MongoClient) -> None:
    sharded.shop.users.create_index("email", unique=True)
    failure = _failure(sharded.admin.command, "shardCollection", "shop.users", key={"region": 1})
    assert failure.code == 72


def test_zones(sharded: pymongo.MongoClient) -> None:
    admin = sharded.admin
    admin.command("shardCollection", "shop.orders", key={"region": 1})
    admin.command("addShardToZone", "shardA", zone="EU")
    admin.command(
        "updateZoneKeyRange",
        "shop.orders",
        min={"region": MinKey()},
        max={"region": "m"},
        zone="EU",
    )
    [tag] = sharded.config.tags.find()
    assert {key: tag[key] for key in ("ns", "min", "max", "tag")} == {
        "ns": "shop.orders",
        "min": {"region": MinKey()},
        "max": {"region": "m"},
        "tag": "EU",
    }
    assert sharded.config.shards.find_one({"_id": "shardA"})["tags"] == ["EU"]
    assert (
        _failure(
            admin.command,
            "updateZoneKeyRange",
            "shop.orders",
            min={"region": "a"},
            max={"region": "b"},
            zone="US",
        ).code
        == 177
    )
    assert _failure(admin.command, "removeShardFromZone", "shardA", zone="EU").code == 163
    assert _failure(admin.command, "addShardToZone", "nope", zone="EU").code == 70
    admin.command(
        "updateZoneKeyRange",
        "shop.orders",
        min={"region": MinKey()},
        max={"region": "m"},
        zone=None,
    )
    assert sharded.config.tags.count_documents({}) == 0
    admin.command("removeShardFromZone", "shardA", zone="EU")
    assert sharded.config.shards.find_one({"_id": "shardA"})["tags"] == []


def _zone_range(admin, minimum, maximum, zone, ns="shop.orders"):
    return admin.command("updateZoneKeyRange", ns, min=minimum, max=maximum, zone=zone)


def test_zone_ranges_on_a_prefix_of_the_key_are_filled_with_minkey(
    sharded: pymongo.MongoClient,
) -> None:
    admin = sharded.admin
    admin.command("shardCollection", "shop.orders", key={"region": 1, "customer": 1})
    admin.command("addShardToZone", "shardA", zone="EU")
    _zone_range(admin, {"region": "eu"}, {"region": "ev"}, "EU")
    [tag] = sharded.config.tags.find()
    assert tag["min"] == {"region": "eu", "customer": MinKey()}
    assert tag["max"] == {"region": "ev", "customer": MinKey()}
    assert list(tag["min"]) == ["region", "customer"]
    # the same range again, as a prefix or in full, changes nothing
    _zone_range(admin, {"region": "eu"}, {"region": "ev"}, "EU")
    _zone_range(
        admin, {"region": "eu", "customer": MinKey()}, {"region": "ev", "customer": MinKey()}, "EU"
    )
    assert sharded.config.tags.count_documents({}) == 1
    # min and max may name different prefixes
    _zone_range(admin, {"region": "ev", "customer": MinKey()}, {"region": "ew"}, "EU")
    assert sharded.config.tags.count_documents({}) == 2
    # removing by the prefix removes the stored full-key range
    _zone_range(admin, {"region": "ev"}, {"region": "ew"}, None)
    _zone_range(admin, {"region": "eu"}, {"region": "ev"}, None)
    assert sharded.config.tags.count_documents({}) == 0


def test_zone_range_refusals(sharded: pymongo.MongoClient) -> None:
    admin = sharded.admin
    admin.command("shardCollection", "shop.orders", key={"region": 1, "customer": 1})
    admin.command("addShardToZone", "shardA", zone="EU")
    admin.command("addShardToZone", "shardB", zone="US")
    _zone_range(admin, {"region": "b"}, {"region": "d"}, "EU")

    not_prefix = _failure(_zone_range, admin, {"customer": 1}, {"customer": 5}, "EU")
    assert (not_prefix.code, not_prefix.details["codeName"]) == (61, "ShardKeyNotFound")
    assert not_prefix.details["errmsg"] == (
        "min: { customer: 1 } is not a prefix of the shard key { region: 1, customer: 1 } "
        "of ns: shop.orders"
    )
    backwards = _failure(_zone_range, admin, {"region": "z"}, {"region": "a"}, "EU")
    assert (backwards.code, backwards.details["errmsg"]) == (
        9,
        'min: { region: "z" } should be less than max: { region: "a" }',
    )
    for low, high, zone in (
        ({"region": "c"}, {"region": "e"}, "US"),  # partial overlap, another zone
        ({"region": "a"}, {"region": "c"}, "EU"),  # partial overlap, the same zone
        ({"region": "a"}, {"region": "z"}, "US"),  # contains the existing range
        ({"region": "b", "customer": 5}, {"region": "c"}, "US"),  # inside it
        ({"region": "b"}, {"region": "d"}, "US"),  # the same range, another zone
    ):
        overlap = _failure(_zone_range, admin, low, high, zone)
        assert (overlap.code, overlap.details["codeName"]) == (178, "RangeOverlapConflict")
    overlap = _failure(_zone_range, admin, {"region": "c"}, {"region": "e"}, "US")
    assert overlap.details["errmsg"] == (
        'Zone range: { region: "c", customer: MinKey } -->> { region: "e", customer: MinKey }'
        '  on  US is overlapping with existing: { region: "b", customer: MinKey } -->> '
        '{ region: "d", customer: MinKey }  on  EU'
    )
    # touching ranges do not overlap: max is exclusive
    _zone_range(admin, {"region": "d"}, {"region": "f"}, "US")
    _zone_range(admin, {"region": MinKey()}, {"region": "b"}, "US")
    assert sharded.config.tags.count_documents({}) == 3


def test_zone_ranges_on_an_unsharded_collection_are_kept_as_given(
    sharded: pymongo.MongoClient,
) -> None:
    admin = sharded.admin
    admin.command("addShardToZone", "shardA", zone="EU")
    _zone_range(admin, {"region": "eu"}, {"region": "ev"}, "EU", ns="shop.later")
    [tag] = sharded.config.tags.find({"ns": "shop.later"})
    assert tag["min"] == {"region": "eu"} and tag["max"] == {"region": "ev"}
    mismatch = _failure(
        _zone_range, admin, {"region": "a"}, {"region": "b", "x": 1}, "EU", ns="shop.later"
    )
    assert mismatch.code == 61
    hashed_key = {"device": "hashed"}
    admin.command("shardCollection", "shop.events", key=hashed_key)
    not_long = _failure(
        _zone_range, admin, {"device": "a"}, {"device": "b"}, "EU", ns="shop.events"
    )
    assert not_long.code == 72


def test_balancer_and_config_settings(sharded: pymongo.MongoClient) -> None:
    admin = sharded.admin
    status = admin.command("balancerStatus")
    assert status["mode"] == "full" and status["inBalancerRound"] is False
    admin.command("balancerStop")
    assert admin.command("balancerStatus")["mode"] == "off"
    assert sharded.config.settings.find_one({"_id": "balancer"})["stopped"] is True
    admin.command("balancerStart")
    sharded.config.settings.update_one(
        {"_id": "balancer"}, {"$set": {"activeWindow": {"start": "01:00", "stop": "05:00"}}}
    )
    settings = sharded.config.settings.find_one({"_id": "balancer"})
    assert settings["mode"] == "full" and settings["activeWindow"]["stop"] == "05:00"
    sharded.config.settings.update_one({"_id": "balancer"}, {"$set": {"mode": "off"}})
    assert admin.command("balancerStatus")["mode"] == "off"


def test_index_stats_through_mongos_name_the_shard(
    sharded: pymongo.MongoClient, mongos_server: MongoTestServer
) -> None:
    sharded.shop.orders.insert_one({"a": 1})
    [stats] = sharded.shop.orders.aggregate([{"$indexStats": {}}])
    assert stats["shard"] == "shardA" and stats["host"] == mongos_server.host


def test_drop_forgets_the_sharded_collection(sharded: pymongo.MongoClient) -> None:
    sharded.admin.command("shardCollection", "shop.orders", key={"a": 1})
    sharded.shop.orders.drop()
    assert sharded.config.collections.count_documents({}) == 0
