"""The staging and production inventories, as an operator would use them.

No real host exists here, so each inventory is copied with a vault made from
its vault.yml.example (placeholders of the right shape, unencrypted, in a
temporary directory) and a stand-in CA certificate, then:

- playbooks/preflight.yml runs against it, as site.yml's first step does. It
  gathers no facts and checks variables on the controller only, so it needs no
  host; a variable that depends on facts (or on a vault_* name the example
  lacks) fails here as it would on the first real run;
- every member's variables are resolved, and the replica set must listen on
  each host's own address and keep a voting majority when one member is down.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ansible.playbook import BIN, REPOSITORY, ansible_environment, run_playbook

INVENTORIES = ["staging", "production"]
# A keyfile of the shape validate.yml demands (6 to 1024 base64 characters).
PLACEHOLDER_KEYFILE = "cGxhY2Vob2xkZXIta2V5ZmlsZS1mb3ItdGhlLWludmVudG9yeS10ZXN0"
CA = "-----BEGIN CERTIFICATE-----\nMIIBplaceholder\n-----END CERTIFICATE-----\n"

RESOLVE_PLAYBOOK = """\
- name: Resolve each member's variables as the roles see them
  hosts: mongodb_members
  gather_facts: false
  tasks:
    - name: Load mongodb_replica_set's variables (its checks run too)
      ansible.builtin.include_role:
        name: mongodb_replica_set
        tasks_from: validate
        public: true
    - name: Write them down
      ansible.builtin.copy:
        content: "{{ {'bind_ip': mongodb_server_bind_ip, 'member': _mongodb_replica_set_member} | to_json }}"
        dest: "{{ output_dir }}/{{ inventory_hostname }}.json"
        mode: "0600"
      delegate_to: localhost
"""


def _placeholders(value: object, key: str = "") -> object:
    """The example vault with every REPLACE value made a placeholder of the right shape."""
    if isinstance(value, dict):
        return {name: _placeholders(item, name) for name, item in value.items()}
    if isinstance(value, str) and value.startswith("REPLACE"):
        return PLACEHOLDER_KEYFILE if "keyfile" in key else f"placeholder-{key.lower()}"
    return value


@pytest.fixture(params=INVENTORIES)
def inventory(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    copy = tmp_path / request.param
    shutil.copytree(REPOSITORY / "inventory" / request.param, copy)
    example = copy / "group_vars/all/vault.yml.example"
    vault = _placeholders(yaml.safe_load(example.read_text()))
    (copy / "group_vars/all/vault.yml").write_text(yaml.safe_dump(vault))
    (copy / "files/mongodb-ca.pem").write_text(CA)
    return copy


def test_preflight_passes_without_facts_or_hosts(inventory: Path) -> None:
    run = run_playbook(inventory, "preflight.yml", timeout=300)
    assert run.returncode == 0, run.explain()
    hosts = yaml.safe_load((inventory / "hosts.yml").read_text())["all"]["children"]
    servers = set(hosts["mongodb_servers"]["hosts"])
    assert servers <= set(run.recap), "preflight did not check every server"
    assert all(counts["unreachable"] == 0 for counts in run.recap.values())


def test_members_listen_on_their_address_and_survive_one_failure(
    inventory: Path, tmp_path: Path
) -> None:
    playbook = tmp_path / "resolve.yml"
    playbook.write_text(RESOLVE_PLAYBOOK)
    output = tmp_path / "resolved"
    output.mkdir()
    run = run_playbook(
        inventory, str(playbook), args=("-e", f"output_dir={output}"), timeout=300,
        environment=ansible_environment(),
    )  # fmt: skip
    assert run.returncode == 0, run.explain()
    resolved = {path.stem: json.loads(path.read_text()) for path in output.glob("*.json")}
    assert len(resolved) >= 3

    for host, variables in resolved.items():
        loopback, address, *rest = variables["bind_ip"]
        assert (loopback, rest) == ("127.0.0.1", []), host
        assert not ipaddress.ip_address(address).is_loopback, host
    addresses = [variables["bind_ip"][1] for variables in resolved.values()]
    assert len(set(addresses)) == len(addresses), "two members listen on the same address"

    members = [variables["member"] for variables in resolved.values()]
    voters = [member for member in members if int(member["votes"]) == 1]
    data_bearing_voters = [member for member in voters if not member["arbiterOnly"]]
    # A majority of the votes is left when any one voting member is down.
    assert len(voters) - 1 > len(voters) / 2, f"{len(voters)} votes"
    assert len(voters) % 2 == 1
    assert len(data_bearing_voters) >= 3
    for member in members:
        if int(member["secondaryDelaySecs"]) > 0:
            assert member["hidden"] and float(member["priority"]) == 0
            # The manual's advice: a voting delayed member holds majority writes back.
            assert int(member["votes"]) == 0


def _documented_backup_user(example: Path) -> str:
    """The catalog YAML the vault example tells the reader to add (its '#   ' lines)."""
    lines = example.read_text().splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("#   roles:"))
    block = []
    for line in lines[start:]:
        if not line.startswith("#   "):
            break
        block.append(line[4:])
    return "\n".join(block) + "\n"


@pytest.mark.parametrize("name", INVENTORIES)
def test_documented_backup_user_is_a_valid_catalog_entry(name: str, tmp_path: Path) -> None:
    # The inventories log the backups in as mongodb_backup_login_user; only the
    # catalog creates users, so the example must be one the toolkit accepts.
    example = REPOSITORY / "inventory" / name / "group_vars/all/vault.yml.example"
    text = _documented_backup_user(example)
    entry = yaml.safe_load(text)
    backup_group_vars = yaml.safe_load(
        (REPOSITORY / "inventory" / name / "group_vars/mongodb_backup.yml").read_text()
    )
    assert entry["users"][0]["user"] == backup_group_vars["mongodb_backup_login_user"]
    assert entry["users"][0]["password_env"] == "MONGODB_BACKUP_PASSWORD"
    vault = yaml.safe_load(example.read_text())
    assert "MONGODB_BACKUP_PASSWORD" in vault["vault_mongodb_catalog_passwords"]

    catalog = tmp_path / "catalog"
    shutil.copytree(REPOSITORY / "catalogs", catalog, ignore=shutil.ignore_patterns("*.md"))
    (catalog / "backup-user.yaml").write_text(text)
    checked = subprocess.run(
        [str(BIN / "mongo-toolkit"), "--catalog", str(catalog), "--json", "catalog", "check"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
