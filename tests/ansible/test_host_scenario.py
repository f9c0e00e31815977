"""The host plays against a real Debian bookworm root, through the chroot connection.

A pristine root is built once with debootstrap (cached under .cache/), copied
for this session, and configured by site.yml (its host plays: preflight, os,
mongod, backup; the cluster plays have no hosts in this inventory) with
mongodb_server_install_method: none. A second run of the focused playbooks
(os.yml, mongod.yml, backup.yml) must change nothing. Then pytest-testinfra
(ansible backend, same inventory) checks what is on the host.

Nothing can run in a chroot (no systemd as PID 1, no mongod), so services are
checked as enabled units and mongod itself is a stand-in that only answers
--version, as a preinstalled mongod would. The scenario needs root and
debootstrap; without them it is skipped with what to install.
"""

from __future__ import annotations

import configparser
import os
import shutil
import stat
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.ansible.debootstrap_root import (
    CACHE,
    build_pristine_root,
    cache_lock,
    copy_root,
    missing_requirements,
    remove_root,
    remove_stale_sessions,
)
from tests.ansible.playbook import BIN, REPOSITORY, SUMMARY_LINES, PlaybookRun, run_playbook

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

HOST = "db1"
# Test-only secrets: each must end up only in files nobody else can read.
KEYFILE = "VGhpcyBpcyB0aGUgdGVzdCBrZXlmaWxlIG9mIHRoZSBob3N0IHNjZW5hcmlv"
BACKUP_PASSWORD = "b@ckup/pa:ss%word-4711"
AWS_SECRET = "aws-secret-key-for-the-host-scenario-0815"
TLS_KEY_MARKER = "TESTPRIVATEKEYMATERIALDONOTUSE"
TLS_CERTIFICATE_KEY = (
    "-----BEGIN CERTIFICATE-----\nMIIBtestcertificate\n-----END CERTIFICATE-----\n"
    f"-----BEGIN PRIVATE KEY-----\n{TLS_KEY_MARKER}\n-----END PRIVATE KEY-----\n"
)
TLS_CA = "-----BEGIN CERTIFICATE-----\nMIIBtestca\n-----END CERTIFICATE-----\n"
ON_CALENDAR = "*-*-* 03:45:00"
WHEELHOUSE_DEPENDENCIES = CACHE / "wheelhouse-dependencies"


@dataclass
class Scenario:
    root: Path
    inventory: Path
    first_run: PlaybookRun
    second_run: PlaybookRun
    build_seconds: float

    def path(self, inside: str) -> Path:
        """A path of the configured host, seen from the controller."""
        return self.root / inside.lstrip("/")


def _build_wheelhouse(destination: Path) -> None:
    """The toolkit's wheel (built now) and its dependencies' wheels (cached)."""
    stamp = WHEELHOUSE_DEPENDENCIES / ".pyproject"
    pyproject = (REPOSITORY / "pyproject.toml").read_text()
    with cache_lock():
        if not stamp.exists() or stamp.read_text() != pyproject:
            _build_dependency_wheels(stamp, pyproject)
        destination.mkdir(parents=True)
        for wheel in WHEELHOUSE_DEPENDENCIES.glob("*.whl"):
            shutil.copy2(wheel, destination / wheel.name)
        # An in-tree build (it leaves build/ behind, git-ignored): one at a time.
        subprocess.run(
            [str(BIN / "pip"), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(destination),
             str(REPOSITORY)],
            check=True, capture_output=True, text=True, timeout=300,
        )  # fmt: skip


def _build_dependency_wheels(stamp: Path, pyproject: str) -> None:
    """Wheels of the toolkit's dependencies, cached until pyproject.toml changes."""
    shutil.rmtree(WHEELHOUSE_DEPENDENCIES, ignore_errors=True)
    WHEELHOUSE_DEPENDENCIES.mkdir(parents=True)
    subprocess.run(
        [str(BIN / "pip"), "wheel", "--quiet", "--wheel-dir", str(WHEELHOUSE_DEPENDENCIES),
         str(REPOSITORY)],
        check=True, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    for wheel in WHEELHOUSE_DEPENDENCIES.glob("mongo_ops_toolkit-*.whl"):
        wheel.unlink()
    stamp.write_text(pyproject)


def _write_inventory(session: Path, root: Path, wheelhouse: Path) -> Path:
    inventory = {
        "all": {
            "children": {
                "mongodb_servers": {"hosts": {HOST: None}},
                "mongodb_backup": {"hosts": {HOST: None}},
            },
            "vars": {
                "ansible_host": str(root),
                "ansible_connection": "community.general.chroot",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_become": False,
                "mongodb_os_time_sync": "systemd-timesyncd",
                "mongodb_server_install_method": "none",
                "mongodb_server_replica_set_name": "rs0",
                "mongodb_server_port": 27017,
                "mongodb_server_bind_ip": ["127.0.0.1", "10.0.0.11"],
                "mongodb_server_keyfile_content": KEYFILE,
                "mongodb_server_tls_mode": "requireTLS",
                "mongodb_server_tls_certificate_key_content": TLS_CERTIFICATE_KEY,
                "mongodb_server_tls_ca_content": TLS_CA,
                "mongodb_server_wiredtiger_cache_size_gb": 1.5,
                "mongodb_server_pip_extra_args": "--no-index --find-links=/srv/wheelhouse",
                "mongodb_backup_uri": (
                    "mongodb://db1:27017,db2:27017/?replicaSet=rs0&tls=true"
                    "&tlsCAFile=/etc/mongo-toolkit/ca.pem"
                ),
                "mongodb_backup_login_password": BACKUP_PASSWORD,
                "mongodb_backup_environment": {"AWS_SECRET_ACCESS_KEY": AWS_SECRET},
                "mongodb_backup_tls_ca_content": TLS_CA,
                "mongodb_backup_toolkit_wheelhouse": str(wheelhouse),
                "mongodb_backup_on_calendar": ON_CALENDAR,
                "mongodb_backup_randomized_delay_sec": 600,
            },
        }
    }
    path = session / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    return path


def _install_stand_in_mongod(root: Path) -> None:
    """What mongodb_server_install_method: none expects: a mongod that is already there."""
    mongod = root / "usr/bin/mongod"
    mongod.write_text(
        textwrap.dedent("""\
        #!/bin/sh
        # Stand-in for a preinstalled mongod: the host scenario never starts it.
        echo "db version v7.0.14"
        """)
    )
    mongod.chmod(0o755)


def _report_timing(line: str) -> None:
    """Show line at the end of the test run and keep it in .cache/host-scenario-timing.txt."""
    SUMMARY_LINES.append(line)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (CACHE / "host-scenario-timing.txt").write_text(f"{stamp} {line}\n")


@pytest.fixture(scope="module")
def scenario() -> Iterator[Scenario]:
    reason = missing_requirements()
    if reason:
        pytest.skip(f"host scenario skipped: {reason}")
    build_seconds = build_pristine_root()
    remove_stale_sessions("host-scenario-")
    session = CACHE / f"host-scenario-{os.getpid()}"
    if session.exists():
        remove_root(session)
    session.mkdir()
    saved_path = os.environ.get("PATH", "")
    # testinfra's ansible backend runs `ansible` and `ansible-inventory` from PATH.
    os.environ["PATH"] = f"{BIN}{os.pathsep}{saved_path}"
    try:
        root = session / "root"
        copy_root(root)
        wheelhouse = session / "wheelhouse"
        _build_wheelhouse(wheelhouse)
        # A local package mirror on the host, for pymongo (mongodb_server_pip_extra_args).
        shutil.copytree(wheelhouse, root / "srv/wheelhouse")
        _install_stand_in_mongod(root)
        inventory = _write_inventory(session, root, wheelhouse)

        first = run_playbook(inventory, "site.yml", timeout=900)
        assert first.returncode == 0, first.explain()
        second = run_playbook(inventory, "os.yml", "mongod.yml", "backup.yml", timeout=900)
        _report_timing(
            f"host scenario: debootstrap build {build_seconds:.0f} s (0 = cached), "
            f"first run {first.seconds:.0f} s (changed={first.changed(HOST)}), "
            f"second run {second.seconds:.0f} s (changed={second.changed(HOST)})"
        )
        assert second.returncode == 0, second.explain()
        yield Scenario(root, inventory, first, second, build_seconds)
    finally:
        os.environ["PATH"] = saved_path
        remove_root(session)


@pytest.fixture(scope="module")
def host(scenario: Scenario):  # type: ignore[no-untyped-def]
    testinfra = pytest.importorskip("testinfra")
    return testinfra.get_host(
        f"ansible://{HOST}?force_ansible=True", ansible_inventory=str(scenario.inventory)
    )


def test_first_run_configures_the_host(scenario: Scenario) -> None:
    assert scenario.first_run.recap[HOST]["failed"] == 0
    assert scenario.first_run.changed(HOST) > 10


def test_second_run_changes_nothing(scenario: Scenario) -> None:
    assert scenario.second_run.changed(HOST) == 0, "a second run changed: " + ", ".join(
        scenario.second_run.changed_tasks()
    )


def test_mongod_conf(host) -> None:  # type: ignore[no-untyped-def]
    config = yaml.safe_load(host.file("/etc/mongod.conf").content_string)
    assert config["replication"] == {"replSetName": "rs0"}
    assert config["net"]["port"] == 27017
    assert config["net"]["bindIp"] == "127.0.0.1,10.0.0.11"
    assert config["net"]["tls"] == {
        "mode": "requireTLS",
        "certificateKeyFile": "/etc/mongodb/tls/mongod.pem",
        "CAFile": "/etc/mongodb/tls/ca.pem",
        "allowConnectionsWithoutCertificates": True,
        "disabledProtocols": "TLS1_0,TLS1_1",
    }
    assert config["security"] == {
        "authorization": "enabled",
        "clusterAuthMode": "keyFile",
        "keyFile": "/etc/mongodb/keyfile",
    }
    assert config["storage"]["wiredTiger"]["engineConfig"]["cacheSizeGB"] == 1.5
    assert config["storage"]["dbPath"] == "/var/lib/mongodb"
    assert config["systemLog"]["logRotate"] == "reopen"
    assert config["systemLog"]["logAppend"] is True


def test_mongodb_user_and_secret_files(host) -> None:  # type: ignore[no-untyped-def]
    user = host.user("mongodb")
    assert user.exists and user.group == "mongodb"
    assert user.shell == "/usr/sbin/nologin"
    listing = host.check_output(
        "stat -c '%n %U %G %a' /etc/mongodb/keyfile /etc/mongodb/tls/mongod.pem "
        "/etc/mongodb/tls/ca.pem /var/lib/mongodb /var/log/mongodb /etc/mongod.conf"
    )
    owners = {line.split()[0]: line.split()[1:] for line in listing.splitlines()}
    assert owners["/etc/mongodb/keyfile"] == ["mongodb", "mongodb", "400"]
    assert owners["/etc/mongodb/tls/mongod.pem"] == ["mongodb", "mongodb", "400"]
    assert owners["/etc/mongodb/tls/ca.pem"] == ["root", "mongodb", "644"]
    assert owners["/var/lib/mongodb"] == ["mongodb", "mongodb", "750"]
    assert owners["/var/log/mongodb"] == ["mongodb", "mongodb", "750"]
    assert owners["/etc/mongod.conf"] == ["root", "root", "644"]
    assert host.file("/etc/mongodb/keyfile").content_string.strip() == KEYFILE


def test_limits_and_kernel_settings(host) -> None:  # type: ignore[no-untyped-def]
    limits = host.file("/etc/security/limits.d/60-mongodb.conf").content_string
    for line in (
        "mongodb soft nofile 64000",
        "mongodb hard nofile 64000",
        "mongodb soft nproc 64000",
        "mongodb hard nproc 64000",
    ):
        assert line in limits
    sysctl = host.file("/etc/sysctl.d/60-mongodb.conf").content_string
    assert "vm.swappiness = 1" in sysctl
    assert "net.ipv4.tcp_keepalive_time = 120" in sysctl
    override = configparser.ConfigParser(strict=False, interpolation=None)
    override.read_string(
        host.file("/etc/systemd/system/mongod.service.d/50-mongo-ops-toolkit.conf").content_string
    )
    assert override["Service"]["LimitNOFILE"] == "64000"
    assert override["Service"]["LimitNPROC"] == "64000"
    assert override["Service"]["User"] == "mongodb"
    assert "mongodb-transparent-hugepages.service" in override["Unit"]["After"]


def test_transparent_huge_pages_unit(host) -> None:  # type: ignore[no-untyped-def]
    unit = host.file("/etc/systemd/system/mongodb-transparent-hugepages.service").content_string
    assert "Before=mongod.service" in unit
    assert 'echo never > "$d/enabled"' in unit
    assert "WantedBy=basic.target" in unit


def test_units_are_enabled(host) -> None:  # type: ignore[no-untyped-def]
    units = [
        "mongod.service",
        "mongodb-transparent-hugepages.service",
        "systemd-timesyncd.service",
        "mongodb-backup.timer",
    ]
    result = host.run("systemctl is-enabled " + " ".join(units))
    assert result.stdout.split() == ["enabled"] * len(units), result.stdout + result.stderr


def test_backup_timer_and_service(host) -> None:  # type: ignore[no-untyped-def]
    timer = host.file("/etc/systemd/system/mongodb-backup.timer").content_string
    assert f"OnCalendar={ON_CALENDAR}" in timer
    assert "Persistent=true" in timer
    assert "RandomizedDelaySec=600" in timer
    service = host.file("/etc/systemd/system/mongodb-backup.service").content_string
    assert "ExecStart=/usr/local/bin/mongodb-backup" in service
    assert "User=mongodb-backup" in service
    command = host.file("/usr/local/bin/mongodb-backup").content_string
    create = command.index("backup create --to /var/backups/mongodb")
    assert create < command.index("backup prune --from /var/backups/mongodb")
    assert "--metrics-file /var/lib/mongodb-backup/metrics/mongodb_backup.prom" in command
    assert "set -euo pipefail" in command
    assert "/opt/mongo-toolkit/venv/bin/mongo-toolkit" in command
    assert not host.file("/etc/cron.d/mongodb-backup").exists


def test_backup_config_is_private(host) -> None:  # type: ignore[no-untyped-def]
    listing = host.check_output("stat -c '%U %G %a' /etc/mongo-toolkit/backup.env")
    assert listing.split() == ["mongodb-backup", "mongodb-backup", "600"]
    config = host.file("/etc/mongo-toolkit/backup.env").content_string
    assert "MONGODB_URI=" in config
    assert "b%40ckup%2Fpa%3Ass%25word-4711@db1:27017" in config
    assert "TOOLKIT_CATALOG=/etc/mongo-toolkit/catalog" in config


def test_installed_toolkit_checks_the_copied_catalog(host) -> None:  # type: ignore[no-untyped-def]
    result = host.run(
        "/opt/mongo-toolkit/venv/bin/mongo-toolkit --catalog /etc/mongo-toolkit/catalog "
        "catalog check"
    )
    assert result.rc == 0, result.stdout + result.stderr
    pymongo = host.run("/opt/mongodb-ansible/venv/bin/python -c 'import pymongo'")
    assert pymongo.rc == 0, pymongo.stderr


def test_metrics_file_is_linked_for_node_exporter(scenario: Scenario) -> None:
    link = scenario.path("/var/lib/prometheus/node-exporter/mongodb_backup.prom")
    assert link.is_symlink()
    assert os.readlink(link) == "/var/lib/mongodb-backup/metrics/mongodb_backup.prom"


def test_no_file_readable_by_others_holds_a_secret(scenario: Scenario, host) -> None:  # type: ignore[no-untyped-def]
    secrets = [
        KEYFILE,
        BACKUP_PASSWORD,
        "b%40ckup%2Fpa%3Ass%25word-4711",
        AWS_SECRET,
        TLS_KEY_MARKER,
    ]
    # The patterns go to grep in a root-only file, not on its command line
    # (which Ansible would write to the host in its module file).
    patterns = scenario.path("/root/secret-patterns")
    patterns.write_text("\n".join(secrets) + "\n")
    patterns.chmod(0o600)
    try:
        # Every file that holds one, with its mode (the chroot has no /proc or /sys).
        result = host.run(
            "grep -rlsF -f /root/secret-patterns / --exclude-dir=proc --exclude-dir=sys "
            "--exclude-dir=dev --exclude-dir=srv | xargs -r stat -c '%a %U %n'"
        )
    finally:
        patterns.unlink()
    holders = [line.split(" ", 2) for line in result.stdout.splitlines()]
    assert {name for _, _, name in holders} >= {
        "/etc/mongodb/keyfile",
        "/etc/mongo-toolkit/backup.env",
        "/etc/mongodb/tls/mongod.pem",
    }
    readable = [name for mode, _, name in holders if int(mode, 8) & stat.S_IROTH]
    assert readable == [], f"readable by others and holding a secret: {readable}"


def test_scenario_stays_within_budget(scenario: Scenario) -> None:
    # The whole scenario (both runs) is meant to take a few minutes once the
    # pristine root is cached; a regression here slows every `make test`.
    assert scenario.first_run.seconds + scenario.second_run.seconds < 420


def test_cron_alternative_replaces_the_timer(scenario: Scenario) -> None:
    # Last in this module: it switches the host to cron.
    run = run_playbook(
        scenario.inventory, "backup.yml", args=("-e", "mongodb_backup_scheduler=cron")
    )
    assert run.returncode == 0, run.explain()
    cron = scenario.path("/etc/cron.d/mongodb-backup").read_text()
    assert "30 2 * * * mongodb-backup /usr/local/bin/mongodb-backup" in cron
    assert not scenario.path("/etc/systemd/system/mongodb-backup.timer").exists()
    assert not scenario.path(
        "/etc/systemd/system/timers.target.wants/mongodb-backup.timer"
    ).exists()
