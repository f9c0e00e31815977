"""Broken catalogs always exit 2 with a located message, never a traceback."""

import io
import re
from contextlib import redirect_stderr, redirect_stdout

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.cli import main

GOOD = {
    "databases": {
        "shop": {
            "collections": {
                "orders": {
                    "validation_level": "strict",
                    "validator": {
                        "$jsonSchema": {
                            "bsonType": "object",
                            "required": ["customer"],
                            "additionalProperties": False,
                            "properties": {
                                "_id": {"bsonType": "objectId"},
                                "customer": {"bsonType": "date"},
                                "lines": {"bsonType": "array", "items": {"bsonType": "object"}},
                            },
                        },
                        "$and": [{"customer": {"$exists": True}}],
                    },
                    "indexes": [{"keys": {"customer": 1}, "expire_after": "7d", "unique": False}],
                }
            }
        }
    },
    "backup": {"compress": "zstd", "retention": {"keep_daily": 7}},
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from(["7x", "-1d", "1.5h", "7 d", "", "off", "hashed", "text"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def mutate(document, path, value):
    node = document
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


PATHS = [
    ("databases", "shop", "collections", "orders", "validation_level"),
    ("databases", "shop", "collections", "orders", "indexes"),
    ("databases", "shop", "collections", "orders", "indexes", 0, "keys"),
    ("databases", "shop", "collections", "orders", "indexes", 0, "expire_after"),
    ("databases", "shop", "collections", "orders", "indexes", 0, "unique"),
    ("databases", "shop", "collections", "orders", "bogus_key"),
    ("databases", "shop", "collections"),
    ("databases", "shop"),
    ("backup", "retention"),
    ("backup", "compress"),
    ("unknown_section",),
]


ORDERS = ("databases", "shop", "collections", "orders")
VALIDATOR = (*ORDERS, "validator")
SCHEMA = (*VALIDATOR, "$jsonSchema")
VALIDATOR_PATHS = [
    VALIDATOR,
    SCHEMA,
    (*VALIDATOR, "$and"),
    (*VALIDATOR, "$and", 0),
    (*VALIDATOR, "$or"),
    (*VALIDATOR, "customer"),
    (*SCHEMA, "required"),
    (*SCHEMA, "properties"),
    (*SCHEMA, "bsonType"),
    (*SCHEMA, "items"),
    (*SCHEMA, "additionalProperties"),
    (*SCHEMA, "enum"),
    (*SCHEMA, "properties", "customer"),
    (*SCHEMA, "properties", "customer", "bsonType"),
    (*SCHEMA, "properties", "customer", "type"),
    (*SCHEMA, "properties", "lines", "items"),
    (*SCHEMA, "properties", "lines", "items", "bsonType"),
]
# Words a validator is made of, so that mutations reach past the first type check.
validator_words = st.sampled_from(
    [
        "$jsonSchema",
        "$and",
        "$or",
        "$nor",
        "$expr",
        "$where",
        "$exists",
        "$in",
        "$near",
        "bsonType",
        "type",
        "properties",
        "required",
        "items",
        "enum",
        "additionalProperties",
        "patternProperties",
        "minLength",
        "format",
        "date",
        "string",
        "array",
        "object",
        "integer",
        "number",
    ]
)
validator_values = st.recursive(
    scalars | validator_words,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=6) | validator_words, inner, max_size=3)
    ),
    max_leaves=10,
)


def run_check(tmp_path, text: str):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    out, err = io.StringIO(), io.StringIO()
    code = None
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(["catalog", "check", str(path)])
        except SystemExit as exit_request:
            code = exit_request.code
    return code, out.getvalue(), err.getvalue(), path


def assert_clean_refusal(code, out, err, path):
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert code == 2, (code, out, err)
    assert re.search(re.escape(str(path)) + r":\d+", err), err


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(PATHS), value=values)
def test_wrong_types_and_unknown_keys(tmp_path, path, value):
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(document, path, value)
    text = yaml.safe_dump(document)
    code, out, err, file = run_check(tmp_path, text)
    if code == 0:
        return  # the mutation happened to produce a valid catalog
    assert_clean_refusal(code, out, err, file)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cut=st.integers(min_value=1, max_value=200),
    junk=st.sampled_from(
        [
            "[",
            "{",
            ": :",
            "\t",
            "&a *b",
            "- x\n y: [",
            "!!python/object:os.system x",
            '"unclosed',
            "*undefined",
        ]
    ),
)
def test_bad_yaml(tmp_path, cut, junk):
    text = yaml.safe_dump(GOOD)
    text = text[:cut] + junk + text[cut:]
    code, out, err, file = run_check(tmp_path, text)
    if code == 0:
        return
    assert_clean_refusal(code, out, err, file)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(VALIDATOR_PATHS), value=validator_values)
def test_malformed_validators(tmp_path, path, value):
    """A validator MongoDB would refuse exits 2 with its location; one it accepts exits 0."""
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(document, path, value)
    code, out, err, file = run_check(tmp_path, yaml.safe_dump(document))
    if code == 0:
        return
    assert_clean_refusal(code, out, err, file)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ((*SCHEMA, "required"), 5, "$jsonSchema/required: required must be a list"),
        ((*VALIDATOR, "$and"), 5, "validator/$and: $and must be a list"),
        ((*SCHEMA, "properties", "customer", "bsonType"), 5, "customer/bsonType: bsonType must"),
        ((*SCHEMA, "properties", "lines", "items"), 5, "lines/items: items must be"),
        ((*SCHEMA, "properties"), 5, "$jsonSchema/properties: properties must be a mapping"),
        (SCHEMA, 5, "validator/$jsonSchema: $jsonSchema must be a mapping"),
        ((*SCHEMA, "format"), "email", "keyword 'format' is not supported"),
        ((*VALIDATOR, "$where"), "true", "$where is not allowed in a validator"),
    ],
)
def test_malformed_validator_is_a_located_catalog_error(tmp_path, path, value, expected):
    document = yaml.safe_load(yaml.safe_dump(GOOD))
    mutate(document, path, value)
    code, out, err, file = run_check(tmp_path, yaml.safe_dump(document))
    assert_clean_refusal(code, out, err, file)
    assert expected in err, err
