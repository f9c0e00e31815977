"""`indexes report` verdicts on plain data: what the members reported in, verdicts out."""

import datetime as dt
import json
from pathlib import Path

import pytest

from toolkit.actions.indexes import render_html, render_json, render_markdown, summary_line
from toolkit.catalog.load import load_catalog
from toolkit.plan.indexes import (
    IndexObservation,
    MemberUsage,
    ObservedIndex,
    assess_indexes,
    parse_kinds,
)
from toolkit.plan.redundancy import IndexShape, coverage
from toolkit.units import format_bytes

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=30)
MEMBERS = ("m0:27017", "m1:27017", "m2:27017")


def index(
    name,
    key,
    ops=(5, 0, 0),
    since=(OLD, OLD, OLD),
    building=(),
    size=8192,
    db="shop",
    collection="c",
    **options,
):
    """An ObservedIndex with one counter per member (ops and since per member)."""
    usage = tuple(
        MemberUsage(member, count, moment, member in building)
        for member, count, moment in zip(MEMBERS, ops, since, strict=True)
    )
    spec = {"v": 2, "key": dict(key), "name": name, **options}
    return ObservedIndex(db, collection, name, tuple(key.items()), spec, usage, size)


def observe(*indexes, unreachable=(), databases=("shop",)):
    return IndexObservation(
        databases=databases,
        indexes=indexes,
        members=MEMBERS,
        unreachable=unreachable,
        topology="replica set",
    )


def verdicts(report):
    return {row.name: set(row.kinds) for row in report.indexes}


UNUSED = (0, 0, 0)

# name -> (observed index, the verdicts the report must give)
CASES = {
    # plain prefix: {a} is covered by {a, b}
    "a_1": (index("a_1", {"a": 1}), {"redundant"}),
    "a_1_b_1": (index("a_1_b_1", {"a": 1, "b": 1}), set()),
    # direction-flipped prefix: {c: 1, d: 1} read backwards is {c: -1, d: -1}
    "c_1_d_1": (index("c_1_d_1", {"c": 1, "d": 1}), {"redundant"}),
    "c_-1_d_-1_x_1": (index("c_-1_d_-1_x_1", {"c": -1, "d": -1, "x": 1}), set()),
    # directions flipped only in part: not a prefix
    "e_1_f_1": (index("e_1_f_1", {"e": 1, "f": 1}), set()),
    "e_-1_f_1_g_1": (index("e_-1_f_1_g_1", {"e": -1, "f": 1, "g": 1}), set()),
    # whole field names: {f1} is not a prefix of {f10}
    "f1_1": (index("f1_1", {"f1": 1}), set()),
    "f10_1_y_1": (index("f10_1_y_1", {"f10": 1, "y": 1}), set()),
    # unique is a constraint, even when a longer index starts with it
    "u_1": (index("u_1", {"u": 1}, ops=UNUSED, unique=True), set()),
    "u_1_v_1": (index("u_1_v_1", {"u": 1, "v": 1}), set()),
    # TTL is a constraint too
    "t_1": (index("t_1", {"t": 1}, ops=UNUSED, expireAfterSeconds=3600), set()),
    "t_1_z_1": (index("t_1_z_1", {"t": 1, "z": 1}), set()),
    # a partial index covers only its own filter
    "p_1": (index("p_1", {"p": 1}), set()),
    "p_1_q_1": (
        index("p_1_q_1", {"p": 1, "q": 1}, partialFilterExpression={"q": {"$gt": 5}}),
        set(),
    ),
    "pp_1": (index("pp_1", {"pp": 1}, partialFilterExpression={"on": True}), {"redundant"}),
    "pp_1_r_1": (index("pp_1_r_1", {"pp": 1, "r": 1}, partialFilterExpression={"on": True}), set()),
    # a sparse index covers only a sparse one
    "s_1": (index("s_1", {"s": 1}), set()),
    "s_1_w_1": (index("s_1_w_1", {"s": 1, "w": 1}, sparse=True), set()),
    # a hidden index covers nothing (the planner cannot use it)
    "h_1": (index("h_1", {"h": 1}), set()),
    "h_1_k_1": (index("h_1_k_1", {"h": 1, "k": 1}, hidden=True), {"hidden"}),
    # collations must be equal
    "n_1": (index("n_1", {"n": 1}, collation={"locale": "fr", "strength": 2}), set()),
    "n_1_o_1": (index("n_1_o_1", {"n": 1, "o": 1}), set()),
    # a compound text index serves only $text queries
    "title_1": (index("title_1", {"title": 1}), set()),
    "title_1_text": (
        index("title_1_text", {"title": 1, "_fts": "text", "_ftsx": 1}, weights={"body": 1}),
        set(),
    ),
    # hashed: not a range index for a prefix, and a hashed index is never the covered one
    "hh_1": (index("hh_1", {"hh": 1}), set()),
    "hh_hashed": (index("hh_hashed", {"hh": "hashed"}), set()),
    "j_1": (index("j_1", {"j": 1}), {"redundant"}),
    "j_1_l_hashed": (index("j_1_l_hashed", {"j": 1, "l": "hashed"}), set()),
    # sparse and not: the sparse one is a duplicate of the full one
    "dd_sparse": (index("dd_sparse", {"dd": 1}, sparse=True), {"duplicate"}),
    "dd_1": (index("dd_1", {"dd": 1}), set()),
    # zero operations but one member's counters are two days old: warming-up
    "warm_1": (
        index("warm_1", {"warm": 1}, ops=UNUSED, since=(OLD, NOW - dt.timedelta(days=2), OLD)),
        {"warming-up"},
    ),
    # unused on two members, used on the third: used
    "used_on_m2_1": (index("used_on_m2_1", {"used_on_m2": 1}, ops=(0, 0, 7)), set()),
    # zero operations everywhere for 30 days
    "idle_1": (index("idle_1", {"idle": 1}, ops=UNUSED), {"unused"}),
    # still building on one member
    "new_1": (index("new_1", {"new": 1}, ops=UNUSED, building=("m1:27017",)), {"building"}),
}


@pytest.fixture(scope="module")
def report():
    observation = observe(*(observed for observed, _ in CASES.values()))
    return assess_indexes(observation, None, NOW, min_age_seconds=7 * 86400)


@pytest.mark.parametrize("name", list(CASES))
def test_verdict_table(report, name):
    assert verdicts(report)[name] == CASES[name][1]


def test_constraints_are_kept_and_never_unused(report):
    rows = {row.name: row for row in report.indexes}
    assert rows["u_1"].keep == rows["t_1"].keep == "constraint"
    assert not rows["u_1"].cleanup and not rows["t_1"].cleanup


def test_cleanup_frees_the_droppable_indexes(report):
    [summary] = report.collections
    assert set(summary.cleanup) == {"a_1", "c_1_d_1", "pp_1", "j_1", "dd_sparse", "idle_1"}
    assert summary.cleanup_bytes == 6 * 8192
    assert report.cleanup_bytes == 6 * 8192


def test_redundant_reason_says_which_index_and_how(report):
    rows = {row.name: row for row in report.indexes}
    assert rows["c_1_d_1"].covered_by == "c_-1_d_-1_x_1"
    [verdict] = rows["c_1_d_1"].verdicts
    assert verdict.reason == "a prefix of c_-1_d_-1_x_1 with every direction flipped"
    assert rows["a_1"].verdicts[0].reason == "a prefix of a_1_b_1"


def test_unused_needs_every_member_readable():
    observation = observe(index("idle_1", {"idle": 1}, ops=UNUSED), unreachable=("m3:27017",))
    report = assess_indexes(observation, None, NOW)
    assert verdicts(report) == {"idle_1": set()}


def test_through_a_mongos_an_idle_index_is_usage_unknown_never_unused():
    """A mongos reads $indexStats from one node per shard: the shards' secondaries may
    serve the reads, so zero operations there proves nothing."""
    shard_nodes = ("shardA/a0:27018", "shardB/b0:27018")

    def on_shards(name, key, ops):
        usage = tuple(
            MemberUsage(node, count, OLD) for node, count in zip(shard_nodes, ops, strict=True)
        )
        return ObservedIndex("shop", "c", name, tuple(key.items()), {"key": key}, usage, 4096)

    observation = IndexObservation(
        databases=("shop",),
        indexes=(
            on_shards("idle_1", {"idle": 1}, (0, 0)),
            on_shards("used_1", {"used": 1}, (0, 3)),
            on_shards("a_1", {"a": 1}, (0, 0)),
            on_shards("a_1_b_1", {"a": 1, "b": 1}, (5, 0)),
        ),
        members=shard_nodes,
        topology="sharded",
    )
    report = assess_indexes(observation, None, NOW)
    assert verdicts(report) == {
        "idle_1": {"usage-unknown"},
        "used_1": set(),
        "a_1": {"usage-unknown", "redundant"},
        "a_1_b_1": set(),
    }
    rows = {row.name: row for row in report.indexes}
    assert not rows["idle_1"].cleanup
    assert rows["a_1"].cleanup  # covered by a_1_b_1 whatever its usage
    [verdict] = rows["idle_1"].verdicts
    assert "shards' secondaries were not read" in verdict.reason
    assert "against each shard's replica set" in verdict.reason
    assert "shardA/a0:27018, shardB/b0:27018" in verdict.reason
    assert report.counts()["unused"] == 0 and report.counts()["usage-unknown"] == 2
    payload = next(item for item in render_json(report) if item["name"] == "idle_1")
    assert payload["verdicts"] == ["usage-unknown"] and payload["cleanup"] is False
    assert payload["reasons"][0].startswith("usage-unknown: 0 operations on the node each shard")


def test_min_age_decides_between_unused_and_warming_up():
    observation = observe(index("idle_1", {"idle": 1}, ops=UNUSED))
    assert verdicts(assess_indexes(observation, None, NOW, 7 * 86400)) == {"idle_1": {"unused"}}
    assert verdicts(assess_indexes(observation, None, NOW, 60 * 86400)) == {
        "idle_1": {"warming-up"}
    }


def test_two_indexes_covering_each_other_are_not_both_dropped():
    observation = observe(
        index("m_1", {"m": 1}, ops=(3, 0, 0)),
        index("m_-1", {"m": -1}, ops=(1, 0, 0)),
    )
    report = assess_indexes(observation, None, NOW)
    assert verdicts(report) == {"m_1": {"redundant"}, "m_-1": {"redundant"}}
    dropped = [row.name for row in report.indexes if row.cleanup]
    assert dropped == ["m_-1"]  # the one with fewer operations goes
    kept = next(row for row in report.indexes if row.name == "m_1")
    assert kept.keep == "its covering index is proposed for dropping itself"


def test_a_redundant_index_stays_when_its_cover_is_unused():
    observation = observe(
        index("a_1", {"a": 1}, ops=(9, 9, 9)),
        index("a_1_b_1", {"a": 1, "b": 1}, ops=UNUSED),
    )
    report = assess_indexes(observation, None, NOW)
    assert verdicts(report) == {"a_1": {"redundant"}, "a_1_b_1": {"unused"}}
    assert [row.name for row in report.indexes if row.cleanup] == ["a_1_b_1"]


def test_a_cover_still_building_covers_nothing():
    observation = observe(
        index("a_1", {"a": 1}),
        index("a_1_b_1", {"a": 1, "b": 1}, ops=UNUSED, building=("m0:27017",)),
    )
    assert verdicts(assess_indexes(observation, None, NOW)) == {
        "a_1": set(),
        "a_1_b_1": {"building"},
    }


# --------------------------------------------------------------------------- catalog drift

CATALOG = """
databases:
  shop:
    collections:
      orders:
        indexes:
          - keys: {customer: 1}
          - keys: {status: 1}
            unique: true
          - keys: {created: 1}
        shard:
          key: {region: 1, customer: 1}
      metrics:
        timeseries: {time_field: ts, meta_field: meta}
"""


def test_drift_against_the_catalog(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(CATALOG)
    catalog = load_catalog(path)
    observation = observe(
        index("_id_", {"_id": 1}, collection="orders"),
        index("customer_1", {"customer": 1}, collection="orders"),
        index("status_1", {"status": 1}, collection="orders"),  # not unique on the server
        index("legacy_1", {"legacy": 1}, collection="orders"),
        # what shard apply creates for the shard key: not extra
        index("region_1_customer_1", {"region": 1, "customer": 1}, collection="orders"),
        # the time-series default index: not extra
        index("meta_1_ts_1", {"meta": 1, "ts": 1}, collection="metrics"),
        index("x_1", {"x": 1}, collection="undeclared"),
    )
    report = assess_indexes(observation, catalog, NOW)
    found = {(row.collection, row.name): set(row.kinds) for row in report.indexes}
    assert found == {
        ("orders", "_id_"): set(),
        ("orders", "customer_1"): set(),
        ("orders", "status_1"): {"options-differ"},
        ("orders", "legacy_1"): {"extra"},
        ("orders", "region_1_customer_1"): set(),
        ("orders", "created_1"): {"missing"},
        ("metrics", "meta_1_ts_1"): set(),
        ("undeclared", "x_1"): {"extra"},
    }
    status = next(row for row in report.indexes if row.name == "status_1")
    assert status.verdicts[0].reason == "differs from the catalog in unique"


def test_databases_outside_the_catalog_get_no_drift(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(CATALOG)
    observation = observe(index("x_1", {"x": 1}, db="other"), databases=("other",))
    report = assess_indexes(observation, load_catalog(path), NOW)
    assert verdicts(report) == {"x_1": set()}


# --------------------------------------------------------------------------- redundancy rules


def shape(name, keys, **options):
    return IndexShape.from_options(name, tuple(keys.items()), options)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (shape("a", {"a": 1}), shape("b", {"a": 1, "b": 1}), "redundant"),
        (shape("a", {"a": 1, "b": -1}), shape("b", {"a": -1, "b": 1}), "redundant"),
        (shape("a", {"a": 1}), shape("b", {"a": 1}), "duplicate"),
        (shape("a", {"f1": 1}), shape("b", {"f10": 1}), None),
        (shape("a", {"a": 1}), shape("b", {"a": "2dsphere", "b": 1}), None),
        (shape("a", {"a": 1}), shape("b", {"a": 1, "loc": "2dsphere"}), None),
        (shape("a", {"a": 1}), shape("b", {"a": 1, "$**": 1}), None),
        (shape("a", {"$**": 1}), shape("b", {"$**": 1, "x": 1}), None),
        (
            shape("a", {"a": 1}, collation={"locale": "simple"}),
            shape("b", {"a": 1, "b": 1}),
            "redundant",
        ),
        (
            shape("a", {"a": 1}, collation={"locale": "en"}),
            shape("b", {"a": 1, "b": 1}, collation={"locale": "en", "strength": 3}),
            "redundant",  # strength 3 is the default: the same collation
        ),
        (
            shape("a", {"a": 1}, partialFilterExpression={"x": 1}),
            shape("b", {"a": 1, "b": 1}, partialFilterExpression={"x": 1.0}),
            "redundant",
        ),
    ],
)
def test_coverage_rules(a, b, expected):
    assert coverage(a, b) == expected


# --------------------------------------------------------------------------- formats


def test_parse_kinds():
    assert parse_kinds("unused, redundant,missing") == ("unused", "redundant", "missing")
    with pytest.raises(ValueError, match="unknown verdict"):
        parse_kinds("unused,bogus")
    with pytest.raises(ValueError):
        parse_kinds(" , ")


def test_format_bytes():
    assert format_bytes(None) == ""
    assert format_bytes(512) == "512 B"
    assert format_bytes(8192) == "8.0 KiB"
    assert format_bytes(3 * 2**30) == "3.0 GiB"


def test_json_is_a_list_with_ops_per_member(report):
    payload = render_json(report)
    json.dumps(payload, default=str)
    row = next(item for item in payload if item["name"] == "used_on_m2_1")
    assert row["db"] == "shop" and row["collection"] == "c"
    assert row["key"] == {"used_on_m2": 1}
    assert row["ops"] == {"m0:27017": 0, "m1:27017": 0, "m2:27017": 7}
    assert row["since"]["m0:27017"] == "2026-10-24T12:00:00Z"
    assert row["size"] == 8192 and row["verdicts"] == []
    idle = next(item for item in payload if item["name"] == "idle_1")
    assert idle["verdicts"] == ["unused"] and idle["cleanup"] is True


def test_markdown_lists_findings_and_escapes(report):
    text = render_markdown(report)
    assert text.startswith("### MongoDB index report")
    assert "| `shop.c` | `idle_1` | `{idle: 1}` |" in text
    assert "**Cleanup**" in text and "frees 48.0 KiB" in text
    assert "<details><summary>All indexes</summary>" in text


def test_html_is_standalone_with_bars_and_escaped(tmp_path):
    observation = observe(index("<script>_1", {"<script>": 1}, ops=UNUSED))
    text = render_html(assess_indexes(observation, None, NOW))
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert 'class="bar size"' in text and 'class="bar usage"' in text
    assert "http" not in text  # nothing fetched from elsewhere


def test_summary_line(report):
    assert summary_line(report).startswith(f"{len(CASES)} indexes in 1 collections:")
