"""The seed plan: order from references, counts, selections, cycles."""

import pytest

from tests.unit.seed.helpers import load
from toolkit.errors import CatalogError, UsageError
from toolkit.seed.plan import plan_seed

SCHEMA = {"$jsonSchema": {"bsonType": "object"}}


def collection(seed=None, validator=SCHEMA):
    body = {"validator": validator}
    if seed is not None:
        body["seed"] = seed
    return body


def test_parents_come_first_and_counts(tmp_path):
    catalog = load(
        tmp_path,
        {
            "comments": collection(
                {
                    "per": {"posts": 2},
                    "fields": {"post_id": {"ref": "posts._id"}, "author": {"ref": "users.email"}},
                }
            ),
            "posts": collection({"count": 4, "fields": {"user_id": {"ref": "users._id"}}}),
            "users": collection({"count": 3}),
            "empty": collection(),
        },
    )
    plan = plan_seed(catalog)
    assert [c.namespace for c in plan.collections] == ["shop.users", "shop.posts", "shop.comments"]
    assert plan.totals() == {"shop.users": 3, "shop.posts": 4, "shop.comments": 8}
    users = plan.collection("shop.users")
    assert users.referenced_fields == ("_id", "email") and users.parent
    assert plan.collection("shop.comments").refs == {
        "post_id": ("shop.posts", "_id"),
        "author": ("shop.users", "email"),
    }
    scaled = plan_seed(catalog, scale=2.5)
    assert scaled.totals() == {"shop.users": 8, "shop.posts": 10, "shop.comments": 20}


def test_selected_collections_bring_their_parents_unwritten(tmp_path):
    catalog = load(
        tmp_path,
        {
            "users": collection({"count": 3}),
            "posts": collection({"count": 4, "fields": {"user_id": {"ref": "users._id"}}}),
            "other": collection({"count": 1}),
        },
    )
    plan = plan_seed(catalog, collections=("posts",), counts={"posts": 9})
    assert [(c.namespace, c.written) for c in plan.collections] == [
        ("shop.users", False),
        ("shop.posts", True),
    ]
    assert plan.totals()["shop.posts"] == 9


def test_a_count_for_a_per_collection_is_spread_over_parents(tmp_path):
    catalog = load(
        tmp_path,
        {
            "users": collection({"count": 3}),
            "posts": collection({"per": {"users": 2}, "fields": {"user_id": {"ref": "users._id"}}}),
        },
    )
    plan = plan_seed(catalog, counts={"shop.posts": 10})
    posts = plan.collection("shop.posts")
    assert posts.per == "shop.users" and posts.per_parent is None and posts.count == 10


def test_a_cycle_is_a_catalog_error_naming_the_collections(tmp_path):
    catalog = load(
        tmp_path,
        {
            "a": collection({"count": 1, "fields": {"b_id": {"ref": "b._id"}}}),
            "b": collection({"count": 1, "fields": {"c_id": {"ref": "c._id"}}}),
            "c": collection({"count": 1, "fields": {"a_id": {"ref": "a._id"}}}),
            "d": collection({"count": 1}),
        },
    )
    with pytest.raises(CatalogError) as raised:
        plan_seed(catalog)
    assert raised.value.exit_code == 2
    message = raised.value.message
    assert "cycle" in message
    for name in ("shop.a", "shop.b", "shop.c"):
        assert name in message
    assert "shop.d" not in message


def test_a_collection_referring_to_itself_is_a_cycle(tmp_path):
    catalog = load(
        tmp_path, {"nodes": collection({"count": 1, "fields": {"parent": {"ref": "nodes._id"}}})}
    )
    with pytest.raises(CatalogError, match=r"cycle: shop.nodes -> shop.nodes"):
        plan_seed(catalog)


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ({"count": 1, "fields": {"x": {"ref": "nowhere._id"}}}, "names no catalog collection"),
        ({"per": {"nowhere": 2}}, "not a collection here"),
        ({"count": 1, "per": {"users": 1}}, "both count and per"),
        ({"count": 1, "fields": {"x": {"faker": "email", "const": 1}}}, "valid under each of"),
        ({"count": 1, "fields": {"x": {"choice": [1, 2], "weights": [1]}}}, "weights must be 2"),
        ({"count": 1, "fields": {"x": {"range": [5, 1]}}}, "above high"),
        ({"count": 1, "fields": {"x": {"template": "a{}b"}}}, "unknown placeholder {}"),
        ({"count": 1, "fields": {"x": {"template": "{hex:0}"}}}, "length from 1 to 1024"),
        ({"count": 1, "fields": {"x": {"sequence": 1, "scope": "galaxy"}}}, "galaxy"),
    ],
)
def test_bad_seed_sections(tmp_path, seed, message):
    # The catalog schema refuses some (when the catalog is loaded), the planner the rest.
    with pytest.raises(CatalogError) as raised:
        plan_seed(load(tmp_path, {"users": collection({"count": 1}), "c": collection(seed)}))
    assert raised.value.exit_code == 2
    assert message in raised.value.message + " ".join(raised.value.problems)


def test_selections_that_name_nothing_are_usage_errors(tmp_path):
    catalog = load(tmp_path, {"users": collection({"count": 1})})
    with pytest.raises(UsageError, match="no collection 'ghosts'"):
        plan_seed(catalog, collections=("ghosts",))
    with pytest.raises(UsageError, match="nodb"):
        plan_seed(catalog, databases=("nodb",))
    with pytest.raises(UsageError, match="ghosts"):
        plan_seed(catalog, counts={"ghosts": 3})


def test_the_committed_catalogs_plan_every_collection():
    from pathlib import Path

    from toolkit.catalog.load import load_catalog

    catalog = load_catalog(Path(__file__).resolve().parents[3] / "catalogs")
    plan = plan_seed(catalog)
    totals = plan.totals()
    seedable = [c.namespace for c in catalog.collections if c.kind != "view"]
    assert sorted(totals) == sorted(seedable)
    assert all(totals[namespace] > 0 for namespace in seedable)
    assert totals["sentimatrix_studio.users"] == 5  # seed_test_data.py's default: 5 users
    assert totals["sentimatrix_studio.results"] == 5 * 3 * 50  # 3 projects each, 50 results each


def test_a_collection_outside_the_selected_databases_is_a_usage_error(tmp_path):
    import yaml

    path = tmp_path / "catalog.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "databases": {
                    "shop": {"collections": {"orders": collection({"count": 1})}},
                    "crm": {"collections": {"users": collection({"count": 1})}},
                }
            }
        )
    )
    from toolkit.catalog.load import load_catalog

    catalog = load_catalog(path)
    for selector in ("crm.users", "users"):
        with pytest.raises(UsageError) as raised:
            plan_seed(catalog, databases=("shop",), collections=(selector,))
        assert selector in raised.value.message and "shop" in raised.value.message
        assert "crm" in raised.value.message
    plan = plan_seed(catalog, databases=("crm",), collections=("users",))
    assert [c.namespace for c in plan.written] == ["crm.users"]
