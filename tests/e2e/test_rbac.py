"""`rbac plan|apply` end to end: plan, apply, plan is empty, and no password ever shows."""

import contextlib
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.e2e.cli import run_cli
from tests.support.server import MongoTestServer

SENTINEL_ENV = "Sentinel-env-" + uuid.uuid4().hex
SENTINEL_FILE = "Sentinel-file-" + uuid.uuid4().hex

CATALOG = """
roles:
  - {{role: shop_rw, db: {db}, template: app_read_write}}
  - role: reporting
    db: {db}
    privileges:
      - {{resource: {{db: {db}, collection: orders}}, actions: [find, listIndexes]}}
      - {{resource: {{db: {db}, collection: orders}}, actions: [collStats]}}
    roles: [shop_rw]
users:
  - user: app_{suffix}
    db: {db}
    roles: [shop_rw, {{role: read, db: {db}}}]
    mechanisms: [SCRAM-SHA-256]
    password_env: SHOP_APP_PASSWORD
    custom_data: {{team: payments}}
    authentication_restrictions: [{{clientSource: [127.0.0.1, 10.0.0.0/8]}}]
  - user: analyst_{suffix}
    db: {db}
    roles: [reporting]
    password_file: {password_file}
"""


@pytest.fixture
def catalog(tmp_path: Path):
    password_file = tmp_path / "analyst.pw"
    password_file.write_text(SENTINEL_FILE + "\n")
    suffix = uuid.uuid4().hex[:6]
    db = f"rbac_{suffix}"
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG.format(db=db, suffix=suffix, password_file=password_file))
    return path, db, suffix


def rbac(catalog: Path, uri: str, *args: str, env: dict | None = None):
    environment = {"SHOP_APP_PASSWORD": SENTINEL_ENV, **(env or {})}
    return run_cli("--catalog", str(catalog), *args, uri=uri, env=environment)


def assert_no_password(*results) -> None:
    for result in results:
        for sentinel in (SENTINEL_ENV, SENTINEL_FILE):
            assert sentinel not in result.stdout
            assert sentinel not in result.stderr


def test_plan_apply_plan_and_no_password_anywhere(mongo_server, catalog):
    path, db, suffix = catalog
    uri = mongo_server.uri
    stray = MongoClient(uri)
    stray.other.command("createUser", "stray", pwd="not-a-sentinel", roles=[])
    stray.close()

    first = rbac(path, uri, "--json", "rbac", "plan", "--db", db)
    assert first.returncode == 0, first.output
    plan = first.json()
    assert [(op["kind"], op["target"]) for op in plan["operations"]] == [
        ("create-role", f"role shop_rw@{db}"),
        ("create-role", f"role reporting@{db}"),
        ("create-user", f"user app_{suffix}@{db}"),
        ("create-user", f"user analyst_{suffix}@{db}"),
    ]
    assert plan["operations"][2]["command"]["pwd"] == "***"
    assert plan["operations"][2]["password"] == "from $SHOP_APP_PASSWORD"

    applied = rbac(path, uri, "-vv", "--json", "rbac", "apply", "--db", db)
    assert applied.returncode == 0, applied.output
    assert applied.json()["changed"] is True and applied.json()["done"] == 4

    second = rbac(path, uri, "rbac", "plan", "--db", db, "--check")
    assert second.returncode == 0, second.output
    assert "in sync" in second.stdout
    again = rbac(path, uri, "--json", "rbac", "apply", "--db", db)
    assert again.json()["changed"] is False

    # Without --db the stray user of another database is reported, never dropped by default.
    everything = rbac(path, uri, "--json", "rbac", "plan")
    assert [(op["kind"], op["target"]) for op in everything.json()["operations"]] == [
        ("drop-user", "user stray@other")
    ]
    assert_no_password(first, applied, second, again, everything)

    # The passwords really are the ones from the environment and the file.
    for user, password in ((f"app_{suffix}", SENTINEL_ENV), (f"analyst_{suffix}", SENTINEL_FILE)):
        client = MongoClient(uri, username=user, password=password, authSource=db)
        assert client[db].command("ping")["ok"] == 1
        client.close()
    wrong = MongoClient(uri, username=f"app_{suffix}", password="wrong", authSource=db)
    with pytest.raises(OperationFailure):
        wrong[db].command("ping")
    wrong.close()

    users = MongoClient(uri)[db].command(
        "usersInfo", f"app_{suffix}", showAuthenticationRestrictions=True
    )
    [user] = users["users"]
    assert user["mechanisms"] == ["SCRAM-SHA-256"]
    assert user["customData"] == {"team": "payments"}
    assert {r["role"] for r in user["roles"]} == {"shop_rw", "read"}


def test_update_passwords_is_a_change_every_time(mongo_server, catalog):
    path, db, suffix = catalog
    uri = mongo_server.uri
    assert rbac(path, uri, "rbac", "apply", "--db", db).returncode == 0
    runs = [
        rbac(path, uri, "-vv", "--json", "rbac", "apply", "--db", db, "--update-passwords")
        for _ in range(2)
    ]
    for run in runs:
        assert run.returncode == 0, run.output
        assert run.json()["changed"] is True
        assert [op["kind"] for op in run.json()["operations"]] == ["update-user", "update-user"]
    changed = rbac(
        path,
        uri,
        "rbac",
        "apply",
        "--db",
        db,
        "--update-passwords",
        env={"SHOP_APP_PASSWORD": SENTINEL_ENV + "-new"},
    )
    assert changed.returncode == 0
    client = MongoClient(
        uri, username=f"app_{suffix}", password=SENTINEL_ENV + "-new", authSource=db
    )
    assert client[db].command("ping")["ok"] == 1
    client.close()
    assert_no_password(*runs)
    assert SENTINEL_ENV not in changed.stdout + changed.stderr


def test_strays_are_dropped_only_with_allow_drop(mongo_server, catalog):
    path, db, _ = catalog
    uri = mongo_server.uri
    client = MongoClient(uri)
    client[db].command("createRole", "old_role", privileges=[], roles=[])
    client[db].command("createUser", "old_user", pwd="not-a-sentinel", roles=[])
    client.close()
    assert rbac(path, uri, "rbac", "apply", "--db", db).returncode == 0
    plan = rbac(path, uri, "--json", "rbac", "plan", "--db", db).json()
    assert [(op["kind"], op["destructive"]) for op in plan["operations"]] == [
        ("drop-user", True),
        ("drop-role", True),
    ]
    assert plan["would_run"] == 0
    dropped = rbac(path, uri, "--json", "rbac", "apply", "--db", db, "--allow-drop")
    assert dropped.json()["done"] == 2
    assert rbac(path, uri, "--json", "rbac", "plan", "--db", db).json()["pending"] == 0


def test_roles_in_databases_outside_the_catalog_are_reported(mongo_server, catalog):
    """Roles live in admin.system.roles whatever their database: one defined in a database
    the catalog does not name (and that holds no data) is extra like any other."""
    path, db, _ = catalog
    uri = mongo_server.uri
    assert rbac(path, uri, "rbac", "apply").returncode == 0
    client = MongoClient(uri)
    client.legacy.command("createRole", "old_reader", privileges=[], roles=["read"])
    client.archive.things.insert_one({"_id": 1})
    client.archive.command("createRole", "old_writer", privileges=[], roles=[])
    assert "legacy" not in client.list_database_names()
    client.close()

    plan = rbac(path, uri, "--json", "rbac", "plan")
    assert plan.returncode == 0, plan.output
    assert [(op["kind"], op["target"], op["destructive"]) for op in plan.json()["operations"]] == [
        ("drop-role", "role old_reader@legacy", True),
        ("drop-role", "role old_writer@archive", True),
    ]
    skipped = rbac(path, uri, "--json", "rbac", "apply").json()
    assert skipped["changed"] is False and skipped["skipped"] == 2
    dropped = rbac(path, uri, "--json", "rbac", "apply", "--allow-drop").json()
    assert dropped["done"] == 2
    assert rbac(path, uri, "--json", "rbac", "plan").json()["pending"] == 0


RESTRICTED_CATALOG = """
roles:
  - role: office_reader
    db: {db}
    roles: [read]
    authentication_restrictions:
      - {{clientSource: [10.0.0.0/8, 127.0.0.1], serverAddress: [127.0.0.1]}}
  - role: office_lead
    db: {db}
    roles: [office_reader]
    authentication_restrictions:
      - {{clientSource: [127.0.0.1]}}
"""


def test_role_with_authentication_restrictions_plan_apply_plan(mongo_server, tmp_path):
    db = f"rbac_{uuid.uuid4().hex[:6]}"
    path = tmp_path / "catalog.yaml"
    path.write_text(RESTRICTED_CATALOG.format(db=db))
    uri = mongo_server.uri
    first = rbac(path, uri, "--json", "rbac", "plan")
    assert [op["kind"] for op in first.json()["operations"]] == ["create-role", "create-role"]
    applied = rbac(path, uri, "--json", "rbac", "apply")
    assert applied.returncode == 0, applied.output
    assert applied.json()["done"] == 2
    again = rbac(path, uri, "rbac", "plan", "--check")
    assert again.returncode == 0, again.output
    assert "in sync" in again.stdout

    # a changed restriction is planned as an update, and applying it converges
    path.write_text(RESTRICTED_CATALOG.format(db=db).replace("10.0.0.0/8", "192.168.0.0/16"))
    changed = rbac(path, uri, "--json", "rbac", "plan").json()
    assert [(op["kind"], op["target"]) for op in changed["operations"]] == [
        ("update-role", f"role office_reader@{db}")
    ]
    assert "authentication restrictions differ" in changed["operations"][0]["reason"]
    assert rbac(path, uri, "rbac", "apply").returncode == 0
    assert rbac(path, uri, "rbac", "plan", "--check").returncode == 0


def test_with_authentication_the_connected_user_is_never_dropped(catalog):
    path, db, _ = catalog
    admin_password = "Admin-" + uuid.uuid4().hex
    with MongoTestServer(auth=True) as locked:
        bootstrap = MongoClient(locked.uri)
        bootstrap.admin.command("createUser", "root", pwd=admin_password, roles=["root"])
        bootstrap.close()
        uri = f"mongodb://root:{admin_password}@{locked.host}/?authSource=admin"
        applied = rbac(path, uri, "-vv", "rbac", "apply", "--allow-drop")
        assert applied.returncode == 0, applied.output
        assert "root@admin" in applied.stdout and "never dropped" in applied.stdout
        plan = rbac(path, uri, "--json", "rbac", "plan", "--allow-drop")
        assert plan.json()["pending"] == 0
    assert_no_password(applied, plan)
    assert admin_password not in applied.stdout + applied.stderr


def test_missing_password_changes_nothing(mongo_server, catalog):
    path, db, _ = catalog
    result = run_cli(
        "--catalog",
        str(path),
        "rbac",
        "apply",
        "--db",
        db,
        uri=mongo_server.uri,
        env={"SHOP_APP_PASSWORD": ""},
    )
    assert result.returncode == 2, result.output
    assert "environment variable SHOP_APP_PASSWORD is not set or empty" in result.stderr
    client = MongoClient(mongo_server.uri)
    assert client[db].command("rolesInfo", 1)["roles"] == []
    client.close()


def test_literal_password_in_the_catalog_is_refused(mongo_server, tmp_path):
    path = tmp_path / "catalog.yaml"
    path.write_text(f"users:\n  - {{user: u, db: s, password: {SENTINEL_ENV}}}\n")
    result = run_cli("--catalog", str(path), "rbac", "plan", uri=mongo_server.uri)
    assert result.returncode == 2
    assert "a literal password is not allowed in a catalog" in result.stderr
    assert SENTINEL_ENV not in result.stdout + result.stderr


@pytest.mark.live
def test_plan_apply_plan_on_any_server(server, catalog):
    path, db, suffix = catalog
    try:
        applied = rbac(path, server.uri, "rbac", "apply", "--db", db)
        assert applied.returncode == 0, applied.output
        second = rbac(path, server.uri, "--json", "rbac", "plan", "--db", db)
        assert second.json()["pending"] == 0, second.stdout
        assert_no_password(applied, second)
    finally:
        client = server.client()
        for command, name in (
            ("dropUser", f"app_{suffix}"),
            ("dropUser", f"analyst_{suffix}"),
            ("dropRole", "reporting"),
            ("dropRole", "shop_rw"),
        ):
            with contextlib.suppress(OperationFailure):
                client[db].command(command, name)
