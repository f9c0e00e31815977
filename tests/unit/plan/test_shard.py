"""The sharding planner and the shard lints on plain data."""

from pathlib import Path

import pytest

from toolkit.catalog.lint import lint_catalog
from toolkit.catalog.load import load_catalog
from toolkit.errors import CatalogError
from toolkit.plan.schema import ObservedCollection, ObservedSchema
from toolkit.plan.shard import (
    ObservedShard,
    ObservedShardedCollection,
    ObservedSharding,
    ObservedZoneRange,
    bound_order,
    full_bound,
    implied_shard_index,
    parse_window,
    plan_sharding,
)

CATALOG = """
databases:
  shop:
    collections:
      orders:
        validator:
          $jsonSchema: {bsonType: object, required: [region, customer_id]}
        indexes:
          - keys: {region: 1, customer_id: 1, created: -1}
        shard:
          key: {region: 1, customer_id: 1}
          zones:
            - zone: EU
              min: {region: eu, customer_id: {$minKey: 1}}
              max: {region: ev, customer_id: {$minKey: 1}}
            - {zone: US, min: {region: us}, max: {region: ut}}
      events:
        shard:
          key: {device: hashed}
      plain:
        indexes:
          - keys: {x: 1}
sharding:
  zones: {EU: [shard-eu], US: [shard-us]}
  balancer_window: "01:00-05:00"
"""

SHARDS = (ObservedShard("shard-eu", "rs-eu/h1:27018"), ObservedShard("shard-us", "rs-us/h2:27018"))


@pytest.fixture
def catalog(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(CATALOG)
    return load_catalog(path)


def kinds(plan):
    return [(op.kind, op.target) for op in plan.operations]


def test_empty_cluster_plans_everything_in_order(catalog):
    plan = plan_sharding(catalog, ObservedSharding(shards=SHARDS))
    assert plan.conflicts == ()
    assert kinds(plan) == [
        ("add-shard-to-zone", "shard shard-eu"),
        ("add-shard-to-zone", "shard shard-us"),
        ("create-collection", "shop.events"),
        ("create-index", "shop.events index device_hashed"),
        ("shard-collection", "shop.events"),
        ("create-collection", "shop.orders"),
        ("create-index", "shop.orders index region_1_customer_id_1_created_-1"),
        # zone ranges go before shardCollection, so that it splits chunks along them
        ("update-zone-range", "shop.orders"),
        ("update-zone-range", "shop.orders"),
        ("shard-collection", "shop.orders"),
        ("set-balancer-window", "balancer"),
    ]
    by_kind = {}
    for op in plan.operations:
        by_kind.setdefault(op.kind, op)
    assert by_kind["add-shard-to-zone"].command == {"addShardToZone": "shard-eu", "zone": "EU"}
    shard_orders = [op for op in plan.operations if op.kind == "shard-collection"][1]
    assert shard_orders.database == "admin"
    assert shard_orders.command == {
        "shardCollection": "shop.orders",
        "key": {"region": 1, "customer_id": 1},
    }
    ranges = [op for op in plan.operations if op.kind == "update-zone-range"]
    assert ranges[0].command == {
        "updateZoneKeyRange": "shop.orders",
        "min": {"region": "eu", "customer_id": {"$minKey": 1}},
        "max": {"region": "ev", "customer_id": {"$minKey": 1}},
        "zone": "EU",
    }
    # The catalog's range on a prefix of the key is sent with the whole key, the missing
    # field filled with MinKey on both bounds, as mongod stores it.
    assert ranges[1].command == {
        "updateZoneKeyRange": "shop.orders",
        "min": {"region": "us", "customer_id": {"$minKey": 1}},
        "max": {"region": "ut", "customer_id": {"$minKey": 1}},
        "zone": "US",
    }
    window = by_kind["set-balancer-window"]
    assert window.database == "config"
    assert window.command["updates"][0]["u"] == {
        "$set": {"activeWindow": {"start": "01:00", "stop": "05:00"}}
    }
    # The declared index supports the key: that one is created, not the key itself.
    create_orders_index = [op for op in plan.operations if op.kind == "create-index"][1]
    assert create_orders_index.command["indexes"][0]["name"] == "region_1_customer_id_1_created_-1"


def in_sync(catalog) -> ObservedSharding:
    return ObservedSharding(
        shards=(
            ObservedShard("shard-eu", "rs-eu/h1:27018", ("EU",)),
            ObservedShard("shard-us", "rs-us/h2:27018", ("US",)),
        ),
        collections=(
            ObservedShardedCollection("shop.orders", (("region", 1), ("customer_id", 1))),
            ObservedShardedCollection("shop.events", (("device", "hashed"),)),
        ),
        ranges=(
            # as config.tags holds them, in another order and with MinKey filled in
            ObservedZoneRange(
                "shop.orders",
                {"region": "us", "customer_id": {"$minKey": 1}},
                {"region": "ut", "customer_id": {"$minKey": 1}},
                "US",
            ),
            ObservedZoneRange(
                "shop.orders",
                {"region": "eu", "customer_id": {"$minKey": 1}},
                {"region": "ev", "customer_id": {"$minKey": 1}},
                "EU",
            ),
        ),
        balancer_window=("01:00", "05:00"),
    )


def test_matching_cluster_plans_nothing(catalog):
    plan = plan_sharding(catalog, in_sync(catalog))
    assert plan.operations == () and plan.conflicts == ()


def test_stray_ranges_and_zones_need_allow_drop(catalog):
    observed = in_sync(catalog)
    observed = ObservedSharding(
        shards=(*observed.shards[:1], ObservedShard("shard-us", "h2", ("US", "OLD"))),
        collections=observed.collections,
        ranges=(
            observed.ranges[1],
            # the US range moved: the old one must go before the new one fits
            ObservedZoneRange("shop.orders", {"region": "ua"}, {"region": "uz"}, "US"),
        ),
        balancer_window=None,
    )
    plan = plan_sharding(catalog, observed)
    assert kinds(plan) == [
        ("remove-zone-range", "shop.orders"),
        ("update-zone-range", "shop.orders"),
        ("remove-shard-from-zone", "shard shard-us"),
        ("set-balancer-window", "balancer"),
    ]
    remove, add, leave, _ = plan.operations
    assert remove.destructive and remove.command["zone"] is None
    assert add.needs_drop and not add.destructive
    assert leave.destructive
    assert [op.kind for op in plan.runnable(allow_drop=False)] == ["set-balancer-window"]
    assert len(plan.runnable(allow_drop=True)) == 4


def test_unmanaged_balancer_window_is_removed_only_with_allow_drop(catalog):
    observed = in_sync(catalog)
    catalog_without = type(catalog)(
        collections=catalog.collections, sharding={"zones": catalog.sharding["zones"]}
    )
    plan = plan_sharding(catalog_without, observed)
    [operation] = plan.operations
    assert operation.kind == "unset-balancer-window" and operation.destructive


def test_conflicts_for_a_different_key_and_an_unknown_shard(catalog):
    observed = ObservedSharding(
        shards=(ObservedShard("shard-eu", "h1", ("EU",)),),
        collections=(
            ObservedShardedCollection("shop.orders", (("customer_id", 1),)),
            ObservedShardedCollection("shop.events", (("device", "hashed"),), unique=False),
        ),
        ranges=in_sync(catalog).ranges,
        balancer_window=("01:00", "05:00"),
    )
    plan = plan_sharding(catalog, observed)
    key_conflict, shard_conflict = plan.conflicts
    assert "zone US names shard shard-us, which is not in the cluster" in shard_conflict
    assert "shop.orders is sharded on {customer_id: 1}" in key_conflict
    assert "refineCollectionShardKey" in key_conflict
    assert not any(op.kind == "shard-collection" for op in plan.operations)


def test_existing_collection_with_a_supporting_index_gets_only_shard_collection(catalog):
    schema = ObservedSchema(
        (
            ObservedCollection(
                "shop",
                "events",
                "collection",
                indexes=({"v": 2, "key": {"device": "hashed"}, "name": "by_device"},),
            ),
        )
    )
    plan = plan_sharding(catalog.select(["shop"]), ObservedSharding(shards=SHARDS, schema=schema))
    events = [op for op in plan.operations if op.target.startswith("shop.events")]
    assert [op.kind for op in events] == ["shard-collection"]


def test_implied_index_and_simple_collation(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "databases:\n  s:\n    collections:\n      c:\n        collation: {locale: fr}\n"
        "        shard: {key: {a: 1}, unique: true}\n"
    )
    spec = load_catalog(path).collection("s.c")
    implied = implied_shard_index(spec)
    assert implied.name == "a_1"
    assert implied.options == {"unique": True, "collation": {"locale": "simple"}}
    plan = plan_sharding(load_catalog(path), ObservedSharding(shards=SHARDS))
    shard = [op for op in plan.operations if op.kind == "shard-collection"][0]
    assert shard.command == {
        "shardCollection": "s.c",
        "key": {"a": 1},
        "unique": True,
        "collation": {"locale": "simple"},
    }


def test_an_index_inheriting_a_collation_does_not_support_the_key(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "databases:\n  s:\n    collections:\n      c:\n        collation: {locale: fr}\n"
        "        indexes:\n          - keys: {a: 1}\n"
        "          - keys: {a: 1, b: 1}\n            collation: {locale: simple}\n"
        "        shard: {key: {a: 1}}\n"
    )
    spec = load_catalog(path).collection("s.c")
    assert implied_shard_index(spec) is None
    plan = plan_sharding(load_catalog(path), ObservedSharding(shards=SHARDS))
    [create_index] = [op for op in plan.operations if op.kind == "create-index"]
    assert create_index.target == "s.c index a_1_b_1"


def test_prefix_ranges_on_a_sharded_collection_are_sent_with_the_whole_key(catalog):
    observed = in_sync(catalog)
    observed = ObservedSharding(
        shards=observed.shards,
        collections=observed.collections,
        ranges=observed.ranges[1:],  # the US range is missing
        balancer_window=observed.balancer_window,
    )
    [operation] = plan_sharding(catalog, observed).operations
    assert operation.kind == "update-zone-range"
    assert operation.command["min"] == {"region": "us", "customer_id": {"$minKey": 1}}
    assert operation.command["max"] == {"region": "ut", "customer_id": {"$minKey": 1}}
    assert "[{region: 'us', customer_id: MinKey}, {region: 'ut', customer_id: MinKey})" in (
        operation.reason
    )


def test_full_bound_fills_only_a_prefix():
    key = (("a", 1), ("b", "hashed"), ("c", 1))
    minimum = {"$minKey": 1}
    assert full_bound(key, {"a": 5}) == {"a": 5, "b": minimum, "c": minimum}
    assert list(full_bound(key, {"a": 5, "b": 7})) == ["a", "b", "c"]
    assert full_bound(key, {"b": 1}) == {"b": 1}  # no prefix: left for mongod to refuse


def test_parse_window_and_bound_order():
    assert parse_window("22:00-04:30") == ("22:00", "04:30")
    assert parse_window("00:00-23:59") == ("00:00", "23:59")
    for wrong in ("10-12", "99:99-05:00", "01:00-24:00", "01:60-05:00", "1:00-05:00"):
        with pytest.raises(ValueError, match="hours 00-23 and minutes 00-59"):
            parse_window(wrong)


def test_an_impossible_balancer_window_is_a_catalog_error(catalog):
    wrong = type(catalog)(
        collections=catalog.collections,
        sharding={**catalog.sharding, "balancer_window": "99:99-05:00"},
    )
    with pytest.raises(CatalogError) as raised:
        plan_sharding(wrong, in_sync(catalog))
    assert raised.value.exit_code == 2
    assert raised.value.problems == [
        "sharding.balancer_window '99:99-05:00' is not a balancer window: write HH:MM-HH:MM "
        "with hours 00-23 and minutes 00-59, e.g. 01:00-05:00"
    ]
    values = [{"$maxKey": 1}, "b", 2.5, None, {"$minKey": 1}, True, "a", -1]
    ordered = sorted(values, key=bound_order)
    assert ordered == [{"$minKey": 1}, None, -1, 2.5, "a", "b", True, {"$maxKey": 1}]


# --------------------------------------------------------------------------- lint


def lint(tmp_path: Path, shard_yaml: str, validator: str = "", sharding: str = "") -> list[str]:
    path = tmp_path / "c.yaml"
    text = "databases:\n  s:\n    collections:\n      c:\n"
    if validator:
        text += "        validator: " + validator + "\n"
    lines = shard_yaml.strip().splitlines()
    text += "        shard:\n" + "".join(f"          {line}\n" for line in lines)
    text += sharding
    path.write_text(text)
    return [finding.message for finding in lint_catalog(load_catalog(path))]


def test_lint_unique_hashed(tmp_path):
    messages = lint(tmp_path, "key: {a: hashed}\nunique: true")
    assert any("hashed and unique" in m for m in messages)


def test_lint_key_fields_the_validator_does_not_require(tmp_path):
    messages = lint(
        tmp_path,
        "key: {tenant: 1, meta.region: 1}",
        validator="{$jsonSchema: {required: [tenant, meta], properties: {tenant: {}, meta: {}}}}",
    )
    assert messages == [
        "shard key field meta.region is not required by the validator: documents without it "
        "are stored with a null shard key value, all in one range"
    ]


def test_lint_overlapping_zone_ranges(tmp_path):
    sharding = "sharding:\n  zones: {EU: [s1], US: [s2]}\n"
    messages = lint(
        tmp_path,
        "key: {region: 1}\nzones:\n"
        "  - {zone: EU, min: {region: a}, max: {region: m}}\n"
        "  - {zone: US, min: {region: k}, max: {region: z}}\n"
        "  - {zone: US, min: {region: z}, max: {region: {$maxKey: 1}}}\n",
        sharding=sharding,
    )
    assert messages == [
        "shard.zones[0] (EU) and shard.zones[1] (US) overlap; MongoDB refuses overlapping "
        "zone ranges"
    ]


def test_lint_zone_bounds_and_names(tmp_path):
    messages = lint(
        tmp_path,
        "key: {a: 1, b: 1}\nzones:\n"
        "  - {zone: NOPE, min: {b: 1}, max: {b: 2}}\n"
        "  - {zone: EU, min: {a: 5}, max: {a: 1}}\n",
        sharding="sharding:\n  zones: {EU: [s1]}\n",
    )
    assert any("zone NOPE is not defined in sharding.zones" in m for m in messages)
    assert any("min names ['b']" in m for m in messages)
    assert any("shard.zones[1] (EU): min is not below max" in m for m in messages)


def test_lint_hashed_bounds_and_presplit(tmp_path):
    messages = lint(
        tmp_path,
        "key: {a: hashed}\npresplit_hashed_zones: true\nzones:\n"
        "  - {zone: EU, min: {a: x}, max: {a: 10}}\n",
        sharding="sharding:\n  zones: {EU: [s1]}\n",
    )
    assert any("min.a is hashed" in m for m in messages)
    assert lint(tmp_path, "key: {a: 1}\npresplit_hashed_zones: true") == [
        "presplit_hashed_zones needs a hashed field in the shard key",
        "presplit_hashed_zones needs zones: it pre-splits chunks along them",
    ]


def test_committed_catalogs_have_no_shard_findings():
    root = Path(__file__).resolve().parents[3]
    catalog = load_catalog(root / "catalogs")
    assert not [f for f in lint_catalog(catalog) if "shard" in f.message]
