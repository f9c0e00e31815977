"""plan_restore: mongorestore's order, drops, existing collections, renames, index specs."""

from __future__ import annotations

import pytest
from bson import Decimal128, Int64

from toolkit.backup.namespaces import NamespaceFilter, NamespaceRenamer, OplogTimestamp
from toolkit.plan.restore import (
    DumpedCollection,
    OplogSummary,
    RestoreOptions,
    convert_index_spec,
    plan_restore,
)

ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
ORDERS = DumpedCollection(
    "shop", "orders", "collection",
    {"validator": {"a": 1}},
    [ID_INDEX, {"v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": True}],
    10,
)  # fmt: skip
VIEW = DumpedCollection("shop", "open", "view", {"viewOn": "orders", "pipeline": []})
USERS = DumpedCollection("admin", "system.users", documents=2)
VERSION = DumpedCollection("admin", "system.version", documents=1)


def _kinds(steps):
    return [(step.kind, step.namespace) for step in steps]


def test_order_is_mongorestores():
    steps = plan_restore(
        [VIEW, USERS, VERSION, ORDERS],
        {},
        RestoreOptions(oplog_replay=True, oplog_limit=OplogTimestamp(5, 0)),
        oplog=OplogSummary(3, OplogTimestamp(1, 1), OplogTimestamp(9, 1)),
    )
    assert _kinds(steps) == [
        ("create", "shop.orders"),
        ("create-view", "shop.open"),
        ("insert", "shop.orders"),
        ("users", "admin.system.users"),
        ("oplog", ""),
        ("create-indexes", "shop.orders"),
    ]
    create = steps[0]
    assert create.options == {"validator": {"a": 1}, "idIndex": ID_INDEX}
    assert steps[-1].indexes == ({"v": 2, "key": {"sku": 1}, "name": "sku_1", "unique": True},)
    assert "before 5:0" in steps[4].reason and steps[2].documents == 10


def test_existing_collections_with_and_without_drop():
    existing = {"shop.orders": "collection", "shop.open": "view"}
    kept = plan_restore([ORDERS, VIEW], existing, RestoreOptions())
    assert _kinds(kept) == [("insert", "shop.orders"), ("create-indexes", "shop.orders")]
    assert "duplicate keys are counted" in kept[0].reason
    dropped = plan_restore([ORDERS, VIEW], existing, RestoreOptions(drop=True))
    assert _kinds(dropped)[:3] == [
        ("drop", "shop.open"),
        ("drop", "shop.orders"),
        ("create", "shop.orders"),
    ]


def test_selection_and_renames():
    options = RestoreOptions(
        selection=NamespaceFilter(include=("shop.*",)),
        renamer=NamespaceRenamer(["shop.$c$"], ["copy.$c$"]),
    )
    steps = plan_restore([ORDERS, VIEW, USERS], {}, options)
    assert {step.namespace for step in steps} == {"copy.orders", "copy.open"}
    assert {step.source for step in steps} == {"shop.orders", "shop.open"}
    clash = RestoreOptions(renamer=NamespaceRenamer(["shop.*"], ["one.x"]))
    with pytest.raises(ValueError, match="both be restored to one.x"):
        plan_restore([ORDERS, VIEW], {}, clash)
    assert plan_restore([USERS], {}, RestoreOptions(users_and_roles=False)) == []


def test_legacy_index_specs_are_converted_as_mongorestore_does():
    legacy = {
        "v": 1,
        "key": {"a": 1.0, "b": True, "c": Decimal128("0"), "d": "", "e": 0, "f": -1, "g": "hashed",
                "h": Int64(0)},
        "name": "legacy",
        "ns": "db.c",
        "safe": True,
        "dropDups": True,
    }  # fmt: skip
    assert convert_index_spec(legacy) == {
        "v": 1,
        "key": {"a": 1.0, "b": 1, "c": 1, "d": 1, "e": 1, "f": -1, "g": "hashed", "h": 1},
        "name": "legacy",
    }
    current = {
        "v": 2, "key": {"_fts": "text", "_ftsx": 1}, "name": "t", "weights": {"a": 1},
        "default_language": "english", "language_override": "language", "textIndexVersion": 3,
    }  # fmt: skip
    assert convert_index_spec(current) == current
