"""The Python the roles ship: mongodb_server's post-restart check and
mongodb_replica_set's member-settings module (its planning half, on plain data)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ansible.playbook import ANSIBLE_DIR
from tests.support.server import MongoTestServer, ReplicaSetTestCluster

WAIT_FOR_MEMBER = ANSIBLE_DIR / "roles/mongodb_server/files/wait-for-member.py"
MEMBERS_MODULE = ANSIBLE_DIR / "roles/mongodb_replica_set/library/mongodb_replica_set_members.py"


def _wait(port: int, timeout: float = 5) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WAIT_FOR_MEMBER), "--port", str(port), "--timeout", str(timeout)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _load_members_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("mongodb_replica_set_members", MEMBERS_MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wait_for_member_reports_primary_and_secondary() -> None:
    with ReplicaSetTestCluster(members=3) as cluster:
        primary = _wait(cluster.member(0).port)
        secondary = _wait(cluster.member(1).port)
    assert primary.returncode == 0 and primary.stdout.strip().endswith(": PRIMARY")
    assert secondary.returncode == 0 and secondary.stdout.strip().endswith(": SECONDARY")


def test_wait_for_member_accepts_an_uninitiated_member_and_a_standalone() -> None:
    with ReplicaSetTestCluster(members=1, initiated=False) as cluster:
        fresh = _wait(cluster.member(0).port)
    with MongoTestServer() as standalone:
        alone = _wait(standalone.port)
    assert fresh.returncode == 0 and "not initiated yet" in fresh.stdout
    assert alone.returncode == 0 and alone.stdout.strip().endswith(": standalone")


def test_wait_for_member_times_out_on_a_member_that_is_down() -> None:
    with ReplicaSetTestCluster(members=3) as cluster:
        port = cluster.member(2).port
        cluster.member(2).set_down(True)
        result = _wait(port, timeout=2)
    assert result.returncode == 1
    assert "not ready after 2 s" in result.stderr


@pytest.fixture(scope="module")
def members_module():  # type: ignore[no-untyped-def]
    return _load_members_module()


CURRENT = [
    {"_id": 0, "host": "db1:27017", "priority": 2, "votes": 1, "hidden": False,
     "secondaryDelaySecs": 0, "arbiterOnly": False, "tags": {}},
    {"_id": 1, "host": "db2:27017", "priority": 1, "votes": 1, "hidden": False,
     "secondaryDelaySecs": 0, "arbiterOnly": False, "tags": {}},
    {"_id": 2, "host": "db3:27017", "priority": 0, "votes": 0, "hidden": True,
     "secondaryDelaySecs": 3600, "arbiterOnly": False, "tags": {}},
]  # fmt: skip


def test_plan_members_finds_a_changed_delay(members_module) -> None:  # type: ignore[no-untyped-def]
    wanted = [{"host": "db1:27017", "priority": 2}, {"host": "db2:27017"},
              {"host": "db3:27017", "priority": 0, "votes": 0, "hidden": True,
               "secondaryDelaySecs": 7200}]  # fmt: skip
    members, differences, errors = members_module.plan_members(CURRENT, wanted)
    assert errors == []
    assert differences == ["db3:27017: secondaryDelaySecs 3600 -> 7200"]
    assert members[2]["secondaryDelaySecs"] == 7200
    assert members[0] == CURRENT[0]


def test_plan_members_changes_nothing_when_in_sync(members_module) -> None:  # type: ignore[no-untyped-def]
    wanted = [{key: value for key, value in member.items() if key != "_id"} for member in CURRENT]
    assert members_module.plan_members(CURRENT, wanted)[1:] == ([], [])


def test_plan_members_refuses_what_a_reconfig_cannot_do(members_module) -> None:  # type: ignore[no-untyped-def]
    two_votes = [{"host": "db1:27017", "votes": 0, "priority": 0}, {"host": "db2:27017"},
                 {"host": "db3:27017", "votes": 1}]  # fmt: skip
    errors = members_module.plan_members(CURRENT, two_votes)[2]
    assert any("one voting member to change per reconfig" in error for error in errors)
    renamed = [{"host": "db1:27017"}, {"host": "db2:27017"}, {"host": "db4:27017"}]
    errors = members_module.plan_members(CURRENT, renamed)[2]
    assert errors and "to add: db4:27017; to remove: db3:27017" in errors[0]
    arbiter = [
        {"host": "db1:27017"},
        {"host": "db2:27017"},
        {"host": "db3:27017", "arbiterOnly": True},
    ]
    assert "arbiterOnly cannot change" in members_module.plan_members(CURRENT, arbiter)[2][0]


def test_initiation_config_numbers_the_members(members_module) -> None:  # type: ignore[no-untyped-def]
    config = members_module.initiation_config(
        "rs0", [{"host": "db1:27017", "priority": 2}, {"host": "db2:27017"}]
    )
    assert config == {"_id": "rs0", "members": [
        {"_id": 0, "host": "db1:27017", "priority": 2}, {"_id": 1, "host": "db2:27017"}]}  # fmt: skip


def test_module_documentation_is_valid_yaml(members_module) -> None:  # type: ignore[no-untyped-def]
    import yaml

    documentation = yaml.safe_load(members_module.DOCUMENTATION)
    assert documentation["module"] == "mongodb_replica_set_members"
    assert set(documentation["options"]) >= {"login_password", "members", "initiate"}
    assert Path(MEMBERS_MODULE).read_text().count("no_log=True") == 1
