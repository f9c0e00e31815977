"""Seeding a server, with a stand-in client: refuse, --drop, --append, batches, rejections."""

import datetime as dt

import pymongo.errors
import pytest
from bson import decode
from bson.raw_bson import RawBSONDocument

from tests.unit.seed.helpers import write_catalog
from toolkit.actions import seed as actions
from toolkit.errors import OperationFailed, UsageError
from toolkit.mongo.client import ConnectionSettings
from toolkit.mongo.seed import insert_documents


class FakeCollection:
    def __init__(self, name, documents=None, reject=()):
        self.name = name
        self.documents = list(documents or [])
        self.batches = []
        self.reject = set(reject)  # values of "n" the "server" refuses

    def find_one(self, _filter, _projection=None):
        return self.documents[0] if self.documents else None

    def delete_many(self, _filter):
        class Result:
            deleted_count = len(self.documents)

        self.documents = []
        return Result()

    def insert_many(self, batch, ordered=True):
        assert ordered is False
        assert all(isinstance(document, RawBSONDocument) for document in batch)
        self.batches.append(len(batch))
        decoded = [decode(document.raw) for document in batch]
        errors = [
            {"index": i, "code": 121, "errmsg": "Document failed validation"}
            for i, document in enumerate(decoded)
            if document.get("n") in self.reject
        ]
        self.documents += [d for d in decoded if d.get("n") not in self.reject]
        if errors:
            raise pymongo.errors.BulkWriteError(
                {"writeErrors": errors, "nInserted": len(batch) - len(errors)}
            )

        class Result:
            inserted_ids = [document["_id"] for document in decoded]

        return Result()


class FakeDatabase(dict):
    def list_collections(self, filter=None):  # noqa: A002 (pymongo's name)
        return [
            {"name": name, "type": "collection"} for name in self if name in filter["name"]["$in"]
        ]


class FakeClient(dict):
    def __init__(self, collections):
        super().__init__()
        for namespace, collection in collections.items():
            db, name = namespace.split(".", 1)
            self.setdefault(db, FakeDatabase())[name] = collection

    def close(self):
        pass


@pytest.fixture
def catalog(tmp_path):
    return write_catalog(
        tmp_path,
        {
            "items": {
                "validator": {
                    "$jsonSchema": {"required": ["n"], "properties": {"n": {"bsonType": "int"}}}
                },
                "seed": {"count": 25, "fields": {"n": {"sequence": 0}}},
            }
        },
    )


def seed_with(monkeypatch, catalog, collection, **request):
    client = FakeClient({"shop.items": collection})
    monkeypatch.setattr(actions, "connect", lambda settings: client)
    progress = []
    outcome = actions.seed(
        ConnectionSettings(),
        catalog,
        actions.SeedRequest(seed=1, now=dt.datetime(2025, 1, 1, tzinfo=dt.UTC), **request),
        on_progress=lambda namespace, count: progress.append(count),
    )
    return outcome, progress


def test_inserts_in_unordered_batches(monkeypatch, catalog):
    collection = FakeCollection("items")
    outcome, progress = seed_with(monkeypatch, catalog, collection, batch_size=10)
    assert collection.batches == [10, 10, 5] and progress == [10, 10, 5]
    assert [document["n"] for document in collection.documents] == list(range(25))
    [result] = outcome.collections
    assert result.documents == 25 and result.rejected == 0
    actions.check_rejections(outcome)


def test_refuses_a_collection_with_documents_unless_drop_or_append(monkeypatch, catalog):
    with pytest.raises(UsageError, match="already holds documents"):
        seed_with(monkeypatch, catalog, FakeCollection("items", [{"_id": 1}]))
    dropped = FakeCollection("items", [{"_id": 1}])
    outcome, _ = seed_with(monkeypatch, catalog, dropped, mode="drop")
    assert outcome.collections[0].deleted == 1 and len(dropped.documents) == 25
    appended = FakeCollection("items", [{"_id": 1}])
    seed_with(monkeypatch, catalog, appended, mode="append")
    assert len(appended.documents) == 26


def test_rejected_documents_are_counted_and_fail_the_run(monkeypatch, catalog):
    collection = FakeCollection("items", reject={3, 17})
    outcome, _ = seed_with(monkeypatch, catalog, collection, batch_size=10)
    [result] = outcome.collections
    assert result.rejected == 2 and len(collection.documents) == 23
    assert "Document failed validation" in result.errors[0]
    with pytest.raises(OperationFailed, match="rejected 2 document"):
        actions.check_rejections(outcome)


def test_insert_documents_encodes_once(monkeypatch):
    collection = FakeCollection("c")
    client = FakeClient({"db.c": collection})
    outcome = insert_documents(client, "db.c", ({"_id": i} for i in range(3)), batch_size=2)
    assert outcome.inserted == 3 and collection.batches == [2, 1]
