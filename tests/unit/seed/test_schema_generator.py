"""Documents generated from a $jsonSchema satisfy it, keyword by keyword."""

import datetime as dt
import re
import uuid

import pytest
from bson import Decimal128, Int64, ObjectId
from bson.binary import Binary

from tests.unit.seed.helpers import NOW, generator_for
from toolkit.seed.overrides import parse_overrides
from toolkit.seed.schema_generator import GenerationFailed, Unsatisfiable


def documents(schema, count=200, **options):
    generate, check, _ = generator_for(schema, **options)
    produced = []
    for _ in range(count):
        document = generate()
        assert check(document) is None, (check(document), document)
        produced.append(document)
    return produced


def values(field_schema, count=200, name="f", **options):
    schema = {"bsonType": "object", "required": [name], "properties": {name: field_schema}}
    return [document[name] for document in documents(schema, count, **options)]


@pytest.mark.parametrize(
    ("alias", "python_type"),
    [
        ("objectId", ObjectId),
        ("string", str),
        ("int", int),
        ("long", Int64),
        ("double", float),
        ("decimal", Decimal128),
        ("bool", bool),
        ("date", dt.datetime),
        ("array", list),
        ("object", dict),
        ("binData", Binary),
        ("null", type(None)),
    ],
)
def test_every_bson_type(alias, python_type):
    for value in values({"bsonType": alias}, 50):
        assert type(value) is python_type


def test_type_lists_draw_every_type():
    drawn = {type(value) for value in values({"bsonType": ["string", "int", "null"]}, 300)}
    assert drawn == {str, int, type(None)}


def test_int_values_are_int32_and_long_values_int64():
    assert all(-(2**31) <= v < 2**31 for v in values({"bsonType": "int"}))
    large = values({"bsonType": "long", "minimum": 2**40})
    assert all(type(v) is Int64 and v >= 2**40 for v in large)


def test_enum_and_numeric_enum_values_take_the_wanted_type():
    assert set(values({"enum": ["a", "b"]})) == {"a", "b"}
    longs = values({"bsonType": "long", "enum": [1, 2]})
    assert {type(v) for v in longs} == {Int64}


def test_required_and_optional_properties():
    schema = {
        "bsonType": "object",
        "required": ["a"],
        "properties": {"a": {"bsonType": "int"}, "b": {"bsonType": "string"}},
    }
    produced = documents(schema, 300)
    assert all("a" in d for d in produced)
    assert 0 < sum("b" in d for d in produced) < 300  # optional: usually there
    assert all(list(d)[0] == "_id" for d in produced)


@pytest.mark.parametrize(
    ("schema", "low", "high"),
    [
        ({"bsonType": "int", "minimum": 1, "maximum": 3}, 1, 3),
        (
            {
                "bsonType": "int",
                "minimum": 1,
                "exclusiveMinimum": True,
                "maximum": 3,
                "exclusiveMaximum": True,
            },
            2,
            2,
        ),
        (
            {
                "bsonType": "double",
                "minimum": 0,
                "exclusiveMinimum": True,
                "maximum": 1,
                "exclusiveMaximum": True,
            },
            0,
            1,
        ),
        ({"bsonType": "decimal", "minimum": 5, "maximum": 6}, 5, 6),
        ({"bsonType": "int", "minimum": 5000}, 5000, 2**31),
        ({"bsonType": "int", "maximum": -5000}, -(2**31), -5000),
    ],
)
def test_bounds(schema, low, high):
    for value in values(schema):
        number = value.to_decimal() if isinstance(value, Decimal128) else value
        assert low <= number <= high
        if schema.get("exclusiveMinimum"):
            assert number != schema["minimum"]


def test_multiple_of():
    assert all(
        v % 7 == 0
        for v in values({"bsonType": "int", "multipleOf": 7, "minimum": 1, "maximum": 100})
    )
    assert all(
        round(v / 0.25, 9) == int(round(v / 0.25, 9))
        for v in values({"bsonType": "double", "multipleOf": 0.25})
    )


def test_lengths_and_patterns():
    for value in values({"bsonType": "string", "minLength": 40, "maxLength": 45}):
        assert 40 <= len(value) <= 45
    pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    for value in values({"bsonType": "string", "pattern": pattern}):
        assert re.search(pattern, value)
    for value in values({"bsonType": "string", "pattern": "^(ab|cd)+x?\\d{2,3}$", "maxLength": 7}):
        assert len(value) <= 7
    for value in values({"bsonType": "string", "pattern": "[A-Z]{2}", "minLength": 10}):
        assert len(value) >= 10


def test_arrays():
    for value in values(
        {"bsonType": "array", "items": {"bsonType": "int"}, "minItems": 2, "maxItems": 4}
    ):
        assert 2 <= len(value) <= 4 and all(type(item) is int for item in value)
    for value in values(
        {"bsonType": "array", "items": {"bsonType": "bool"}, "minItems": 2, "uniqueItems": True}
    ):
        assert sorted(value) == [False, True]
    listed = {
        "bsonType": "array",
        "items": [{"bsonType": "string"}, {"bsonType": "int"}],
        "additionalItems": False,
    }
    for value in values(listed):
        assert len(value) <= 2


def test_nested_objects_and_arrays():
    schema = {
        "bsonType": "object",
        "required": ["profile"],
        "properties": {
            "profile": {
                "bsonType": "object",
                "required": ["tags", "address"],
                "properties": {
                    "tags": {
                        "bsonType": "array",
                        "minItems": 1,
                        "items": {
                            "bsonType": "object",
                            "required": ["k"],
                            "properties": {"k": {"bsonType": "string"}},
                        },
                    },
                    "address": {
                        "bsonType": "object",
                        "required": ["zip"],
                        "properties": {"zip": {"bsonType": "string", "pattern": "^[0-9]{5}$"}},
                    },
                },
            }
        },
    }
    for document in documents(schema, 100):
        assert re.match("^[0-9]{5}$", document["profile"]["address"]["zip"])
        assert all("k" in tag for tag in document["profile"]["tags"])


def test_additional_properties():
    closed = {
        "bsonType": "object",
        "properties": {"_id": {"bsonType": "objectId"}, "a": {"bsonType": "int"}},
        "additionalProperties": False,
    }
    assert all(set(d) <= {"_id", "a"} for d in documents(closed, 50))
    free = {
        "bsonType": "object",
        "required": ["m"],
        "properties": {
            "m": {
                "bsonType": "object",
                "additionalProperties": {"bsonType": "int"},
                "minProperties": 2,
            }
        },
    }
    for document in documents(free, 50):
        assert len(document["m"]) >= 2 and all(type(v) is int for v in document["m"].values())


def test_any_of_one_of_all_of_not():
    drawn = values(
        {
            "anyOf": [
                {"bsonType": "int", "minimum": 0, "maximum": 5},
                {"bsonType": "string", "maxLength": 3},
            ]
        }
    )
    assert {type(v) for v in drawn} == {int, str}
    for value in values({"oneOf": [{"bsonType": "int"}, {"bsonType": "int", "minimum": 0}]}):
        assert value < 0  # only negative ints match exactly one branch
    for value in values({"allOf": [{"bsonType": "int", "minimum": 10}, {"maximum": 12}]}):
        assert 10 <= value <= 12
    for value in values({"bsonType": ["int", "string"], "not": {"bsonType": "string"}}):
        assert type(value) is int
    for value in values({"bsonType": "int", "minimum": 0, "maximum": 3, "not": {"enum": [1, 2]}}):
        assert value in (0, 3)


PRESENCE = {
    "a": {"bsonType": "string"},
    "b": {"bsonType": "int"},
    "x": {"bsonType": "string"},
    "y": {"bsonType": "bool"},
}


@pytest.mark.parametrize(
    ("extra", "absent_one_of"),
    [
        ({"not": {"required": ["a"]}}, [("a",)]),
        ({"not": {"required": ["a", "b"]}}, [("a", "b")]),
        ({"required": ["a"], "not": {"required": ["a", "b"]}}, [("b",)]),
        ({"oneOf": [{"required": ["x"]}, {"required": ["y"]}]}, [("x", "y")]),
        (  # the not inside a branch, and another group after it
            {
                "anyOf": [{"required": ["a"], "not": {"required": ["b"]}}, {"required": ["b"]}],
                "oneOf": [{"required": ["x"]}, {"required": ["y"]}],
            },
            [("x", "y")],
        ),
    ],
)
def test_not_and_one_of_about_which_fields_are_present_always_hold(extra, absent_one_of):
    # At 90% presence for optional fields, drawing until the schema passes fails by
    # chance over 40 documents; these shapes are generated to hold instead.
    schema = {"bsonType": "object", "properties": PRESENCE, **extra}
    for seed in range(1, 31):
        produced = documents(schema, 40, seed=seed)
        for names in absent_one_of:
            assert all(not all(name in document for name in names) for document in produced)
    if "oneOf" in extra:
        produced = documents(schema, 200, seed=1)
        assert any("x" in document for document in produced)
        assert any("y" in document for document in produced)


def test_a_not_required_that_every_field_defeats_is_named():
    schema = {
        "bsonType": "object",
        "required": ["a"],
        "properties": {
            "deep": {
                "bsonType": "object",
                "required": ["a", "b"],
                "properties": PRESENCE,
                "not": {"required": ["a", "b"]},
            }
        },
    }
    with pytest.raises(Unsatisfiable) as raised:
        generator_for(schema)
    assert raised.value.path == "deep" and "not {required: ['a', 'b']}" in str(raised.value)


def test_a_dependency_on_a_left_out_field_leaves_its_owner_out():
    schema = {
        "bsonType": "object",
        "properties": PRESENCE,
        "dependencies": {"x": ["a"]},
        "not": {"required": ["a"]},
    }
    produced = documents(schema, 100)
    assert not any("a" in document or "x" in document for document in produced)


@pytest.mark.parametrize(
    ("field_schema", "reason"),
    [
        ({"bsonType": "int", "minimum": 5, "maximum": 4}, "no integer"),
        (
            {
                "bsonType": "int",
                "minimum": 1,
                "exclusiveMinimum": True,
                "maximum": 2,
                "exclusiveMaximum": True,
            },
            "no integer",
        ),
        (
            {"bsonType": "string", "minLength": 5, "maxLength": 2},
            "minLength 5 is above maxLength 2",
        ),
        ({"bsonType": "string", "enum": [1, 2]}, "no enum value"),
        ({"bsonType": "array", "minItems": 3, "maxItems": 1}, "minItems 3 is above maxItems 1"),
        ({"allOf": [{"bsonType": "string"}, {"bsonType": "int"}]}, "nothing in common"),
        ({"bsonType": "symbol"}, "deprecated"),
        (
            {"bsonType": "object", "required": ["x"], "additionalProperties": False},
            "additionalProperties is false",
        ),
    ],
)
def test_an_unsatisfiable_field_is_named(field_schema, reason):
    schema = {
        "bsonType": "object",
        "properties": {"deep": {"bsonType": "object", "properties": {"field": field_schema}}},
    }
    with pytest.raises(Unsatisfiable) as raised:
        generator_for(schema)
    assert raised.value.path.startswith("deep.field")
    assert reason in str(raised.value)


def test_a_field_that_keeps_failing_is_named():
    schema = {
        "bsonType": "object",
        "required": ["flags"],
        "properties": {
            "flags": {
                "bsonType": "array",
                "items": {"bsonType": "bool"},
                "minItems": 3,
                "uniqueItems": True,
            }
        },
    }
    generate, _, _ = generator_for(schema)
    with pytest.raises(GenerationFailed) as raised:
        generate()
    assert raised.value.path == "flags"


def test_id_must_be_allowed():
    with pytest.raises(Unsatisfiable, match="_id"):
        generator_for(
            {
                "bsonType": "object",
                "properties": {"a": {"bsonType": "int"}},
                "additionalProperties": False,
            }
        )


def test_field_names_steer_values():
    schema = {
        "bsonType": "object",
        "required": [
            "email",
            "name",
            "url",
            "ip_address",
            "created_at",
            "country",
            "language",
            "expires_at",
            "retry_count",
            "token",
        ],
        "properties": {
            "email": {"bsonType": "string"},
            "name": {"bsonType": "string"},
            "url": {"bsonType": "string"},
            "ip_address": {"bsonType": "string"},
            "created_at": {"bsonType": "date"},
            "country": {"bsonType": "string"},
            "language": {"bsonType": "string"},
            "expires_at": {"bsonType": "date"},
            "retry_count": {"bsonType": "int"},
            "token": {"bsonType": "string"},
            "updated_at": {"bsonType": ["int", "long"]},
        },
    }
    for document in documents(schema, 100):
        assert re.match(r"^[^@\s]+@[^@\s]+\.[a-z]+$", document["email"])
        assert " " in document["name"]
        assert document["url"].startswith(("http://", "https://"))
        assert len(document["ip_address"].split(".")) == 4
        assert document["created_at"] <= NOW  # *_at: never in the future
        assert document["expires_at"] > NOW  # expiry: after the reference time
        assert 0 <= document["retry_count"] <= 5
        assert re.match("^[0-9a-f]{32}$", document["token"])
        assert document["country"] and document["language"]
        if "updated_at" in document:  # an integer time: epoch seconds, in the past
            assert 1_600_000_000 < document["updated_at"] <= NOW.timestamp()


def test_dates_are_utc_milliseconds():
    for value in values({"bsonType": "date"}, 500):
        assert value.tzinfo is not None and value.microsecond % 1000 == 0


def overrides(fields):
    return parse_overrides(fields, "test")


def test_generators_in_seed_fields():
    schema = {
        "bsonType": "object",
        "properties": {
            "status": {"bsonType": "string", "enum": ["a", "b", "c"]},
            "size": {"bsonType": "long"},
            "score": {"bsonType": "double"},
            "day": {"bsonType": "date"},
            "code": {"bsonType": "string"},
            "tier": {"bsonType": "string"},
            "n": {"bsonType": "int"},
            "when": {"bsonType": "string"},
        },
    }
    fields = overrides(
        {
            "status": {"choice": ["a", "b"], "weights": [1, 0]},
            "size": {"range": [1, 3]},
            "score": {"range": [0.5, 0.75]},
            "day": {
                "range": [
                    dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
                    dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
                ]
            },
            "code": {"template": "INV-{index:04d}-{hex:4}-{n}"},
            "tier": {"const": "gold"},
            "n": {"sequence": 10, "step": 5},
            "when": {"faker": "date_time"},
            "extra.city": {"faker": "city"},
        }
    )
    generate, check, context = generator_for(schema, overrides=fields, forced=frozenset(fields))
    for index in range(50):
        context.state.index = index
        context.state.pending.clear()
        document = generate()
        for container, key, pending in context.state.pending:
            container[key] = pending.render(document)
        assert check(document) is None
        assert document["status"] == "a"
        assert type(document["size"]) is Int64 and 1 <= document["size"] <= 3
        assert 0.5 <= document["score"] <= 0.75
        assert (
            dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
            <= document["day"]
            <= dt.datetime(2024, 1, 2, tzinfo=dt.UTC)
        )
        assert document["n"] == 10 + 5 * index
        assert re.match(rf"^INV-{index:04d}-[0-9a-f]{{4}}-{10 + 5 * index}$", document["code"])
        assert document["tier"] == "gold"
        assert re.match(r"^\d{4}-\d\d-\d\dT", document["when"])  # a date, as the string wanted
        assert isinstance(document["extra"]["city"], str)  # not in the schema: added


def test_a_generator_the_validator_refuses_is_named():
    schema = {
        "bsonType": "object",
        "properties": {"tier": {"bsonType": "string", "enum": ["gold"]}},
    }
    with pytest.raises(Unsatisfiable, match="tier.*silver"):
        generator_for(schema, overrides=overrides({"tier": {"const": "silver"}}))
    with pytest.raises(Unsatisfiable, match="no provider 'nope'"):
        generator_for(schema, overrides=overrides({"tier": {"faker": "nope"}}))


def test_uuid_template_and_binary_uuid():
    fields = overrides({"u": {"template": "{uuid}"}})
    generate, _, _ = generator_for(
        {"bsonType": "object", "properties": {"key_uuid": {"bsonType": "binData"}}},
        overrides=fields,
        forced=frozenset({"u", "key_uuid"}),
    )
    document = generate()
    assert uuid.UUID(document["u"]).version == 4
    assert document["key_uuid"].subtype == 4


def test_same_seed_same_documents():
    schema = {
        "bsonType": "object",
        "properties": {
            "a": {"bsonType": "string"},
            "b": {"bsonType": "date"},
            "c": {"bsonType": "array"},
        },
    }
    first, _, _ = generator_for(schema, seed=11)
    second, _, _ = generator_for(schema, seed=11)
    other, _, _ = generator_for(schema, seed=12)
    one = [first() for _ in range(20)]
    assert one == [second() for _ in range(20)]
    assert one != [other() for _ in range(20)]


def test_times_follow_each_other():
    schema = {
        "bsonType": "object",
        "required": ["created_at", "started_at", "finished_at", "first_used", "last_used"],
        "properties": {
            "created_at": {"bsonType": "date"},
            "started_at": {"bsonType": "date"},
            "finished_at": {"bsonType": "date"},
            "first_used": {"bsonType": ["int", "long"]},
            "last_used": {"bsonType": ["int", "long"]},
        },
    }
    for document in documents(schema, 200):
        assert document["created_at"] <= document["started_at"] <= document["finished_at"]
        assert document["first_used"] <= document["last_used"]
