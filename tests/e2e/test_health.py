"""`mongo-toolkit health` against the test server in each role."""

import pytest

from tests.e2e.cli import run_cli


@pytest.mark.live
def test_health_prints_a_table(server):
    result = run_cli("health", uri=server.uri)
    assert result.returncode == 0, result.output
    assert "version" in result.stdout and "topology" in result.stdout
    assert "healthy" in result.stdout


@pytest.mark.live
def test_health_json(server):
    result = run_cli("--json", "health", uri=server.uri)
    assert result.returncode == 0, result.output
    report = result.json()
    assert report["ok"] is True
    assert report["topology"] in ("standalone", "replica set", "sharded")
    assert report["version"].split(".")[0] in ("7", "8")


def test_standalone(mongo_server):
    report = run_cli("health", "--json", uri=mongo_server.uri).json()
    assert report["topology"] == "standalone"
    assert report["members"] == [] and report["oplog_window_hours"] is None


def test_replica_set_healthy_with_oplog_window(replset):
    client = replset.client() if hasattr(replset, "client") else None
    if client is None:
        from pymongo import MongoClient

        client = MongoClient(replset.uri)
    client.app.things.insert_many([{"n": n} for n in range(3)])
    client.close()
    result = run_cli("health", uri=replset.uri)
    assert result.returncode == 0, result.output
    assert "replica set rs0" in result.stdout
    assert result.stdout.count("SECONDARY") == 2 and "PRIMARY" in result.stdout
    report = run_cli("--json", "health", uri=replset.uri).json()
    assert report["oplog_window_hours"] is not None
    assert [m["state"] for m in report["members"]].count("PRIMARY") == 1


def test_member_down_is_degraded(replset):
    replset.member(2).set_down(True)
    result = run_cli("health", uri=replset.uri)
    assert result.returncode == 1, result.output
    assert "is down" in result.stdout
    assert "degraded" in result.stdout


def test_lagging_member_is_degraded_over_max_lag(replset):
    replset.member(1).set_lag(120)
    lagging = run_cli("--json", "health", "--max-lag", "60", uri=replset.uri)
    assert lagging.returncode == 1
    report = lagging.json()
    [member] = [m for m in report["members"] if not m["healthy"]]
    assert member["lag_seconds"] == pytest.approx(120, abs=2)
    assert "behind the primary" in member["problem"]
    tolerant = run_cli("--json", "health", "--max-lag", "300", uri=replset.uri)
    assert tolerant.returncode == 0, tolerant.output


def test_no_primary_is_reported_through_the_replica_set_address(replset):
    # Two of three voting members down: no majority, so the primary steps down.
    replset.member(0).set_down(True)
    replset.member(1).set_down(True)
    assert replset.primary is None
    result = run_cli("--json", "health", uri=replset.uri)
    assert result.returncode == 1, result.output
    report = result.json()
    assert "replica set rs0 has no primary" in report["problems"]
    assert [m["healthy"] for m in report["members"]] == [False, False, True]
    assert [m["lag_seconds"] for m in report["members"]][:2] == [None, None]


def test_a_delayed_hidden_member_is_healthy_within_its_delay(replset):
    replset.member(2).configure(priority=0, hidden=True, secondary_delay_secs=3600)
    result = run_cli("--json", "health", uri=replset.uri)
    assert result.returncode == 0, result.output
    delayed = result.json()["members"][2]
    assert delayed["delay_seconds"] == 3600
    assert delayed["lag_seconds"] == pytest.approx(3600, abs=2)
    table = run_cli("health", uri=replset.uri)
    assert "(delayed 3600 s)" in table.stdout


def test_an_uninitiated_member_is_degraded():
    from tests.support.server import ReplicaSetTestCluster

    with ReplicaSetTestCluster(members=1, initiated=False) as cluster:
        uri = f"mongodb://127.0.0.1:{cluster.member(0).port}/?directConnection=true"
        result = run_cli("--json", "health", uri=uri)
    assert result.returncode == 1, result.output
    report = result.json()
    assert report["topology"] == "replica set (not initiated)"
    assert "rs.initiate()" in report["problems"][0]


def test_mongos(mongos_server):
    report = run_cli("--json", "health", uri=mongos_server.uri).json()
    assert report["topology"] == "sharded"


def test_unreachable_with_password_in_uri(free_port_uri=None):
    result = run_cli("--timeout", "1", "health", uri="mongodb://u:secret@127.0.0.1:1")
    assert result.returncode == 1
    assert "127.0.0.1:1" in result.stderr
    assert "secret" not in result.output
