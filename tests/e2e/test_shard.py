"""`shard plan|apply` end to end against the mongos test server (and, marked live, a real
mongos when MONGODB_URI names one)."""

import uuid
from pathlib import Path

import pytest
from bson import MaxKey, MinKey
from pymongo import MongoClient

from tests.e2e.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]

CATALOG = """
databases:
  shop:
    collections:
      orders:
        validator:
          $jsonSchema:
            bsonType: object
            required: [region, customer_id]
            properties: {region: {bsonType: string}, customer_id: {bsonType: string}}
        indexes:
          - keys: {region: 1, customer_id: 1, created: -1}
        shard:
          key: {region: 1, customer_id: 1}
          zones:
            - zone: EU
              min: {region: eu, customer_id: {$minKey: 1}}
              max: {region: ev, customer_id: {$minKey: 1}}
            - zone: US
              min: {region: us, customer_id: {$minKey: 1}}
              max: {region: ut, customer_id: {$minKey: 1}}
      events:
        shard:
          key: {device: hashed}
      notes: {}
sharding:
  zones: {EU: [shardEU], US: [shardUS]}
  balancer_window: "01:00-05:00"
"""


def add_shards(uri: str, *names: str) -> None:
    client = MongoClient(uri)
    for number, name in enumerate(names, start=1):
        client.admin.command("addShard", f"{name}/127.0.0.1:{27100 + number}")
    client.close()


@pytest.fixture
def cluster(mongos_server, tmp_path):
    add_shards(mongos_server.uri, "shardEU", "shardUS")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    return mongos_server, catalog


def shard_cli(catalog: Path, uri: str, *args: str):
    return run_cli("--catalog", str(catalog), *args, uri=uri)


def test_plan_apply_plan_is_empty(cluster):
    mongos, catalog = cluster
    first = shard_cli(catalog, mongos.uri, "--json", "shard", "plan")
    assert first.returncode == 0, first.output
    plan = first.json()
    assert [op["kind"] for op in plan["operations"]] == [
        "add-shard-to-zone",
        "add-shard-to-zone",
        "create-collection",
        "create-index",
        "shard-collection",
        "create-collection",
        "create-index",
        "update-zone-range",
        "update-zone-range",
        "shard-collection",
        "set-balancer-window",
    ]
    assert plan["conflicts"] == []
    # the supporting index comes from the catalog's own declaration
    orders_index = plan["operations"][6]["command"]["indexes"][0]
    assert orders_index["name"] == "region_1_customer_id_1_created_-1"

    gate = shard_cli(catalog, mongos.uri, "shard", "plan", "--check")
    assert gate.returncode == 3, gate.output

    applied = shard_cli(catalog, mongos.uri, "--json", "shard", "apply")
    assert applied.returncode == 0, applied.output
    assert applied.json()["changed"] is True and applied.json()["done"] == 11

    again = shard_cli(catalog, mongos.uri, "shard", "plan", "--check")
    assert again.returncode == 0, again.output
    assert "sharding is in sync" in again.stdout
    second = shard_cli(catalog, mongos.uri, "--json", "shard", "apply")
    assert second.json() == {"changed": False, "done": 0, "skipped": 0, "operations": []}

    client = MongoClient(mongos.uri)
    shards = {s["_id"]: s.get("tags", []) for s in client.admin.command("listShards")["shards"]}
    assert shards == {"shardEU": ["EU"], "shardUS": ["US"]}
    keys = {c["_id"]: c["key"] for c in client.config.collections.find()}
    assert keys == {
        "shop.orders": {"region": 1, "customer_id": 1},
        "shop.events": {"device": "hashed"},
    }
    ranges = sorted(
        (t["tag"], t["min"], t["max"]) for t in client.config.tags.find({"ns": "shop.orders"})
    )
    assert ranges == [
        (
            "EU",
            {"region": "eu", "customer_id": MinKey()},
            {"region": "ev", "customer_id": MinKey()},
        ),
        (
            "US",
            {"region": "us", "customer_id": MinKey()},
            {"region": "ut", "customer_id": MinKey()},
        ),
    ]
    window = client.config.settings.find_one({"_id": "balancer"})["activeWindow"]
    assert window == {"start": "01:00", "stop": "05:00"}
    # the collection was created with its validator before it was sharded
    options = client.shop.command("listCollections", filter={"name": "orders"})
    assert "validator" in options["cursor"]["firstBatch"][0]["options"]
    client.close()


PREFIX_CATALOG = """
databases:
  shop:
    collections:
      accounts:
        shard:
          key: {region: 1, customer_id: 1}
          zones:
            - {zone: EU, min: {region: eu}, max: {region: ev}}
            - {zone: US, min: {region: us}, max: {region: ut}}
sharding:
  zones: {EU: [shardEU], US: [shardUS]}
"""


@pytest.mark.parametrize("sharded_first", [False, True])
def test_zone_ranges_on_a_prefix_of_the_key(cluster, sharded_first):
    """Ranges the catalog writes on a prefix of the shard key are stored with the whole
    key (MinKey filled in), and a second plan finds them."""
    mongos, catalog = cluster
    catalog.write_text(PREFIX_CATALOG)
    if sharded_first:
        client = MongoClient(mongos.uri)
        client.admin.command(
            "shardCollection", "shop.accounts", key={"region": 1, "customer_id": 1}
        )
        client.close()
    applied = shard_cli(catalog, mongos.uri, "--json", "shard", "apply")
    assert applied.returncode == 0, applied.output
    again = shard_cli(catalog, mongos.uri, "--json", "shard", "plan")
    assert again.returncode == 0, again.output
    assert again.json()["pending"] == 0 and again.json()["operations"] == [], again.stdout
    client = MongoClient(mongos.uri)
    ranges = sorted(
        (t["tag"], t["min"], t["max"]) for t in client.config.tags.find({"ns": "shop.accounts"})
    )
    client.close()
    assert ranges == [
        (
            "EU",
            {"region": "eu", "customer_id": MinKey()},
            {"region": "ev", "customer_id": MinKey()},
        ),
        (
            "US",
            {"region": "us", "customer_id": MinKey()},
            {"region": "ut", "customer_id": MinKey()},
        ),
    ]


def test_removals_need_allow_drop(cluster):
    mongos, catalog = cluster
    assert shard_cli(catalog, mongos.uri, "shard", "apply").returncode == 0
    client = MongoClient(mongos.uri)
    client.admin.command("addShardToZone", "shardUS", zone="OLD")
    client.admin.command(
        "updateZoneKeyRange",
        "shop.orders",
        min={"region": "x", "customer_id": MinKey()},
        max={"region": "y", "customer_id": MaxKey()},
        zone="OLD",
    )
    client.close()
    plan = shard_cli(catalog, mongos.uri, "--json", "shard", "plan").json()
    assert [(op["kind"], op["destructive"]) for op in plan["operations"]] == [
        ("remove-zone-range", True),
        ("remove-shard-from-zone", True),
    ]
    assert plan["would_run"] == 0
    skipped = shard_cli(catalog, mongos.uri, "--json", "shard", "apply").json()
    assert skipped["changed"] is False and skipped["skipped"] == 2
    dropped = shard_cli(catalog, mongos.uri, "--json", "shard", "apply", "--allow-drop").json()
    assert dropped["done"] == 2
    assert shard_cli(catalog, mongos.uri, "--json", "shard", "plan").json()["pending"] == 0


def test_a_changed_key_is_a_conflict_and_apply_refuses(cluster):
    mongos, catalog = cluster
    assert shard_cli(catalog, mongos.uri, "shard", "apply").returncode == 0
    catalog.write_text(CATALOG.replace("key: {device: hashed}", "key: {device: 1}"))
    plan = shard_cli(catalog, mongos.uri, "shard", "plan", "--check")
    assert plan.returncode == 3
    assert "shop.events is sharded on {device: hashed}" in plan.stdout
    refused = shard_cli(catalog, mongos.uri, "shard", "apply")
    assert refused.returncode == 1
    assert "shard apply refused: 1 conflict(s)" in refused.stderr


def test_refuses_anything_but_a_mongos(mongo_server, replset, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    standalone = shard_cli(catalog, mongo_server.uri, "shard", "plan")
    assert standalone.returncode == 2
    assert "sharding needs a mongos" in standalone.stderr
    assert "is a standalone mongod" in standalone.stderr
    member = shard_cli(catalog, replset.uri, "shard", "apply")
    assert member.returncode == 2 and "a member of replica set rs0" in member.stderr


def test_committed_catalogs_shard_keys(mongos_server):
    """The shard keys seeds 001 and 002 name, from catalogs/, on a fresh cluster."""
    add_shards(mongos_server.uri, "shard0")
    for name in ("nyrkio.yaml", "ai_apps.yaml"):
        catalog = ROOT / "catalogs" / name
        applied = shard_cli(catalog, mongos_server.uri, "shard", "apply")
        assert applied.returncode == 0, applied.output
        again = shard_cli(catalog, mongos_server.uri, "--json", "shard", "plan")
        assert again.json()["pending"] == 0, again.stdout
    client = MongoClient(mongos_server.uri)
    keys = {c["_id"]: c["key"] for c in client.config.collections.find()}
    client.close()
    assert keys["nyrkio.results"] == {"user_id": 1, "timestamp": 1}
    for collection in ("executions", "execution_steps", "execution_artifacts", "execution_metrics"):
        assert keys[f"ai_apps.{collection}"] == {"execution_id": 1}


@pytest.fixture
def sharded_target(request, tmp_path):
    """A real mongos when MONGODB_URI names one (live tier), else the mongos test server."""
    import os

    live_uri = os.environ.get("MONGODB_URI")
    if live_uri:
        client = MongoClient(live_uri)
        is_mongos = client.admin.command("hello").get("msg") == "isdbgrid"
        client.close()
        if is_mongos:
            yield live_uri
            return
    from tests.support.server import MongoTestServer

    with MongoTestServer(role="mongos") as mongos:
        add_shards(mongos.uri, "shardA")
        yield mongos.uri


@pytest.mark.live
def test_plan_apply_plan_hashed_key(sharded_target, tmp_path):
    database = f"tk_{uuid.uuid4().hex[:8]}"
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        f"databases:\n  {database}:\n    collections:\n"
        f"      c{uuid.uuid4().hex[:6]}:\n        shard: {{key: {{k: hashed}}}}\n"
    )
    try:
        assert shard_cli(catalog, sharded_target, "shard", "apply").returncode == 0
        again = shard_cli(catalog, sharded_target, "--json", "shard", "plan")
        assert again.json()["pending"] == 0, again.stdout
    finally:
        client = MongoClient(sharded_target)
        client.drop_database(database)
        client.close()
