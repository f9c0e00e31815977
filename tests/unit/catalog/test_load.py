from pathlib import Path

import pytest

from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import format_duration, parse_duration
from toolkit.errors import CatalogError


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    assert raised.value.exit_code == 2
    return raised.value.problems


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0s", 0),
        ("90m", 5400),
        ("12h", 43200),
        ("7d", 604800),
        ("2w", 1209600),
        ("1y", 31536000),
        (3600, 3600),
    ],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_duration_formatting_round_trips():
    for seconds in (0, 59, 60, 3600, 604800, 31536000, 2592000):
        assert parse_duration(format_duration(seconds)) == seconds


def test_directory_files_merge(tmp_path):
    write(tmp_path, "a.yaml", "databases:\n  shop:\n    collections:\n      orders: {}\n")
    write(
        tmp_path,
        "b.yaml",
        "databases:\n  shop:\n    collections:\n      items: {}\n  crm: {collections: {people: {}}}\n",
    )
    catalog = load_catalog(tmp_path)
    assert sorted(c.namespace for c in catalog.collections) == [
        "crm.people",
        "shop.items",
        "shop.orders",
    ]
    assert catalog.databases == ["crm", "shop"]


def test_same_collection_in_two_files_is_an_error_naming_both(tmp_path):
    write(tmp_path, "a.yaml", "databases:\n  shop:\n    collections:\n      orders: {}\n")
    write(tmp_path, "b.yaml", "\n\ndatabases:\n  shop:\n    collections:\n      orders: {}\n")
    [problem] = problems_of(tmp_path)
    assert "b.yaml:6" in problem and "a.yaml:4" in problem and "shop.orders" in problem


def test_every_error_is_listed_with_file_line_and_path(tmp_path):
    path = write(
        tmp_path,
        "c.yaml",
        "databases:\n"
        "  shop:\n"
        "    collections:\n"
        "      orders:\n"
        "        validation_level: loose\n"
        "        indexes:\n"
        "          - keys: {a: 1}\n"
        "            expire_after: 7 days\n"
        "          - keys: {b: sideways}\n"
        "            colour: blue\n",
    )
    problems = problems_of(path)
    assert len(problems) == 4
    joined = "\n".join(problems)
    assert f"{path}:5: databases/shop/collections/orders/validation_level" in joined
    assert (
        f"{path}:8: databases/shop/collections/orders/indexes/0/expire_after: '7 days' is not a duration"
        in joined
    )
    assert (
        f"{path}:10: databases/shop/collections/orders/indexes/1/colour: unknown key 'colour'"
        in joined
    )
    assert f"{path}:9: databases/shop/collections/orders/indexes/1/keys/b" in joined


def test_yaml_syntax_error_is_located(tmp_path):
    path = write(tmp_path, "bad.yaml", "databases:\n  shop: [\n")
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:3:")


def test_duplicate_yaml_key_is_an_error(tmp_path):
    path = write(tmp_path, "dup.yaml", "databases:\n  shop: {}\n  shop: {}\n")
    [problem] = problems_of(path)
    assert problem == f"{path}:3: duplicate key 'shop'"


def test_literal_password_is_refused(tmp_path):
    path = write(tmp_path, "u.yaml", "users:\n  - user: app\n    db: shop\n    password: hunter2\n")
    [problem] = problems_of(path)
    assert "password_env" in problem and "hunter2" not in problem


def test_off_is_a_string_not_a_boolean(tmp_path):
    path = write(
        tmp_path,
        "o.yaml",
        "databases:\n  s:\n    collections:\n      c: {validator: {a: {$exists: true}}, validation_level: off}\n",
    )
    assert load_catalog(path).collections[0].validation_level == "off"


def test_index_model(tmp_path):
    path = write(
        tmp_path,
        "i.yaml",
        "databases:\n  s:\n    collections:\n      c:\n        indexes:\n"
        "          - {keys: {b: 1, a: -1}, unique: true, sparse: false, expire_after: 1h}\n"
        "          - {keys: {t: text, u: text}, weights: {t: 10}, name: search}\n",
    )
    first, second = load_catalog(path).collections[0].indexes
    assert first.name == "b_1_a_-1"
    assert first.keys == (("b", 1), ("a", -1))
    assert first.options == {"unique": True, "expireAfterSeconds": 3600}
    assert second.create_spec() == {
        "key": {"t": "text", "u": "text"},
        "name": "search",
        "weights": {"t": 10},
    }


def test_missing_catalog_is_a_catalog_error(tmp_path):
    with pytest.raises(CatalogError, match="does not exist"):
        load_catalog(tmp_path / "nope.yaml")
    with pytest.raises(CatalogError, match="no catalog files"):
        load_catalog(tmp_path)


def test_ttl_beyond_int32_seconds_is_refused_where_it_is_declared(tmp_path):
    path = write(
        tmp_path,
        "t.yaml",
        "databases:\n  s:\n    collections:\n      c:\n        indexes:\n"
        "          - {keys: {a: 1}, expire_after: 68y}\n"
        "          - keys: {b: 1}\n"
        "            expire_after: 69y\n"
        "          - {keys: {c: 1}, expire_after: 2147483648}\n",
    )
    problems = problems_of(path)
    assert problems == [
        f"{path}:8: databases/s/collections/c/indexes/1/expire_after: '69y' is 2175984000 "
        "seconds; a TTL index allows at most 2147483647 (about 68 years) and MongoDB refuses "
        "more (code 67)",
        f"{path}:9: databases/s/collections/c/indexes/2/expire_after: 2147483648 is 2147483648 "
        "seconds; a TTL index allows at most 2147483647 (about 68 years) and MongoDB refuses "
        "more (code 67)",
    ]


def test_every_unknown_key_of_a_mapping_is_reported(tmp_path):
    path = write(
        tmp_path,
        "k.yaml",
        "databases:\n  s:\n    collections:\n      c:\n        indexes:\n"
        "          - keys: {a: 1}\n"
        "            colour: blue\n"
        "            size: 3\n"
        "        flavour: sour\n",
    )
    problems = problems_of(path)
    assert [problem.split(": ")[1] for problem in problems] == [
        "databases/s/collections/c/indexes/0/colour",
        "databases/s/collections/c/indexes/0/size",
        "databases/s/collections/c/flavour",
    ]
    assert problems[0].startswith(f"{path}:7:") and problems[1].startswith(f"{path}:8:")
    assert "unknown key 'size'" in problems[1]


@pytest.mark.parametrize(
    ("index", "message"),
    [
        ("{keys: {a: 1}, weights: {a: 2}}", "weights is a text index option"),
        ("{keys: {a: 1}, default_language: french}", "default_language is a text index option"),
        ("{keys: {a: -1}, language_override: lang}", "language_override is a text index option"),
        ("{keys: {a: 1}, wildcard_projection: {b: 1}}", 'wildcard_projection needs a "$**"'),
        ("{keys: {a.$**: 1}, wildcard_projection: {b: 1}}", 'wildcard_projection needs a "$**"'),
        ("{keys: {$**: text}, wildcard_projection: {b: 1}}", 'wildcard_projection needs a "$**"'),
    ],
)
def test_type_specific_index_options_on_the_wrong_index_type(tmp_path, index, message):
    path = write(
        tmp_path,
        "x.yaml",
        f"databases:\n  s:\n    collections:\n      c:\n        indexes:\n          - {index}\n",
    )
    [problem] = problems_of(path)
    assert problem.startswith(f"{path}:6: databases/s/collections/c/indexes/0/")
    assert message in problem


def test_type_specific_index_options_on_the_right_index_type(tmp_path):
    path = write(
        tmp_path,
        "x.yaml",
        "databases:\n  s:\n    collections:\n      c:\n        indexes:\n"
        "          - {keys: {a: text, b: 1}, weights: {a: 2}, default_language: french,"
        " language_override: lang}\n"
        "          - {keys: {$**: 1}, wildcard_projection: {b: 1}}\n",
    )
    assert len(load_catalog(path).collections[0].indexes) == 2


def test_yaml_dates_in_validators_and_filters_become_utc_datetimes(tmp_path):
    import datetime as dt

    path = write(
        tmp_path,
        "d.yaml",
        "databases:\n  s:\n    collections:\n      c:\n"
        "        validator: {at: {$gte: 2024-01-31}}\n"
        "        indexes:\n          - {keys: {at: 1}, partial: {at: {$in: [2024-02-01]}}}\n",
    )
    [collection] = load_catalog(path).collections
    midnight = dt.datetime(2024, 1, 31, tzinfo=dt.UTC)
    assert collection.validator == {"at": {"$gte": midnight}}
    assert collection.indexes[0].options["partialFilterExpression"] == {
        "at": {"$in": [midnight + dt.timedelta(days=1)]}
    }


def test_validator_keys_must_be_strings(tmp_path):
    path = write(
        tmp_path,
        "v.yaml",
        "databases:\n  s:\n    collections:\n      c:\n        validator:\n          5: x\n",
    )
    [problem] = problems_of(path)
    assert (
        problem
        == f"{path}:6: databases/s/collections/c/validator/5: key 5 is not a string; quote it"
    )
