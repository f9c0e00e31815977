"""Seeding whole catalogs: valid, unique, referenced, deterministic documents."""

import dataclasses
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
from toolkit.seed.overrides import parse_overrides
from toolkit.seed.plan import SeedPlan, plan_seed
from toolkit.seed.schema_generator import draws_random_object_ids
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


PROFILES = {"validator": {"$jsonSchema": {"properties": {"_id": {"bsonType": "objectId"}}}}}
OBJECT_IDS = [ObjectId(f"{number:024x}") for number in range(1, 4)]


def test_object_ids_from_a_ref_are_kept_unique(tmp_path):
    catalog = load(
        tmp_path,
        {
            "users": dict(USERS, seed={"count": 5}),
            "profiles": dict(PROFILES, seed={"count": 5, "fields": {"_id": {"ref": "users._id"}}}),
        },
    )
    produced = generate_all(catalog)
    ids = [profile["_id"] for profile in produced["shop.profiles"]]
    assert len(set(ids)) == 5  # one profile per user: every user's _id once
    assert set(ids) == {user["_id"] for user in produced["shop.users"]}


def test_more_documents_than_referenced_parents_for_a_unique_id_is_a_catalog_error(tmp_path):
    catalog = load(
        tmp_path,
        {
            "users": dict(USERS, seed={"count": 5}),
            "profiles": dict(PROFILES, seed={"count": 10, "fields": {"_id": {"ref": "users._id"}}}),
        },
    )
    with pytest.raises(CatalogError) as raised:
        generate_all(catalog)
    message = raised.value.message
    assert "shop.profiles" in message and "_id" in message and "shop.users" in message
    assert "at most 5" in (raised.value.hint or "")


def seeded_with(tmp_path, count, fields=None, schema=None):
    """The documents of one collection whose seed.fields or $jsonSchema hold ObjectIds,
    which YAML cannot write: the plan is made from a catalog, then given them."""
    plan = plan_seed(load(tmp_path, {"things": dict(PROFILES, seed={"count": count})}))
    [things] = plan.collections
    if fields is not None:
        things = dataclasses.replace(things, overrides=parse_overrides(fields, "test"))
    if schema is not None:
        spec = dataclasses.replace(things.spec, validator={"$jsonSchema": schema})
        things = dataclasses.replace(things, spec=spec)
    seeder = Seeder(SeedPlan((things,)), seed=1, pool_size=60, environ={})
    return [list(documents) for _, documents in seeder.collections()][0]


@pytest.mark.parametrize(
    ("fields", "schema", "distinct"),
    [
        ({"_id": {"choice": OBJECT_IDS}}, None, 3),
        ({"_id": {"const": OBJECT_IDS[0]}}, None, 1),
        (None, {"properties": {"_id": {"enum": OBJECT_IDS}}}, 3),
    ],
)
def test_object_ids_from_choice_const_or_enum_are_kept_unique(tmp_path, fields, schema, distinct):
    ids = [thing["_id"] for thing in seeded_with(tmp_path, distinct, fields, schema)]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == distinct
    with pytest.raises(CatalogError) as raised:
        seeded_with(tmp_path, distinct + 1, fields, schema)
    assert "shop.things" in raised.value.message and "_id" in raised.value.message


def test_only_object_ids_the_generator_draws_go_untracked():
    schema = {"properties": {"_id": {"bsonType": "objectId"}}}
    assert draws_random_object_ids(schema, {})
    assert draws_random_object_ids(None, {})
    assert not draws_random_object_ids(schema, parse_overrides({"_id": {"ref": "u._id"}}, "t"))
    assert not draws_random_object_ids({"properties": {"_id": {"enum": OBJECT_IDS}}}, {})
    assert not draws_random_object_ids(
        {"anyOf": [{"properties": {"_id": {"enum": OBJECT_IDS}}}, {}]}, {}
    )


def test_ttl_dates_outlive_the_day_of_the_reference_time(tmp_path):
    now = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
    catalog = load(
        tmp_path,
        {
            "sessions": {
                "validator": {
                    "$jsonSchema": {
                        "required": ["seen_at", "expires_at"],
                        "properties": {
                            "seen_at": {"bsonType": "date"},
                            "expires_at": {"bsonType": "date"},
                        },
                    }
                },
                "indexes": [
                    {"keys": {"seen_at": 1}, "expire_after": "7d"},
                    {"keys": {"expires_at": 1}, "expire_after": "0s"},
                ],
                "seed": {"count": 300},
            }
        },
    )
    seeder = Seeder(plan_seed(catalog), seed=1, now=now, pool_size=60, environ={})
    [(_, documents)] = list((c, list(d)) for c, d in seeder.collections())
    day = dt.timedelta(days=1)
    for document in documents:
        # a run at any hour of the reference day still finds them all
        assert now + day - dt.timedelta(days=7) < document["seen_at"] <= now
        assert document["expires_at"] > now + day


def test_prepare_reports_every_broken_collection_before_any_document(tmp_path):
    broken = {
        "validator": {
            "$jsonSchema": {"properties": {"n": {"bsonType": "int", "minimum": 5, "maximum": 1}}}
        },
        "seed": {"count": 1},
    }
    catalog = load(
        tmp_path,
        {"fine": {"seed": {"count": 1}}, "a": broken, "b": broken},
    )
    seeder = Seeder(plan_seed(catalog), seed=1, pool_size=60, environ={})
    with pytest.raises(CatalogError) as raised:
        seeder.prepare()
    assert "2 collections" in raised.value.message
    assert any("shop.a" in line for line in raised.value.problems)
    assert any("shop.b" in line for line in raised.value.problems)


def test_prepare_leaves_the_documents_as_they_were(tmp_path):
    """Compiling everything first (with a sample parent row) draws nothing from a run."""
    catalog = blog(tmp_path)
    eager = Seeder(plan_seed(catalog), seed=5, pool_size=60, environ={})
    eager.prepare()
    produced = {c.namespace: list(d) for c, d in eager.collections()}
    assert produced == generate_all(catalog, seed=5)
    assert len(eager.tables["shop.users"].rows) == 20  # the sample row is gone


def test_existing_fixtures_are_left_out_and_referred_to(tmp_path):
    fixtures = [
        {"email": "admin@example.com", "created_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC)},
        {"email": "demo@example.com", "created_at": dt.datetime(2024, 1, 2, tzinfo=dt.UTC)},
    ]
    catalog = blog(tmp_path, users_seed={"count": 0, "fixtures": fixtures})
    seeder = Seeder(plan_seed(catalog), seed=1, pool_size=60, environ={})
    seeder.prepare()
    filters = seeder.existing_fixture_filters("shop.users")
    first_id = seeder.fixtures("shop.users")[0]["_id"]
    assert filters[0] == {"$or": [{"_id": first_id}, {"email": "admin@example.com"}]}
    stored = {"_id": ObjectId(), "email": "admin@example.com"}
    seeder.skip_existing_fixtures("shop.users", {0: stored})
    produced = {c.namespace: list(d) for c, d in seeder.collections()}
    assert [user["email"] for user in produced["shop.users"]] == ["demo@example.com"]
    assert seeder.skipped_fixtures("shop.users") == 1
    authors = {post["user_id"] for post in produced["shop.posts"]}
    assert stored["_id"] in authors  # children refer to the document already there
    assert first_id not in authors


def test_existing_filter_follows_index_semantics():
    from toolkit.seed.unique import UniqueIndex, existing_filter

    indexes = [
        UniqueIndex("_id_", ("_id",)),
        UniqueIndex("tags_1", ("tags",)),
        UniqueIndex("nick_1", ("nick",), sparse=True),
        UniqueIndex("a_1_b_1", ("a", "b")),
    ]
    assert existing_filter({"_id": 1, "tags": ["x", "y"], "a": 2}, indexes) == {
        "$or": [{"_id": 1}, {"tags": {"$in": ["x", "y"]}}, {"a": 2, "b": None}]
    }
    assert existing_filter({"_id": 1, "tags": []}, indexes[:2]) == {"_id": 1}
    assert existing_filter({"nick": "n"}, indexes[2:3]) == {"nick": "n"}
    assert existing_filter({}, indexes[2:3]) is None
