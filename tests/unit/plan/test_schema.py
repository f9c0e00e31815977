"""The schema planner on plain data: what the server reports vs. what the catalog says."""

from pathlib import Path

import pytest

from toolkit.catalog.load import load_catalog
from toolkit.plan.schema import ObservedCollection, ObservedSchema, pending, plan_schema

CATALOG = """
databases:
  app:
    collections:
      users:
        validator:
          $jsonSchema:
            bsonType: object
            required: [email]
            properties:
              email: {bsonType: string}
              created_at: {bsonType: date}
        indexes:
          - keys: {email: 1}
            unique: true
          - keys: {created_at: 1}
            expire_after: 7d
          - keys: {title: text, body: text}
            weights: {title: 10}
            name: search
          - keys: {name: 1}
            collation: {locale: fr_CA}
      metrics:
        timeseries: {time_field: ts, meta_field: meta, granularity: minutes}
        expire_after: 30d
      open_users:
        view: {view_on: users, pipeline: [{$match: {active: true}}]}
"""


def load(tmp_path: Path, text: str = CATALOG):
    path = tmp_path / "catalog.yaml"
    path.write_text(text)
    return load_catalog(path)


def server_state(**overrides):
    """What a MongoDB 7.0 server reports after the catalog was applied (FACTS §1, §2)."""
    users_indexes = [
        {"v": 2, "key": {"_id": 1}, "name": "_id_"},
        {"v": 2, "key": {"email": 1}, "name": "email_1", "unique": True},
        {"v": 2, "key": {"created_at": 1}, "name": "created_at_1", "expireAfterSeconds": 604800},
        {
            "v": 2,
            "key": {"_fts": "text", "_ftsx": 1},
            "name": "search",
            "weights": {"body": 1, "title": 10},
            "default_language": "english",
            "language_override": "language",
            "textIndexVersion": 3,
        },
        {
            "v": 2,
            "key": {"name": 1.0},
            "name": "name_1",
            "collation": {
                "locale": "fr_CA",
                "caseLevel": False,
                "caseFirst": "off",
                "strength": 3,
                "numericOrdering": False,
                "alternate": "non-ignorable",
                "maxVariable": "punct",
                "normalization": False,
                "backwards": True,
                "version": "57.1",
            },
        },
    ]
    users_options = {
        "validator": {
            "$jsonSchema": {
                "properties": {"created_at": {"bsonType": "date"}, "email": {"bsonType": "string"}},
                "bsonType": "object",
                "required": ["email"],
            }
        },
        # set at create time: the server omits the defaults (SERVER-53575)
    }
    collections = {
        "users": ObservedCollection(
            "app", "users", "collection", users_options, tuple(users_indexes)
        ),
        "metrics": ObservedCollection(
            "app",
            "metrics",
            "timeseries",
            {
                "timeseries": {
                    "timeField": "ts",
                    "metaField": "meta",
                    "granularity": "minutes",
                    "bucketMaxSpanSeconds": 86400,
                    "bucketRoundingSeconds": 3600,
                },
                "expireAfterSeconds": 2592000,
            },
            ({"v": 2, "key": {"meta": 1, "ts": 1}, "name": "meta_1_ts_1"},),
        ),
        "open_users": ObservedCollection(
            "app",
            "open_users",
            "view",
            {"viewOn": "users", "pipeline": [{"$match": {"active": True}}]},
        ),
    }
    collections.update(overrides)
    return ObservedSchema(tuple(c for c in collections.values() if c is not None))


def kinds(operations):
    return [(op.kind, op.collection, op.index) for op in operations]


def test_empty_server_gets_everything_created_in_order(tmp_path):
    operations = plan_schema(load(tmp_path), ObservedSchema())
    assert kinds(operations) == [
        ("create-collection", "users", None),
        ("create-index", "users", "email_1"),
        ("create-index", "users", "created_at_1"),
        ("create-index", "users", "search"),
        ("create-index", "users", "name_1"),
        ("create-collection", "metrics", None),
        ("create-collection", "open_users", None),  # views after the collections they read
    ]
    create_users = operations[0].command
    assert (
        create_users["validationLevel"] == "strict" and create_users["validationAction"] == "error"
    )
    assert operations[2].command["indexes"][0]["expireAfterSeconds"] == 604800
    assert operations[5].command["timeseries"] == {
        "timeField": "ts",
        "metaField": "meta",
        "granularity": "minutes",
    }
    assert operations[5].command["expireAfterSeconds"] == 2592000
    assert not any(op.destructive for op in operations)


def test_what_the_server_fills_in_plans_nothing(tmp_path):
    assert plan_schema(load(tmp_path), server_state()) == []


def test_changed_ttl_is_one_collmod(tmp_path):
    catalog = load(tmp_path, CATALOG.replace("expire_after: 7d", "expire_after: 1d"))
    operations = plan_schema(catalog, server_state())
    assert kinds(operations) == [("modify-index", "users", "created_at_1")]
    assert operations[0].command == {
        "collMod": "users",
        "index": {"name": "created_at_1", "expireAfterSeconds": 86400},
    }
    assert "604800 -> 86400" in operations[0].reason


def test_hiding_an_index_is_in_place(tmp_path):
    catalog = load(
        tmp_path,
        CATALOG.replace(
            "            unique: true\n", "            unique: true\n            hidden: true\n"
        ),
    )
    operations = plan_schema(catalog, server_state())
    assert [op.command for op in operations] == [
        {"collMod": "users", "index": {"name": "email_1", "hidden": True}}
    ]


def test_changed_uniqueness_is_a_rebuild_that_needs_allow_drop(tmp_path):
    catalog = load(tmp_path, CATALOG.replace("            unique: true\n", ""))
    operations = plan_schema(catalog, server_state())
    assert kinds(operations) == [
        ("drop-index", "users", "email_1"),
        ("create-index", "users", "email_1"),
    ]
    assert operations[0].destructive and operations[1].needs_drop
    assert "unique" in operations[0].reason
    assert pending(operations, allow_drop=False) == []
    assert pending(operations, allow_drop=True) == operations


def test_new_key_is_built_before_the_old_index_is_dropped(tmp_path):
    catalog = load(tmp_path, CATALOG.replace("keys: {email: 1}", "keys: {email: 1, tenant: 1}"))
    operations = plan_schema(catalog, server_state())
    assert kinds(operations) == [
        ("create-index", "users", "email_1_tenant_1"),
        ("drop-index", "users", "email_1"),
    ]
    assert pending(operations, allow_drop=False) == operations[:1]


def test_renamed_index_drops_first_because_mongodb_refuses_a_twin(tmp_path):
    catalog = load(
        tmp_path,
        CATALOG.replace("keys: {email: 1}\n", "keys: {email: 1}\n            name: by_email\n"),
    )
    operations = plan_schema(catalog, server_state())
    assert kinds(operations) == [
        ("drop-index", "users", "email_1"),
        ("create-index", "users", "by_email"),
    ]
    assert operations[1].needs_drop


def test_extra_index_and_collection_are_destructive_drops(tmp_path):
    state = server_state(
        legacy=ObservedCollection(
            "app", "legacy", "collection", {}, ({"v": 2, "key": {"_id": 1}, "name": "_id_"},)
        )
    )
    users = state.find("app", "users")
    extra = ObservedCollection(
        "app",
        "users",
        "collection",
        users.options,
        (*users.indexes, {"v": 2, "key": {"old": 1}, "name": "old_1"}),
    )
    state = server_state(users=extra, legacy=state.find("app", "legacy"))
    operations = plan_schema(load(tmp_path), state)
    assert kinds(operations) == [
        ("drop-index", "users", "old_1"),
        ("drop-collection", "legacy", None),
    ]
    assert all(op.destructive for op in operations)


def test_validator_change_sets_level_and_action_explicitly(tmp_path):
    catalog = load(tmp_path, CATALOG.replace("required: [email]", "required: [email, created_at]"))
    operations = plan_schema(catalog, server_state())
    assert kinds(operations) == [("modify-collection", "users", None)]
    command = operations[0].command
    assert command["validator"]["$jsonSchema"]["required"] == ["email", "created_at"]
    assert (command["validationLevel"], command["validationAction"]) == ("strict", "error")


def test_validator_set_by_collmod_reports_defaults_and_still_plans_nothing(tmp_path):
    state = server_state()
    users = state.find("app", "users")
    options = {**users.options, "validationLevel": "strict", "validationAction": "error"}
    state = server_state(
        users=ObservedCollection("app", "users", "collection", options, users.indexes)
    )
    assert plan_schema(load(tmp_path), state) == []


def test_timeseries_granularity_increase_in_place_and_decrease_recreates(tmp_path):
    up = plan_schema(
        load(tmp_path, CATALOG.replace("granularity: minutes", "granularity: hours")),
        server_state(),
    )
    assert [op.command for op in up] == [
        {"collMod": "metrics", "timeseries": {"granularity": "hours"}}
    ]
    down = plan_schema(
        load(tmp_path, CATALOG.replace("granularity: minutes", "granularity: seconds")),
        server_state(),
    )
    assert kinds(down)[:2] == [
        ("drop-collection", "metrics", None),
        ("create-collection", "metrics", None),
    ]
    assert down[0].destructive and "only increase" in down[0].reason


def test_timeseries_expiry_change_is_collmod(tmp_path):
    operations = plan_schema(
        load(tmp_path, CATALOG.replace("expire_after: 30d", "expire_after: 60d")), server_state()
    )
    assert [op.command for op in operations] == [
        {"collMod": "metrics", "expireAfterSeconds": 5184000}
    ]


def test_view_pipeline_change_is_collmod(tmp_path):
    operations = plan_schema(
        load(tmp_path, CATALOG.replace("active: true", "active: false")), server_state()
    )
    assert operations[0].command == {
        "collMod": "open_users",
        "viewOn": "users",
        "pipeline": [{"$match": {"active": False}}],
    }


def test_collection_that_became_a_view_is_recreated(tmp_path):
    state = server_state(open_users=ObservedCollection("app", "open_users", "collection", {}, ()))
    operations = plan_schema(load(tmp_path), state)
    assert kinds(operations) == [
        ("drop-collection", "open_users", None),
        ("create-collection", "open_users", None),
    ]


@pytest.mark.parametrize("numeric", [1, 1.0])
def test_numbers_compare_by_value(tmp_path, numeric):
    state = server_state()
    users = state.find("app", "users")
    indexes = tuple(
        {**index, "key": {"email": numeric}} if index["name"] == "email_1" else index
        for index in users.indexes
    )
    state = server_state(
        users=ObservedCollection("app", "users", "collection", users.options, indexes)
    )
    assert plan_schema(load(tmp_path), state) == []


def test_dates_compare_as_utc_milliseconds(tmp_path):
    """A YAML timestamp is timezone-aware; pymongo returns it naive in UTC, to the ms."""
    import datetime as dt

    catalog = load(
        tmp_path,
        "databases:\n  app:\n    collections:\n      events:\n"
        "        validator: {at: {$gte: 2024-01-31T12:00:00.123456+02:00}}\n"
        "        indexes:\n"
        "          - {keys: {at: 1}, partial: {at: {$gt: 2024-01-31}}}\n",
    )
    stored = dt.datetime(2024, 1, 31, 10, 0, 0, 123000)  # naive UTC, milliseconds
    state = ObservedSchema(
        (
            ObservedCollection(
                "app",
                "events",
                "collection",
                {"validator": {"at": {"$gte": stored}}},
                (
                    {"v": 2, "key": {"_id": 1}, "name": "_id_"},
                    {
                        "v": 2,
                        "key": {"at": 1},
                        "name": "at_1",
                        "partialFilterExpression": {"at": {"$gt": dt.datetime(2024, 1, 31)}},
                    },
                ),
            ),
        )
    )
    assert plan_schema(catalog, state) == []
    later = ObservedCollection(
        "app",
        "events",
        "collection",
        {"validator": {"at": {"$gte": stored + dt.timedelta(milliseconds=1)}}},
        state.collections[0].indexes,
    )
    assert kinds(plan_schema(catalog, ObservedSchema((later,)))) == [
        ("modify-collection", "events", None)
    ]


def test_level_and_action_without_validator_are_sent_at_create(tmp_path):
    catalog = load(
        tmp_path,
        "databases:\n  app:\n    collections:\n"
        "      loose: {validation_level: moderate, validation_action: warn}\n"
        "      level_only: {validation_level: 'off'}\n"
        "      plain: {}\n",
    )
    operations = plan_schema(catalog, ObservedSchema())
    assert [op.command for op in operations] == [
        {"create": "loose", "validationLevel": "moderate", "validationAction": "warn"},
        {"create": "level_only", "validationLevel": "off"},
        {"create": "plain"},
    ]
    # listCollections then shows exactly what create was given: nothing left to plan.
    applied = ObservedSchema(
        tuple(
            ObservedCollection(
                "app",
                op.collection,
                "collection",
                {k: v for k, v in op.command.items() if k != "create"},
            )
            for op in operations
        )
    )
    assert plan_schema(catalog, applied) == []
