"""Static checks of the Ansible content: ansible-lint (production profile) and
ansible-playbook --syntax-check of every playbook with every inventory."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ansible.playbook import ANSIBLE_DIR, BIN, PLAYBOOKS, REPOSITORY, ansible_environment

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


# --------------------------------------------------------------------------- ansible.cfg


def _config(path: Path) -> dict[str, dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return {section: dict(parser[section]) for section in parser.sections()}


def test_root_and_ansible_dir_configs_agree() -> None:
    # Relative paths in an ansible.cfg are relative to the file itself: the
    # two files must name the same directories and agree on everything else.
    root_file, ansible_file = REPOSITORY / "ansible.cfg", REPOSITORY / "ansible" / "ansible.cfg"
    root, inner = _config(root_file), _config(ansible_file)
    path_keys = {("defaults", "roles_path"), ("defaults", "inventory")}
    for section, key in path_keys:
        root_paths = [
            (root_file.parent / item).resolve() for item in root[section].pop(key).split(":")
        ]
        inner_paths = [
            (ansible_file.parent / item).resolve() for item in inner[section].pop(key).split(":")
        ]
        assert root_paths == inner_paths, f"[{section}] {key}"
        assert all(path.is_dir() for path in root_paths), f"[{section}] {key}: {root_paths}"
    assert root == inner


def test_documented_command_finds_the_roles_from_the_repository_root() -> None:
    # As the README says it: from the root, no ANSIBLE_CONFIG, no -e.
    environment = ansible_environment()
    del environment["ANSIBLE_CONFIG"]
    for inventory in ("production", "staging", "local"):
        completed = subprocess.run(
            [str(BIN / "ansible-playbook"), "--syntax-check", "-i", f"inventory/{inventory}",
             "ansible/playbooks/site.yml", "ansible/playbooks/rolling_restart.yml"],
            cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout + completed.stderr
    dump = subprocess.run(
        [str(BIN / "ansible-config"), "dump", "--only-changed"],
        cwd=REPOSITORY, env=environment, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"DEFAULT_ROLES_PATH({REPOSITORY / 'ansible.cfg'}) = ['{ANSIBLE_DIR / 'roles'}']" in (
        dump.stdout
    )


# --------------------------------------------------------------------------- no_log

ROLES = ANSIBLE_DIR / "roles"
JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Task keywords that are evaluated but never logged with their values.
NOT_LOGGED = {"name", "when", "changed_when", "failed_when", "until", "register", "no_log",
              "tags", "notify", "listen", "vars", "retries", "delay", "check_mode"}  # fmt: skip
INCLUDES = {"ansible.builtin.include_role", "ansible.builtin.import_role",
            "ansible.builtin.include_tasks", "ansible.builtin.import_tasks",
            "ansible.builtin.import_playbook"}  # fmt: skip
SECRET_VARIABLE = re.compile(r"password|secret|keyfile_content|certificate_key_content|^vault_")


def _references(value: object) -> set[str]:
    """The identifiers used inside {{ }} and {% %} anywhere in value."""
    text = yaml.safe_dump(value) if not isinstance(value, str) else value
    names: set[str] = set()
    for match in JINJA.finditer(text):
        names.update(IDENTIFIER.findall(match.group(1) or match.group(2)))
    return names


def _secret_variables() -> set[str]:
    """Variables that hold a secret: no_log options of the argument specs, names
    that say so, and role variables built from them (to a fixed point)."""
    secrets: set[str] = set()
    definitions: dict[str, object] = {}
    for spec_file in ROLES.glob("*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).values():
            for option, settings in (entry.get("options") or {}).items():
                if settings.get("no_log") or SECRET_VARIABLE.search(option):
                    secrets.add(option)
    for variables_file in [*ROLES.glob("*/defaults/main.yml"), *ROLES.glob("*/vars/main.yml")]:
        definitions.update(yaml.safe_load(variables_file.read_text()) or {})
    secrets.update(name for name in definitions if SECRET_VARIABLE.search(name))
    while True:
        derived = {name for name, value in definitions.items() if _references(value) & secrets}
        if derived <= secrets:
            return secrets
        secrets |= derived


def _tasks(path: Path) -> list[dict]:
    """The task lists of a tasks/handlers file or of a playbook's plays."""
    document = yaml.safe_load(path.read_text()) or []
    if path.parent.name == "playbooks":
        return [task for play in document for key in ("pre_tasks", "tasks", "post_tasks",
                "handlers") for task in play.get(key) or []]  # fmt: skip
    return document


def _defaults_for(module: str, layers: object) -> list[object]:
    """The module_defaults (nested, from blocks) that apply to module."""
    if not isinstance(layers, list):
        return [layers] if isinstance(layers, dict) else []
    applying: list[object] = []
    for layer in layers:
        if isinstance(layer, list):
            applying += _defaults_for(module, layer)
        elif isinstance(layer, dict):
            for key, value in layer.items():
                collection = key.removeprefix("group/").rsplit(".", 1)[0]
                if key == module or (
                    key.startswith("group/") and module.startswith(collection + ".")
                ):
                    applying.append(value)
    return applying


def _templates(role: Path, task: dict) -> list[Path]:
    """The template files a template task renders ("{{ item }}.j2" over a literal loop)."""
    source = str(task["ansible.builtin.template"]["src"])
    if "{{" not in source:
        return [role / "templates" / source]
    items = task.get("loop")
    if isinstance(items, list) and source.replace(" ", "") == "{{item}}.j2":
        return [role / "templates" / f"{item}.j2" for item in items]
    return sorted((role / "templates").glob(JINJA.sub("*", source)))


def _leaks(tasks: list[dict], where: str, secrets: set[str], no_log: object = False,
           defaults: object = None, role: Path | None = None) -> list[str]:  # fmt: skip
    found = []
    for task in tasks:
        task_no_log = task.get("no_log", no_log)
        task_defaults = [defaults, task.get("module_defaults")]
        scope = secrets | {name for name, value in (task.get("vars") or {}).items()
                           if _references(value) & secrets}  # fmt: skip
        if "block" in task:
            for part in ("block", "rescue", "always"):
                found += _leaks(
                    task.get(part) or [], where, scope, task_no_log, task_defaults, role
                )
            continue
        if INCLUDES & set(task):
            continue
        used = _references({key: value for key, value in task.items() if key not in NOT_LOGGED})
        module = next((key for key in task if "." in key), "")
        used |= _references(_defaults_for(module, task_defaults))
        if module == "ansible.builtin.template" and role is not None:
            # What a template renders shows in --diff: its variables count too.
            for template in _templates(role, task):
                used |= _references(template.read_text())
        leaked = used & scope
        if leaked and task_no_log is not True:
            found.append(f"{where}: {task.get('name')!r} uses {sorted(leaked)} without no_log")
    return found


def test_every_task_that_passes_a_secret_has_no_log() -> None:
    secrets = _secret_variables()
    # The check knows the secrets it must know (a rename would make it vacuous).
    assert {"mongodb_server_admin_password", "mongodb_replica_set_admin_password",
            "mongodb_shard_login_password", "_mongodb_backup_environment",
            "_mongodb_rbac_environment", "mongodb_server_keyfile_content"} <= secrets  # fmt: skip
    leaks = []
    files = [
        *ROLES.glob("*/tasks/*.yml"),
        *ROLES.glob("*/handlers/*.yml"),
        *PLAYBOOKS.glob("*.yml"),
    ]
    for path in sorted(files):
        role = path.parents[1] if path.parents[1].parent == ROLES else None
        leaks += _leaks(_tasks(path), str(path.relative_to(REPOSITORY)), secrets, role=role)
    assert leaks == [], "\n".join(leaks)


def test_no_log_check_catches_a_password_in_module_defaults() -> None:
    tasks = [{"name": "block", "module_defaults": {"group/x": {"login_password": "{{ a_password }}"}},
              "block": [{"name": "inner", "x.y.z": {"state": "present"}}]}]  # fmt: skip
    assert _leaks(tasks, "here", {"a_password"}) == [
        "here: 'inner' uses ['a_password'] without no_log"
    ]
    tasks[0]["no_log"] = True
    assert _leaks(tasks, "here", {"a_password"}) == []
