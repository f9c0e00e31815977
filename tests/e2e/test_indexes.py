"""`indexes report` end to end: the CLI against a three-member replica set whose members
count index use separately, a mongos, and (marked live) a real MongoDB."""

import datetime as dt
import json
from pathlib import Path

import pytest
from pymongo import ASCENDING, DESCENDING, HASHED, TEXT, MongoClient

from tests.e2e.cli import run_cli
from tests.support.server import MongoTestServer

OLD = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
RECENT = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
NO_CATALOG = "/nonexistent/catalog.yaml"

# Each case: the index created on shop.c, its ops on members 0/1/2 (None: counters
# two days old on member 1, all zero), and the verdicts the report must give.
CASES = [
    # plain prefix
    ("a_1", [("a", ASCENDING)], {}, (4, 0, 0), {"redundant"}),
    ("a_1_b_1", [("a", ASCENDING), ("b", ASCENDING)], {}, (4, 0, 0), set()),
    # direction-flipped prefix
    ("c_1_d_1", [("c", ASCENDING), ("d", ASCENDING)], {}, (1, 0, 0), {"redundant"}),
    (
        "c_-1_d_-1_e_1",
        [("c", DESCENDING), ("d", DESCENDING), ("e", ASCENDING)],
        {},
        (1, 0, 0),
        set(),
    ),
    # whole field names: {f1} is no prefix of {f10}
    ("f1_1", [("f1", ASCENDING)], {}, (1, 0, 0), set()),
    ("f10_1_g_1", [("f10", ASCENDING), ("g", ASCENDING)], {}, (1, 0, 0), set()),
    # unique and TTL are constraints: never redundant, never unused
    ("u_1", [("u", ASCENDING)], {"unique": True}, (0, 0, 0), set()),
    ("u_1_v_1", [("u", ASCENDING), ("v", ASCENDING)], {}, (1, 0, 0), set()),
    ("t_1", [("t", ASCENDING)], {"expireAfterSeconds": 3600}, (0, 0, 0), set()),
    ("t_1_w_1", [("t", ASCENDING), ("w", ASCENDING)], {}, (1, 0, 0), set()),
    # a partial index covers nothing but its own filter
    ("p_1", [("p", ASCENDING)], {}, (1, 0, 0), set()),
    (
        "p_1_q_1",
        [("p", ASCENDING), ("q", ASCENDING)],
        {"partialFilterExpression": {"q": {"$gt": 5}}},
        (1, 0, 0),
        set(),
    ),
    # a sparse index covers only a sparse one
    ("s_1", [("s", ASCENDING)], {}, (1, 0, 0), set()),
    ("s_1_x_1", [("s", ASCENDING), ("x", ASCENDING)], {"sparse": True}, (1, 0, 0), set()),
    # a hidden index covers nothing
    ("h_1", [("h", ASCENDING)], {}, (1, 0, 0), set()),
    ("h_1_k_1", [("h", ASCENDING), ("k", ASCENDING)], {"hidden": True}, (1, 0, 0), {"hidden"}),
    # collations must match
    ("n_1", [("n", ASCENDING)], {"collation": {"locale": "fr", "strength": 2}}, (1, 0, 0), set()),
    ("n_1_o_1", [("n", ASCENDING), ("o", ASCENDING)], {}, (1, 0, 0), set()),
    # a compound text index serves only $text
    ("title_1", [("title", ASCENDING)], {}, (1, 0, 0), set()),
    ("title_1_body_text", [("title", ASCENDING), ("body", TEXT)], {}, (1, 0, 0), set()),
    # hashed: no range prefix
    ("hh_1", [("hh", ASCENDING)], {}, (1, 0, 0), set()),
    ("hh_hashed", [("hh", HASHED)], {}, (1, 0, 0), set()),
    # counters restarted two days ago on member 1: warming-up, not unused
    ("warm_1", [("warm", ASCENDING)], {}, None, {"warming-up"}),
    # unused on members 0 and 1, used on member 2
    ("used_on_2_1", [("used_on_2", ASCENDING)], {}, (0, 0, 9), set()),
    # no operations anywhere for 30 days
    ("idle_1", [("idle", ASCENDING)], {}, (0, 0, 0), {"unused"}),
]


def build_cases(replset) -> None:
    client = replset.client()
    collection = client.shop.c
    collection.insert_one({"_id": 1})
    for name, keys, options, _, _ in CASES:
        collection.create_index(keys, name=name, **options)
    client.close()
    for member_index, member in enumerate(replset.members):
        member.set_index_stats("shop", "c", "_id_", ops=3, since=OLD)
        for name, _, _, ops, _ in CASES:
            if ops is None:
                since = RECENT if member_index == 1 else OLD
                member.set_index_stats("shop", "c", name, ops=0, since=since)
            else:
                member.set_index_stats("shop", "c", name, ops=ops[member_index], since=OLD)


def report_json(uri: str, *args: str) -> list[dict]:
    result = run_cli("--catalog", NO_CATALOG, "--json", "indexes", "report", *args, uri=uri)
    assert result.returncode == 0, result.output
    return result.json()


@pytest.fixture
def cases(replset):
    build_cases(replset)
    return replset


def test_verdict_table_merged_across_three_members(cases):
    rows = {row["name"]: row for row in report_json(cases.uri, "--db", "shop")}
    found = {name: set(rows[name]["verdicts"]) for name, *_ in CASES}
    assert found == {name: expected for name, _, _, _, expected in CASES}
    members = [member.host for member in cases.members]
    assert list(rows["used_on_2_1"]["ops"]) == members
    assert list(rows["used_on_2_1"]["ops"].values()) == [0, 0, 9]
    assert rows["u_1"]["keep"] == rows["t_1"]["keep"] == rows["_id_"]["keep"] == "constraint"
    assert rows["idle_1"]["cleanup"] and rows["a_1"]["cleanup"] and rows["c_1_d_1"]["cleanup"]
    assert rows["a_1"]["covered_by"] == "a_1_b_1"
    assert rows["c_1_d_1"]["covered_by"] == "c_-1_d_-1_e_1"
    assert all(isinstance(row["size"], int) and row["size"] > 0 for row in rows.values())


def test_fail_on_exit_codes(cases):
    uri = cases.uri
    failing = run_cli("--catalog", NO_CATALOG, "indexes", "report", "--fail-on", "unused", uri=uri)
    assert failing.returncode == 3, failing.output
    assert "1 index finding(s) match --fail-on unused: shop.c idle_1 (unused)" in failing.stderr
    several = run_cli(
        "--catalog", NO_CATALOG, "indexes", "report", "--fail-on", "redundant,hidden", uri=uri
    )
    assert several.returncode == 3 and "3 index finding(s)" in several.stderr
    clean = run_cli(
        "--catalog", NO_CATALOG, "indexes", "report", "--fail-on", "duplicate,building", uri=uri
    )
    assert clean.returncode == 0, clean.output
    wrong = run_cli("--catalog", NO_CATALOG, "indexes", "report", "--fail-on", "bogus", uri=uri)
    assert wrong.returncode == 2 and "unknown verdict(s) bogus" in wrong.stderr
    # --json output stays one JSON document even when --fail-on trips
    gated = run_cli(
        "--catalog", NO_CATALOG, "--json", "indexes", "report", "--fail-on", "unused", uri=uri
    )
    assert gated.returncode == 3 and isinstance(gated.json(), list)


def test_table_markdown_and_html(cases, tmp_path):
    uri = cases.uri
    table = run_cli("--catalog", NO_CATALOG, "indexes", "report", uri=uri)
    assert table.returncode == 0, table.output
    assert "shop.c: 26 indexes" in table.stdout and "a cleanup would free" in table.stdout
    assert "replica set; counters from 3 member(s)" in table.stdout
    markdown = tmp_path / "report.md"
    written = run_cli(
        "--catalog",
        NO_CATALOG,
        "indexes",
        "report",
        "--format",
        "markdown",
        "--out",
        str(markdown),
        uri=uri,
    )
    assert written.returncode == 0 and written.stdout == ""
    text = markdown.read_text()
    assert text.startswith("### MongoDB index report") and "| `shop.c` | `idle_1` |" in text
    page = tmp_path / "report.html"
    run_cli(
        "--catalog",
        NO_CATALOG,
        "indexes",
        "report",
        "--format",
        "html",
        "--out",
        str(page),
        uri=uri,
    )
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.count('class="bar size"') == 26


def test_a_member_down_means_nothing_is_called_unused(cases):
    cases.member(2).set_down(True)
    rows = {row["name"]: row for row in report_json(cases.uri)}
    assert rows["idle_1"]["verdicts"] == []
    assert rows["a_1"]["verdicts"] == ["redundant"]  # coverage does not depend on counters
    assert len(rows["idle_1"]["ops"]) == 2
    table = run_cli("--catalog", NO_CATALOG, "indexes", "report", uri=cases.uri)
    assert "unreachable:" in table.stdout


CATALOG = """
databases:
  shop:
    collections:
      orders:
        indexes:
          - keys: {customer: 1}
          - keys: {status: 1}
            unique: true
          - keys: {created: -1}
"""


def test_drift_against_the_catalog(replset, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    client = replset.client()
    client.shop.orders.create_index("customer")
    client.shop.orders.create_index("status")  # not unique on the server
    client.shop.orders.create_index("legacy")
    client.close()
    result = run_cli("--catalog", str(catalog), "--json", "indexes", "report", uri=replset.uri)
    assert result.returncode == 0, result.output
    drift = {"missing", "extra", "options-differ"}
    found = {row["name"]: drift & set(row["verdicts"]) for row in result.json()}
    # (the indexes were built seconds ago, so their counters are warming-up too)
    assert found == {
        "_id_": set(),
        "customer_1": set(),
        "status_1": {"options-differ"},
        "legacy_1": {"extra"},
        "created_-1": {"missing"},
    }
    gate = run_cli(
        "--catalog",
        str(catalog),
        "indexes",
        "report",
        "--fail-on",
        "missing,extra",
        uri=replset.uri,
    )
    assert gate.returncode == 3


def test_through_a_mongos_counters_are_per_shard(mongos_server):
    client = MongoClient(mongos_server.uri)
    client.admin.command("addShard", "shardA/127.0.0.1:1")
    client.shop.c.insert_one({"a": 1})
    client.shop.c.create_index("a")
    client.close()
    mongos_server.set_index_stats("shop", "c", "a_1", ops=2, since=OLD)
    rows = {row["name"]: row for row in report_json(mongos_server.uri, "--db", "shop")}
    assert list(rows["a_1"]["ops"]) == [f"shardA/{mongos_server.host}"]
    assert rows["a_1"]["ops_total"] == 2


def test_through_a_mongos_an_idle_index_is_never_called_unused(mongos_server):
    """The mongos reads one node per shard; an index used only on shard secondaries
    would look idle, so the report says usage is unknown and proposes no drop."""
    client = MongoClient(mongos_server.uri)
    client.admin.command("addShard", "shardA/127.0.0.1:1")
    client.shop.c.insert_one({"idle": 1})
    client.shop.c.create_index("idle")
    client.close()
    mongos_server.set_index_stats("shop", "c", "idle_1", ops=0, since=OLD)
    rows = {row["name"]: row for row in report_json(mongos_server.uri, "--db", "shop")}
    idle = rows["idle_1"]
    assert idle["verdicts"] == ["usage-unknown"]
    assert idle["cleanup"] is False
    [reason] = idle["reasons"]
    assert "shards' secondaries were not read" in reason
    assert "against each shard's replica set" in reason
    gate = run_cli(
        "--catalog", NO_CATALOG, "indexes", "report", "--fail-on", "unused", uri=mongos_server.uri
    )
    assert gate.returncode == 0, gate.output
    assert "usage-unknown" in gate.stdout


def test_permission_error_names_the_role():
    with MongoTestServer(auth=True) as locked:
        result = run_cli("--catalog", NO_CATALOG, "indexes", "report", uri=locked.uri)
    assert result.returncode == 1, result.output
    assert "clusterMonitor" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_wrong_password_is_an_authentication_failure_not_a_missing_role():
    with MongoTestServer(auth=True) as locked:
        bootstrap = MongoClient(locked.uri)
        bootstrap.admin.command("createUser", "root", pwd="right-one", roles=["root"])
        bootstrap.close()
        uri = f"mongodb://root:wrong-one@{locked.host}/?authSource=admin"
        result = run_cli("--catalog", NO_CATALOG, "indexes", "report", uri=uri)
    assert result.returncode == 1, result.output
    assert "authentication failed" in result.stderr and "(code 18)" in result.stderr
    assert "authSource" in result.stderr
    assert "clusterMonitor" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.live
def test_report_on_any_server(server):
    client = server.client()
    collection = client[server.database_name].things
    collection.insert_one({"a": 1, "b": 2})
    collection.create_index([("a", ASCENDING)])
    collection.create_index([("a", ASCENDING), ("b", ASCENDING)])
    collection.create_index([("u", ASCENDING)], unique=True)
    result = run_cli(
        "--catalog",
        NO_CATALOG,
        "--json",
        "indexes",
        "report",
        "--db",
        server.database_name,
        uri=server.uri,
    )
    assert result.returncode == 0, result.output
    rows = {row["name"]: row for row in result.json()}
    assert set(rows) == {"_id_", "a_1", "a_1_b_1", "u_1"}
    assert "redundant" in rows["a_1"]["verdicts"]
    assert rows["u_1"]["keep"] == "constraint"
    # counters of indexes built seconds ago are too young to call anything unused
    assert "unused" not in rows["a_1_b_1"]["verdicts"]
    json.dumps(rows)
    assert Path(NO_CATALOG).exists() is False
