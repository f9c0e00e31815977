"""Seeding a server, with a stand-in client: refuse, --drop, --append, batches, rejections."""

import datetime as dt

import pymongo.errors
import pytest
from bson import decode
from bson.raw_bson import RawBSONDocument

from tests.unit.seed.helpers import write_catalog
from toolkit.actions import seed as actions
from toolkit.errors import CatalogError, OperationFailed, UsageError
from toolkit.mongo.client import ConnectionSettings
from toolkit.mongo.seed import insert_documents
from toolkit.seed.engine import DEFAULT_NOW, start_of_today


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


def _two_collection_catalog(tmp_path, second):
    """`first` seeds fine; `second` is generated after it (it refers to it)."""
    return write_catalog(
        tmp_path,
        {
            "first": {
                "validator": {"$jsonSchema": {"properties": {"email": {"bsonType": "string"}}}},
                "seed": {"count": 5},
            },
            "second": second,
        },
    )


def _client_for(monkeypatch, collections):
    client = FakeClient(collections)
    monkeypatch.setattr(actions, "connect", lambda settings: client)
    return client


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (  # a reference whose values the validator refuses
            {
                "validator": {
                    "$jsonSchema": {"properties": {"first_id": {"bsonType": "objectId"}}}
                },
                "seed": {"count": 3, "fields": {"first_id": {"ref": "first.email"}}},
            },
            "first_id",
        ),
        (  # a password variable that is not set
            {
                "seed": {
                    "count": 1,
                    "fields": {"first_id": {"ref": "first._id"}},
                    "fixtures": [{"password_hash": {"password_env": "SEED_TEST_UNSET_PW"}}],
                },
            },
            "SEED_TEST_UNSET_PW",
        ),
        (  # a field no value satisfies
            {
                "validator": {
                    "$jsonSchema": {
                        "properties": {"n": {"bsonType": "int", "minimum": 5, "maximum": 1}}
                    }
                },
                "seed": {"count": 1, "fields": {"first_id": {"ref": "first._id"}}},
            },
            "no integer",
        ),
    ],
)
@pytest.mark.parametrize("mode", ["if-empty", "drop"])
def test_a_catalog_error_stops_the_run_before_anything_is_written(
    monkeypatch, tmp_path, second, message, mode
):
    catalog = _two_collection_catalog(tmp_path, second)
    first = FakeCollection("first", [{"_id": 1}] if mode == "drop" else [])
    _client_for(monkeypatch, {"shop.first": first, "shop.second": FakeCollection("second")})
    with pytest.raises(CatalogError) as raised:
        actions.seed(
            ConnectionSettings(), catalog, actions.SeedRequest(seed=1, mode=mode), on_start=None
        )
    assert message in raised.value.message and "shop.second" in raised.value.message
    assert first.batches == []  # nothing inserted into the collection generated first
    assert first.documents == ([{"_id": 1}] if mode == "drop" else [])  # nor deleted


def test_if_empty_empties_what_it_wrote_when_generation_fails_later(monkeypatch, tmp_path):
    # Two distinct values for a unique field: the third document cannot be made. That shows
    # only while generating, after `first` was written.
    catalog = _two_collection_catalog(
        tmp_path,
        {
            "indexes": [{"keys": {"code": 1}, "unique": True}],
            "seed": {
                "count": 3,
                "fields": {"first_id": {"ref": "first._id"}, "code": {"choice": [1, 2]}},
            },
        },
    )
    first, second = FakeCollection("first"), FakeCollection("second")
    _client_for(monkeypatch, {"shop.first": first, "shop.second": second})
    with pytest.raises(CatalogError) as raised:
        actions.seed(ConnectionSettings(), catalog, actions.SeedRequest(seed=1, mode="if-empty"))
    assert "shop.second" in raised.value.message and "code" in raised.value.message
    assert "emptied again" in (raised.value.hint or "")
    assert first.batches == [5] and first.documents == [] and second.documents == []


def test_the_default_now_is_today_for_a_server_and_fixed_for_files(monkeypatch, catalog, tmp_path):
    _client_for(monkeypatch, {"shop.items": FakeCollection("items")})
    inserted = actions.seed(ConnectionSettings(), catalog, actions.SeedRequest(seed=1))
    assert inserted.now == start_of_today()
    assert inserted.now.hour == 0 and inserted.now.tzinfo is not None
    written = actions.seed(
        ConnectionSettings(), catalog, actions.SeedRequest(seed=1, out=tmp_path / "out")
    )
    assert written.now == DEFAULT_NOW
    chosen = dt.datetime(2030, 5, 1, tzinfo=dt.UTC)
    assert actions.reference_time(actions.SeedRequest(now=chosen)) == chosen


def test_append_rejections_get_a_hint_that_fits_them():
    def outcome_with(code):
        result = actions.CollectionOutcome("shop.items", documents=3, rejected=1, codes={code})
        result.errors = [f"code {code}: ..."]
        return actions.SeedOutcome(seed=1, now=DEFAULT_NOW, out=None, collections=[result])

    with pytest.raises(OperationFailed) as duplicate:
        actions.check_rejections(outcome_with(11000), "append")
    assert "--seed not used for it before" in (duplicate.value.hint or "")
    with pytest.raises(OperationFailed) as invalid:
        actions.check_rejections(outcome_with(121), "append")
    assert "schema plan" in (invalid.value.hint or "")
