"""Static checks of the Ansible content: ansible-lint (production profile) and
ansible-playbook --syntax-check of every playbook with every inventory."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.ansible.playbook import BIN, PLAYBOOKS, REPOSITORY, ansible_environment

PLAYBOOK_NAMES = sorted(path.name for path in PLAYBOOKS.glob("*.yml"))
INVENTORIES = ["local", "staging", "production"]


def test_every_issue_playbook_exists() -> None:
    expected = {
        "site.yml",
        "os.yml",
        "mongod.yml",
        "replica_set.yml",
        "rbac.yml",
        "schema.yml",
        "shard.yml",
        "backup.yml",
    }
    assert expected <= set(PLAYBOOK_NAMES)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ansible_lint_production_profile() -> None:
    completed = subprocess.run(
        [
            str(BIN / "ansible-lint"),
            "--profile",
            "production",
            "--offline",
            "--nocolor",
            "-f",
            "pep8",
            "ansible",
            "inventory",
        ],
        cwd=REPOSITORY,
        env=ansible_environment(),
        capture_output=True,
        text=True,
        timeout=580,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_syntax_check_every_playbook(inventory: str) -> None:
    completed = subprocess.run(
        [
            str(BIN / "ansible-playbook"),
            "--syntax-check",
            "-i",
            str(REPOSITORY / "inventory" / inventory),
            *[str(PLAYBOOKS / name) for name in PLAYBOOK_NAMES],
        ],
        cwd=REPOSITORY,
        env=ansible_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


SECRET_NAME = re.compile(r"(password|secret|token|keyfile|key_content)", re.I)
NOT_SECRET_SUFFIXES = ("_path", "_file", "_dir")


def _secret_values(document: object, path: str = "") -> list[tuple[str, object]]:
    """Every (path, value) whose key names a secret, in a parsed YAML document."""
    found: list[tuple[str, object]] = []
    if isinstance(document, dict):
        for key, value in document.items():
            where = f"{path}.{key}" if path else str(key)
            secret = SECRET_NAME.search(str(key)) and not str(key).endswith(NOT_SECRET_SUFFIXES)
            if secret and not isinstance(value, (dict, list)):
                found.append((where, value))
            found.extend(_secret_values(value, where))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            found.extend(_secret_values(item, f"{path}[{index}]"))
    return found


def _is_placeholder(value: object) -> bool:
    if value in (None, "") or isinstance(value, bool):
        return True
    text = str(value)
    return "{{" in text or text.startswith("REPLACE")


def test_no_secret_in_role_defaults_or_inventories() -> None:
    files = [
        *sorted((REPOSITORY / "ansible" / "roles").glob("*/defaults/main.yml")),
        *sorted((REPOSITORY / "ansible" / "roles").glob("*/vars/main.yml")),
        *sorted(path for path in (REPOSITORY / "inventory").rglob("*") if path.is_file()),
    ]
    leaks = []
    for path in files:
        text = path.read_text()
        if path.name == "vault.yml":
            # A real vault is allowed only encrypted.
            assert text.startswith("$ANSIBLE_VAULT;"), f"{path} is not encrypted"
            continue
        if path.suffix not in (".yml", ".yaml", ".example"):
            continue
        for where, value in _secret_values(yaml.safe_load(text)):
            if not _is_placeholder(value):
                leaks.append(f"{path.relative_to(REPOSITORY)}: {where}")
    assert leaks == [], "secrets outside the vault: " + ", ".join(leaks)
