"""Seeding whole catalogs: valid, unique, referenced, deterministic documents."""

import datetime as dt
from pathlib import Path

import pytest
from bson import ObjectId

from tests.unit.seed.helpers import generate_all, load
from toolkit.catalog.load import load_catalog
from toolkit.errors import CatalogError
from toolkit.redact import redact
from toolkit.seed.engine import Seeder, field_value
from toolkit.seed.fixtures import verify_password
from toolkit.seed.plan import plan_seed
from toolkit.seed.unique import UniqueTracker, index_keys, unique_indexes, values_at
from toolkit.seed.validator import compile_validator

CATALOGS = Path(__file__).resolve().parents[3] / "catalogs"

USERS = {
    "validator": {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["email", "created_at"],
            "properties": {
                "email": {"bsonType": "string"},
                "role": {"enum": ["user", "admin"]},
                "created_at": {"bsonType": "date"},
                "password_hash": {"bsonType": "string"},
            },
        }
    },
    "indexes": [{"keys": {"email": 1}, "unique": True}],
}
POSTS = {
    "validator": {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["user_id", "slug"],
            "properties": {
                "user_id": {"bsonType": "objectId"},
                "author": {"bsonType": "string"},
                "slug": {"bsonType": "string", "enum": ["a", "b", "c", "d"]},
            },
        }
    },
    "indexes": [{"keys": {"user_id": 1, "slug": 1}, "unique": True}],
}


def blog(tmp_path, users_seed=None, posts_seed=None):
    users = dict(USERS, seed=users_seed or {"count": 20})
    posts = dict(
        POSTS,
        seed=posts_seed
        or {
            "per": {"users": 4},
            "fields": {"user_id": {"ref": "users._id"}, "author": {"ref": "users.email"}},
        },
    )
    return load(tmp_path, {"users": users, "posts": posts})


def test_references_point_at_existing_parents_and_per_parent_counts(tmp_path):
    produced = generate_all(blog(tmp_path))
    users = {user["_id"]: user for user in produced["shop.users"]}
    posts = produced["shop.posts"]
    assert len(users) == 20 and len(posts) == 80
    for post in posts:
        assert post["user_id"] in users
        assert post["author"] == users[post["user_id"]]["email"]  # the same parent document
    per_user = {}
    for post in posts:
        per_user[post["user_id"]] = per_user.get(post["user_id"], 0) + 1
    assert set(per_user.values()) == {4}


def test_unique_indexes_are_honoured(tmp_path):
    # 4 slugs per user and 4 posts per user: the compound unique key leaves no room for repeats
    produced = generate_all(blog(tmp_path))
    keys = [(post["user_id"], post["slug"]) for post in produced["shop.posts"]]
    assert len(set(keys)) == len(keys)
    emails = [user["email"] for user in produced["shop.users"]]
    assert len(set(emails)) == len(emails)


def test_a_string_key_is_numbered_when_its_values_run_out(tmp_path):
    users = dict(
        USERS,
        seed={"count": 30, "fields": {"email": {"choice": ["a@example.com", "b@example.com"]}}},
    )
    produced = generate_all(load(tmp_path, {"users": users}))
    emails = [user["email"] for user in produced["shop.users"]]
    assert len(set(emails)) == 30
    assert all(email.endswith("@example.com") for email in emails)


def test_a_unique_index_that_cannot_be_satisfied_is_a_catalog_error(tmp_path):
    posts_seed = {"per": {"users": 5}, "fields": {"user_id": {"ref": "users._id"}}}
    with pytest.raises(CatalogError) as raised:
        generate_all(blog(tmp_path, posts_seed=posts_seed))
    assert "shop.posts" in raised.value.message and "user_id_1_slug_1" in raised.value.message


def test_an_unsatisfiable_schema_is_a_catalog_error_naming_the_field(tmp_path):
    broken = {
        "validator": {
            "$jsonSchema": {
                "properties": {
                    "stats": {
                        "bsonType": "object",
                        "properties": {"score": {"bsonType": "int", "minimum": 10, "maximum": 1}},
                    }
                }
            }
        },
        "seed": {"count": 1},
    }
    with pytest.raises(CatalogError) as raised:
        generate_all(load(tmp_path, {"broken": broken}))
    assert raised.value.exit_code == 2
    assert "shop.broken" in raised.value.message and "stats.score" in raised.value.message


def test_the_same_seed_gives_the_same_documents(tmp_path):
    catalog = blog(tmp_path)
    first = generate_all(catalog, seed=5)
    assert first == generate_all(catalog, seed=5)
    assert first != generate_all(catalog, seed=6)


def test_a_collection_alone_is_the_same_as_with_the_others(tmp_path):
    catalog = blog(tmp_path)
    everything = generate_all(catalog, seed=5)
    alone = generate_all(catalog, seed=5, collections=("posts",))
    assert list(alone) == ["shop.posts"]
    assert alone["shop.posts"] == everything["shop.posts"]


def test_fixtures_come_first_with_hashed_passwords(tmp_path, capsys):
    fixtures = [
        {
            "email": "admin@example.com",
            "role": "admin",
            "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            "password_hash": {"password_env": "SHOP_TEST_PASSWORD"},
        },
        {
            "email": "demo@example.com",
            "created_at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
            "password_hash": {"password": "demo-pass"},
        },
    ]
    catalog = blog(tmp_path, users_seed={"count": 3, "fixtures": fixtures})
    environ = {"SHOP_TEST_PASSWORD": "s3cret-Value"}
    produced = generate_all(catalog, environ=environ)
    users = produced["shop.users"]
    assert [user["email"] for user in users[:2]] == ["admin@example.com", "demo@example.com"]
    assert all(type(user["_id"]) is ObjectId for user in users)
    assert verify_password("s3cret-Value", users[0]["password_hash"])
    assert verify_password("demo-pass", users[1]["password_hash"])
    assert not verify_password("wrong", users[0]["password_hash"])
    assert users[0]["password_hash"].startswith("$scrypt$ln=14,r=8,p=1$")
    assert "s3cret-Value" not in str(produced)
    assert redact("the password is s3cret-Value") == "the password is ***"
    assert generate_all(catalog, environ=environ)["shop.users"] == users  # salts follow the seed
    assert len(users) == 5 and len(produced["shop.posts"]) == 20  # fixtures are parents too


def test_a_missing_password_variable_is_a_catalog_error_naming_it(tmp_path):
    fixtures = [
        {
            "email": "a@example.com",
            "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            "password_hash": {"password_env": "NOT_SET_ANYWHERE"},
        }
    ]
    catalog = blog(tmp_path, users_seed={"count": 1, "fixtures": fixtures})
    with pytest.raises(CatalogError) as raised:
        generate_all(catalog)
    assert raised.value.exit_code == 2 and "NOT_SET_ANYWHERE" in raised.value.message
    # a collection generated only for its references needs no password
    assert generate_all(catalog, collections=("posts",))["shop.posts"]


def test_a_fixture_the_validator_refuses_is_a_catalog_error(tmp_path):
    catalog = blog(tmp_path, users_seed={"count": 1, "fixtures": [{"email": 5}]})
    with pytest.raises(CatalogError, match="fixture 0 fails the validator: email: expected string"):
        generate_all(catalog)


def test_unique_keys_follow_mongodb():
    def index(fields, sparse=False):
        from toolkit.seed.unique import UniqueIndex

        return UniqueIndex("i", fields, sparse=sparse)

    assert index_keys({"a": 1.0}, index(("a",))) == index_keys({"a": 1}, index(("a",)))
    assert index_keys({}, index(("a",))) == index_keys({"a": None}, index(("a",)))
    assert index_keys({}, index(("a",), sparse=True)) == set()
    assert len(index_keys({"tags": [1, 2, 2]}, index(("tags",)))) == 2
    tracker = UniqueTracker([index(("a.b",))])
    tracker.add({"a": {"b": "x"}})
    assert tracker.first_conflict({"a": {"b": "x"}}) is not None
    assert tracker.first_conflict({"a": {"b": "y"}}) is None


@pytest.fixture(scope="module")
def committed():
    catalog = load_catalog(CATALOGS)
    plan = plan_seed(catalog)
    seeder = Seeder(
        plan, seed=1, pool_size=200, environ={"SENTIMATRIX_TEST_PASSWORD": "password123"}
    )
    return catalog, {
        collection.namespace: list(documents) for collection, documents in seeder.collections()
    }


def test_every_committed_catalog_seeds_valid_unique_referenced_documents(committed):
    catalog, produced = committed
    seedable = [c for c in catalog.collections if c.kind != "view"]
    assert sorted(produced) == sorted(c.namespace for c in seedable)
    plan = plan_seed(catalog)
    for spec in seedable:
        documents = produced[spec.namespace]
        assert documents, spec.namespace
        check = compile_validator(spec.validator)
        for document in documents:
            assert check(document) is None, (spec.namespace, check(document))
        for index in unique_indexes(spec):
            keys = [key for document in documents for key in index_keys(document, index)]
            assert len(keys) == len(set(keys)), (spec.namespace, index.name)
        collection = plan.collection(spec.namespace)
        for path, (parent, field) in collection.refs.items():
            parents = {repr(field_value(document, field)) for document in produced[parent]}
            for document in documents:
                found = values_at(document, path)  # through arrays: every member's user_id
                assert found or "." in path, (spec.namespace, path)
                for value in found:
                    assert repr(value) in parents, (spec.namespace, path, value)
        if spec.timeseries:
            assert all(isinstance(d[spec.timeseries["timeField"]], dt.datetime) for d in documents)


def test_committed_test_logins_are_fixtures(committed):
    _, produced = committed
    users = produced["sentimatrix_studio.users"]
    logins = {user["email"]: user for user in users[:2]}
    assert set(logins) == {"testuser0@example.com", "testuser1@example.com"}
    assert logins["testuser0@example.com"]["role"] == "admin"
    assert all(verify_password("password123", user["password_hash"]) for user in logins.values())
