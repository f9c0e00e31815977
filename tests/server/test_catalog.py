"""Catalog commands: databases, collections, collMod, indexes (MONGODB-FACTS sections 1-3)."""

from __future__ import annotations

import uuid

import pymongo
import pytest
from bson import Binary, Int64
from pymongo.errors import OperationFailure

VALIDATOR = {"$jsonSchema": {"bsonType": "object", "required": ["sku"]}}


def _entry(client: pymongo.MongoClient, db: str, name: str) -> dict:
    [entry] = client[db].list_collections(filter={"name": name})
    return entry


def _failure(call, *args, **kwargs) -> OperationFailure:
    with pytest.raises(OperationFailure) as error:
        call(*args, **kwargs)
    return error.value


# ------------------------------------------------------------------ databases


def test_list_databases(client: pymongo.MongoClient) -> None:
    client.shop.items.insert_one({"a": 1})
    reply = client.admin.command("listDatabases")
    names = [database["name"] for database in reply["databases"]]
    assert names == ["admin", "config", "local", "shop"]
    shop = reply["databases"][-1]
    assert list(shop) == ["name", "sizeOnDisk", "empty"]
    assert isinstance(shop["sizeOnDisk"], Int64) and shop["empty"] is False
    assert "totalSize" in reply and "totalSizeMb" in reply
    only = client.admin.command({"listDatabases": 1, "nameOnly": True, "filter": {"name": "shop"}})
    assert only == {"databases": [{"name": "shop"}], "ok": 1.0}


def test_drop_database(client: pymongo.MongoClient) -> None:
    client.shop.a.insert_one({})
    client.shop.b.insert_one({})
    assert client.shop.command("dropDatabase") == {"dropped": "shop", "ok": 1.0}
    assert "shop" not in client.list_database_names()
    assert client.nothing.command("dropDatabase") == {"ok": 1.0}


# ------------------------------------------------------------------ collections


def test_list_collections_entry_shape(client: pymongo.MongoClient) -> None:
    client.shop.create_collection("items", validator=VALIDATOR)
    entry = _entry(client, "shop", "items")
    assert list(entry) == ["name", "type", "options", "info", "idIndex"]
    assert entry["type"] == "collection"
    # Set at create, validationLevel/validationAction stay out (SERVER-53575).
    assert entry["options"] == {"validator": VALIDATOR}
    assert entry["info"]["readOnly"] is False
    assert isinstance(entry["info"]["uuid"], Binary) and entry["info"]["uuid"].subtype == 4
    assert entry["idIndex"] == {"v": 2, "key": {"_id": 1}, "name": "_id_"}
    reply = client.shop.command({"listCollections": 1, "nameOnly": True})
    assert reply["cursor"]["ns"] == "shop.$cmd.listCollections"
    assert list(reply["cursor"]) == ["id", "ns", "firstBatch"]
    assert reply["cursor"]["firstBatch"] == [{"name": "items", "type": "collection"}]


def test_capped_view_and_time_series_entries(client: pymongo.MongoClient) -> None:
    db = client.shop
    db.command({"create": "log", "capped": True, "size": 4096, "max": 10})
    db.command({"create": "cheap", "viewOn": "items", "pipeline": [{"$match": {"p": 1}}]})
    db.command(
        {
            "create": "weather",
            "timeseries": {"timeField": "t", "metaField": "m", "granularity": "minutes"},
            "expireAfterSeconds": 100,
        }
    )
    assert _entry(client, "shop", "log")["options"] == {"capped": True, "size": 4096, "max": 10}
    view = _entry(client, "shop", "cheap")
    assert view == {
        "name": "cheap",
        "type": "view",
        "options": {"viewOn": "items", "pipeline": [{"$match": {"p": 1}}]},
        "info": {"readOnly": True},
    }
    series = _entry(client, "shop", "weather")
    assert series == {
        "name": "weather",
        "type": "timeseries",
        "options": {
            "timeseries": {
                "timeField": "t",
                "metaField": "m",
                "granularity": "minutes",
                "bucketMaxSpanSeconds": 86400,
                "bucketRoundingSeconds": 3600,
            },
            "expireAfterSeconds": 100,
        },
        "info": {"readOnly": False},
    }
    assert isinstance(series["options"]["expireAfterSeconds"], Int64)
    names = db.list_collection_names()
    assert {"system.buckets.weather", "system.views"} <= set(names)
    assert [index["key"] for index in db.weather.list_indexes()] == [{"m": 1, "t": 1}]
    definitions = list(db["system.views"].find({}, sort=[("_id", 1)]))
    assert [definition["_id"] for definition in definitions] == ["shop.cheap", "shop.weather"]


def test_time_series_documents_need_the_time_field(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "weather", "timeseries": {"timeField": "t"}})
    with pytest.raises(pymongo.errors.WriteError) as error:
        client.shop.weather.insert_one({"temp": 3})
    assert error.value.code == 2


def test_create_is_idempotent_with_identical_options(client: pymongo.MongoClient) -> None:
    command = {"create": "items", "validator": VALIDATOR}
    assert client.shop.command(command) == {"ok": 1.0}
    assert client.shop.command(command) == {"ok": 1.0}
    error = _failure(client.shop.command, {"create": "items", "capped": True, "size": 1024})
    assert error.code == 48
    entry_uuid = uuid.UUID(bytes=bytes(_entry(client, "shop", "items")["info"]["uuid"]))
    assert error.details["errmsg"] == (
        "namespace shop.items already exists, but with different options: "
        f'{{ uuid: UUID("{entry_uuid}"), validator: {{ $jsonSchema: {{ bsonType: "object", '
        'required: [ "sku" ] } } }'
    )
    assert error.details["codeName"] == "NamespaceExists"


def test_create_refuses_bad_options(client: pymongo.MongoClient) -> None:
    assert _failure(client.shop.command, {"create": "c", "capped": True}).code == 72
    assert _failure(client.shop.command, {"create": "c", "validationLevel": "loose"}).code == 2
    assert _failure(client.shop.command, {"create": "c", "colation": {}}).code == 40415
    bad_schema = {"$jsonSchema": {"bsonType": "object", "format": "email"}}
    assert _failure(client.shop.command, {"create": "c", "validator": bad_schema}).code in (
        2,
        9,
        4662,
        30,
        51078,
    )


def test_drop_collection(client: pymongo.MongoClient) -> None:
    client.shop.items.insert_one({})
    client.shop.items.create_index("a")
    assert client.shop.command("drop", "items") == {"nIndexesWas": 2, "ns": "shop.items", "ok": 1.0}
    # Since 7.0 dropping a missing collection succeeds.
    assert client.shop.command("drop", "items") == {"ok": 1.0}


def test_rename_collection(client: pymongo.MongoClient) -> None:
    client.shop.old.insert_one({"_id": 1})
    client.shop.old.create_index("a")
    client.admin.command({"renameCollection": "shop.old", "to": "shop.new"})
    assert list(client.shop.new.find()) == [{"_id": 1}]
    assert "a_1" in client.shop.new.index_information()
    assert (
        _failure(client.admin.command, {"renameCollection": "shop.old", "to": "shop.x"}).code == 26
    )


# ------------------------------------------------------------------ collMod


def test_coll_mod_validator_writes_out_defaults(client: pymongo.MongoClient) -> None:
    client.shop.create_collection("items")
    assert client.shop.command({"collMod": "items", "validator": VALIDATOR}) == {"ok": 1.0}
    assert _entry(client, "shop", "items")["options"] == {
        "validator": VALIDATOR,
        "validationLevel": "strict",
        "validationAction": "error",
    }
    client.shop.command(
        {"collMod": "items", "validationLevel": "moderate", "validationAction": "warn"}
    )
    assert _entry(client, "shop", "items")["options"]["validationLevel"] == "moderate"
    assert _failure(client.shop.command, {"collMod": "nope", "validator": VALIDATOR}).code == 26


def test_coll_mod_index_ttl_and_hidden(client: pymongo.MongoClient) -> None:
    collection = client.shop.sessions
    collection.create_index("seen", expireAfterSeconds=86400)
    reply = client.shop.command(
        {"collMod": "sessions", "index": {"name": "seen_1", "expireAfterSeconds": 60}}
    )
    assert reply == {"expireAfterSeconds_old": 86400, "expireAfterSeconds_new": 60, "ok": 1.0}
    hidden = client.shop.command(
        {"collMod": "sessions", "index": {"keyPattern": {"seen": 1}, "hidden": True}}
    )
    assert hidden == {"hidden_old": False, "hidden_new": True, "ok": 1.0}
    spec = collection.index_information()["seen_1"]
    assert spec["expireAfterSeconds"] == 60 and spec["hidden"] is True
    client.shop.command({"collMod": "sessions", "index": {"name": "seen_1", "hidden": False}})
    assert "hidden" not in collection.index_information()["seen_1"]
    missing = _failure(
        client.shop.command, {"collMod": "sessions", "index": {"name": "nope", "hidden": True}}
    )
    assert missing.code == 27


def test_coll_mod_time_series(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "weather", "timeseries": {"timeField": "t"}})
    client.shop.command(
        {"collMod": "weather", "expireAfterSeconds": 3600, "timeseries": {"granularity": "hours"}}
    )
    options = _entry(client, "shop", "weather")["options"]
    assert options["expireAfterSeconds"] == 3600
    assert options["timeseries"]["granularity"] == "hours"
    back = _failure(
        client.shop.command, {"collMod": "weather", "timeseries": {"granularity": "seconds"}}
    )
    assert back.code == 72


def test_coll_mod_change_stream_images(client: pymongo.MongoClient) -> None:
    client.shop.create_collection("items")
    client.shop.command({"collMod": "items", "changeStreamPreAndPostImages": {"enabled": True}})
    assert _entry(client, "shop", "items")["options"] == {
        "changeStreamPreAndPostImages": {"enabled": True}
    }


# ------------------------------------------------------------------ indexes


def test_create_indexes_reply_shapes(client: pymongo.MongoClient) -> None:
    db = client.shop
    created = db.command({"createIndexes": "items", "indexes": [{"key": {"a": 1}, "name": "a_1"}]})
    assert created == {
        "numIndexesBefore": 1,
        "numIndexesAfter": 2,
        "createdCollectionAutomatically": True,
        "ok": 1.0,
    }
    again = db.command({"createIndexes": "items", "indexes": [{"key": {"a": 1}, "name": "a_1"}]})
    assert again == {
        "numIndexesBefore": 2,
        "numIndexesAfter": 2,
        "note": "all indexes already exist",
        "ok": 1.0,
    }
    partly = db.command(
        {
            "createIndexes": "items",
            "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"b": -1}, "name": "b_-1"}],
        }
    )
    assert partly == {
        "numIndexesBefore": 2,
        "numIndexesAfter": 3,
        "createdCollectionAutomatically": False,
        "note": "index already exists",
        "ok": 1.0,
    }


def test_list_indexes_stored_form(client: pymongo.MongoClient) -> None:
    collection = client.shop.items
    collection.create_index(
        [("email", 1)], unique=True, partialFilterExpression={"age": {"$gt": 5}}
    )
    collection.create_index("nick", sparse=True)
    collection.create_index("createdAt", expireAfterSeconds=3600.0)
    collection.create_index([("title", "text"), ("body", "text")])
    reply = client.shop.command({"listIndexes": "items"})
    assert reply["cursor"]["ns"] == "shop.$cmd.listIndexes.items"
    specs = {spec["name"]: spec for spec in reply["cursor"]["firstBatch"]}
    assert list(specs["email_1"]) == ["v", "key", "name", "unique", "partialFilterExpression"]
    assert specs["nick_1"]["sparse"] is True
    assert specs["createdAt_1"]["expireAfterSeconds"] == 3600
    assert type(specs["createdAt_1"]["expireAfterSeconds"]) is int
    text = specs["title_text_body_text"]
    assert text["key"] == {"_fts": "text", "_ftsx": 1}
    assert text["weights"] == {"body": 1, "title": 1}
    missing = _failure(client.shop.command, {"listIndexes": "nope"})
    assert (missing.code, missing.details["errmsg"]) == (26, "ns does not exist: shop.nope")


def test_index_conflicts_85_86_67(client: pymongo.MongoClient) -> None:
    collection = client.shop.items
    collection.create_index("a", name="by_a")
    same_name_other_key = _failure(collection.create_index, "b", name="by_a")
    assert same_name_other_key.code == 86
    other_name_same_key = _failure(collection.create_index, "a", name="other")
    assert other_name_same_key.code == 85
    assert other_name_same_key.details["errmsg"] == (
        "Index already exists with a different name: by_a"
    )
    ttl_options = _failure(collection.create_index, "a", name="by_a", expireAfterSeconds=5)
    assert ttl_options.code == 85
    compound_ttl = _failure(collection.create_index, [("x", 1), ("y", 1)], expireAfterSeconds=5)
    assert compound_ttl.code == 67


def test_drop_indexes_variants(client: pymongo.MongoClient) -> None:
    collection = client.shop.items
    for field in ("a", "b", "c", "d"):
        collection.create_index(field)
    db = client.shop
    assert db.command({"dropIndexes": "items", "index": "a_1"}) == {"nIndexesWas": 5, "ok": 1.0}
    assert db.command({"dropIndexes": "items", "index": {"b": 1}})["nIndexesWas"] == 4
    assert db.command({"dropIndexes": "items", "index": ["c_1"]})["nIndexesWas"] == 3
    assert db.command({"dropIndexes": "items", "index": "*"}) == {
        "nIndexesWas": 2,
        "msg": "non-_id indexes dropped for collection",
        "ok": 1.0,
    }
    not_found = _failure(db.command, {"dropIndexes": "items", "index": "zzz"})
    assert (not_found.code, not_found.details["codeName"]) == (27, "IndexNotFound")
    assert _failure(db.command, {"dropIndexes": "items", "index": "_id_"}).code == 72
    assert _failure(db.command, {"dropIndexes": "nope", "index": "*"}).code == 26


def test_index_on_view_is_refused(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "v", "viewOn": "items", "pipeline": []})
    assert _failure(client.shop.v.create_index, "a").code == 166
    assert _failure(client.shop.command, {"listIndexes": "v"}).code == 166


def test_collection_collation_flows_into_indexes(client: pymongo.MongoClient) -> None:
    client.shop.command({"create": "people", "collation": {"locale": "fr_CA"}})
    options = _entry(client, "shop", "people")["options"]
    assert options["collation"]["locale"] == "fr_CA"
    assert options["collation"]["backwards"] is True
    client.shop.people.create_index("name")
    spec = next(spec for spec in client.shop.people.list_indexes() if spec["name"] == "name_1")
    assert spec["collation"]["locale"] == "fr_CA"
