"""applyOps on the test server (tests/support/commands_oplog.py): reply shape, every kind of
entry, validation, unique indexes and the oplog, and mongod's errors."""

from __future__ import annotations

import pymongo
import pytest
from bson import Binary, Int64, Timestamp
from pymongo.errors import NotPrimaryError, OperationFailure

from tests.support.server import ReplicaSetTestCluster


def _apply(client: pymongo.MongoClient, *entries, **options):
    return client.admin.command("applyOps", list(entries), **options)


def _failure(client: pymongo.MongoClient, *entries, **options) -> OperationFailure:
    with pytest.raises(OperationFailure) as caught:
        _apply(client, *entries, **options)
    return caught.value


def test_reply_shape_and_crud_entries(client):
    client.shop.create_collection("c")
    reply = _apply(
        client,
        {"op": "i", "ns": "shop.c", "o": {"_id": 1, "a": 1, "gone": 0}},
        {"op": "u", "ns": "shop.c", "o2": {"_id": 1},
         "o": {"$v": 2, "diff": {"u": {"a": 2}, "i": {"b": 1}, "d": {"gone": False}}}},
        {"op": "i", "ns": "shop.c", "o": {"_id": 2, "x": {"y": [1, 2, 3]}}},
        {"op": "u", "ns": "shop.c", "o2": {"_id": 2},
         "o": {"$v": 2, "diff": {"sx": {"u": {"z": 1}, "sy": {"a": True, "u1": 20}}}}},
        {"op": "i", "ns": "shop.c", "o": {"_id": 3}},
        {"op": "u", "ns": "shop.c", "o2": {"_id": 3}, "o": {"_id": 3, "replaced": True}},
        {"op": "i", "ns": "shop.c", "o": {"_id": 4}},
        {"op": "d", "ns": "shop.c", "o": {"_id": 4}},
        {"op": "n", "ns": "", "o": {"msg": "noop"}},
        {"op": "u", "ns": "shop.c", "o2": {"_id": 1}, "o": {"$set": {"legacy": 1}}},
    )  # fmt: skip
    assert reply == {"applied": 10, "results": [True] * 10, "ok": 1.0}
    assert list(client.shop.c.find(sort=[("_id", 1)])) == [
        {"_id": 1, "a": 2, "b": 1, "legacy": 1},
        {"_id": 2, "x": {"y": [1, 20, 3], "z": 1}},
        {"_id": 3, "replaced": True},
    ]


def test_replay_is_idempotent(client):
    client.shop.create_collection("c")
    _apply(client, {"op": "i", "ns": "shop.c", "o": {"_id": 1, "a": 1}})
    # An insert of a document that is there already replaces it (an upsert)...
    _apply(client, {"op": "i", "ns": "shop.c", "o": {"_id": 1, "a": 5}})
    # ...an update of a missing document upserts it, a delete of a missing one does nothing.
    _apply(
        client,
        {"op": "u", "ns": "shop.c", "o2": {"_id": 9}, "o": {"$v": 2, "diff": {"i": {"b": 2}}}},
        {"op": "d", "ns": "shop.c", "o": {"_id": 42}},
    )
    assert list(client.shop.c.find(sort=[("_id", 1)])) == [{"_id": 1, "a": 5}, {"_id": 9, "b": 2}]
    error = _failure(
        client,
        {"op": "u", "ns": "shop.c", "o2": {"_id": 10}, "o": {"$v": 2, "diff": {"i": {"b": 2}}}},
        alwaysUpsert=False,
    )
    assert error.code == 11


def test_command_entries(client):
    reply = _apply(
        client,
        {"op": "c", "ns": "shop.$cmd",
         "o": {"create": "c", "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"}}},
        {"op": "c", "ns": "shop.$cmd",
         "o": {"createIndexes": "c", "v": 2, "key": {"a": 1}, "name": "a_1", "unique": True}},
        {"op": "c", "ns": "shop.$cmd",
         "o": {"commitIndexBuild": "c", "indexBuildUUID": Binary(b"0" * 16, 4),
               "indexes": [{"v": 2, "key": {"t": 1}, "name": "t_1", "expireAfterSeconds": 60}]}},
        {"op": "c", "ns": "shop.$cmd", "o": {"collMod": "c", "index": {"name": "t_1", "expireAfterSeconds": 90}}},
        {"op": "c", "ns": "shop.$cmd", "o": {"dropIndexes": "c", "index": "a_1"}},
        {"op": "c", "ns": "shop.$cmd", "o": {"create": "tmp"}},
        {"op": "c", "ns": "admin.$cmd",
         "o": {"renameCollection": "shop.tmp", "to": "shop.renamed", "stayTemp": False, "dropTarget": False}},
        {"op": "c", "ns": "shop.$cmd", "o": {"drop": "renamed"}},
        {"op": "c", "ns": "other.$cmd", "o": {"create": "x"}},
        {"op": "c", "ns": "other.$cmd", "o": {"dropDatabase": 1}},
        {"op": "c", "ns": "admin.$cmd", "o": {"applyOps": [
            {"op": "i", "ns": "shop.c", "o": {"_id": 1, "a": 1}},
            {"op": "i", "ns": "shop.c", "o": {"_id": 2, "a": 2}},
        ]}},
    )  # fmt: skip
    assert reply["applied"] == 11
    indexes = {spec["name"]: spec for spec in client.shop.c.list_indexes()}
    assert set(indexes) == {"_id_", "t_1"} and indexes["t_1"]["expireAfterSeconds"] == 90
    assert client.shop.list_collection_names() == ["c"]
    assert "other" not in client.list_database_names()
    assert client.shop.c.count_documents({}) == 2
    # Creating what exists with the same options is a no-op (7.0); with others, 48.
    assert _apply(client, {"op": "c", "ns": "shop.$cmd", "o": {"create": "c"}})["applied"] == 1
    error = _failure(
        client, {"op": "c", "ns": "shop.$cmd", "o": {"create": "c", "capped": True, "size": 4096}}
    )
    assert (
        error.code == 48 and error.details["applied"] == 0 and error.details["results"] == [False]
    )


def test_validation_applies_unless_bypassed(client):
    client.shop.create_collection("v", validator={"$jsonSchema": {"required": ["a"]}})
    error = _failure(
        client,
        {"op": "i", "ns": "shop.v", "o": {"_id": 1, "a": 1}},
        {"op": "i", "ns": "shop.v", "o": {"_id": 2}},
        {"op": "i", "ns": "shop.v", "o": {"_id": 3, "a": 1}},
    )
    assert error.code == 121
    assert error.details["applied"] == 1 and error.details["results"] == [True, False]
    assert error.details["codeName"] == "DocumentValidationFailure"
    assert client.shop.v.count_documents({}) == 1  # applied in order, stopped at the failure
    reply = _apply(
        client, {"op": "i", "ns": "shop.v", "o": {"_id": 2}}, bypassDocumentValidation=True
    )
    assert reply["applied"] == 1


def test_unique_indexes_apply(client):
    client.shop.u.create_index("k", unique=True)
    error = _failure(
        client,
        {"op": "i", "ns": "shop.u", "o": {"_id": 1, "k": "x"}},
        {"op": "i", "ns": "shop.u", "o": {"_id": 2, "k": "x"}},
    )
    assert error.code == 11000 and error.details["results"] == [True, False]


def test_errors_as_mongod_answers_them(client):
    cases = [
        ({"op": "i", "ns": "shop.missing", "o": {"_id": 1}}, 26),
        ({"op": "i", "ns": "shop.c", "o": {"_id": 1}, "bogus": 1}, 40415),
        ({"op": "x", "ns": "shop.c", "o": {}}, 2),
        ({"op": "i", "ns": "shop.c"}, 40414),
        ({"op": "u", "ns": "shop.c", "o": {"$set": {"a": 1}}}, 40414),
        ({"op": "i", "ns": "shop.c", "o": {"_id": 1}, "ui": Binary(b"1" * 16, 4)}, 26),
    ]
    client.shop.create_collection("c")
    for entry, code in cases:
        assert _failure(client, entry).code == code, entry
    with pytest.raises(OperationFailure) as caught:
        client.shop.command("applyOps", [])
    assert caught.value.code == 13


def test_ui_names_the_collection(client):
    client.shop.create_collection("c")
    uuid = next(client.shop.list_collections(filter={"name": "c"}))["info"]["uuid"]
    _apply(client, {"op": "i", "ns": "shop.ignored", "ui": uuid, "o": {"_id": 1}})
    assert client.shop.c.count_documents({}) == 1


def test_applied_writes_reach_the_oplog(replset: ReplicaSetTestCluster):
    client = replset.client()
    client.shop.create_collection("c")
    before = len(replset.oplog)
    reply = client.admin.command(
        "applyOps",
        [
            {"ts": Timestamp(1, 1), "t": Int64(1), "v": Int64(2), "op": "i", "ns": "shop.c", "o": {"_id": 1}},
            {"ts": Timestamp(1, 2), "t": Int64(1), "v": Int64(2), "op": "d", "ns": "shop.c", "o": {"_id": 1}},
        ],
    )  # fmt: skip
    assert reply["applied"] == 2
    added = replset.oplog[before:]
    assert [(entry["op"], entry["ns"]) for entry in added] == [("i", "shop.c"), ("d", "shop.c")]
    assert all(entry["ts"] > Timestamp(1, 2) for entry in added)  # new timestamps, as mongod gives
    secondary = replset.member(1).client()
    try:
        with pytest.raises(NotPrimaryError) as caught:
            secondary.admin.command("applyOps", [{"op": "n", "ns": "", "o": {}}])
        assert caught.value.details["code"] == 10107
    finally:
        secondary.close()
    assert replset.errors == []


def test_merge_authz_collections(client):
    client.admin.command("createUser", "keep", pwd="keep-password", roles=[])
    dumped = client.admin.command("usersInfo", "keep", showCredentials=True)["users"][0]
    client.admin.command("createUser", "extra", pwd="extra-password", roles=[])
    client.admin.command("dropUser", "keep")
    stored = client.admin["system.users"].find_one({"user": "extra"})
    client.admin.tempusers.insert_one({**stored, "_id": "admin.keep", "user": "keep",
                                       "credentials": dumped["credentials"],
                                       "userId": dumped["userId"]})  # fmt: skip
    client.admin.command(
        "_mergeAuthzCollections", 1, tempUsersCollection="admin.tempusers",
        tempRolesCollection="admin.temproles", drop=True, db="",
    )  # fmt: skip
    names = [user["user"] for user in client.admin.command("usersInfo")["users"]]
    assert names == ["keep"]  # drop: those not in the temporary collection are gone
