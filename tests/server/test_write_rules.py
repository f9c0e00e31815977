"""What the server enforces on writes: validators (121) and unique indexes (11000).

validation.py and indexes.py are tested on their own; these tests check that
the server applies them to inserts and updates as mongod does.
"""

from __future__ import annotations

import pymongo
import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError

from tests.support.server import MongoTestServer

SCHEMA = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": ["name"],
        "properties": {"name": {"bsonType": "string"}, "age": {"bsonType": "int", "minimum": 0}},
    }
}


@pytest.fixture
def people(client: pymongo.MongoClient) -> pymongo.collection.Collection:
    client.app.create_collection("people", validator=SCHEMA)
    return client.app.people


# ------------------------------------------------------------------ validators


def test_json_schema_rejection_is_write_error_121(people) -> None:
    people.insert_one({"_id": 1, "name": "ada"})
    with pytest.raises(BulkWriteError) as error:
        people.insert_many([{"_id": 2, "name": "bob"}, {"_id": 3, "age": 4}])
    details = error.value.details
    assert details["nInserted"] == 1
    [write_error] = details["writeErrors"]
    assert write_error["code"] == 121
    assert write_error["index"] == 1
    assert write_error["errmsg"] == "Document failed validation"
    assert write_error["errInfo"]["failingDocumentId"] == 3
    assert write_error["errInfo"]["details"]["operatorName"] == "$jsonSchema"
    assert write_error["errInfo"]["details"]["schemaRulesNotSatisfied"][0] == {
        "operatorName": "required",
        "specifiedAs": {"required": ["name"]},
        "missingProperties": ["name"],
    }


def test_raw_insert_reply_shape(client: pymongo.MongoClient, people) -> None:
    reply = client.app.command({"insert": "people", "documents": [{"_id": 9, "age": -1}]})
    assert list(reply) == ["n", "writeErrors", "ok"]
    assert reply["n"] == 0 and reply["ok"] == 1.0
    assert list(reply["writeErrors"][0]) == ["index", "code", "errInfo", "errmsg"]


def test_updates_are_validated(people) -> None:
    people.insert_one({"_id": 1, "name": "ada"})
    with pytest.raises(WriteError) as error:
        people.update_one({"_id": 1}, {"$unset": {"name": ""}})
    assert error.value.code == 121
    assert error.value.details["errInfo"]["failingDocumentId"] == 1
    assert people.find_one({"_id": 1}) == {"_id": 1, "name": "ada"}


def test_upserts_are_validated(people) -> None:
    with pytest.raises(WriteError) as error:
        people.update_one({"_id": 5}, {"$set": {"age": 3}}, upsert=True)
    assert error.value.code == 121


def test_bypass_document_validation(people) -> None:
    people.insert_one({"_id": 1, "age": 3}, bypass_document_validation=True)
    people.update_one({"_id": 1}, {"$set": {"age": -5}}, bypass_document_validation=True)
    assert people.find_one({"_id": 1}) == {"_id": 1, "age": -5}


def test_query_operator_validator(client: pymongo.MongoClient) -> None:
    client.app.create_collection("c", validator={"a": {"$gte": 1}})
    with pytest.raises(WriteError) as error:
        client.app.c.insert_one({"_id": 1, "a": 0})
    assert error.value.details["errInfo"]["details"]["operatorName"] == "$gte"


def test_validation_level_moderate_skips_already_invalid(
    client: pymongo.MongoClient, people
) -> None:
    people.insert_one({"_id": 1, "age": 1}, bypass_document_validation=True)
    people.insert_one({"_id": 2, "name": "ok"})
    client.app.command({"collMod": "people", "validationLevel": "moderate"})
    people.update_one({"_id": 1}, {"$set": {"age": 2}})  # already invalid: not checked
    with pytest.raises(WriteError):
        people.update_one({"_id": 2}, {"$set": {"name": 7}})  # valid before: checked


def test_validation_level_off(client: pymongo.MongoClient, people) -> None:
    client.app.command({"collMod": "people", "validationLevel": "off"})
    people.insert_one({"_id": 1})
    assert people.count_documents({}) == 1


def test_validation_action_warn_accepts_and_logs(
    mongo_server: MongoTestServer, client: pymongo.MongoClient, people
) -> None:
    client.app.command({"collMod": "people", "validationAction": "warn"})
    people.insert_one({"_id": 1})
    assert people.count_documents({}) == 1
    assert len(mongo_server.warnings) == 1


# ------------------------------------------------------------------ unique indexes


def test_duplicate_id(client: pymongo.MongoClient) -> None:
    client.app.c.insert_one({"_id": 1})
    with pytest.raises(DuplicateKeyError) as error:
        client.app.c.insert_one({"_id": 1})
    details = error.value.details
    assert details["errmsg"] == (
        "E11000 duplicate key error collection: app.c index: _id_ dup key: { _id: 1 }"
    )
    assert details["keyPattern"] == {"_id": 1}
    assert details["keyValue"] == {"_id": 1}


def test_unique_index_write_error_shape(client: pymongo.MongoClient) -> None:
    users = client.app.users
    users.create_index("email", unique=True)
    users.insert_one({"email": "a@b"})
    reply = client.app.command({"insert": "users", "documents": [{"email": "a@b"}]})
    [write_error] = reply["writeErrors"]
    assert write_error == {
        "index": 0,
        "code": 11000,
        "keyPattern": {"email": 1},
        "keyValue": {"email": "a@b"},
        "errmsg": "E11000 duplicate key error collection: app.users index: email_1 dup key: "
        '{ email: "a@b" }',
    }


def test_unique_applies_to_updates_and_numbers_compare_by_value(
    client: pymongo.MongoClient,
) -> None:
    users = client.app.users
    users.create_index([("n", 1), ("k", 1)], unique=True)
    users.insert_many([{"_id": 1, "n": 1, "k": "x"}, {"_id": 2, "n": 2, "k": "x"}])
    with pytest.raises(DuplicateKeyError):
        users.update_one({"_id": 2}, {"$set": {"n": 1.0}})
    users.update_one({"_id": 1}, {"$set": {"n": 1, "other": True}})  # its own key: fine
    users.delete_one({"_id": 1})
    users.update_one({"_id": 2}, {"$set": {"n": 1}})  # the key is free again


def test_unique_index_build_fails_on_existing_duplicates(client: pymongo.MongoClient) -> None:
    client.app.c.insert_many([{"a": 1}, {"a": 1}])
    with pytest.raises(OperationFailure) as error:
        client.app.c.create_index("a", unique=True)
    assert error.value.code == 11000
    assert "dup key: { a: 1 }" in error.value.details["errmsg"]
    assert list(client.app.c.index_information()) == ["_id_"]


def test_sparse_and_partial_unique_indexes(client: pymongo.MongoClient) -> None:
    c = client.app.c
    c.create_index("a", unique=True, sparse=True)
    c.create_index("b", unique=True, partialFilterExpression={"live": True})
    c.insert_many([{"x": 1}, {"x": 2}])  # no "a": the sparse index skips them
    c.insert_many([{"b": 1, "live": False}, {"b": 1, "live": False}, {"b": 1, "live": True}])
    with pytest.raises(DuplicateKeyError):
        c.insert_one({"b": 1, "live": True})


def test_array_values_are_unique_per_element(client: pymongo.MongoClient) -> None:
    c = client.app.c
    c.create_index("tags", unique=True)
    c.insert_one({"tags": ["a", "b"]})
    with pytest.raises(DuplicateKeyError):
        c.insert_one({"tags": ["c", "b"]})


def test_array_id_is_refused(client: pymongo.MongoClient) -> None:
    with pytest.raises(WriteError) as error:
        client.app.c.insert_one({"_id": [1, 2]})
    assert error.value.code == 53
