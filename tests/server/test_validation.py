"""Collection validators: what create/collMod refuse and the errInfo details of failures.

Expected details are taken from mongod's own tests (src/mongo/db/matcher/
doc_validation_error_test.cpp, doc_validation_error_json_schema_test.cpp and
jstests/core/doc_validation/doc_validation_error.js), translated to Python.
The property test compares $jsonSchema with the jsonschema library (draft 4) on
the keywords whose semantics coincide.
"""

from __future__ import annotations

import datetime
import re
import time
import uuid

import pytest
from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.binary import Binary
from bson.son import SON
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from tests.support.errors import CommandError
from tests.support.validation import (
    bson_type_name,
    check_validator,
    document_matches,
    render_bson,
    validate_document,
)


def schema(body: dict) -> dict:
    return {"$jsonSchema": body}


def props(name: str, *details: dict, **annotations: str) -> dict:
    """{'operatorName': 'properties', 'propertiesNotSatisfied': [{propertyName, details}]}."""
    entry: dict = {"propertyName": name}
    entry.update(annotations)
    entry["details"] = list(details)
    return {"operatorName": "properties", "propertiesNotSatisfied": [entry]}


def top(*rules: dict, **annotations: str) -> dict:
    found: dict = {"operatorName": "$jsonSchema"}
    found.update(annotations)
    found["schemaRulesNotSatisfied"] = list(rules)
    return found


def type_error(keyword: str, spec, value, type_name: str) -> dict:
    return {
        "operatorName": keyword,
        "specifiedAs": {keyword: spec},
        "reason": "type did not match",
        "consideredValue": value,
        "consideredType": type_name,
    }


def refused(validator, command: str = "create") -> CommandError:
    with pytest.raises(CommandError) as caught:
        check_validator(validator, command=command)
    return caught.value


# ---------------------------------------------------------------------------
# BSON types
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (True, "bool"),
        (1, "int"),
        (2**31 - 1, "int"),
        (2**31, "long"),
        (-(2**31), "int"),
        (Int64(1), "long"),
        (1.0, "double"),
        (Decimal128("1.5"), "decimal"),
        ("s", "string"),
        (datetime.datetime(2024, 1, 1), "date"),
        (ObjectId(), "objectId"),
        (b"x", "binData"),
        (Binary(b"x", 4), "binData"),
        (uuid.uuid4(), "binData"),
        (None, "null"),
        ({}, "object"),
        (SON([("a", 1)]), "object"),
        ([], "array"),
        (Regex("^a"), "regex"),
        (re.compile("^a"), "regex"),
        (Timestamp(1, 2), "timestamp"),
        (MinKey(), "minKey"),
        (MaxKey(), "maxKey"),
        (Code("x"), "javascript"),
        (Code("x", {"a": 1}), "javascriptWithScope"),
    ],
)
def test_python_values_map_to_bson_type_names(value, name):
    assert bson_type_name(value) == name


def test_render_bson_writes_what_bsonobj_tostring_writes():
    assert render_bson({"a": 1, "b": "x", "c": 1.0, "d": [1, {"e": None}], "f": {}}) == (
        '{ a: 1, b: "x", c: 1.0, d: [ 1, { e: null } ], f: {} }'
    )
    assert render_bson(True) == "true"
    assert render_bson(Int64(5)) == "5"
    assert render_bson(2.5) == "2.5"
    assert render_bson([]) == "[]"
    assert (
        render_bson(ObjectId("0123456789abcdef01234567")) == "ObjectId('0123456789abcdef01234567')"
    )


# ---------------------------------------------------------------------------
# check_validator
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("validator", "code", "message"),
    [
        (
            {"$jsonSchema": {"format": "email"}},
            9,
            "$jsonSchema keyword 'format' is not currently supported",
        ),
        (
            {"$jsonSchema": {"$ref": "#"}},
            9,
            "$jsonSchema keyword '$ref' is not currently supported",
        ),
        (
            {"$jsonSchema": {"default": 1}},
            9,
            "$jsonSchema keyword 'default' is not currently supported",
        ),
        (
            {"$jsonSchema": {"definitions": {}}},
            9,
            "$jsonSchema keyword 'definitions' is not currently supported",
        ),
        (
            {"$jsonSchema": {"$schema": "x"}},
            9,
            "$jsonSchema keyword '$schema' is not currently supported",
        ),
        ({"$jsonSchema": {"id": "x"}}, 9, "$jsonSchema keyword 'id' is not currently supported"),
        ({"$jsonSchema": {"invalid": 1}}, 9, "Unknown $jsonSchema keyword: invalid"),
        (
            {"$jsonSchema": {"type": "integer"}},
            9,
            "$jsonSchema type 'integer' is not currently supported.",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"type": ["string", "integer"]}}}},
            9,
            "$jsonSchema type 'integer' is not currently supported.",
        ),
        ({"$jsonSchema": {"bsonType": "foo"}}, 2, "Unknown type name alias: foo"),
        (
            {"$jsonSchema": {"type": "object", "bsonType": "object"}},
            9,
            "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'",
        ),
        (
            {"$jsonSchema": {"bsonType": 1}},
            14,
            "$jsonSchema keyword 'bsonType' must be either a string or an array of strings",
        ),
        (
            {"$jsonSchema": {"bsonType": []}},
            9,
            "$jsonSchema keyword 'bsonType' must name at least one type",
        ),
        (
            {"$jsonSchema": {"required": []}},
            9,
            "$jsonSchema keyword 'required' cannot be an empty array",
        ),
        (
            {"$jsonSchema": {"required": ["a", "a"]}},
            9,
            "$jsonSchema keyword 'required' array cannot contain duplicate values",
        ),
        (
            {"$jsonSchema": {"required": "a"}},
            14,
            "$jsonSchema keyword 'required' must be an array, but found an element of type string",
        ),
        (
            {"$jsonSchema": {"required": [1]}},
            14,
            "$jsonSchema keyword 'required' must be an array of strings, but found an element of "
            "type: int",
        ),
        (
            {"$jsonSchema": {"properties": []}},
            14,
            "$jsonSchema keyword 'properties' must be an object",
        ),
        (
            {"$jsonSchema": {"properties": {"a": 1}}},
            14,
            "Nested schema for $jsonSchema property 'a' must be an object",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"minimum": "1"}}}},
            14,
            "$jsonSchema keyword 'minimum' must be a number",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"minimum": 1, "exclusiveMinimum": 1}}}},
            14,
            "$jsonSchema keyword 'exclusiveMinimum' must be a boolean",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"exclusiveMaximum": True}}}},
            9,
            "$jsonSchema keyword 'maximum' must be a present if exclusiveMaximum is present",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"minLength": -1}}}},
            9,
            "Expected a positive number in: minLength: -1",
        ),
        (
            {"$jsonSchema": {"properties": {"a": {"maxItems": "x"}}}},
            9,
            'Expected a number in: maxItems: "x"',
        ),
        (
            {"$jsonSchema": {"multipleOf": 0}},
            9,
            "$jsonSchema keyword 'multipleOf' must have a positive value",
        ),
        ({"$jsonSchema": {"pattern": 1}}, 14, "$jsonSchema keyword 'pattern' must be a string"),
        ({"$jsonSchema": {"enum": []}}, 9, "$jsonSchema keyword 'enum' cannot be an empty array"),
        (
            {"$jsonSchema": {"enum": [1, 1.0]}},
            9,
            "$jsonSchema keyword 'enum' array cannot contain duplicate values.",
        ),
        (
            {"$jsonSchema": {"enum": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}},
            9,
            "$jsonSchema keyword 'enum' array cannot contain duplicate values.",
        ),
        (
            {"$jsonSchema": {"allOf": []}},
            2,
            "$jsonSchema keyword 'allOf' must be a non-empty array",
        ),
        ({"$jsonSchema": {"anyOf": {}}}, 14, "$jsonSchema keyword 'anyOf' must be an array"),
        (
            {"$jsonSchema": {"oneOf": [1]}},
            14,
            "$jsonSchema keyword 'oneOf' must be an array of objects, but found an element of "
            "type int",
        ),
        (
            {"$jsonSchema": {"not": []}},
            14,
            "$jsonSchema keyword 'not' must be an object, but found an element of type array",
        ),
        (
            {"$jsonSchema": {"uniqueItems": 1}},
            14,
            "$jsonSchema keyword 'uniqueItems' must be a boolean",
        ),
        (
            {"$jsonSchema": {"additionalProperties": 1}},
            14,
            "$jsonSchema keyword 'additionalProperties' must be an object or a boolean",
        ),
        (
            {"$jsonSchema": {"dependencies": {"a": []}}},
            9,
            "property 'a' in $jsonSchema keyword 'dependencies' cannot be an empty array",
        ),
        (
            {"$jsonSchema": {"dependencies": {"a": 1}}},
            14,
            "property 'a' in $jsonSchema keyword 'dependencies' must be either an object or an "
            "array",
        ),
        ({"$jsonSchema": {"title": 1}}, 14, "$jsonSchema keyword 'title' must be of type string"),
        (
            {"$jsonSchema": {"description": False}},
            14,
            "$jsonSchema keyword 'description' must be of type string",
        ),
        (
            {"$jsonSchema": {"items": 1}},
            14,
            "$jsonSchema keyword 'items' must be an array or an object, not int",
        ),
        ({"$jsonSchema": []}, 14, "$jsonSchema must be an object"),
        ({"$where": "this.a == this.b"}, 2, "$where is not allowed in this context"),
        ({"$text": {"$search": "bob"}}, 2, "$text is not allowed in this context"),
        ({"a": {"$foo": 1}}, 2, "unknown operator: $foo"),
        ({"$and": {}}, 2, "$and must be an array"),
        ({"$or": []}, 2, "$and/$or/$nor must be a nonempty array"),
        ({"$or": [1]}, 2, "$or/$and/$nor entries need to be full objects"),
        ({"a": {"$in": 1}}, 2, "$in needs an array"),
        ({"a": {"$elemMatch": 1}}, 2, "$elemMatch needs an Object"),
        (
            {"a": {"$elemMatch": {"$jsonSchema": {}}}},
            2,
            "$jsonSchema can only be applied to the top-level document",
        ),
        ({"a": {"$type": "foo"}}, 2, "Unknown type name alias: foo"),
        ({"a": {"$not": 1}}, 2, "$not needs a regex or a document"),
        ({"a": {"$mod": [0, 1]}}, 2, "divisor cannot be 0"),
        ({"a": {"$options": "i"}}, 2, "$options needs a $regex"),
        ({"$expr": {"$eq": ["$a", "$$unbound"]}}, 17276, "Use of undefined variable: unbound"),
    ],
)
def test_create_refuses_invalid_validators(validator, code, message):
    error = refused(validator)
    assert (error.code, error.errmsg) == (code, message)


def test_geo_near_operators_are_refused_in_a_validator():
    for operator in ("$near", "$nearSphere", "$geoNear"):
        error = refused({"loc": {operator: [0, 0]}})
        assert error.code == 5626500
        assert error.errmsg.startswith(
            "$geoNear, $near, and $nearSphere are not allowed in this context"
        )


def test_unknown_top_level_operators_are_refused_with_the_getfield_hint():
    error = refused({"$foo": 1})
    assert (error.code, error.errmsg) == (
        2,
        "unknown top level operator: $foo. If you have a field name that starts with a '$' "
        "symbol, consider using $getField or $setField.",
    )
    assert refused({"$not": {"a": 1}}).errmsg.endswith("use $nor.")


def test_function_in_expr_is_refused():
    validator = {"$expr": {"$function": {"body": "function() {}", "args": [], "lang": "js"}}}
    assert refused(validator, command="collMod").code == 4660800


def test_collmod_prefixes_the_parse_error():
    error = refused({"$jsonSchema": {"format": "email"}}, command="collMod")
    assert (error.code, error.errmsg) == (
        9,
        "Parsing of collection validator failed :: caused by :: "
        "$jsonSchema keyword 'format' is not currently supported",
    )


def test_a_validator_that_is_not_a_document_is_a_type_mismatch():
    error = refused(7)
    assert (error.code, error.errmsg) == (
        14,
        "BSON field 'create.validator' is the wrong type 'int', expected type 'object'",
    )


@pytest.mark.parametrize(
    "validator",
    [
        {},
        {"a": {"$exists": True}},
        {"$and": [{"$jsonSchema": {"required": ["a"]}}, {"status": {"$in": ["a", "b"]}}]},
        {"$jsonSchema": {"bsonType": "object", "title": "t", "description": "d"}},
        # Top-level scalar keywords are accepted (and have no effect).
        {"$jsonSchema": {"minimum": 1, "maxLength": 3, "pattern": "(", "items": {}}},
        {"$expr": {"$let": {"vars": {"x": 1}, "in": {"$eq": ["$$x", "$a"]}}}},
        {"a": {"$regex": "^a", "$options": "i"}, "$comment": "why"},
        {"$jsonSchema": {"dependencies": {"a": ["b"], "title": "needs b"}}},
    ],
)
def test_valid_validators_are_accepted(validator):
    check_validator(validator)
    check_validator(validator, command="collMod")


# ---------------------------------------------------------------------------
# validate_document: $jsonSchema
# ---------------------------------------------------------------------------

CASES = [
    # properties / minimum / maximum
    (
        schema({"properties": {"a": {"minimum": 1}}}),
        {"a": 0},
        top(
            props(
                "a",
                {
                    "operatorName": "minimum",
                    "specifiedAs": {"minimum": 1},
                    "reason": "comparison failed",
                    "consideredValue": 0,
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {"a": {"minimum": 1}},
                "title": "example title",
                "description": "example description",
            }
        ),
        {"a": 0},
        top(
            props(
                "a",
                {
                    "operatorName": "minimum",
                    "specifiedAs": {"minimum": 1},
                    "reason": "comparison failed",
                    "consideredValue": 0,
                },
            ),
            title="example title",
            description="example description",
        ),
    ),
    (
        schema({"properties": {"a": {"minimum": 1, "exclusiveMinimum": True}}}),
        {"a": 1},
        top(
            props(
                "a",
                {
                    "operatorName": "minimum",
                    "specifiedAs": {"minimum": 1, "exclusiveMinimum": True},
                    "reason": "comparison failed",
                    "consideredValue": 1,
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "type": "number",
                        "minimum": 1,
                        "title": "property a",
                        "description": "a >= 1",
                    }
                }
            }
        ),
        {"a": "foo"},
        top(
            props(
                "a",
                type_error("type", "number", "foo", "string"),
                title="property a",
                description="a >= 1",
            )
        ),
    ),
    (
        schema({"properties": {"a": {"bsonType": "int", "minimum": 1}}}),
        {"a": 1.1},
        top(props("a", type_error("bsonType", "int", 1.1, "double"))),
    ),
    (
        schema({"required": ["a"], "properties": {"a": {"type": "number", "minimum": 1}}}),
        {},
        top(
            {
                "operatorName": "required",
                "specifiedAs": {"required": ["a"]},
                "missingProperties": ["a"],
            }
        ),
    ),
    (
        schema({"properties": {"a": {"minimum": 2, "bsonType": "int"}}, "required": ["a", "b"]}),
        {"a": 1, "b": 1},
        top(
            props(
                "a",
                {
                    "operatorName": "minimum",
                    "specifiedAs": {"minimum": 2},
                    "reason": "comparison failed",
                    "consideredValue": 1,
                },
            )
        ),
    ),
    (
        schema({"properties": {"a": {"properties": {"b": {"minimum": 10, "maximum": -10}}}}}),
        {"a": {"b": 5}},
        top(
            props(
                "a",
                props(
                    "b",
                    {
                        "operatorName": "maximum",
                        "specifiedAs": {"maximum": -10},
                        "reason": "comparison failed",
                        "consideredValue": 5,
                    },
                    {
                        "operatorName": "minimum",
                        "specifiedAs": {"minimum": 10},
                        "reason": "comparison failed",
                        "consideredValue": 5,
                    },
                ),
            )
        ),
    ),
    (
        schema({"properties": {"a": {"maximum": 1, "type": "number"}}}),
        {"a": []},
        top(props("a", type_error("type", "number", [], "array"))),
    ),
    # type / bsonType
    (
        schema({"properties": {"a": {"type": "string"}}}),
        {"a": ["Mihai", "was", "here"]},
        top(props("a", type_error("type", "string", ["Mihai", "was", "here"], "array"))),
    ),
    (
        schema({"properties": {"a": {"type": "object", "properties": {"b": {"minimum": 10}}}}}),
        {"a": "eleven"},
        top(props("a", type_error("type", "object", "eleven", "string"))),
    ),
    (
        schema({"type": "object", "properties": {"a": {"type": "string", "minimum": 5}}}),
        {"a": 6},
        top(props("a", type_error("type", "string", 6, "int"))),
    ),
    (
        schema({"type": "number", "properties": {"a": {"minimum": 1}}}),
        {"a": 1},
        {
            "operatorName": "$jsonSchema",
            "specifiedAs": {"$jsonSchema": {"type": "number", "properties": {"a": {"minimum": 1}}}},
            "reason": "expression always evaluates to false",
        },
    ),
    # strings
    (
        schema({"properties": {"a": {"type": "string", "minLength": 4}}}),
        {"a": "foo"},
        top(
            props(
                "a",
                {
                    "operatorName": "minLength",
                    "specifiedAs": {"minLength": 4},
                    "reason": "specified string length was not satisfied",
                    "consideredValue": "foo",
                },
            )
        ),
    ),
    (
        schema({"properties": {"a": {"type": "string", "minLength": 4}}}),
        {"a": 1},
        top(props("a", type_error("type", "string", 1, "int"))),
    ),
    (
        schema({"properties": {"a": {"maxLength": 4}}}),
        {"a": "foo, bar, baz"},
        top(
            props(
                "a",
                {
                    "operatorName": "maxLength",
                    "specifiedAs": {"maxLength": 4},
                    "reason": "specified string length was not satisfied",
                    "consideredValue": "foo, bar, baz",
                },
            )
        ),
    ),
    (
        schema({"properties": {"a": {"pattern": "^S"}}}),
        {"a": "slow"},
        top(
            props(
                "a",
                {
                    "operatorName": "pattern",
                    "specifiedAs": {"pattern": "^S"},
                    "reason": "regular expression did not match",
                    "consideredValue": "slow",
                },
            )
        ),
    ),
    # numbers
    (
        schema({"properties": {"a": {"type": "number", "multipleOf": 2.1}}}),
        {"a": 1.1},
        top(
            props(
                "a",
                {
                    "operatorName": "multipleOf",
                    "specifiedAs": {"multipleOf": 2.1},
                    "reason": "considered value is not a multiple of the specified value",
                    "consideredValue": 1.1,
                },
            )
        ),
    ),
    # logical keywords
    (
        schema(
            {
                "allOf": [
                    {"properties": {"a": {"minimum": 1}}},
                    {"properties": {"b": {"minimum": 2}}},
                ]
            }
        ),
        {"a": 1, "b": 0},
        top(
            {
                "operatorName": "allOf",
                "schemasNotSatisfied": [
                    {
                        "index": 1,
                        "details": [
                            props(
                                "b",
                                {
                                    "operatorName": "minimum",
                                    "specifiedAs": {"minimum": 2},
                                    "reason": "comparison failed",
                                    "consideredValue": 0,
                                },
                            )
                        ],
                    }
                ],
            }
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "description": "property a",
                        "anyOf": [
                            {"bsonType": "number", "description": "number?"},
                            {"bsonType": "string"},
                        ],
                    }
                }
            }
        ),
        {"a": {}},
        top(
            props(
                "a",
                {
                    "operatorName": "anyOf",
                    "schemasNotSatisfied": [
                        {
                            "index": 0,
                            "description": "number?",
                            "details": [type_error("bsonType", "number", {}, "object")],
                        },
                        {"index": 1, "details": [type_error("bsonType", "string", {}, "object")]},
                    ],
                },
                description="property a",
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "oneOf": [{"minimum": 1}, {"maximum": 3}],
                        "description": "oneOf description",
                    }
                }
            }
        ),
        {"a": 2},
        top(
            props(
                "a",
                {
                    "operatorName": "oneOf",
                    "reason": "more than one subschema matched",
                    "matchingSchemaIndexes": [0, 1],
                },
                description="oneOf description",
            )
        ),
    ),
    (
        schema(
            {"properties": {"a": {"oneOf": [{"minimum": 4}, {"maximum": 1}, {"bsonType": "int"}]}}}
        ),
        {"a": 2.1},
        top(
            props(
                "a",
                {
                    "operatorName": "oneOf",
                    "schemasNotSatisfied": [
                        {
                            "index": 0,
                            "details": [
                                {
                                    "operatorName": "minimum",
                                    "specifiedAs": {"minimum": 4},
                                    "reason": "comparison failed",
                                    "consideredValue": 2.1,
                                }
                            ],
                        },
                        {
                            "index": 1,
                            "details": [
                                {
                                    "operatorName": "maximum",
                                    "specifiedAs": {"maximum": 1},
                                    "reason": "comparison failed",
                                    "consideredValue": 2.1,
                                }
                            ],
                        },
                        {"index": 2, "details": [type_error("bsonType", "int", 2.1, "double")]},
                    ],
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {"not": {"type": "number", "title": "type title"}, "title": "not title"}
                }
            }
        ),
        {"a": 1},
        top(
            props(
                "a",
                {"operatorName": "not", "reason": "child expression matched"},
                title="not title",
            )
        ),
    ),
    (
        schema({"not": {}}),
        {},
        top({"operatorName": "not", "reason": "child expression matched"}),
    ),
    (
        schema({"properties": {"a": {"enum": [1, 2, 3]}}}),
        {"a": 0},
        top(
            props(
                "a",
                {
                    "operatorName": "enum",
                    "specifiedAs": {"enum": [1, 2, 3]},
                    "reason": "value was not found in enum",
                    "consideredValue": 0,
                },
            )
        ),
    ),
    (
        schema({"enum": [{"a": 1, "b": 1}, {"a": 0, "b": {"c": [1, 2, 3]}}]}),
        {"a": 0, "b": 1, "_id": 1},
        top(
            {
                "operatorName": "enum",
                "specifiedAs": {"enum": [{"a": 1, "b": 1}, {"a": 0, "b": {"c": [1, 2, 3]}}]},
                "reason": "value was not found in enum",
                "consideredValue": {"a": 0, "b": 1, "_id": 1},
            }
        ),
    ),
    (
        schema({"properties": {"a": {"type": "array", "enum": [[1]]}}}),
        {"a": []},
        top(
            props(
                "a",
                {
                    "operatorName": "enum",
                    "specifiedAs": {"enum": [[1]]},
                    "reason": "value was not found in enum",
                    "consideredValue": [],
                },
            )
        ),
    ),
    # arrays
    (
        schema({"properties": {"a": {"minItems": 2}}}),
        {"a": [1]},
        top(
            props(
                "a",
                {
                    "operatorName": "minItems",
                    "specifiedAs": {"minItems": 2},
                    "reason": "array did not match specified length",
                    "consideredValue": [1],
                    "numberOfItems": 1,
                },
            )
        ),
    ),
    (
        schema({"properties": {"a": {"uniqueItems": True}}}),
        {"a": [1, 2, 3, 3, 4, 4]},
        top(
            props(
                "a",
                {
                    "operatorName": "uniqueItems",
                    "specifiedAs": {"uniqueItems": True},
                    "reason": "found a duplicate item",
                    "consideredValue": [1, 2, 3, 3, 4, 4],
                    "duplicatedValue": 3,
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "items": {
                            "type": "string",
                            "description": "elements must be of string type",
                        }
                    }
                }
            }
        ),
        {"a": [1, "A", {}]},
        top(
            props(
                "a",
                {
                    "operatorName": "items",
                    "description": "elements must be of string type",
                    "reason": "At least one item did not match the sub-schema",
                    "itemIndex": 0,
                    "details": [type_error("type", "string", 1, "int")],
                },
            )
        ),
    ),
    (
        schema({"properties": {"a": {"items": {"items": {"minimum": 0}}}}}),
        {"a": [[1], [], [2, 4], [-1]]},
        top(
            props(
                "a",
                {
                    "operatorName": "items",
                    "reason": "At least one item did not match the sub-schema",
                    "itemIndex": 3,
                    "details": [
                        {
                            "operatorName": "items",
                            "reason": "At least one item did not match the sub-schema",
                            "itemIndex": 0,
                            "details": [
                                {
                                    "operatorName": "minimum",
                                    "specifiedAs": {"minimum": 0},
                                    "reason": "comparison failed",
                                    "consideredValue": -1,
                                }
                            ],
                        }
                    ],
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "type": "array",
                        "items": [{"type": "number"}, {"type": "string"}],
                        "additionalItems": {"type": "object"},
                    }
                }
            }
        ),
        {"a": ["1", 2, {}, {"b": 1}, "Fail"]},
        top(
            props(
                "a",
                {
                    "operatorName": "items",
                    "details": [
                        {
                            "itemIndex": Int64(0),
                            "details": [type_error("type", "number", "1", "string")],
                        },
                        {
                            "itemIndex": Int64(1),
                            "details": [type_error("type", "string", 2, "int")],
                        },
                    ],
                },
                {
                    "operatorName": "additionalItems",
                    "reason": "At least one additional item did not match the sub-schema",
                    "itemIndex": 4,
                    "details": [type_error("type", "object", "Fail", "string")],
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {
                        "items": [{"type": "number"}, {"type": "string"}],
                        "additionalItems": False,
                    }
                }
            }
        ),
        {"a": [1, "First", "Extra element"]},
        top(
            props(
                "a",
                {
                    "operatorName": "additionalItems",
                    "specifiedAs": {"additionalItems": False},
                    "reason": "found additional items",
                    "additionalItems": ["Extra element"],
                },
            )
        ),
    ),
    (
        schema(
            {
                "properties": {
                    "a": {"items": [{"type": "number"}, {"type": "string"}], "minItems": 5}
                }
            }
        ),
        {"a": [1]},
        top(
            props(
                "a",
                {
                    "operatorName": "minItems",
                    "specifiedAs": {"minItems": 5},
                    "reason": "array did not match specified length",
                    "consideredValue": [1],
                    "numberOfItems": 1,
                },
            )
        ),
    ),
    # objects
    (
        schema({"minProperties": 10}),
        {"_id": 1, "a": 1, "b": 2, "c": 3},
        top(
            {
                "operatorName": "minProperties",
                "specifiedAs": {"minProperties": 10},
                "reason": "specified number of properties was not satisfied",
                "numberOfProperties": 4,
            }
        ),
    ),
    (
        schema({"properties": {"a": {"minProperties": 10, "type": "object"}}}),
        {"a": ["clearly", "not", "an", "object"]},
        top(props("a", type_error("type", "object", ["clearly", "not", "an", "object"], "array"))),
    ),
    (
        schema({"dependencies": {"a": ["b", "c", "d"], "b": ["c", "d"], "e": ["c", "d"]}}),
        {"a": 1, "b": 2, "e": 3},
        top(
            {
                "operatorName": "dependencies",
                "failingDependencies": [
                    {"conditionalProperty": "a", "missingProperties": ["c", "d"]},
                    {"conditionalProperty": "b", "missingProperties": ["c", "d"]},
                    {"conditionalProperty": "e", "missingProperties": ["c", "d"]},
                ],
            }
        ),
    ),
    (
        schema(
            {"dependencies": {"a": {"properties": {"b": {"type": "number"}}}, "title": "a needs b"}}
        ),
        {"a": 1, "b": "foo"},
        top(
            {
                "operatorName": "dependencies",
                "title": "a needs b",
                "failingDependencies": [
                    {
                        "conditionalProperty": "a",
                        "details": [props("b", type_error("type", "number", "foo", "string"))],
                    }
                ],
            }
        ),
    ),
    (
        schema({"required": ["a"], "dependencies": {"a": ["b", "c"]}}),
        {},
        top(
            {
                "operatorName": "required",
                "specifiedAs": {"required": ["a"]},
                "missingProperties": ["a"],
            }
        ),
    ),
    (
        schema({"properties": {"b": {"type": "number"}}, "additionalProperties": False}),
        {"_id": 0, "a": 1, "b": 2},
        top(
            {
                "operatorName": "additionalProperties",
                "specifiedAs": {"additionalProperties": False},
                "additionalProperties": ["_id", "a"],
            }
        ),
    ),
    (
        schema(
            {
                "additionalProperties": False,
                "properties": {"_id": {}, "a": {"type": "object", "additionalProperties": False}},
            }
        ),
        {"_id": 1, "a": {"b": 1}, "c": 1},
        top(
            props(
                "a",
                {
                    "operatorName": "additionalProperties",
                    "specifiedAs": {"additionalProperties": False},
                    "additionalProperties": ["b"],
                },
            ),
            {
                "operatorName": "additionalProperties",
                "specifiedAs": {"additionalProperties": False},
                "additionalProperties": ["c"],
            },
        ),
    ),
    (
        schema(
            {
                "required": ["a", "b"],
                "properties": {"a": {"type": "number"}},
                "additionalProperties": {"type": "string"},
            }
        ),
        {"a": 1, "c": "not this one, but the next one", "d": 1},
        top(
            {
                "operatorName": "additionalProperties",
                "reason": "at least one additional property did not match the subschema",
                "failingProperty": "d",
                "details": [type_error("type", "string", 1, "int")],
            },
            {
                "operatorName": "required",
                "specifiedAs": {"required": ["a", "b"]},
                "missingProperties": ["b"],
            },
        ),
    ),
    (
        schema({"patternProperties": {"^a": {"minimum": 3}, "b$": {"maximum": 1}}}),
        {"a": 45, "b": 0, "ab": 2},
        top(
            {
                "operatorName": "patternProperties",
                "details": [
                    {
                        "propertyName": "ab",
                        "regexMatched": "^a",
                        "details": [
                            {
                                "operatorName": "minimum",
                                "specifiedAs": {"minimum": 3},
                                "reason": "comparison failed",
                                "consideredValue": 2,
                            }
                        ],
                    },
                    {
                        "propertyName": "ab",
                        "regexMatched": "b$",
                        "details": [
                            {
                                "operatorName": "maximum",
                                "specifiedAs": {"maximum": 1},
                                "reason": "comparison failed",
                                "consideredValue": 2,
                            }
                        ],
                    },
                ],
            }
        ),
    ),
    (
        schema(
            {
                "patternProperties": {
                    "^S": {
                        "type": "number",
                        "title": "properties starting with S",
                        "description": "property should be of integer type",
                    }
                },
                "additionalProperties": {
                    "type": "string",
                    "title": "additional properties",
                    "description": "additional properties are strings",
                },
            }
        ),
        {"Super": 1, "Slow": "oh no a string", "b": 1},
        top(
            {
                "operatorName": "additionalProperties",
                "title": "additional properties",
                "description": "additional properties are strings",
                "reason": "at least one additional property did not match the subschema",
                "failingProperty": "b",
                "details": [type_error("type", "string", 1, "int")],
            },
            {
                "operatorName": "patternProperties",
                "details": [
                    {
                        "propertyName": "Slow",
                        "title": "properties starting with S",
                        "description": "property should be of integer type",
                        "regexMatched": "^S",
                        "details": [type_error("type", "number", "oh no a string", "string")],
                    }
                ],
            },
        ),
    ),
    # query operators around $jsonSchema
    (
        {
            "$and": [
                schema({"properties": {"a": {"minimum": 1}}}),
                schema({"properties": {"b": {"minimum": 1}}}),
                schema({"properties": {"c": {"minimum": 1}}}),
            ]
        },
        {"a": 0, "b": 2, "c": -1},
        {
            "operatorName": "$and",
            "clausesNotSatisfied": [
                {
                    "index": 0,
                    "details": top(
                        props(
                            "a",
                            {
                                "operatorName": "minimum",
                                "specifiedAs": {"minimum": 1},
                                "reason": "comparison failed",
                                "consideredValue": 0,
                            },
                        )
                    ),
                },
                {
                    "index": 2,
                    "details": top(
                        props(
                            "c",
                            {
                                "operatorName": "minimum",
                                "specifiedAs": {"minimum": 1},
                                "reason": "comparison failed",
                                "consideredValue": -1,
                            },
                        )
                    ),
                },
            ],
        },
    ),
    (
        {"$nor": [schema({"minLength": 1})]},
        {"a": "foo"},
        {
            "operatorName": "$nor",
            "clausesSatisfied": [
                {"index": 0, "details": {"operatorName": "$jsonSchema", "reason": "schema matched"}}
            ],
        },
    ),
]


@pytest.mark.parametrize(("validator", "document", "expected"), CASES)
def test_jsonschema_failures_are_explained_as_mongod_explains_them(validator, document, expected):
    check_validator(validator)
    assert validate_document(validator, document) == expected


def test_students_example_from_the_manual():
    validator = schema(
        {
            "bsonType": "object",
            "required": ["name", "year", "major", "address"],
            "properties": {
                "name": {"bsonType": "string", "description": "must be a string and is required"},
                "year": {"bsonType": "int", "minimum": 2017, "maximum": 3017},
                "major": {
                    "enum": ["Math", "English", "Computer Science", "History", None],
                    "description": "can only be one of the enum values and is required",
                },
                "gpa": {
                    "bsonType": ["double"],
                    "description": "must be a double if the field exists",
                },
                "address": {
                    "bsonType": "object",
                    "required": ["city"],
                    "properties": {
                        "street": {
                            "bsonType": "string",
                            "description": "must be a string if the field exists",
                        },
                        "city": {
                            "bsonType": "string",
                            "description": "must be a string and is required",
                        },
                    },
                },
            },
        }
    )
    document = {
        "year": 2020,
        "major": "Software Engineering",
        "gpa": 5.0,
        "address": {"city": "NYC", "street": 5},
    }
    assert validate_document(validator, document) == top(
        {
            "operatorName": "properties",
            "propertiesNotSatisfied": [
                {
                    "propertyName": "major",
                    "description": "can only be one of the enum values and is required",
                    "details": [
                        {
                            "operatorName": "enum",
                            "specifiedAs": {
                                "enum": ["Math", "English", "Computer Science", "History", None]
                            },
                            "reason": "value was not found in enum",
                            "consideredValue": "Software Engineering",
                        }
                    ],
                },
                {
                    "propertyName": "address",
                    "details": [
                        props(
                            "street",
                            type_error("bsonType", "string", 5, "int"),
                            description="must be a string if the field exists",
                        )
                    ],
                },
            ],
        },
        {
            "operatorName": "required",
            "specifiedAs": {"required": ["name", "year", "major", "address"]},
            "missingProperties": ["name"],
        },
    )
    good = {"name": "Alice", "year": 2020, "major": "History", "address": {"city": "NYC"}}
    assert validate_document(validator, good) is None


@pytest.mark.parametrize(
    ("alias", "value", "passes"),
    [
        ("number", 1, True),
        ("number", Int64(1), True),
        ("number", 1.5, True),
        ("number", Decimal128("1"), True),
        ("number", True, False),
        ("int", 2**31, False),
        ("long", 2**31, True),
        ("long", Int64(3), True),
        ("bool", 1, False),
        ("date", datetime.datetime(2020, 1, 1), True),
        ("objectId", ObjectId(), True),
        ("binData", b"x", True),
        ("null", None, True),
        ("regex", Regex("a"), True),
        ("timestamp", Timestamp(0, 1), True),
        ("decimal", 1.0, False),
        ("javascript", Code("x"), True),
        ("minKey", MinKey(), True),
        ("object", SON([("a", 1)]), True),
    ],
)
def test_bson_type_aliases(alias, value, passes):
    validator = schema({"properties": {"a": {"bsonType": alias}}})
    assert (validate_document(validator, {"a": value}) is None) is passes


def test_enum_and_unique_items_use_bson_equality():
    validator = schema({"properties": {"a": {"enum": [1, {"x": 1, "y": 2}]}}})
    for value in (1, 1.0, Int64(1), Decimal128("1.0"), {"y": 2, "x": 1}):
        assert validate_document(validator, {"a": value}) is None
    for value in (True, "1", [1], {"x": 1}):
        assert validate_document(validator, {"a": value}) is not None
    unique = schema({"properties": {"a": {"uniqueItems": True}}})
    assert validate_document(unique, {"a": [1, True, "1"]}) is None
    assert validate_document(unique, {"a": [1, Int64(1)]})["schemaRulesNotSatisfied"][0][
        "propertiesNotSatisfied"
    ][0]["details"][0]["duplicatedValue"] == Int64(1)


def test_restriction_keywords_ignore_other_types_unless_a_single_type_is_stated():
    loose = schema(
        {"properties": {"a": {"minLength": 2, "minimum": 3, "minItems": 1, "required": ["x"]}}}
    )
    for value in ("abc", 5, [1], {"x": 1}, None, True):
        assert validate_document(loose, {"a": value}) is None
    assert validate_document(loose, {}) is None
    # A stated type that differs from a keyword's type switches the keyword off.
    off = schema({"properties": {"a": {"bsonType": "string", "minimum": 100}}})
    assert validate_document(off, {"a": "x"}) is None
    # Multiple stated types keep the keyword guarded.
    multi = schema({"properties": {"a": {"bsonType": ["string", "int"], "minLength": 2}}})
    assert validate_document(multi, {"a": 5}) is None
    assert validate_document(multi, {"a": "x"}) is not None


def test_code_points_count_in_string_lengths():
    validator = schema({"properties": {"a": {"maxLength": 2}}})
    assert validate_document(validator, {"a": "é😀"}) is None
    assert validate_document(validator, {"a": "é😀x"}) is not None


def test_multiple_of_uses_decimal_arithmetic():
    validator = schema({"properties": {"a": {"multipleOf": 0.1}}})
    assert (
        validate_document(validator, {"a": 0.3}) is None
    )  # 0.3 % 0.1 != 0 in binary floating point
    assert validate_document(validator, {"a": 0.35}) is not None
    assert (
        validate_document(schema({"properties": {"a": {"multipleOf": 2}}}), {"a": Int64(10)})
        is None
    )


# ---------------------------------------------------------------------------
# validate_document: query operators
# ---------------------------------------------------------------------------

QUERY_CASES = [
    (
        {"a": {"$eq": 2}},
        {"a": 1},
        {
            "operatorName": "$eq",
            "specifiedAs": {"a": {"$eq": 2}},
            "reason": "comparison failed",
            "consideredValue": 1,
        },
    ),
    (
        {"a": 2},
        {"a": 1},
        {
            "operatorName": "$eq",
            "specifiedAs": {"a": 2},
            "reason": "comparison failed",
            "consideredValue": 1,
        },
    ),
    (
        {"a": {"$eq": 2}},
        {"b": 1},
        {"operatorName": "$eq", "specifiedAs": {"a": {"$eq": 2}}, "reason": "field was missing"},
    ),
    (
        {"a": {"$eq": 2}},
        {"a": [3, 4, 5]},
        {
            "operatorName": "$eq",
            "specifiedAs": {"a": {"$eq": 2}},
            "reason": "comparison failed",
            "consideredValues": [3, 4, 5],
        },
    ),
    (
        {"a.b": {"$eq": 0}},
        {"a": [{"b": [1, 2]}, {"b": [3, 4]}]},
        {
            "operatorName": "$eq",
            "specifiedAs": {"a.b": {"$eq": 0}},
            "reason": "comparison failed",
            "consideredValues": [1, 2, 3, 4],
        },
    ),
    (
        {"a": {"$eq": [1, 2]}},
        {"a": []},
        {
            "operatorName": "$eq",
            "specifiedAs": {"a": {"$eq": [1, 2]}},
            "reason": "comparison failed",
            "consideredValues": [],
        },
    ),
    (
        {"a": {"$ne": 2}},
        {"a": 2},
        {
            "operatorName": "$ne",
            "specifiedAs": {"a": {"$ne": 2}},
            "reason": "comparison succeeded",
            "consideredValue": 2,
        },
    ),
    (
        {"a": {"$gte": 3}},
        {"a": []},
        {
            "operatorName": "$gte",
            "specifiedAs": {"a": {"$gte": 3}},
            "reason": "comparison failed",
            "consideredValues": [],
        },
    ),
    (
        {"a": {"$in": [1, 2, 3]}},
        {"a": 4},
        {
            "operatorName": "$in",
            "specifiedAs": {"a": {"$in": [1, 2, 3]}},
            "reason": "no matching value found in array",
            "consideredValue": 4,
        },
    ),
    (
        {"a": {"$nin": [1, 2, 3]}},
        {"a": 3},
        {
            "operatorName": "$nin",
            "specifiedAs": {"a": {"$nin": [1, 2, 3]}},
            "reason": "matching value found in array",
            "consideredValue": 3,
        },
    ),
    (
        {"$and": [{"b": {"$gt": 0}}, {"a": {"$lt": 10}}]},
        {"a": 11, "b": 2},
        {
            "operatorName": "$and",
            "clausesNotSatisfied": [
                {
                    "index": 1,
                    "details": {
                        "operatorName": "$lt",
                        "specifiedAs": {"a": {"$lt": 10}},
                        "reason": "comparison failed",
                        "consideredValue": 11,
                    },
                }
            ],
        },
    ),
    (
        {"$and": [{"$and": [{"a": 1}]}, {"$and": [{"b": 1}]}]},
        {"a": 1, "b": 2},
        {
            "operatorName": "$and",
            "clausesNotSatisfied": [
                {
                    "index": 1,
                    "details": {
                        "operatorName": "$and",
                        "clausesNotSatisfied": [
                            {
                                "index": 0,
                                "details": {
                                    "operatorName": "$eq",
                                    "specifiedAs": {"b": 1},
                                    "reason": "comparison failed",
                                    "consideredValue": 2,
                                },
                            }
                        ],
                    },
                }
            ],
        },
    ),
    (
        {"$nor": [{"a": {"$lt": 20}}, {"a": {"$gt": 10}}]},
        {"a": 15},
        {
            "operatorName": "$nor",
            "clausesSatisfied": [
                {
                    "index": 0,
                    "details": {
                        "operatorName": "$lt",
                        "specifiedAs": {"a": {"$lt": 20}},
                        "reason": "comparison succeeded",
                        "consideredValue": 15,
                    },
                },
                {
                    "index": 1,
                    "details": {
                        "operatorName": "$gt",
                        "specifiedAs": {"a": {"$gt": 10}},
                        "reason": "comparison succeeded",
                        "consideredValue": 15,
                    },
                },
            ],
        },
    ),
    (
        {"a": {"$not": {"$lt": 10}}},
        {"a": 9},
        {
            "operatorName": "$not",
            "details": {
                "operatorName": "$lt",
                "specifiedAs": {"a": {"$lt": 10}},
                "reason": "comparison succeeded",
                "consideredValue": 9,
            },
        },
    ),
    (
        {"a": {"$not": {"$not": {"$lt": 10}}}},
        {"a": 11},
        {
            "operatorName": "$not",
            "details": {
                "operatorName": "$not",
                "details": {
                    "operatorName": "$lt",
                    "specifiedAs": {"a": {"$lt": 10}},
                    "reason": "comparison failed",
                    "consideredValue": 11,
                },
            },
        },
    ),
    (
        {
            "$and": [
                {"$or": [{"price": {"$lt": 20}}]},
                {"$nor": [{"qty": {"$gt": 30}}, {"qty": {"$not": {"$lt": 20}}}]},
            ]
        },
        {"price": 10, "qty": 25},
        {
            "operatorName": "$and",
            "clausesNotSatisfied": [
                {
                    "index": 1,
                    "details": {
                        "operatorName": "$nor",
                        "clausesSatisfied": [
                            {
                                "index": 1,
                                "details": {
                                    "operatorName": "$not",
                                    "details": {
                                        "operatorName": "$lt",
                                        "specifiedAs": {"qty": {"$lt": 20}},
                                        "reason": "comparison failed",
                                        "consideredValue": 25,
                                    },
                                },
                            }
                        ],
                    },
                }
            ],
        },
    ),
    (
        {"a": {"$exists": True}},
        {"b": 1},
        {
            "operatorName": "$exists",
            "specifiedAs": {"a": {"$exists": True}},
            "reason": "path does not exist",
        },
    ),
    (
        {"a": {"$exists": False}},
        {"a": 1},
        {
            "operatorName": "$exists",
            "specifiedAs": {"a": {"$exists": False}},
            "reason": "path does exist",
        },
    ),
    (
        {"a": {"$type": "int"}},
        {"a": "one"},
        {
            "operatorName": "$type",
            "specifiedAs": {"a": {"$type": "int"}},
            "reason": "type did not match",
            "consideredValue": "one",
            "consideredType": "string",
        },
    ),
    (
        {"a": {"$type": "double"}},
        {"a": ["x", "y", "z"]},
        {
            "operatorName": "$type",
            "specifiedAs": {"a": {"$type": "double"}},
            "reason": "type did not match",
            "consideredValues": ["x", "y", "z"],
            "consideredType": "string",
        },
    ),
    (
        {"a": {"$not": {"$type": "string"}}},
        {"a": "words"},
        {
            "operatorName": "$not",
            "details": {
                "operatorName": "$type",
                "specifiedAs": {"a": {"$type": "string"}},
                "reason": "type did match",
                "consideredValue": "words",
                "consideredType": "string",
            },
        },
    ),
    (
        {"$expr": {"$eq": ["$a", "$b"]}},
        {"a": 1, "b": 2},
        {
            "operatorName": "$expr",
            "specifiedAs": {"$expr": {"$eq": ["$a", "$b"]}},
            "reason": "expression did not match",
            "expressionResult": False,
        },
    ),
    (
        {"$nor": [{"$expr": {"$eq": ["$a", "$b"]}}]},
        {"a": 1, "b": 1},
        {
            "operatorName": "$nor",
            "clausesSatisfied": [
                {
                    "index": 0,
                    "details": {
                        "operatorName": "$expr",
                        "specifiedAs": {"$expr": {"$eq": ["$a", "$b"]}},
                        "reason": "expression did match",
                        "expressionResult": True,
                    },
                }
            ],
        },
    ),
    (
        {"a": {"$mod": [2, 1]}},
        {"a": 2},
        {
            "operatorName": "$mod",
            "specifiedAs": {"a": {"$mod": [2, 1]}},
            "reason": "$mod did not evaluate to expected remainder",
            "consideredValue": 2,
        },
    ),
    (
        {"a": {"$mod": [2, 1]}},
        {"a": "two"},
        {
            "operatorName": "$mod",
            "specifiedAs": {"a": {"$mod": [2, 1]}},
            "reason": "type did not match",
            "consideredType": "string",
            "expectedTypes": ["decimal", "double", "int", "long"],
            "consideredValue": "two",
        },
    ),
    (
        {"a": {"$mod": [2, 1]}},
        {"a": [0, "two", "four"]},
        {
            "operatorName": "$mod",
            "specifiedAs": {"a": {"$mod": [2, 1]}},
            "reason": "$mod did not evaluate to expected remainder",
            "consideredValues": [0, "two", "four"],
        },
    ),
    (
        {"a": {"$regex": "^v"}},
        {"a": 1},
        {
            "operatorName": "$regex",
            "specifiedAs": {"a": {"$regex": "^v"}},
            "reason": "type did not match",
            "consideredType": "int",
            "expectedTypes": ["regex", "string", "symbol"],
            "consideredValue": 1,
        },
    ),
    (
        {"a": Regex("^S")},
        {"a": "so sorry; not capitalized"},
        {
            "operatorName": "$regex",
            "specifiedAs": {"a": Regex("^S")},
            "reason": "regular expression did not match",
            "consideredValue": "so sorry; not capitalized",
        },
    ),
    (
        {"a": {"$size": 2}},
        {"a": [1, 2, 3]},
        {
            "operatorName": "$size",
            "specifiedAs": {"a": {"$size": 2}},
            "reason": "array length was not equal to given size",
            "consideredValue": [1, 2, 3],
        },
    ),
    (
        {"a": {"$size": 2}},
        {"a": 3},
        {
            "operatorName": "$size",
            "specifiedAs": {"a": {"$size": 2}},
            "reason": "type did not match",
            "consideredType": "int",
            "expectedType": "array",
            "consideredValue": 3,
        },
    ),
    (
        {"a": {"$all": [1, 2, 3]}},
        {"a": [1, 2, 4]},
        {
            "operatorName": "$all",
            "specifiedAs": {"a": {"$all": [1, 2, 3]}},
            "reason": "array did not contain all specified values",
            "consideredValue": [1, 2, 4],
        },
    ),
    (
        {"a": {"$all": []}},
        {"a": [1, 2, 3]},
        {
            "operatorName": "$all",
            "specifiedAs": {"a": {"$all": []}},
            "reason": "expression always evaluates to false",
        },
    ),
    (
        {"a": {"$elemMatch": {"$gt": 0, "$lt": 10}}},
        {"a": [10, 11, 12]},
        {
            "operatorName": "$elemMatch",
            "specifiedAs": {"a": {"$elemMatch": {"$gt": 0, "$lt": 10}}},
            "reason": "array did not satisfy the child predicate",
            "consideredValue": [10, 11, 12],
        },
    ),
    (
        {"a": {"$elemMatch": {"b": {"$gt": 0}}}},
        {"a": "foo"},
        {
            "operatorName": "$elemMatch",
            "specifiedAs": {"a": {"$elemMatch": {"b": {"$gt": 0}}}},
            "reason": "type did not match",
            "consideredType": "string",
            "expectedType": "array",
            "consideredValue": "foo",
        },
    ),
    (
        {"a": {"$bitsAllClear": 2}},
        {"a": 7},
        {
            "operatorName": "$bitsAllClear",
            "specifiedAs": {"a": {"$bitsAllClear": 2}},
            "reason": "bitwise operator failed to match",
            "consideredValue": 7,
        },
    ),
    (
        {"a": {"$lt": 0}},
        {"a": list(range(1000))},
        {
            "operatorName": "$lt",
            "specifiedAs": {"a": {"$lt": 0}},
            "reason": "comparison failed",
            "consideredValues": list(range(10)),
            "consideredValuesTruncated": True,
        },
    ),
]


@pytest.mark.parametrize(("validator", "document", "expected"), QUERY_CASES)
def test_query_operator_failures_are_explained_as_mongod_explains_them(
    validator, document, expected
):
    check_validator(validator)
    assert validate_document(validator, document) == expected


def test_contacts_example_of_an_or_validator():
    validator = {
        "$or": [
            {"phone": {"$type": "string"}},
            {"email": {"$regex": re.compile(r"@mongodb\.com$")}},
            {"status": {"$in": ["Unknown", "Incomplete"]}},
        ]
    }
    details = validate_document(validator, {"email": "info@mongodb.co"})
    assert details["operatorName"] == "$or"
    assert [clause["details"]["reason"] for clause in details["clausesNotSatisfied"]] == [
        "field was missing",
        "regular expression did not match",
        "field was missing",
    ]
    assert validate_document(validator, {"email": "info@mongodb.com"}) is None


def test_query_validators_match_like_find_does():
    validator = {"status": {"$in": ["a", "b"]}, "n": {"$gte": Decimal128("1.5")}}
    assert validate_document(validator, {"status": "a", "n": 2}) is None
    assert validate_document(validator, {"status": "a", "n": 1}) is not None
    assert document_matches({"a": {"$type": "number"}}, {"a": Int64(1)})
    assert not document_matches({"a": {"$type": "int"}}, {"a": 2**40})
    assert document_matches({"a": None}, {})


def test_empty_validator_accepts_everything():
    assert validate_document({}, {"anything": 1}) is None


def test_validation_is_fast_enough_for_the_server():
    validator = schema(
        {
            "bsonType": "object",
            "required": ["name", "age"],
            "properties": {
                "name": {"bsonType": "string", "minLength": 1},
                "age": {"bsonType": "int", "minimum": 0, "maximum": 150},
                "tags": {"bsonType": "array", "items": {"bsonType": "string"}, "uniqueItems": True},
                "email": {"bsonType": "string", "pattern": "@"},
            },
            "additionalProperties": True,
        }
    )
    documents = [
        {"_id": index, "name": f"n{index}", "age": index % 100, "tags": ["a", "b"], "email": "x@y"}
        for index in range(2000)
    ]
    started = time.perf_counter()
    for document in documents:
        assert validate_document(validator, document) is None
    assert time.perf_counter() - started < 2.0


# ---------------------------------------------------------------------------
# Property test against jsonschema (draft 4) on the keywords with the same meaning
# ---------------------------------------------------------------------------

_NAMES = st.sampled_from(["a", "b", "c", "d"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([-2.5, -1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 3.25, 1e6]),
    st.text(alphabet="abxyzé1 ", max_size=6),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(_NAMES, children, max_size=4),
    ),
    max_leaves=12,
)
_TYPES = st.sampled_from(["object", "array", "number", "boolean", "string", "null"])


def _leaf_schemas() -> st.SearchStrategy[dict]:
    return st.one_of(
        st.builds(lambda t: {"type": t}, _TYPES),
        st.builds(lambda ts: {"type": ts}, st.lists(_TYPES, min_size=1, max_size=3, unique=True)),
        st.builds(
            lambda n, ex: {"minimum": n, "exclusiveMinimum": ex},
            st.sampled_from([-1, 0, 0.5, 2]),
            st.booleans(),
        ),
        st.builds(
            lambda n, ex: {"maximum": n, "exclusiveMaximum": ex},
            st.sampled_from([-1, 0, 1.5, 2]),
            st.booleans(),
        ),
        st.builds(lambda n: {"multipleOf": n}, st.sampled_from([1, 2, 0.5])),
        st.builds(lambda n: {"minLength": n}, st.integers(0, 4)),
        st.builds(lambda n: {"maxLength": n}, st.integers(0, 4)),
        st.builds(lambda p: {"pattern": p}, st.sampled_from(["^a", "x", "[0-9]", "é$"])),
        st.builds(lambda n: {"minItems": n}, st.integers(0, 3)),
        st.builds(lambda n: {"maxItems": n}, st.integers(0, 3)),
        st.just({"uniqueItems": True}),
        st.builds(lambda n: {"minProperties": n}, st.integers(0, 3)),
        st.builds(lambda n: {"maxProperties": n}, st.integers(0, 3)),
        st.builds(
            lambda values: {"enum": values},
            st.lists(_SCALARS, min_size=1, max_size=3).filter(_unique_enum),
        ),
        st.builds(
            lambda names: {"required": names}, st.lists(_NAMES, min_size=1, max_size=3, unique=True)
        ),
        st.builds(
            lambda name, names: {"dependencies": {name: names}},
            _NAMES,
            st.lists(_NAMES, min_size=1, max_size=2, unique=True),
        ),
        st.just({}),
    )


def _unique_enum(values: list) -> bool:
    from tests.support.validation import canonical_value

    keys = [canonical_value(value, unordered=True) for value in values]
    return len(set(keys)) == len(keys)


_SCHEMAS = st.recursive(
    _leaf_schemas(),
    lambda children: st.one_of(
        st.builds(
            lambda props: {"properties": props}, st.dictionaries(_NAMES, children, max_size=3)
        ),
        st.builds(lambda item: {"items": item}, children),
        st.builds(
            lambda items, extra: {"items": items, "additionalItems": extra},
            st.lists(children, min_size=1, max_size=2),
            st.one_of(st.booleans(), children),
        ),
        st.builds(
            lambda extra, props: {"properties": props, "additionalProperties": extra},
            st.one_of(st.booleans(), children),
            st.dictionaries(_NAMES, children, max_size=2),
        ),
        st.builds(
            lambda pattern, sub: {"patternProperties": {pattern: sub}},
            st.sampled_from(["^a", "b", "^[cd]$"]),
            children,
        ),
        st.builds(lambda subs: {"allOf": subs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda subs: {"anyOf": subs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda subs: {"oneOf": subs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda sub: {"not": sub}, children),
        st.builds(lambda name, sub: {"dependencies": {name: sub}}, _NAMES, children),
        st.builds(lambda a, b: {**a, **b}, children, children),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema_body=_SCHEMAS, document=st.dictionaries(_NAMES, _VALUES, max_size=4))
def test_jsonschema_agrees_with_the_jsonschema_library(schema_body, document):
    validator = {"$jsonSchema": schema_body}
    check_validator(validator)
    expected = Draft4Validator(schema_body).is_valid(document)
    details = validate_document(validator, document)
    assert (details is None) is expected, (schema_body, document, details)
    if details is not None:
        assert details["operatorName"] == "$jsonSchema"
