"""The cluster plays against the wire-protocol test server (tests/support/).

site.yml runs from this controller against a fresh, uninitiated three-member
replica set: the replica_set play initiates it through the localhost exception,
creates the first administrator through it, then sets the members (the third
hidden, delayed and non-voting) authenticated; rbac and schema apply the
repository's catalogs with mongo-toolkit. A second run must change nothing, and
the servers must then be in the declared state. shard.yml runs against a test
mongos with a small sharded catalog.

The test server is test infrastructure, not MongoDB: passing here shows the
plays speak the protocol and converge, not that a real mongod behaves the same.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pymongo
import pytest
import yaml

from tests.ansible.playbook import BIN, REPOSITORY, PlaybookRun, run_playbook
from tests.support.server import MongoTestServer, ReplicaSetTestCluster

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ADMIN_PASSWORD = "adm1n/p@ss:word%"
CATALOG_PASSWORDS = {
    "SENTIMATRIX_MONGODB_PASSWORD": "sentimatrix-app-password",
    "AI_APPS_MONGODB_PASSWORD": "ai-apps-app-password",
}
DELAY = 3600
SHARDED_CATALOG = Path(__file__).with_name("catalogs") / "sharded.yaml"


@dataclass
class Cluster:
    replica_set: ReplicaSetTestCluster
    inventory: Path
    host_vars: dict[str, dict]

    def admin_client(self) -> pymongo.MongoClient:
        return self.replica_set.client(username="admin", password=ADMIN_PASSWORD)

    def uri_with_credentials(self) -> str:
        hosts = ",".join(member.host for member in self.replica_set.members)
        return (
            f"mongodb://admin:{quote(ADMIN_PASSWORD, safe='')}@{hosts}/"
            f"?replicaSet={self.replica_set.set_name}"
        )

    def write_inventory(self) -> None:
        hosts = ",".join(member.host for member in self.replica_set.members)
        uri = f"mongodb://{hosts}/?replicaSet={self.replica_set.set_name}"
        python = str(BIN / "python")
        inventory = {
            "all": {
                "children": {
                    "mongodb_members": {"hosts": self.host_vars},
                    "mongodb_toolkit": {"hosts": {"localhost": None}},
                },
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": python,
                    "mongodb_replica_set_name": self.replica_set.set_name,
                    "mongodb_replica_set_python": python,
                    "mongodb_replica_set_admin_password": ADMIN_PASSWORD,
                    "mongodb_replica_set_wait_polls": 15,
                    "mongodb_rbac_uri": uri,
                    "mongodb_rbac_login_password": ADMIN_PASSWORD,
                    "mongodb_rbac_toolkit": str(BIN / "mongo-toolkit"),
                    "mongodb_rbac_catalog": str(REPOSITORY / "catalogs"),
                    "mongodb_rbac_environment": CATALOG_PASSWORDS,
                    "mongodb_schema_uri": uri,
                    "mongodb_schema_login_password": ADMIN_PASSWORD,
                    "mongodb_schema_toolkit": str(BIN / "mongo-toolkit"),
                    "mongodb_schema_catalog": str(REPOSITORY / "catalogs"),
                },
            }
        }
        self.inventory.write_text(yaml.safe_dump(inventory, sort_keys=False))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    # Access control on from the start: the play initiates the set and creates the
    # first administrator through the localhost exception, as on a real host.
    with ReplicaSetTestCluster(members=3, initiated=False, auth=True) as replica_set:
        host_vars = {}
        for index, member in enumerate(replica_set.members):
            variables = {
                "mongodb_replica_set_member_host": member.host,
                "mongodb_replica_set_login_port": member.port,
            }
            if index == 2:
                variables.update(
                    mongodb_replica_set_member_hidden=True,
                    mongodb_replica_set_member_secondary_delay_secs=DELAY,
                    mongodb_replica_set_member_votes=0,
                )
            host_vars[f"member{index}"] = variables
        made = Cluster(replica_set, tmp_path / "inventory.yml", host_vars)
        made.write_inventory()
        yield made
        assert replica_set.errors == []


def _toolkit(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = dict(
        os.environ,
        MONGODB_URI=uri,
        TOOLKIT_CATALOG=str(REPOSITORY / "catalogs"),
        **CATALOG_PASSWORDS,
    )
    return subprocess.run(
        [str(BIN / "mongo-toolkit"), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_site_converges_then_changes_nothing(cluster: Cluster) -> None:
    first = run_playbook(cluster.inventory, "site.yml")
    assert first.returncode == 0, first.explain()
    assert first.changed() > 0

    second = run_playbook(cluster.inventory, "site.yml")
    assert second.returncode == 0, second.explain()
    assert second.changed() == 0, "changed on the second run: " + ", ".join(second.changed_tasks())

    checked = run_playbook(cluster.inventory, "site.yml", args=("--check",))
    assert checked.returncode == 0, checked.explain()
    assert checked.changed() == 0, ", ".join(checked.changed_tasks())

    # The declared state: members, the administrator, the catalog.
    client = cluster.admin_client()
    try:
        config = client.admin.command("replSetGetConfig")["config"]
        members = {member["host"]: member for member in config["members"]}
        third = members[cluster.replica_set.member(2).host]
        assert (third["hidden"], third["priority"], third["votes"]) == (True, 0, 0)
        assert third["secondaryDelaySecs"] == DELAY
        for index in (0, 1):
            member = members[cluster.replica_set.member(index).host]
            assert (member["hidden"], member["priority"], member["votes"]) == (False, 1, 1)
        users = client.admin.command("usersInfo", {"user": "admin", "db": "admin"})["users"]
        assert [role["role"] for role in users[0]["roles"]] == ["root"]
    finally:
        client.close()
    for command in ("schema", "rbac"):
        planned = _toolkit(cluster.uri_with_credentials(), command, "plan", "--check")
        assert planned.returncode == 0, planned.stdout + planned.stderr


def test_replica_set_play_applies_a_changed_delay(cluster: Cluster) -> None:
    first = run_playbook(cluster.inventory, "replica_set.yml")
    assert first.returncode == 0, first.explain()

    # community.mongodb's mongodb_replicaset (1.7) never sees this change alone.
    cluster.host_vars["member2"]["mongodb_replica_set_member_secondary_delay_secs"] = 2 * DELAY
    cluster.write_inventory()
    changed = run_playbook(cluster.inventory, "replica_set.yml")
    assert changed.returncode == 0, changed.explain()
    assert changed.changed() == 1, ", ".join(changed.changed_tasks())
    again = run_playbook(cluster.inventory, "replica_set.yml")
    assert again.changed() == 0, ", ".join(again.changed_tasks())

    client = cluster.admin_client()
    try:
        config = client.admin.command("replSetGetConfig")["config"]
    finally:
        client.close()
    third = next(m for m in config["members"] if m["host"] == cluster.replica_set.member(2).host)
    assert third["secondaryDelaySecs"] == 2 * DELAY


def test_replica_set_play_refuses_an_invalid_member(cluster: Cluster) -> None:
    # A delayed member that is not hidden: caught before anything runs.
    cluster.host_vars["member1"]["mongodb_replica_set_member_secondary_delay_secs"] = 60
    cluster.write_inventory()
    run = run_playbook(cluster.inventory, "site.yml")
    assert run.returncode != 0
    assert "a delayed member must be hidden" in run.output
    with cluster.replica_set.member(0).client() as client:
        assert "setName" not in client.admin.command("hello")


@pytest.fixture
def mongos(tmp_path: Path) -> Iterator[tuple[MongoTestServer, Path]]:
    with MongoTestServer(role="mongos", auth=True) as server:
        # The cluster's administrator, created through the localhost exception.
        with server.client() as client:
            client.admin.command("createUser", "admin", pwd=ADMIN_PASSWORD, roles=["root"])
        python = str(BIN / "python")
        inventory = {
            "all": {
                "children": {"mongodb_sharded": {"hosts": {"localhost": None}}},
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": python,
                    "mongodb_shard_uri": f"mongodb://{server.host}/",
                    "mongodb_shard_login_password": ADMIN_PASSWORD,
                    "mongodb_shard_toolkit": str(BIN / "mongo-toolkit"),
                    "mongodb_shard_catalog": str(SHARDED_CATALOG),
                    "mongodb_shard_python": python,
                    "mongodb_shard_mongos_host": "127.0.0.1",
                    "mongodb_shard_mongos_port": server.port,
                    "mongodb_shard_shards": [
                        {
                            "replica_set": "shard-eu",
                            "hosts": ["eu1.example.net:27018", "eu2.example.net:27018"],
                        },
                        {
                            "replica_set": "shard-us",
                            "hosts": ["us1.example.net:27018", "us2.example.net:27018"],
                        },
                    ],
                },
            }
        }
        path = tmp_path / "inventory.yml"
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        yield server, path
        assert server.errors == []


def test_shard_play_converges_then_changes_nothing(mongos: tuple[MongoTestServer, Path]) -> None:
    server, inventory = mongos
    first = run_playbook(inventory, "site.yml")
    assert first.returncode == 0, first.explain()
    assert first.changed() > 0
    second = run_playbook(inventory, "site.yml")
    assert second.returncode == 0, second.explain()
    assert second.changed() == 0, ", ".join(second.changed_tasks())

    with server.client(username="admin", password=ADMIN_PASSWORD) as client:
        shards = {shard["_id"] for shard in client.admin.command("listShards")["shards"]}
        assert shards == {"shard-eu", "shard-us"}
        assert client.admin.command("balancerStatus")["mode"] == "full"
    uri = f"mongodb://admin:{quote(ADMIN_PASSWORD, safe='')}@{server.host}/"
    planned = _toolkit(uri, "--catalog", str(SHARDED_CATALOG), "shard", "plan", "--check")
    assert planned.returncode == 0, planned.stdout + planned.stderr


def test_replica_set_play_initiates_authenticated_when_users_exist(tmp_path: Path) -> None:
    # A set whose data already has users (a restored standalone, say): the
    # localhost exception is closed, so initiation must log in, which
    # community.mongodb's mongodb_replicaset cannot do; the role's module does.
    with ReplicaSetTestCluster(members=3, initiated=False, auth=True) as replica_set:
        replica_set.add_user("admin", ADMIN_PASSWORD, [{"role": "root", "db": "admin"}])
        host_vars = {
            f"member{index}": {
                "mongodb_replica_set_member_host": member.host,
                "mongodb_replica_set_login_port": member.port,
            }
            for index, member in enumerate(replica_set.members)
        }
        cluster = Cluster(replica_set, tmp_path / "inventory.yml", host_vars)
        cluster.write_inventory()
        first = run_playbook(cluster.inventory, "replica_set.yml")
        assert first.returncode == 0, first.explain()
        assert (
            "TASK [mongodb_replica_set : Ensure the replica set is initiated (authenticated)]"
            in (first.changed_tasks())
        )
        again = run_playbook(cluster.inventory, "replica_set.yml")
        assert again.returncode == 0, again.explain()
        assert again.changed() == 0, ", ".join(again.changed_tasks())
        with cluster.admin_client() as client:
            assert len(client.admin.command("replSetGetConfig")["config"]["members"]) == 3
        assert replica_set.errors == []


STATE_PLAYBOOK = """\
- name: Group the members by state, as rolling_restart.yml and mongod.yml do
  hosts: mongodb_servers
  gather_facts: false
  tasks:
    - name: Group the members by state
      ansible.builtin.include_role:
        name: mongodb_server
        tasks_from: member_state

- name: Write the groups down
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Write the groups down
      ansible.builtin.copy:
        content: >-
          {{ {'primary': groups['mongodb_restart_primary'] | default([]),
              'secondary': groups['mongodb_restart_secondary'] | default([])} | to_json }}
        dest: "{{ output_file }}"
        mode: "0600"
"""


def test_member_state_puts_the_primary_last_and_never_logs_in(tmp_path: Path) -> None:
    # rolling_restart.yml (and mongod.yml -e mongodb_serial=N) restart the
    # group mongodb_restart_secondary first, then mongodb_restart_primary.
    # An arbiter is told apart by hello alone: nothing may log in to it.
    with ReplicaSetTestCluster(members=3, initiated=False, auth=True) as replica_set:
        members = [{"_id": index, "host": member.host} for index, member in
                   enumerate(replica_set.members)]  # fmt: skip
        members[2]["arbiterOnly"] = True
        with replica_set.member(0).client() as client:
            client.admin.command(
                "replSetInitiate", {"_id": replica_set.set_name, "members": members}
            )
        python = str(BIN / "python")
        inventory = {
            "all": {
                "children": {
                    "mongodb_servers": {
                        "hosts": {
                            f"member{index}": {"mongodb_server_port": member.port}
                            for index, member in enumerate(replica_set.members)
                        }
                    }
                },
                "vars": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": python,
                    "mongodb_server_replica_set_name": replica_set.set_name,
                },
            }
        }
        (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
        (tmp_path / "state.yml").write_text(STATE_PLAYBOOK)
        # The helper from the role's files/, run by this venv's Python (on a
        # host: /usr/local/lib/mongodb-ansible and the pymongo venv).
        helper = (
            "_mongodb_server_helper_dir="
            f"{REPOSITORY / 'ansible/roles/mongodb_server/files'} _mongodb_server_python={python}"
        )

        def groups(*extra: str) -> tuple[PlaybookRun, dict[str, list[str]]]:
            output = tmp_path / "groups.json"
            output.unlink(missing_ok=True)
            run = run_playbook(
                tmp_path / "inventory.yml", str(tmp_path / "state.yml"),
                args=("-e", helper, "-e", f"output_file={output}", *extra),
            )  # fmt: skip
            return run, (json.loads(output.read_text()) if output.exists() else {})

        run, grouped = groups()
        assert run.returncode == 0, run.explain()
        primary = next(index for index in range(3) if replica_set.member(index).is_primary)
        assert grouped["primary"] == [f"member{primary}"]
        assert sorted(grouped["secondary"]) == sorted(
            f"member{index}" for index in range(3) if index != primary
        )
        arbiter_commands = set(replica_set.member(2).commands_seen)
        assert not arbiter_commands & {"saslStart", "saslContinue", "authenticate"}

        # mongod.yml: a member that does not answer (mongod not installed yet)
        # is not a primary and stops nothing; rolling_restart.yml stops there.
        down = 1 if primary != 1 else 0
        replica_set.member(down).set_down(True)
        run, grouped = groups("-e", "mongodb_server_member_state_required=false")
        assert run.returncode == 0, run.explain()
        assert f"member{down}" in grouped["secondary"]
        run, _ = groups()
        assert run.returncode != 0
        assert "not ready after 10 s" in run.output
