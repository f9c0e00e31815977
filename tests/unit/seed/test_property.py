"""Property: random validators built from the supported keywords always yield valid documents.

Each drawn validator is satisfiable by construction; objects may say which of
their optional fields are present (``not: {required: [...]}``, a ``oneOf`` of
two ``required`` branches), which the generator must satisfy every time. Every generated document
must pass the local $jsonSchema check, and also an independent oracle: the
``jsonschema`` library (draft 4, whose boolean exclusiveMinimum/Maximum are
MongoDB's), given the same schema with each bsonType mapped to a JSON type
or to a type of its own for the BSON-only types.
"""

from __future__ import annotations

import datetime as dt
import decimal

import jsonschema
from bson import Decimal128, Int64, ObjectId
from bson.binary import Binary
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.seed.helpers import generator_for

LEAF_TYPES = [
    "objectId",
    "string",
    "int",
    "long",
    "double",
    "decimal",
    "bool",
    "date",
    "binData",
    "null",
]
UNBOUNDED_PATTERNS = {"^[a-z]+$": 1, "[0-9]": 1, "abc": 3, "^(ab|c)+$": 1, "x+y*$": 1}
BOUNDED_PATTERNS = [
    "^[A-Z]{2,4}-\\d{3}$",
    "^\\w{3}@\\w{2,5}\\.com$",
    "^(red|green|blue)$",
    "^[0-9a-f]{8}$",
]


@st.composite
def integer_schemas(draw, alias):
    schema: dict = {"bsonType": alias}
    low = draw(st.none() | st.integers(-1000, 1000))
    high = draw(st.none() | st.integers(-1000, 1000))
    if low is not None and high is not None and low > high:
        low, high = high, low
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    if low is not None and high is not None and high - low >= 2:
        if draw(st.booleans()):
            schema["exclusiveMinimum"] = True
        if draw(st.booleans()):
            schema["exclusiveMaximum"] = True
    step = draw(st.none() | st.integers(1, 9))
    if step is not None:
        first = (low if low is not None else -(2**31)) + (
            1 if schema.get("exclusiveMinimum") else 0
        )
        last = (high if high is not None else 2**31 - 1) - (
            1 if schema.get("exclusiveMaximum") else 0
        )
        if -(-first // step) * step <= last:
            schema["multipleOf"] = step
    return schema


@st.composite
def fractional_schemas(draw, alias):
    schema: dict = {"bsonType": alias}
    low = draw(st.none() | st.floats(-1e6, 1e6) | st.integers(-1000, 1000))
    high = draw(st.none() | st.floats(-1e6, 1e6) | st.integers(-1000, 1000))
    if low is not None and high is not None and low > high:
        low, high = high, low
    if alias == "decimal" and low is not None and low == high and isinstance(low, float):
        high = (
            low + 1
        )  # a decimal128 cannot equal most doubles exactly: that would be unsatisfiable
    if low is not None:
        schema["minimum"] = low
    if high is not None:
        schema["maximum"] = high
    if low is None or high is None or high - low > 1e-3:
        if low is not None and draw(st.booleans()):
            schema["exclusiveMinimum"] = True
        if high is not None and draw(st.booleans()):
            schema["exclusiveMaximum"] = True
    if alias == "double" and draw(st.booleans()):
        step = draw(st.integers(1, 5))
        if low is None or high is None or high - low >= 2 * step:
            schema["multipleOf"] = step
    return schema


@st.composite
def string_schemas(draw):
    schema: dict = {"bsonType": "string"}
    kind = draw(st.sampled_from(["plain", "lengths", "pattern", "pattern+lengths", "bounded"]))
    if kind == "lengths":
        low = draw(st.integers(0, 30))
        schema.update(minLength=low, maxLength=draw(st.integers(low, 60)))
    elif kind.startswith("pattern"):
        pattern = draw(st.sampled_from(sorted(UNBOUNDED_PATTERNS)))
        schema["pattern"] = pattern
        if kind == "pattern+lengths":
            low = draw(st.integers(0, 12))
            schema.update(
                minLength=low,
                maxLength=max(low, UNBOUNDED_PATTERNS[pattern]) + draw(st.integers(0, 20)),
            )
    elif kind == "bounded":
        schema["pattern"] = draw(st.sampled_from(BOUNDED_PATTERNS))
    return schema


@st.composite
def enum_schemas(draw):
    alias = draw(st.sampled_from(["string", "int", "long", "double"]))
    if alias == "string":
        values = draw(st.lists(st.text(max_size=8), min_size=1, max_size=4, unique=True))
    elif alias == "double":
        values = draw(
            st.lists(
                st.floats(-100, 100).filter(lambda f: not f.is_integer()),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
    else:
        values = draw(st.lists(st.integers(-50, 50), min_size=1, max_size=4, unique=True))
    return {"bsonType": alias, "enum": values}


@st.composite
def leaf_schemas(draw):
    alias = draw(st.sampled_from([*LEAF_TYPES, "enum", "typelist", "number"]))
    if alias in ("int", "long"):
        return draw(integer_schemas(alias))
    if alias in ("double", "decimal"):
        return draw(fractional_schemas(alias))
    if alias == "string":
        return draw(string_schemas())
    if alias == "enum":
        return draw(enum_schemas())
    if alias == "typelist":
        return {
            "bsonType": draw(
                st.lists(st.sampled_from(LEAF_TYPES), min_size=2, max_size=3, unique=True)
            )
        }
    if alias == "number":
        return {"bsonType": "number", "minimum": 0, "maximum": draw(st.integers(1, 100))}
    return {"bsonType": alias}


@st.composite
def logical_schemas(draw):
    kind = draw(st.sampled_from(["anyOf", "oneOf", "allOf", "not-type", "not-enum"]))
    if kind == "anyOf":
        return {"anyOf": draw(st.lists(leaf_schemas(), min_size=1, max_size=3))}
    if kind == "oneOf":
        first, second = draw(
            st.lists(st.sampled_from(LEAF_TYPES), min_size=2, max_size=2, unique=True)
        )
        return {"oneOf": [{"bsonType": first}, {"bsonType": second}]}
    if kind == "allOf":
        low = draw(st.integers(-100, 100))
        return {
            "allOf": [
                {"bsonType": "int", "minimum": low},
                {"maximum": low + draw(st.integers(0, 50))},
            ]
        }
    if kind == "not-type":
        types = draw(st.lists(st.sampled_from(LEAF_TYPES), min_size=2, max_size=3, unique=True))
        return {"bsonType": types, "not": {"bsonType": types[0]}}
    return {
        "bsonType": "int",
        "minimum": 0,
        "maximum": 20,
        "not": {"enum": draw(st.lists(st.integers(0, 20), min_size=1, max_size=5, unique=True))},
    }


def array_schemas(children):
    @st.composite
    def build(draw):
        schema: dict = {"bsonType": "array"}
        kind = draw(st.sampled_from(["any", "items", "unique", "listed"]))
        cap = None
        if kind == "items":
            schema["items"] = draw(children)
        elif kind == "unique":
            schema["items"] = {"bsonType": draw(st.sampled_from(["string", "objectId", "date"]))}
            schema["uniqueItems"] = True
        elif kind == "listed":
            schema["items"] = [draw(leaf_schemas()) for _ in range(draw(st.integers(1, 3)))]
            additional = draw(st.sampled_from([False, True, "schema"]))
            schema["additionalItems"] = (
                draw(leaf_schemas()) if additional == "schema" else additional
            )
            cap = len(schema["items"]) if additional is False else None
        low = draw(st.integers(0, 3 if cap is None else cap))
        schema["minItems"] = low
        if draw(st.booleans()):
            schema["maxItems"] = low + draw(st.integers(0, 3))
        return schema

    return build()


def object_schemas(children, top_level=False):
    @st.composite
    def build(draw):
        names = draw(
            st.lists(
                st.sampled_from(
                    ["a", "b", "name", "email", "created_at", "count", "tags", "url", "x_1"]
                ),
                max_size=4,
                unique=True,
            )
        )
        properties = {name: draw(children) for name in names}
        if top_level:
            properties = {"_id": {"bsonType": "objectId"}, **properties}
        schema: dict = {"bsonType": "object", "properties": properties}
        required = [name for name in names if draw(st.booleans())]
        if required:
            schema["required"] = required
        closed = False
        extra = draw(st.sampled_from(["open", "closed", "schema", "patterns"]))
        if extra == "closed":
            schema["additionalProperties"] = False
            closed = True
        elif extra == "schema":
            schema["additionalProperties"] = draw(leaf_schemas())
        elif extra == "patterns":
            schema["patternProperties"] = {"^x_": draw(leaf_schemas())}
            if "x_1" in properties:  # x_1 must satisfy both: leave its own schema open
                properties["x_1"] = {}
        # Which fields are present: `not: {required: [...]}` over optional fields, or a
        # oneOf of two optional fields (exactly one of them present).
        optional = [name for name in names if name not in required]
        presence = draw(st.sampled_from(["free", "not-required", "one-of"]))
        if presence == "not-required" and optional:
            absent = draw(st.lists(st.sampled_from(optional), min_size=1, max_size=2, unique=True))
            schema["not"] = {"required": absent}
        elif presence == "one-of" and len(optional) >= 2:
            first, second = draw(
                st.lists(st.sampled_from(optional), min_size=2, max_size=2, unique=True)
            )
            schema["oneOf"] = [{"required": [first]}, {"required": [second]}]
        else:
            presence = "free"
        if presence == "free" and len(names) >= 2 and draw(st.booleans()):
            schema["dependencies"] = {names[0]: [names[1]]}
            if names[0] in required and names[1] not in required:
                required.append(names[1])  # only for counting what is always there
        fixed = len(required) + (1 if top_level else 0) + (1 if presence == "one-of" else 0)
        if presence == "free" and draw(st.booleans()):
            most = len(properties) if closed else len(properties) + 3
            schema["minProperties"] = draw(st.integers(0, most))
        if draw(st.booleans()):
            schema["maxProperties"] = max(fixed, schema.get("minProperties", 0)) + draw(
                st.integers(0, 2)
            )
        return schema

    return build()


field_schemas = st.recursive(
    st.one_of(leaf_schemas(), logical_schemas()),
    lambda children: st.one_of(array_schemas(children), object_schemas(children)),
    max_leaves=8,
)
validators = object_schemas(field_schemas, top_level=True)

_BSON_JSON_TYPES = {
    "string": "string",
    "bool": "boolean",
    "null": "null",
    "object": "object",
    "array": "array",
    "int": "bson_int",
    "long": "bson_long",
    "double": "bson_double",
    "decimal": "bson_decimal",
    "objectId": "bson_objectId",
    "date": "bson_date",
    "binData": "bson_binData",
}


def oracle_schema(schema):
    """The same schema for jsonschema: bsonType as JSON types (BSON-only types named apart)."""
    translated = {}
    for keyword, value in schema.items():
        if keyword == "bsonType":
            aliases = [value] if isinstance(value, str) else value
            types = []
            for alias in aliases:
                if alias == "number":
                    types += ["bson_int", "bson_long", "bson_double", "bson_decimal"]
                else:
                    types.append(_BSON_JSON_TYPES[alias])
            translated["type"] = types
        elif keyword in ("properties", "patternProperties"):
            translated[keyword] = {name: oracle_schema(sub) for name, sub in value.items()}
        elif keyword == "items":
            translated[keyword] = (
                [oracle_schema(sub) for sub in value]
                if isinstance(value, list)
                else oracle_schema(value)
            )
        elif keyword in ("additionalProperties", "additionalItems", "not"):
            translated[keyword] = oracle_schema(value) if isinstance(value, dict) else value
        elif keyword in ("anyOf", "oneOf", "allOf"):
            translated[keyword] = [oracle_schema(sub) for sub in value]
        else:
            translated[keyword] = value
    return translated


def _int32(value):
    return type(value) is int and -(2**31) <= value < 2**31


_CHECKER = jsonschema.Draft4Validator.TYPE_CHECKER.redefine_many(
    {
        "bson_int": lambda _checker, value: _int32(value),
        "bson_long": lambda _checker, value: (
            type(value) is Int64 or (type(value) is int and not _int32(value))
        ),
        "bson_double": lambda _checker, value: type(value) is float,
        "bson_decimal": lambda _checker, value: isinstance(value, decimal.Decimal),
        "bson_objectId": lambda _checker, value: isinstance(value, ObjectId),
        "bson_date": lambda _checker, value: isinstance(value, dt.datetime),
        "bson_binData": lambda _checker, value: isinstance(value, Binary),
    }
)
Oracle = jsonschema.validators.extend(jsonschema.Draft4Validator, type_checker=_CHECKER)


def for_oracle(value):
    """The document with Decimal128 as decimal.Decimal (which jsonschema can compare)."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, dict):
        return {key: for_oracle(item) for key, item in value.items()}
    if isinstance(value, list):
        return [for_oracle(item) for item in value]
    return value


@settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(validators, st.integers(0, 2**32))
def test_random_validators_always_yield_valid_documents(schema, seed):
    generate, check, _ = generator_for(schema, seed=seed)
    oracle = Oracle(oracle_schema(schema))
    for _ in range(8):
        document = generate()
        assert check(document) is None, (check(document), document)
        errors = [error.message for error in oracle.iter_errors(for_oracle(document))]
        assert errors == [], (errors, document)


def test_the_oracle_disagrees_with_wrong_documents():
    oracle = Oracle(
        oracle_schema(
            {
                "bsonType": "object",
                "properties": {"n": {"bsonType": "int", "minimum": 0, "exclusiveMinimum": True}},
            }
        )
    )
    assert (
        not oracle.is_valid({"n": 0})
        and not oracle.is_valid({"n": Int64(5)})
        and oracle.is_valid({"n": 5})
    )
