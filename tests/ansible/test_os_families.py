"""The roles' variables and templates for each OS family they support.

The host scenario configures a real Debian root; there is no Red Hat root
here, so for Red Hat this is all that is checked: with the facts of a RHEL 9
host, the roles' variables resolve to the packages' account, paths,
repository and time daemon, and the templates render with them. Nothing is
installed: the play runs on this controller, its only writes go to a
temporary directory.
"""

from __future__ import annotations

import configparser
import json
from pathlib import Path

import pytest
import yaml

from tests.ansible.playbook import ANSIBLE_DIR, BIN, run_playbook

ROLES = ANSIBLE_DIR / "roles"
FACTS = {
    "Debian": {"os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
               "distribution_release": "bookworm", "service_mgr": "systemd"},
    "RedHat": {"os_family": "RedHat", "distribution": "RedHat", "distribution_major_version": "9",
               "distribution_release": "Plow", "service_mgr": "systemd"},
}  # fmt: skip
TEMPLATES = {
    "mongod.conf": ROLES / "mongodb_server/templates/mongod.conf.j2",
    "override.conf": ROLES / "mongodb_server/templates/override.conf.j2",
    "mongod.service": ROLES / "mongodb_server/templates/mongod.service.j2",
    "logrotate": ROLES / "mongodb_server/templates/logrotate.j2",
    "limits.conf": ROLES / "mongodb_os/templates/limits.conf.j2",
}
RESOLVED = {
    "user": "mongodb_server_user",
    "group": "mongodb_server_group",
    "db_path": "mongodb_server_db_path",
    "repository_url": "mongodb_server_repository_url",
    "yum_repository": "_mongodb_server_yum_repository",
    "python_packages": "_mongodb_server_os.python_packages",
    "limits_user": "mongodb_os_limits_user",
    "os_data_path": "mongodb_os_data_path",
    "time_sync_unit": "_mongodb_os_time_sync_units[mongodb_os_time_sync]",
    "backup_packages": "_mongodb_backup_packages",
    "cron_unit": "_mongodb_backup_os.cron_unit",
}


def _playbook(facts: dict[str, str], output: Path) -> list[dict]:
    loads = [
        {"name": f"Load {role}'s variables", "ansible.builtin.include_role":
         {"name": role, "tasks_from": "validate", "public": True}}
        for role in ("mongodb_os", "mongodb_server", "mongodb_backup")
    ]  # fmt: skip
    resolved = "{{ {" + ", ".join(f"'{key}': {expression}" for key, expression in
                                   RESOLVED.items()) + "} | to_json }}"  # fmt: skip
    return [
        {
            "name": f"Resolve the roles for {facts['os_family']}",
            "hosts": "target",
            "gather_facts": False,
            # The facts setup would gather on such a host.
            "vars": {"ansible_facts": facts},
            "tasks": [
                *loads,
                {"name": "Write the variables down", "ansible.builtin.copy":
                 {"content": resolved, "dest": str(output / "resolved.json"), "mode": "0600"}},
                {"name": "Render the templates", "ansible.builtin.template":
                 {"src": "{{ item.value }}", "dest": f"{output}/{{{{ item.key }}}}", "mode": "0600"},
                 "loop": "{{ templates | dict2items }}"},
                # Loads the Red Hat install tasks (never run here): a wrong
                # argument or an undefined file fails the load.
                {"name": "Load the repository install tasks", "ansible.builtin.import_role":
                 {"name": "mongodb_server", "tasks_from": "install_repository_redhat"},
                 "when": False},
            ],
        }
    ]  # fmt: skip


@pytest.fixture(params=sorted(FACTS))
def rendered(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path, dict]:
    family = request.param
    output = tmp_path / "out"
    output.mkdir()
    inventory = {
        "all": {
            "hosts": {"target": None},
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": str(BIN / "python"),
                "templates": {name: str(path) for name, path in TEMPLATES.items()},
                "mongodb_server_replica_set_name": "rs0",
                "mongodb_server_keyfile_content": "cGxhY2Vob2xkZXIta2V5ZmlsZQ==",
                "mongodb_server_tls_mode": "requireTLS",
                "mongodb_backup_uri": "mongodb://db1:27017/?replicaSet=rs0",
                "mongodb_backup_login_password": "placeholder",
                "mongodb_backup_scheduler": "cron",
            },
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "resolve.yml").write_text(yaml.safe_dump(_playbook(FACTS[family], output)))
    run = run_playbook(tmp_path / "inventory.yml", str(tmp_path / "resolve.yml"), timeout=300)
    assert run.returncode == 0, run.explain()
    return family, output, json.loads((output / "resolved.json").read_text())


def test_roles_resolve_for_each_os_family(rendered: tuple[str, Path, dict]) -> None:
    family, output, resolved = rendered
    expected = {
        "Debian": {
            "user": "mongodb", "group": "mongodb", "db_path": "/var/lib/mongodb",
            "repository_url": "https://repo.mongodb.org/apt/debian",
            "python_packages": ["python3-venv", "python3-packaging"],
            "limits_user": "mongodb", "os_data_path": "/var/lib/mongodb",
            "time_sync_unit": "systemd-timesyncd.service",
            "backup_packages": ["python3-venv", "python3-packaging", "cron"],
            "cron_unit": "cron.service",
        },
        "RedHat": {
            "user": "mongod", "group": "mongod", "db_path": "/var/lib/mongo",
            "repository_url": "https://repo.mongodb.org/yum/redhat/9/mongodb-org/7.0/$basearch/",
            "yum_repository": "mongodb-org-7.0",
            "python_packages": ["python3", "python3-packaging"],
            "limits_user": "mongod", "os_data_path": "/var/lib/mongo",
            "time_sync_unit": "chronyd.service",
            "backup_packages": ["python3", "python3-packaging", "cronie"],
            "cron_unit": "crond.service",
        },
    }[family]  # fmt: skip
    assert {key: resolved[key] for key in expected} == expected

    user = expected["user"]
    config = yaml.safe_load((output / "mongod.conf").read_text())
    assert config["storage"]["dbPath"] == expected["db_path"]
    assert config["systemLog"]["path"] == "/var/log/mongodb/mongod.log"
    assert config["net"]["tls"]["mode"] == "requireTLS"
    assert "fork" not in config.get("processManagement", {})  # the units run mongod in front
    for name in ("override.conf", "mongod.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.read_string((output / name).read_text())
        assert (unit["Service"]["User"], unit["Service"]["Group"]) == (user, user), name
    assert f"create 0640 {user} {user}" in (output / "logrotate").read_text()
    assert f"{user} hard nofile 64000" in (output / "limits.conf").read_text()
