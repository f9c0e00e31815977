"""Namespace patterns, renames, and which namespaces oplog entries touch."""

from __future__ import annotations

import pytest

from toolkit.backup.namespaces import (
    NamespaceFilter,
    NamespaceRenamer,
    OplogTimestamp,
    is_dumped_collection,
    oplog_entry_namespaces,
    parse_oplog_limit,
    select_oplog_entry,
    split_namespace,
)
from toolkit.errors import UsageError


def test_filter_patterns_as_mongorestore_reads_them():
    selection = NamespaceFilter(include=("shop.*", "*.audit"), exclude=("shop.tmp*",))
    assert selection.accepts("shop.orders")
    assert selection.accepts("shop.a.b")  # * crosses dots
    assert selection.accepts("logs.audit")
    assert not selection.accepts("shop.tmp_1")
    assert not selection.accepts("logs.events")
    assert NamespaceFilter().everything and NamespaceFilter().accepts("x.y")
    assert NamespaceFilter(include=(r"a\*.b",)).accepts("a*.b")
    assert not NamespaceFilter(include=(r"a\*.b",)).accepts("ax.b")
    with pytest.raises(UsageError):
        NamespaceFilter(include=("",))


def test_databases_narrow_the_selection():
    selection = NamespaceFilter(databases=("shop",), exclude=("shop.secret",))
    assert selection.accepts_database("shop") and not selection.accepts_database("logs")
    assert selection.accepts("shop.orders") and not selection.accepts("shop.secret")
    assert not selection.accepts("logs.events")


def test_renames_with_variables_and_stars():
    renamer = NamespaceRenamer(
        ["shop.$coll$", "data.$prefix$_$customer$", "*.legacy_*"],
        ["shop_copy.$coll$", "$customer$.$prefix$", "*.*"],
    )
    assert renamer.rename("shop.orders") == "shop_copy.orders"
    assert renamer.rename("data.x_acme") == "acme.x"
    assert renamer.rename("logs.legacy_events") == "logs.events"
    assert renamer.rename("other.thing") == "other.thing"
    assert NamespaceRenamer([], []).empty
    with pytest.raises(UsageError, match="--ns-to"):
        NamespaceRenamer(["a.*"], [])
    with pytest.raises(UsageError, match="lacks"):
        NamespaceRenamer(["a.$x$"], ["b.$y$"])
    with pytest.raises(UsageError, match="more"):
        NamespaceRenamer(["a.b"], ["c.*"])


def test_which_collections_a_dump_takes():
    assert is_dumped_collection("shop", "orders")
    assert is_dumped_collection("shop", "system.js")
    assert is_dumped_collection("admin", "system.users")
    assert not is_dumped_collection("shop", "system.views")
    assert not is_dumped_collection("shop", "system.buckets.m")
    assert not is_dumped_collection("shop", "system.profile")
    assert split_namespace("a.b.c") == ("a", "b.c")
    with pytest.raises(ValueError):
        split_namespace("nodot")


@pytest.mark.parametrize(
    ("entry", "namespaces"),
    [
        ({"op": "i", "ns": "shop.c", "o": {}}, ["shop.c"]),
        ({"op": "n", "ns": "", "o": {"msg": "x"}}, []),
        ({"op": "c", "ns": "shop.$cmd", "o": {"create": "c"}}, ["shop.c"]),
        ({"op": "c", "ns": "shop.$cmd", "o": {"dropDatabase": 1}}, ["shop.*"]),
        (
            {"op": "c", "ns": "admin.$cmd", "o": {"renameCollection": "a.b", "to": "c.d"}},
            ["a.b", "c.d"],
        ),
        (
            {
                "op": "c",
                "ns": "admin.$cmd",
                "o": {
                    "applyOps": [
                        {"op": "i", "ns": "a.x", "o": {}},
                        {"op": "d", "ns": "b.y", "o": {}},
                    ]
                },
            },
            ["a.x", "b.y"],
        ),
    ],
)
def test_oplog_entry_namespaces(entry, namespaces):
    assert oplog_entry_namespaces(entry) == namespaces


def test_select_oplog_entries():
    selection = NamespaceFilter(databases=("a",))
    keep = lambda entry: select_oplog_entry(entry, selection.accepts, selection.accepts_database)  # noqa: E731
    assert keep({"op": "i", "ns": "a.x", "o": {}}) == {"op": "i", "ns": "a.x", "o": {}}
    assert keep({"op": "i", "ns": "b.x", "o": {}}) is None
    assert keep({"op": "n", "ns": "", "o": {}}) is None
    transaction = {
        "op": "c",
        "ns": "admin.$cmd",
        "o": {"applyOps": [{"op": "i", "ns": "a.x", "o": {}}, {"op": "i", "ns": "b.y", "o": {}}]},
    }
    assert keep(transaction)["o"]["applyOps"] == [{"op": "i", "ns": "a.x", "o": {}}]
    assert keep({"op": "c", "ns": "b.$cmd", "o": {"dropDatabase": 1}}) is None
    assert keep({"op": "c", "ns": "a.$cmd", "o": {"dropDatabase": 1}}) is not None
    assert keep({"op": "c", "ns": "admin.$cmd", "o": {"renameCollection": "b.q", "to": "a.q"}})


def test_parse_oplog_limit():
    assert parse_oplog_limit("1700000000:5") == OplogTimestamp(1700000000, 5)
    assert parse_oplog_limit(" 1700000000 ") == OplogTimestamp(1700000000, 0)
    assert str(OplogTimestamp(1, 2)) == "1:2" and OplogTimestamp(1, 2) < OplogTimestamp(2, 0)
    for bad in ("", "soon", "1:2:3", "-1", "99999999999"):
        with pytest.raises(UsageError):
            parse_oplog_limit(bad)
