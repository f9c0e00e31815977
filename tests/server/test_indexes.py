"""Unit tests for tests/support/indexes.py: index specs as MongoDB 7.0 validates,
lists and compares them, and the keys documents contribute to them.

Expected messages come from the mongod sources named in the module docstring and
from MONGODB-FACTS.md sections 1 and 3.
"""

from __future__ import annotations

import pytest
from bson import Decimal128, Int64, ObjectId

from tests.support.errors import CommandError
from tests.support.indexes import (
    check_new_index,
    default_index_name,
    duplicate_key_message,
    format_duplicate_key,
    index_key_values,
    normalize_collation,
    normalize_index_spec,
)
from tests.support.validation import UNDEFINED

FULL_EN = {
    "locale": "en",
    "caseLevel": False,
    "caseFirst": "off",
    "strength": 3,
    "numericOrdering": False,
    "alternate": "non-ignorable",
    "maxVariable": "punct",
    "normalization": False,
    "backwards": False,
    "version": "57.1",
}


def spec(key, name=None, **options):
    return normalize_index_spec({"key": key, "name": name or default_index_name(key), **options})


def refused(request, **kwargs):
    with pytest.raises(CommandError) as caught:
        normalize_index_spec(request, **kwargs)
    return caught.value


def plain_keys(keys):
    return [tuple(component.value for component in key) for key in keys]


# --------------------------------------------------------------------------
# default_index_name
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ({"a": 1}, "a_1"),
        ({"a": 1, "b": -1}, "a_1_b_-1"),
        ({"a": "text"}, "a_text"),
        ({"$**": 1}, "$**_1"),
        ({"a.$**": 1}, "a.$**_1"),
        ({"loc": "2dsphere"}, "loc_2dsphere"),
        ({"a": "hashed"}, "a_hashed"),
        ({"a.b": 1, "c": "2d"}, "a.b_1_c_2d"),
        ({"a": Int64(1)}, "a_1"),
    ],
)
def test_default_index_name_is_the_drivers_name(key, name):
    assert default_index_name(key) == name


# --------------------------------------------------------------------------
# normalize_index_spec: the listIndexes form
# --------------------------------------------------------------------------


def test_v2_comes_first_and_idl_order_follows():
    listed = normalize_index_spec(
        {
            "sparse": True,
            "partialFilterExpression": None,
            "name": "email_1",
            "unique": True,
            "key": {"email": 1},
        }
        | {"partialFilterExpression": {"age": {"$gt": 5}}, "sparse": False}
    )
    assert list(listed) == ["v", "key", "name", "unique", "partialFilterExpression", "sparse"]
    assert listed == {
        "v": 2,
        "key": {"email": 1},
        "name": "email_1",
        "unique": True,
        "partialFilterExpression": {"age": {"$gt": 5}},
        "sparse": False,
    }


def test_facts_examples_round_trip():
    assert spec({"_id": 1}, "_id_") == {"v": 2, "key": {"_id": 1}, "name": "_id_"}
    assert spec({"a": "hashed"}) == {"v": 2, "key": {"a": "hashed"}, "name": "a_hashed"}
    assert spec({"a": 1}, hidden=True) == {
        "v": 2,
        "key": {"a": 1},
        "name": "a_1",
        "hidden": True,
    }
    assert spec({"$**": 1}, wildcardProjection={"a": 1}) == {
        "v": 2,
        "key": {"$**": 1},
        "name": "$**_1",
        "wildcardProjection": {"a": 1},
    }


def test_ttl_value_is_an_int32_after_normalization():
    listed = spec({"createdAt": 1}, expireAfterSeconds=3600.0)
    assert listed == {
        "v": 2,
        "key": {"createdAt": 1},
        "name": "createdAt_1",
        "expireAfterSeconds": 3600,
    }
    assert type(listed["expireAfterSeconds"]) is int
    assert type(spec({"t": 1}, expireAfterSeconds=Int64(5))["expireAfterSeconds"]) is int


def test_v_is_an_int32_and_ns_is_stripped():
    listed = spec({"a": 1}, v=2.0, ns="test.c")
    assert listed == {"v": 2, "key": {"a": 1}, "name": "a_1"}
    assert type(listed["v"]) is int
    assert spec({"a": 1}, v=1)["v"] == 1


def test_unique_and_hidden_are_listed_only_when_true():
    assert spec({"a": 1}, unique=False, hidden=False) == {"v": 2, "key": {"a": 1}, "name": "a_1"}
    assert spec({"a": 1}, unique=1)["unique"] is True


def test_other_booleans_are_kept_as_bools():
    assert spec({"a": 1}, sparse=1, background=0) == {
        "v": 2,
        "key": {"a": 1},
        "name": "a_1",
        "background": False,
        "sparse": True,
    }


def test_unique_with_sparse_is_accepted():
    assert spec({"a": 1}, unique=True, sparse=True)["sparse"] is True


def test_unknown_fields_are_refused_unless_ignored():
    error = refused({"key": {"a": 1}, "name": "a_1", "foo": 1})
    assert error.code == 197
    assert error.errmsg == (
        'Error in specification { key: { a: 1 }, name: "a_1", foo: 1 } :: caused by :: '
        "The field 'foo' is not valid for an index specification. Specification: "
        '{ key: { a: 1 }, name: "a_1", foo: 1 }'
    )
    lenient = normalize_index_spec({"key": {"a": 1}, "name": "a_1", "foo": 1}, strict=False)
    assert lenient == {"v": 2, "key": {"a": 1}, "name": "a_1"}


def test_text_index_fix_spec_collapses_fields_where_the_first_was():
    listed = spec({"a": 1, "title": "text", "body": "text", "b": 1}, "t", weights={"body": 5.0})
    assert listed == {
        "v": 2,
        "key": {"a": 1, "_fts": "text", "_ftsx": 1, "b": 1},
        "name": "t",
        "weights": {"body": 5, "title": 1},
        "default_language": "english",
        "language_override": "language",
        "textIndexVersion": 3,
    }
    assert list(listed["weights"]) == ["body", "title"]
    assert type(listed["weights"]["body"]) is int


def test_text_index_facts_example():
    assert spec({"body": "text"}) == {
        "v": 2,
        "key": {"_fts": "text", "_ftsx": 1},
        "name": "body_text",
        "weights": {"body": 1},
        "default_language": "english",
        "language_override": "language",
        "textIndexVersion": 3,
    }


def test_wildcard_text_index_weights():
    listed = spec({"$**": "text"})
    assert listed["key"] == {"_fts": "text", "_ftsx": 1}
    assert listed["weights"] == {"$**": 1}
    assert listed["name"] == "$**_text"


def test_text_options_are_kept():
    listed = spec(
        {"body": "text"}, default_language="french", language_override="lang", textIndexVersion=2
    )
    assert listed["default_language"] == "french"
    assert listed["language_override"] == "lang"
    assert listed["textIndexVersion"] == 2


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"weights": {"body": 0}}, "text index weight must be in the exclusive interval"),
        ({"weights": {"body": 100000}}, "text index weight must be in the exclusive interval"),
        ({"weights": {"body": "x"}}, "weight for text index needs numeric type"),
        ({"default_language": "klingon"}, "default_language is not valid"),
        ({"language_override": "$x"}, "language_override is not valid"),
        ({"textIndexVersion": 4}, "bad textIndexVersion: 4"),
    ],
)
def test_bad_text_options(options, reason):
    error = refused({"key": {"body": "text"}, "name": "t", **options})
    assert error.code == 67
    assert reason in error.errmsg
    assert error.errmsg.startswith("Error in specification {")


def test_text_fields_must_be_adjacent():
    error = refused({"key": {"a": "text", "b": 1, "c": "text"}, "name": "t"})
    assert error.code == 67
    assert "'text' fields in index must all be adjacent" in error.errmsg


def test_weights_only_with_text_indexes():
    error = refused({"key": {"a": 1}, "name": "a_1", "weights": {"a": 2}})
    assert error.code == 67
    assert "the field 'weights' can only be specified with text indexes" in error.errmsg


def test_2dsphere_gets_version_3():
    assert spec({"loc": "2dsphere"}) == {
        "v": 2,
        "key": {"loc": "2dsphere"},
        "name": "loc_2dsphere",
        "2dsphereIndexVersion": 3,
    }
    assert spec({"loc": "2dsphere"}, **{"2dsphereIndexVersion": 2.0})["2dsphereIndexVersion"] == 2


def test_2d_options_keep_their_types():
    listed = spec({"loc": "2d"}, bits=26.0, min=-180, max=180)
    assert listed == {
        "v": 2,
        "key": {"loc": "2d"},
        "name": "loc_2d",
        "bits": 26,
        "min": -180.0,
        "max": 180.0,
    }


# --------------------------------------------------------------------------
# Collation
# --------------------------------------------------------------------------


def test_collation_is_filled_in_with_locale_defaults():
    listed = spec({"a": 1}, collation={"strength": 2, "locale": "en"})
    assert list(listed["collation"]) == list(FULL_EN)
    assert listed["collation"] == FULL_EN | {"strength": 2}
    assert list(listed) == ["v", "key", "name", "collation"]


def test_fr_ca_collation_is_backwards():
    assert normalize_collation({"locale": "fr_CA"})["backwards"] is True
    assert normalize_collation({"locale": "fr"})["backwards"] is False


def test_simple_collation_is_removed():
    assert spec({"a": 1}, collation={"locale": "simple"}) == {
        "v": 2,
        "key": {"a": 1},
        "name": "a_1",
    }
    assert normalize_collation({"locale": "simple"}) is None


def test_index_inherits_the_collection_collation():
    listed = normalize_index_spec(
        {"key": {"a": 1}, "name": "a_1"}, collection_collation={"locale": "en"}
    )
    assert listed["collation"] == FULL_EN


def test_explicit_simple_collation_overrides_the_collection_default():
    listed = normalize_index_spec(
        {"key": {"a": 1}, "name": "a_1", "collation": {"locale": "simple"}},
        collection_collation={"locale": "en"},
    )
    assert "collation" not in listed


def test_text_index_refuses_an_inherited_collation():
    # The manual: text indexes support only simple binary comparison; on a collection
    # with a default collation, {collation: {locale: "simple"}} must be given.
    error = refused({"key": {"a": "text"}, "name": "t"}, collection_collation={"locale": "en"})
    assert error.code == 67
    assert "Index type 'text' does not support collation" in error.errmsg
    listed = normalize_index_spec(
        {"key": {"a": "text"}, "name": "t", "collation": {"locale": "simple"}},
        collection_collation={"locale": "en"},
    )
    assert "collation" not in listed


@pytest.mark.parametrize(
    ("collation", "code"),
    [
        ({"locale": "xx_YY"}, 2),
        ({"strength": 2}, 40414),
        ({"locale": "en", "strength": 6}, 51024),
        ({"locale": "en", "bogus": 1}, 40415),
        ({"locale": "en", "caseFirst": "sideways"}, 2),
        ({"locale": "en", "version": "1.0"}, 95),
    ],
)
def test_invalid_collations(collation, code):
    with pytest.raises(CommandError) as caught:
        normalize_collation(collation)
    assert caught.value.code == code


def test_empty_collation_is_refused():
    error = refused({"key": {"a": 1}, "name": "a_1", "collation": {}})
    assert error.code == 2


# --------------------------------------------------------------------------
# normalize_index_spec: refusals
# --------------------------------------------------------------------------


def test_missing_name():
    error = refused({"key": {"a": 1}})
    assert error.code == 9
    assert error.errmsg == (
        "Error in specification { key: { a: 1 } } :: caused by :: "
        "The 'name' field is a required property of an index specification"
    )


def test_missing_key():
    error = refused({"name": "a_1"})
    assert error.code == 9
    assert "The 'key' field is a required property of an index specification" in error.errmsg


def test_empty_name():
    error = refused({"key": {"a": 1}, "name": ""})
    assert error.code == 67
    assert error.errmsg == (
        'Error in specification { key: { a: 1 }, name: "", v: 2 } :: caused by :: '
        "index name cannot be empty"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "Values in the index key pattern cannot be 0."),
        (0.0, "Values in the index key pattern cannot be 0."),
        (float("nan"), "Values in the index key pattern cannot be NaN."),
        ("foo", "Unknown index plugin 'foo'"),
        ("", "Values in the index key pattern cannot be empty strings"),
        (
            True,
            "Values in v:2 index key pattern cannot be of type bool. Only numbers > 0, numbers "
            "< 0, and strings are allowed.",
        ),
        (
            {"x": 1},
            "Values in v:2 index key pattern cannot be of type object. Only numbers > 0, "
            "numbers < 0, and strings are allowed.",
        ),
    ],
)
def test_bad_key_values(value, reason):
    error = refused({"key": {"a": value}, "name": "a"})
    assert error.code == 67
    assert error.errmsg.endswith(":: caused by :: " + reason)


def test_empty_key_and_dollar_fields():
    assert refused({"key": {}, "name": "x"}).errmsg.endswith("Index keys cannot be empty.")
    error = refused({"key": {"$a": 1}, "name": "x"})
    assert error.code == 67
    assert error.errmsg.endswith(
        "Index key contains an illegal field name: field name starts with '$'."
    )
    assert spec({"a.$id": 1})["key"] == {"a.$id": 1}


def test_two_plugins_in_one_key():
    error = refused({"key": {"a": "text", "b": "2dsphere"}, "name": "x"})
    assert error.code == 67
    assert "Can't use more than one index plugin for a single index." in error.errmsg


def test_wrong_option_types():
    error = refused({"key": {"a": 1}, "name": "a", "unique": {}})
    assert error.code == 14
    assert error.errmsg.endswith(
        "The field 'unique has value unique: {}, which is not convertible to bool"
    )
    assert refused({"key": {"a": 1}, "name": 5}).code == 14
    assert refused({"key": [("a", 1)], "name": "a"}).code == 14


def test_bad_index_version():
    error = refused({"key": {"a": 1}, "name": "a", "v": 3})
    assert error.code == 67
    assert "cannot create an index with v=3" in error.errmsg


def test_id_index_rules():
    error = refused({"key": {"_id": 1}, "name": "_id_", "unique": True})
    assert error.code == 197
    assert error.errmsg.startswith(
        "The field 'unique' is not valid for an _id index specification. Specification: "
    )
    # The _id index refuses TTL through the same rule (validateIdIndexSpec runs first).
    assert refused({"key": {"_id": 1}, "name": "x", "expireAfterSeconds": 5}).code == 197
    error = refused({"key": {"a": 1}, "name": "_id_"})
    assert error.code == 2
    assert "The index name '_id_' is reserved for the _id index" in error.errmsg
    # An _id index request is always named _id_.
    assert spec({"_id": 1}, "whatever")["name"] == "_id_"


def test_ttl_on_a_compound_key():
    error = refused({"key": {"a": 1, "b": 1}, "name": "ab", "expireAfterSeconds": 60})
    assert error.code == 67
    assert error.errmsg == (
        "TTL indexes are single-field indexes, compound indexes do not support TTL. "
        'Index spec: { key: { a: 1, b: 1 }, name: "ab", expireAfterSeconds: 60 }'
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (-1, "TTL index 'expireAfterSeconds' option cannot be less than 0"),
        (2**31, "TTL index 'expireAfterSeconds' must be within the range of a 32-bit integer"),
        (Int64(2**40), "TTL index 'expireAfterSeconds' must be within the range of a 32-bit"),
        ("x", "TTL index 'expireAfterSeconds' option must be numeric, but received a type of "),
        (float("nan"), "TTL index 'expireAfterSeconds' option must not be NaN"),
    ],
)
def test_bad_ttl_values(value, reason):
    error = refused({"key": {"a": 1}, "name": "a_1", "expireAfterSeconds": value})
    assert error.code == 67
    assert error.errmsg.startswith('. Index spec: { key: { a: 1 }, name: "a_1", expireAfterSec')
    assert " :: caused by :: " + reason in error.errmsg


def test_ttl_zero_is_accepted():
    assert spec({"a": 1}, expireAfterSeconds=0)["expireAfterSeconds"] == 0


def test_wildcard_projection_needs_a_wildcard_key():
    error = refused({"key": {"a": 1}, "name": "a", "wildcardProjection": {"a": 1}})
    assert error.code == 2
    assert error.errmsg.endswith(
        "The field 'wildcardProjection' is only allowed in 'wildcard' indexes"
    )
    error = refused({"key": {"a.$**": 1}, "name": "a", "wildcardProjection": {"a": 1}})
    assert error.code == 9
    error = refused({"key": {"$**": 1}, "name": "a", "wildcardProjection": {}})
    assert error.code == 9


def test_wildcard_projection_cannot_mix_inclusion_and_exclusion():
    error = refused({"key": {"$**": 1}, "name": "w", "wildcardProjection": {"a": 1, "b": 0}})
    assert error.code in (31253, 31254)
    # _id may be excluded from an inclusion projection.
    assert spec({"$**": 1}, wildcardProjection={"a": 1, "_id": 0})["wildcardProjection"] == {
        "a": 1,
        "_id": 0,
    }


@pytest.mark.parametrize("option", ["unique", "sparse"])
def test_wildcard_refuses_unique_and_sparse(option):
    error = refused({"key": {"$**": 1}, "name": "w", option: True})
    assert error.code == 67
    assert f"Index type 'wildcard' does not support the '{option}' option" in error.errmsg


def test_hashed_index_cannot_be_unique():
    error = refused({"key": {"a": "hashed"}, "name": "a", "unique": True})
    assert error.code == 16764


def test_only_one_hashed_field():
    assert refused({"key": {"a": "hashed", "b": "hashed"}, "name": "x"}).code == 31303


@pytest.mark.parametrize(
    "filter_doc",
    [
        {"a": {"$gt": 5}},
        {"a": 5},
        {"a": {"$exists": True}},
        {"a": {"$type": "string"}},
        {"a": {"$in": [1, 2]}},
        {"$and": [{"a": {"$gte": 1}}, {"b": {"$lte": 2}}]},
        {"$or": [{"a": 1}, {"b": {"$lt": 2}}]},
    ],
)
def test_partial_filters_mongod_accepts(filter_doc):
    assert spec({"a": 1}, partialFilterExpression=filter_doc)["partialFilterExpression"] == (
        filter_doc
    )


@pytest.mark.parametrize(
    "filter_doc",
    [
        {"a": {"$ne": 1}},
        {"a": {"$nin": [1]}},
        {"a": {"$exists": False}},
        {"a": {"$regex": "^x"}},
        {"$nor": [{"a": 1}]},
        {"a": {"$elemMatch": {"$gt": 1}}},
        {"a": {"$size": 1}},
    ],
)
def test_partial_filters_mongod_refuses(filter_doc):
    error = refused({"key": {"a": 1}, "name": "a", "partialFilterExpression": filter_doc})
    assert error.code == 67
    assert "Expression not supported in partial index: " in error.errmsg


def test_partial_filter_refuses_expr_and_json_schema():
    for filter_doc in ({"$expr": {"$eq": ["$a", 1]}}, {"$jsonSchema": {}}):
        error = refused({"key": {"a": 1}, "name": "a", "partialFilterExpression": filter_doc})
        assert error.code == 224


def test_partial_filter_and_sparse_do_not_mix():
    error = refused(
        {"key": {"a": 1}, "name": "a", "partialFilterExpression": {"a": 1}, "sparse": True}
    )
    assert error.code == 67
    assert error.errmsg.endswith('cannot mix "partialFilterExpression" and "sparse" options')


def test_unique_and_prepare_unique_do_not_mix():
    error = refused({"key": {"a": 1}, "name": "a", "unique": True, "prepareUnique": True})
    assert error.code == 67


# --------------------------------------------------------------------------
# check_new_index
# --------------------------------------------------------------------------

A_1 = spec({"a": 1})


def check(existing, new, **kwargs):
    with pytest.raises(CommandError) as caught:
        check_new_index(existing, new, **kwargs)
    return caught.value


def test_identical_index_is_a_no_op():
    assert check_new_index([A_1], spec({"a": 1})) is True
    assert check_new_index([A_1], spec({"a": 1}, background=True)) is True
    assert check_new_index([A_1], spec({"a": Int64(1)})) is True


def test_new_index_may_be_built():
    assert check_new_index([A_1], spec({"b": 1})) is False
    assert check_new_index([], A_1) is False


def test_same_name_different_key_is_86():
    error = check([A_1], spec({"b": 1}, "a_1"))
    assert error.code == 86
    assert error.errmsg == (
        "An existing index has the same name as the requested index. When index names are not "
        "specified, they are auto generated and can cause conflicts. Please refer to our "
        'documentation. Requested index: { v: 2, key: { b: 1 }, name: "a_1" }, existing index: '
        '{ v: 2, key: { a: 1 }, name: "a_1" }'
    )


@pytest.mark.parametrize(
    "options",
    [
        {"unique": True},
        {"sparse": True},
        {"collation": {"locale": "en"}},
        {"partialFilterExpression": {"a": {"$gt": 1}}},
    ],
)
def test_same_name_different_identifying_option_is_86(options):
    assert check([A_1], spec({"a": 1}, "a_1", **options)).code == 86


def test_sparse_false_equals_missing_sparse():
    assert check_new_index([A_1], spec({"a": 1}, sparse=False)) is True


@pytest.mark.parametrize("options", [{"expireAfterSeconds": 10}, {"hidden": True}])
def test_same_name_other_option_differs_is_85(options):
    error = check([A_1], spec({"a": 1}, **options))
    assert error.code == 85
    assert error.errmsg.startswith(
        "An equivalent index already exists with the same name but different options. "
        "Requested index: { v: 2, "
    )
    assert error.errmsg.endswith('existing index: { v: 2, key: { a: 1 }, name: "a_1" }')


def test_other_name_same_identity_is_85():
    error = check([A_1], spec({"a": 1}, "foo"))
    assert error.code == 85
    assert error.errmsg == "Index already exists with a different name: a_1"
    error = check([A_1], spec({"a": 1}, "foo", expireAfterSeconds=5))
    assert error.code == 85
    assert error.errmsg == (
        "An equivalent index already exists with a different name and options. "
        'Requested index: { v: 2, key: { a: 1 }, name: "foo", expireAfterSeconds: 5 }, '
        'existing index: { v: 2, key: { a: 1 }, name: "a_1" }'
    )


@pytest.mark.parametrize(
    "options",
    [
        {"unique": True},
        {"collation": {"locale": "en"}},
        {"partialFilterExpression": {"a": {"$gt": 1}}},
    ],
)
def test_same_key_with_another_identifying_option_is_a_new_index(options):
    assert check_new_index([A_1], spec({"a": 1}, "other", **options)) is False


def test_unique_in_requested_index_shows_before_key():
    error = check([A_1], spec({"a": 1}, "a_1", unique=True))
    assert 'Requested index: { v: 2, unique: true, key: { a: 1 }, name: "a_1" }' in error.errmsg


def test_equivalent_partial_filters_in_another_order():
    first = spec({"a": 1}, "p", partialFilterExpression={"a": {"$gt": 1}, "b": 1})
    second = spec({"a": 1}, "q", partialFilterExpression={"b": 1, "a": {"$gt": 1}})
    assert check([first], second).errmsg == "Index already exists with a different name: p"


def test_wildcard_projection_is_compared_normalised():
    first = spec({"$**": 1}, "w", wildcardProjection={"a": 1, "b": 1})
    second = spec({"$**": 1}, "w2", wildcardProjection={"b": True, "a": 1})
    assert check([first], second).code == 85
    third = spec({"$**": 1}, "w3", wildcardProjection={"c": 1})
    assert check_new_index([first], third) is False


def test_second_text_index():
    text = spec({"a": "text"})
    # Same _fts/_ftsx key, other weights: an equivalent index under another name.
    error = check([A_1, text], spec({"b": "text"}))
    assert error.code == 85
    assert error.errmsg.startswith(
        "An equivalent index already exists with a different name and options."
    )
    # Same text index under another name.
    assert check([text], spec({"a": "text"}, "other")).errmsg == (
        "Index already exists with a different name: a_text"
    )
    # Another key pattern altogether: the one-text-index rule.
    error = check([text], spec({"x": 1, "b": "text"}))
    assert error.code == 67
    assert error.errmsg == (
        'only one text index per collection allowed, found existing text index "a_text"'
    )
    assert check_new_index([text], spec({"a": "text"})) is True


def test_at_most_64_indexes():
    existing = [spec({f"f{number}": 1}) for number in range(64)]
    error = check(existing, spec({"z": 1}), namespace="test.c")
    assert error.code == 67
    assert error.errmsg == "add index fails, too many indexes for test.c key:{ z: 1 }"
    assert check_new_index(existing[:63], spec({"z": 1})) is False
    # An identical index is still a no-op when the collection is full.
    assert check_new_index(existing, spec({"f3": 1})) is True


# --------------------------------------------------------------------------
# index_key_values
# --------------------------------------------------------------------------


def test_scalar_and_missing_values():
    assert plain_keys(index_key_values(A_1, {"a": "x"})) == [("x",)]
    assert plain_keys(index_key_values(A_1, {"b": 1})) == [(None,)]
    assert plain_keys(index_key_values(A_1, {"a": None})) == [(None,)]


def test_arrays_expand_into_several_keys_without_duplicates():
    assert plain_keys(index_key_values(A_1, {"a": [1, 2, 1.0, Int64(2)]})) == [(1,), (2,)]
    assert plain_keys(index_key_values(A_1, {"a": []})) == [(UNDEFINED,)]
    assert plain_keys(index_key_values(A_1, {"a": [[1, 2]]})) == [([1, 2],)]


def test_dotted_paths_traverse_arrays_of_documents():
    index = spec({"a.b": 1})
    keys = index_key_values(index, {"a": [{"b": 1}, {"b": [2, 3]}, {"c": 3}]})
    assert plain_keys(keys) == [(1,), (2,), (3,), (None,)]
    assert plain_keys(index_key_values(index, {"a": {"b": {"c": 1}}})) == [({"c": 1},)]
    assert plain_keys(index_key_values(index, {"a": 5})) == [(None,)]
    assert plain_keys(index_key_values(spec({"a.1": 1}), {"a": [10, 20]})) == [(20,)]


def test_compound_keys():
    index = spec({"a": 1, "b": -1})
    assert plain_keys(index_key_values(index, {"a": [1, 2], "b": "x"})) == [(1, "x"), (2, "x")]
    assert plain_keys(index_key_values(index, {"b": 3})) == [(None, 3)]


def test_parallel_arrays_are_refused():
    index = spec({"a": 1, "b": 1})
    with pytest.raises(CommandError) as caught:
        index_key_values(index, {"a": [1], "b": [2]})
    assert caught.value.code == 171
    assert caught.value.errmsg.startswith("cannot index parallel arrays")


def test_sparse_index_skips_documents_without_any_indexed_field():
    index = spec({"a": 1, "b": 1}, sparse=True)
    assert index_key_values(index, {"c": 1}) is None
    assert plain_keys(index_key_values(index, {"b": 1})) == [(None, 1)]
    assert plain_keys(index_key_values(spec({"a": 1}, sparse=True), {"a": None})) == [(None,)]


def test_partial_index_skips_unmatched_documents():
    index = spec({"a": 1}, unique=True, partialFilterExpression={"b": {"$gt": 1}})
    assert index_key_values(index, {"a": 1, "b": 0}) is None
    assert index_key_values(index, {"a": 1}) is None
    assert plain_keys(index_key_values(index, {"a": 1, "b": 5})) == [(1,)]


def test_text_and_2dsphere_indexes_skip_documents_without_their_fields():
    assert index_key_values(spec({"body": "text"}), {"x": 1}) is None
    assert index_key_values(spec({"loc": "2dsphere"}), {"x": 1}) is None
    assert index_key_values(spec({"body": "text"}), {"body": "hello"}) is not None


@pytest.mark.parametrize("other", [1.0, Int64(1), Decimal128("1"), Decimal128("1.000")])
def test_numbers_compare_by_value(other):
    (one,) = index_key_values(A_1, {"a": 1})
    (same,) = index_key_values(A_1, {"a": other})
    assert one == same
    assert hash(one) == hash(same)


@pytest.mark.parametrize("other", [True, "1", [[1]], None, {"x": 1}])
def test_other_types_are_other_keys(other):
    (one,) = index_key_values(A_1, {"a": 1})
    (different,) = index_key_values(A_1, {"a": other})
    assert one != different


def test_embedded_documents_compare_with_field_order():
    (first,) = index_key_values(A_1, {"a": {"x": 1, "y": 2}})
    (second,) = index_key_values(A_1, {"a": {"y": 2, "x": 1}})
    (third,) = index_key_values(A_1, {"a": {"x": 1.0, "y": Int64(2)}})
    assert first != second
    assert first == third


def test_keys_are_hashable_for_unique_enforcement():
    index = spec({"a": 1, "b": 1}, unique=True)
    seen = set()
    for document in ({"a": 1, "b": "x"}, {"a": 1.0, "b": "x"}, {"a": 2, "b": "x"}):
        seen.update(index_key_values(index, document))
    assert len(seen) == 2


def test_collation_strength_2_ignores_case():
    index = spec({"e": 1}, unique=True, collation={"locale": "en", "strength": 2})
    assert index_key_values(index, {"e": "ABC"}) == index_key_values(index, {"e": "abc"})
    assert index_key_values(index, {"e": "abc"}) != index_key_values(index, {"e": "abd"})
    # Strength 3 (the default) tells case apart.
    tertiary = spec({"e": 1}, unique=True, collation={"locale": "en"})
    assert index_key_values(tertiary, {"e": "ABC"}) != index_key_values(tertiary, {"e": "abc"})


def test_collation_strength_1_ignores_accents():
    index = spec({"e": 1}, unique=True, collation={"locale": "fr", "strength": 1})
    assert index_key_values(index, {"e": "École"}) == index_key_values(index, {"e": "ecole"})


def test_hashed_index_keys_and_arrays():
    index = spec({"a": "hashed"})
    assert plain_keys(index_key_values(index, {"a": 5})) == [(5,)]
    with pytest.raises(CommandError) as caught:
        index_key_values(index, {"a": [1, 2]})
    assert caught.value.code == 16766


# --------------------------------------------------------------------------
# Duplicate key errors
# --------------------------------------------------------------------------


def test_duplicate_key_message_and_key_value():
    (key,) = index_key_values(A_1, {"a": 1})
    assert duplicate_key_message("test.c", A_1, key) == (
        "E11000 duplicate key error collection: test.c index: a_1 dup key: { a: 1 }"
    )
    assert format_duplicate_key(A_1, key) == {"a": 1}


def test_duplicate_key_strings_are_double_quoted():
    index = spec({"email": 1}, unique=True)
    (key,) = index_key_values(index, {"email": "a@b"})
    assert duplicate_key_message("shop.users", index, key) == (
        'E11000 duplicate key error collection: shop.users index: email_1 dup key: { email: "a@b" }'
    )
    assert format_duplicate_key(index, key) == {"email": "a@b"}


def test_duplicate_key_compound_with_missing_field():
    index = spec({"a": 1, "b": 1}, unique=True)
    (key,) = index_key_values(index, {"a": "x"})
    assert duplicate_key_message("test.c", index, key).endswith('dup key: { a: "x", b: null }')
    assert format_duplicate_key(index, key) == {"a": "x", "b": None}


def test_duplicate_key_renders_other_types():
    oid = ObjectId("650000000000000000000001")
    index = spec({"k": 1}, unique=True)
    for value, shown in [
        (oid, "ObjectId('650000000000000000000001')"),
        (Int64(5), "5"),
        (2.5, "2.5"),
        (True, "true"),
        ({"x": 1}, "{ x: 1 }"),
    ]:
        (key,) = index_key_values(index, {"k": value})
        assert duplicate_key_message("t.c", index, key).endswith(f"dup key: {{ k: {shown} }}")
        assert format_duplicate_key(index, key) == {"k": value}


def test_duplicate_key_of_an_empty_array_is_undefined():
    (key,) = index_key_values(A_1, {"a": []})
    assert duplicate_key_message("test.c", A_1, key).endswith("dup key: { a: undefined }")
    assert format_duplicate_key(A_1, key) == {"a": None}


def test_duplicate_key_with_a_collation():
    index = spec({"e": 1}, unique=True, collation={"locale": "en", "strength": 2})
    (key,) = index_key_values(index, {"e": "ab"})
    message = duplicate_key_message("test.c", index, key)
    assert message.startswith(
        'E11000 duplicate key error collection: test.c index: e_1 collation: { locale: "en", '
    )
    assert message.endswith('version: "57.1" } dup key: { e: "0x6162" }')
    assert format_duplicate_key(index, key) == {"e": "0x6162"}
