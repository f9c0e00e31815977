"""The local $jsonSchema check follows MongoDB's semantics, keyword by keyword."""

import datetime as dt
import re

import pytest
from bson import Decimal128, Int64, ObjectId
from bson.binary import Binary

from toolkit.seed.validator import SchemaProblem, compile_schema, compile_validator


def passes(schema, value, **options):
    return compile_schema(schema, "f", **options)(value) is None


def document_passes(schema, document):
    return compile_validator({"$jsonSchema": schema})(document) is None


NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("alias", "good", "bad"),
    [
        ("objectId", ObjectId(), "5f1d7a"),
        ("string", "x", 1),
        ("int", 5, Int64(5)),
        ("int", -(2**31), 2**31),
        ("long", Int64(5), 5),
        ("long", 2**40, 1.0),
        ("double", 1.5, 1),
        ("decimal", Decimal128("1.5"), 1.5),
        ("bool", True, 1),
        ("date", NOW, "2025-01-01"),
        ("array", [1], {"a": 1}),
        ("object", {"a": 1}, [1]),
        ("binData", Binary(b"x", 0), "x"),
        ("null", None, 0),
    ],
)
def test_every_bson_type(alias, good, bad):
    assert passes({"bsonType": alias}, good)
    assert not passes({"bsonType": alias}, bad)


def test_number_alias_and_type_lists():
    for value in (1, Int64(1), 1.5, Decimal128("2")):
        assert passes({"bsonType": "number"}, value)
        assert passes({"type": "number"}, value)
    assert not passes({"bsonType": "number"}, True)  # bool is never a number
    assert passes({"bsonType": ["int", "null"]}, None)
    assert not passes({"bsonType": ["int", "null"]}, "x")
    assert passes({"type": "boolean"}, False)


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "integer"}, "integer"),
        ({"type": "string", "bsonType": "string"}, "together"),
        ({"bsonType": "whatever"}, "unknown bsonType"),
        ({"format": "email"}, "not supported"),
        ({"$ref": "#/x"}, "not supported"),
        ({"default": 1}, "not supported"),
        ({"minimum": 1, "exclusiveMinimum": 1}, "true or false"),
        ({"exclusiveMaximum": True}, "needs maximum"),
        ({"required": []}, "non-empty"),
        ({"enum": [1, 1.0]}, "duplicate"),
        ({"pattern": "("}, "not a regular expression"),
        ({"minLength": -1}, "negative"),
        ({"frobnicate": 1}, "unknown $jsonSchema keyword"),
    ],
)
def test_schemas_mongodb_refuses(schema, message):
    with pytest.raises(SchemaProblem, match=re.escape(message)):
        compile_schema(schema, "f")


def test_query_operators_beside_json_schema_are_refused():
    with pytest.raises(SchemaProblem, match=r"\$expr"):
        compile_validator({"$jsonSchema": {}, "$expr": {"$gt": ["$a", 1]}})


def test_enum_compares_as_bson():
    schema = {"enum": [1, "a", {"x": 1, "y": 2}]}
    assert passes(schema, 1.0) and passes(schema, Int64(1)) and passes(schema, Decimal128("1"))
    assert not passes(schema, True)  # bool is not 1
    assert passes(schema, {"y": 2, "x": 1})  # documents compare without field order
    assert not passes(schema, "b")


def test_bounds_with_mongodb_boolean_exclusivity():
    inclusive = {"minimum": 0, "maximum": 10}
    exclusive = {"minimum": 0, "exclusiveMinimum": True, "maximum": 10, "exclusiveMaximum": True}
    assert passes(inclusive, 0) and passes(inclusive, 10)
    assert not passes(exclusive, 0) and not passes(exclusive, 10)
    assert passes(exclusive, 0.0001) and passes(exclusive, Decimal128("9.999"))
    assert not passes(inclusive, float("nan"))
    assert passes(inclusive, "not a number")  # a keyword for numbers says nothing about strings


def test_multiple_of_like_the_server():
    assert passes({"multipleOf": 0.1}, 0.3)  # 0.30000000000000004 taken to 15 digits
    assert passes({"multipleOf": 3}, Int64(9)) and not passes({"multipleOf": 3}, 10)
    assert not passes({"multipleOf": 2}, float("inf"))


def test_lengths_count_code_points_and_pattern_is_searched():
    assert passes({"minLength": 3, "maxLength": 3}, "äöü")
    assert not passes({"maxLength": 2}, "abc")
    assert passes({"pattern": "b+"}, "abbbc")  # not anchored
    assert not passes({"pattern": "^b"}, "abc")
    assert passes({"pattern": "^b"}, 5)  # only strings are tested


def test_arrays():
    assert passes({"minItems": 1, "maxItems": 2}, [1, 2])
    assert not passes({"minItems": 1}, [])
    assert not passes({"uniqueItems": True}, [1, 1.0])  # equal numbers
    assert not passes({"uniqueItems": True}, [{"a": 1, "b": 2}, {"b": 2, "a": 1}])
    assert passes({"uniqueItems": True}, [1, True])
    assert not passes({"items": {"bsonType": "int"}}, [1, "x"])
    listed = {"items": [{"bsonType": "string"}, {"bsonType": "int"}], "additionalItems": False}
    assert passes(listed, ["a", 1]) and passes(listed, ["a"])
    assert not passes(listed, ["a", 1, 2]) and not passes(listed, [1])
    assert passes(
        {"items": [{"bsonType": "string"}], "additionalItems": {"bsonType": "int"}}, ["a", 1, 2]
    )
    assert passes({"additionalItems": False}, [1, 2, 3])  # no items list: nothing is additional


def test_objects():
    schema = {
        "bsonType": "object",
        "required": ["a"],
        "properties": {"a": {"bsonType": "int"}, "b": {"bsonType": "string"}},
        "additionalProperties": False,
    }
    assert passes(schema, {"a": 1})
    assert not passes(schema, {"b": "x"})  # a is required
    assert not passes(schema, {"a": 1, "c": 1})
    assert not passes(schema, {"a": "1"})
    patterned = {
        "patternProperties": {"^x_": {"bsonType": "int"}},
        "additionalProperties": {"bsonType": "string"},
    }
    assert passes(patterned, {"x_a": 1, "other": "s"})
    assert not passes(patterned, {"x_a": "s"}) and not passes(patterned, {"other": 1})
    assert not passes({"minProperties": 2}, {"a": 1}) and not passes(
        {"maxProperties": 1}, {"a": 1, "b": 2}
    )
    assert not passes({"dependencies": {"a": ["b"]}}, {"a": 1})
    assert passes({"dependencies": {"a": ["b"]}}, {"a": 1, "b": 2}) and passes(
        {"dependencies": {"a": ["b"]}}, {}
    )
    assert not passes({"dependencies": {"a": {"required": ["c"]}}}, {"a": 1})


def test_logic():
    assert passes({"anyOf": [{"bsonType": "int"}, {"bsonType": "string"}]}, "x")
    assert not passes({"anyOf": [{"bsonType": "int"}, {"bsonType": "string"}]}, 1.5)
    one_of = {"oneOf": [{"bsonType": "int"}, {"minimum": 0}]}
    assert not passes(one_of, 5)  # both match
    assert passes(one_of, -5) and passes(one_of, 1.5)
    assert not passes({"allOf": [{"minimum": 0}, {"maximum": 5}]}, 6)
    assert not passes({"not": {"bsonType": "string"}}, "x") and passes(
        {"not": {"bsonType": "string"}}, 1
    )


def test_top_level_semantics():
    # string/number/array keywords have no effect on the document itself
    assert document_passes({"minLength": 5, "minimum": 3, "minItems": 9}, {"_id": 1})
    assert not document_passes({"bsonType": "string"}, {"_id": 1})  # a document is never a string
    assert not document_passes({"enum": [1, 2]}, {"_id": 1})  # top-level enum: documents only
    assert document_passes({"enum": [{"_id": 1}]}, {"_id": 1})
    assert not document_passes({"properties": {"_id": {"bsonType": "string"}}}, {"_id": 1})


def test_messages_name_the_field():
    check = compile_validator(
        {
            "$jsonSchema": {
                "properties": {"content": {"properties": {"title": {"bsonType": "string"}}}}
            }
        }
    )
    assert check({"content": {"title": 5}}) == "content.title: expected string, found int"
    required = compile_validator({"$jsonSchema": {"required": ["email"]}})
    assert required({}) == "email: required but missing"


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("^[[:alpha:]]+$", "POSIX class [:alpha:]"),
        ("[[:digit:][:upper:]]", "POSIX class [:digit:]"),
        ("^abc\\z", "\\z"),
        ("a\\hb", "\\h"),
        ("^\\p{L}+$", "\\p{...}"),
        ("\\x{263a}", "\\x{...}"),
        ("(?<year>\\d{4})", "(?<ye"),
        ("(*UTF)x", "(*VERB)"),
    ],
)
def test_pcre_only_pattern_syntax_is_refused_naming_the_field(pattern, construct):
    for schema in (
        {"properties": {"name": {"bsonType": "string", "pattern": pattern}}},
        {"patternProperties": {pattern: {"bsonType": "string"}}},
    ):
        with pytest.raises(SchemaProblem) as raised:
            compile_schema({"properties": {"profile": schema}}, "")
        text = str(raised.value)
        assert text.startswith(f"unsupported PCRE syntax in pattern {pattern!r} at profile")
        assert construct in text


@pytest.mark.parametrize(
    "pattern",
    ["^[a-z]+$", "[]:a]", "\\\\z", "[\\[:x:]", "(?i)abc", "(?P<y>a)(?P=y)", "(?<=a)b", "a++"],
)
def test_syntax_python_and_pcre_share_is_accepted(pattern):
    compile_schema({"pattern": pattern}, "f")
