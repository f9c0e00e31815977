from pathlib import Path

from toolkit.catalog.lint import lint_catalog
from toolkit.catalog.load import load_catalog


def findings(tmp_path: Path, collection_yaml: str) -> list[str]:
    path = tmp_path / "c.yaml"
    body = "\n".join("      " + line for line in collection_yaml.strip("\n").splitlines())
    path.write_text("databases:\n  s:\n    collections:\n" + body + "\n")
    return [finding.message for finding in lint_catalog(load_catalog(path))]


SCHEMA = """\
  validator:
    $jsonSchema:
      bsonType: object
      additionalProperties: false
      required: [ts, ghost]
      properties:
        _id: {bsonType: objectId}
        ts: {bsonType: [int, long]}
        at: {bsonType: date}
        tags: {bsonType: array, items: {bsonType: string}}
"""


def test_ttl_on_integer_epoch_is_flagged(tmp_path):
    messages = findings(
        tmp_path,
        "c:\n"
        + SCHEMA
        + "  indexes:\n    - {keys: {ts: 1}, expire_after: 1d}\n    - {keys: {at: 1}, expire_after: 1d}\n",
    )
    ttl = [m for m in messages if "TTL" in m]
    assert ttl == [
        "index ts_1: TTL on ts, which the validator types as int/long; TTL deletes only documents "
        "whose field is a BSON date, so these documents never expire"
    ]


def test_ttl_on_compound_index(tmp_path):
    messages = findings(tmp_path, "c:\n  indexes:\n    - {keys: {a: 1, b: 1}, expire_after: 1d}\n")
    assert any("TTL on a compound index" in m for m in messages)


def test_closed_schema_and_missing_required(tmp_path):
    messages = findings(
        tmp_path, "c:\n" + SCHEMA + "  indexes:\n    - {keys: {nope: 1}}\n    - {keys: {tags: 1}}\n"
    )
    assert (
        "index nope_1: nope cannot exist in a document: the validator's schema is closed "
        "(additionalProperties: false) and does not list it" in messages
    )
    assert not any("tags_1" in m for m in messages)
    assert "validator: required field ghost is missing from properties" in messages


def test_two_text_indexes(tmp_path):
    messages = findings(
        tmp_path, "c:\n  indexes:\n    - {keys: {a: text}}\n    - {keys: {b: text}}\n"
    )
    assert any("2 text indexes (a_text, b_text)" in m for m in messages)


def test_duplicates_and_prefixes_compare_whole_field_names(tmp_path):
    messages = findings(
        tmp_path,
        "c:\n  indexes:\n"
        "    - {keys: {f1: 1}}\n"
        "    - {keys: {f10: 1, x: 1}}\n"
        "    - {keys: {a: 1}}\n"
        "    - {keys: {a: -1, b: -1}}\n"
        "    - {keys: {u: 1}, unique: true}\n"
        "    - {keys: {u: 1, v: 1}}\n"
        "    - {keys: {d: 1}, name: d_again}\n"
        "    - {keys: {d: 1}}\n",
    )
    assert "index a_1 is a prefix of a_-1_b_-1" in messages
    assert (
        "index d_1 duplicates d_again: same key and options, which MongoDB refuses under a "
        "second name (code 85)" in messages
    )
    assert not any("f1_1" in m for m in messages)  # {f1} is not a prefix of {f10}
    assert not any(m.startswith("index u_1") for m in messages)  # unique is a constraint


def test_too_many_indexes(tmp_path):
    indexes = "".join(f"    - {{keys: {{f{i}: 1}}}}\n" for i in range(64))
    messages = findings(tmp_path, "c:\n  indexes:\n" + indexes)
    assert "65 indexes with _id; MongoDB allows 64" in messages


def test_clean_collection_has_no_findings(tmp_path):
    assert (
        findings(tmp_path, "c:\n  indexes:\n    - {keys: {a: 1}}\n    - {keys: {b: 1, a: 1}}\n")
        == []
    )


def test_unique_indexes_with_equal_key_and_options_are_duplicates(tmp_path):
    messages = findings(
        tmp_path,
        "c:\n  indexes:\n"
        "    - {keys: {email: 1}, unique: true, name: by_email}\n"
        "    - {keys: {email: 1}, unique: true, name: email_unique}\n"
        "    - {keys: {at: 1}, expire_after: 1d, name: ttl_a}\n"
        "    - {keys: {at: 1}, expire_after: 2d, hidden: true, name: ttl_b}\n"
        "    - {keys: {email: 1}, unique: true, sparse: true, name: sparse_email}\n"
        "    - {keys: {w: 1}, partial: {w: {$exists: true}}, unique: true, name: w_partial}\n"
        "    - {keys: {w: 1}, unique: true, name: w_all}\n",
    )
    assert messages == [
        "index email_unique duplicates by_email: same key and options, which MongoDB "
        "refuses under a second name (code 85)",
        "index ttl_b duplicates ttl_a: same key and options, which MongoDB refuses under a "
        "second name (code 85)",
    ]


def test_malformed_json_schema_never_crashes_the_lint_helpers():
    from toolkit.catalog.lint import field_allowed, field_types, json_schema_of, missing_required

    for validator in (
        {"$and": 5},
        {"$and": [5, {"$jsonSchema": 5}]},
        {"$jsonSchema": 5},
        5,
        [],
    ):
        assert json_schema_of(validator) is None
    for schema in (
        {"required": 5, "properties": {"a": {}}},
        {"required": [5, {}], "properties": {"a": {}}},
        {"properties": 5, "additionalProperties": False},
        {"properties": {"at": {"bsonType": 5}}},
        {"properties": {"at": {"bsonType": [5, {}]}}},
        {"properties": {"at": {"bsonType": "array", "items": {"bsonType": 5}}}},
        {"properties": {"at": 5}, "additionalProperties": False},
        {"items": 5, "bsonType": "array"},
        {"properties": {"at": {"bsonType": "array", "items": 5}}},
    ):
        assert field_types(schema, "at") is None or isinstance(field_types(schema, "at"), set)
        assert field_types(schema, "at.b.0") is None
        assert field_allowed(schema, "at.b") in (True, False)
        assert list(missing_required(schema)) == []
