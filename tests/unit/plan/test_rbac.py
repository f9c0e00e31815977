"""The users-and-roles planner on plain data: set comparison, templates, passwords."""

import json
from pathlib import Path

import pytest

from toolkit.actions.rbac import read_password, read_passwords
from toolkit.catalog.load import load_catalog
from toolkit.errors import CatalogError, UsageError
from toolkit.mongo.rbac import to_wire
from toolkit.plan.rbac import (
    APP_READ_WRITE_ACTIONS,
    ObservedRbac,
    ObservedRole,
    ObservedUser,
    PasswordSource,
    desired_rbac,
    plan_rbac,
)

CATALOG = """
roles:
  - role: reporting
    db: shop
    privileges:
      - {resource: {db: shop, collection: orders}, actions: [find, listIndexes]}
      - {resource: {db: shop, collection: orders}, actions: [collStats]}
    roles: [shop_rw]
  - {role: shop_rw, db: shop, template: app_read_write}
  - {role: ops, db: admin, template: monitoring}
  - {role: analyst, db: admin, template: read_only_analyst, target_db: shop}
users:
  - user: app
    db: shop
    roles: [shop_rw, {role: read, db: shop}]
    mechanisms: [SCRAM-SHA-256]
    password_env: APP_PASSWORD
    custom_data: {team: payments}
    authentication_restrictions: [{clientSource: [10.0.0.0/8, 127.0.0.1]}]
  - user: monitor
    db: admin
    roles: [{role: ops, db: admin}]
    password_file: /run/secrets/monitor
"""


@pytest.fixture
def desired(tmp_path: Path):
    path = tmp_path / "c.yaml"
    path.write_text(CATALOG)
    return desired_rbac(load_catalog(path))


def in_sync() -> ObservedRbac:
    """The server after `rbac apply`, as usersInfo/rolesInfo report it: other orders,
    privileges on one resource merged, actions sorted differently."""
    return ObservedRbac(
        roles=(
            ObservedRole("analyst", "admin", (), (("read", "shop"),)),
            ObservedRole("ops", "admin", (), (("clusterMonitor", "admin"),)),
            ObservedRole(
                "shop_rw",
                "shop",
                (
                    {
                        "resource": {"collection": "", "db": "shop"},
                        "actions": sorted(APP_READ_WRITE_ACTIONS, reverse=True),
                    },
                ),
            ),
            ObservedRole(
                "reporting",
                "shop",
                (
                    {
                        "resource": {"db": "shop", "collection": "orders"},
                        "actions": ["listIndexes", "collStats", "find"],
                    },
                ),
                (("shop_rw", "shop"),),
            ),
        ),
        users=(
            ObservedUser(
                "app",
                "shop",
                (("read", "shop"), ("shop_rw", "shop")),
                ("SCRAM-SHA-256",),
                {"team": "payments"},
                ({"clientSource": ["127.0.0.1", "10.0.0.0/8"]},),
            ),
            ObservedUser("monitor", "admin", (("ops", "admin"),), ("SCRAM-SHA-1", "SCRAM-SHA-256")),
        ),
    )


def summary(plan):
    return [(op.kind, op.target) for op in plan.operations]


def test_templates_expand(desired):
    roles = {spec.role: spec for spec in desired.roles}
    assert roles["shop_rw"].privileges == (
        {"resource": {"db": "shop", "collection": ""}, "actions": sorted(APP_READ_WRITE_ACTIONS)},
    )
    assert "dropCollection" not in APP_READ_WRITE_ACTIONS  # the toolkit owns the schema
    assert roles["ops"].roles == (("clusterMonitor", "admin"),)
    assert roles["analyst"].roles == (("read", "shop"),)
    # two privileges on one resource merge, as the server merges them
    assert roles["reporting"].privileges == (
        {
            "resource": {"db": "shop", "collection": "orders"},
            "actions": ["collStats", "find", "listIndexes"],
        },
    )


def test_empty_server_creates_roles_before_their_heirs_then_users(desired):
    plan = plan_rbac(desired, ObservedRbac())
    assert summary(plan) == [
        ("create-role", "role analyst@admin"),
        ("create-role", "role ops@admin"),
        ("create-role", "role shop_rw@shop"),
        ("create-role", "role reporting@shop"),
        ("create-user", "user app@shop"),
        ("create-user", "user monitor@admin"),
    ]
    create_app = plan.operations[4]
    assert create_app.database == "shop"
    assert create_app.command == {
        "createUser": "app",
        "pwd": "***",
        "roles": [{"role": "shop_rw", "db": "shop"}, {"role": "read", "db": "shop"}],
        "mechanisms": ["SCRAM-SHA-256"],
        "customData": {"team": "payments"},
        "authenticationRestrictions": [{"clientSource": ["10.0.0.0/8", "127.0.0.1"]}],
    }
    assert create_app.password == PasswordSource(env="APP_PASSWORD")
    assert create_app.as_dict()["password"] == "from $APP_PASSWORD"


def test_order_never_matters(desired):
    plan = plan_rbac(desired, in_sync())
    assert plan.operations == ()


def test_differences_are_listed(desired):
    observed = in_sync()
    roles = list(observed.roles)
    roles[3] = ObservedRole(
        "reporting",
        "shop",
        ({"resource": {"db": "shop", "collection": "orders"}, "actions": ["find", "remove"]},),
        (("read", "shop"),),
    )
    users = list(observed.users)
    users[0] = ObservedUser("app", "shop", (("read", "shop"),), ("SCRAM-SHA-1",), None, ())
    plan = plan_rbac(desired, ObservedRbac(tuple(roles), tuple(users)))
    assert summary(plan) == [
        ("update-role", "role reporting@shop"),
        ("update-user", "user app@shop"),
    ]
    role, user = plan.operations
    assert role.reason == (
        "privileges +collStats,listIndexes on shop.orders; -remove on shop.orders; "
        "inherited roles +shop_rw@shop, -read@shop"
    )
    assert set(role.command) == {"updateRole", "privileges", "roles"}
    assert user.reason.startswith("roles +shop_rw@shop; mechanisms +SCRAM-SHA-256, -SCRAM-SHA-1")
    # adding a mechanism needs the password
    assert user.command["pwd"] == "***" and user.password == PasswordSource(env="APP_PASSWORD")
    assert user.command["customData"] == {"team": "payments"}


def test_passwords_change_only_when_asked_and_then_every_time(desired):
    assert plan_rbac(desired, in_sync()).operations == ()
    for _ in range(2):
        plan = plan_rbac(desired, in_sync(), update_passwords=True)
        assert summary(plan) == [
            ("update-user", "user app@shop"),
            ("update-user", "user monitor@admin"),
        ]
        assert all(op.command["pwd"] == "***" for op in plan.operations)
        assert "--update-passwords" in plan.operations[0].reason


def test_strays_are_dropped_only_with_allow_drop_and_never_the_connected_user(desired):
    observed = in_sync()
    observed = ObservedRbac(
        roles=(*observed.roles, ObservedRole("old", "shop")),
        users=(*observed.users, ObservedUser("stray", "other"), ObservedUser("root", "admin")),
        protected=(("root", "admin"),),
    )
    plan = plan_rbac(desired, observed)
    assert summary(plan) == [("drop-user", "user stray@other"), ("drop-role", "role old@shop")]
    assert all(op.destructive for op in plan.operations)
    assert plan.runnable(allow_drop=False) == []
    assert plan.notes and "root@admin" in plan.notes[0]


def test_database_scope(desired):
    plan = plan_rbac(
        desired, ObservedRbac(users=(ObservedUser("stray", "other"),)), databases=["shop"]
    )
    assert summary(plan) == [
        ("create-role", "role shop_rw@shop"),
        ("create-role", "role reporting@shop"),
        ("create-user", "user app@shop"),
    ]


@pytest.mark.parametrize(
    ("yaml_text", "problem"),
    [
        ("users: [{user: u, db: s}]", "needs password_env or password_file"),
        ("users: [{user: u, db: s, password_env: A, password_file: /f}]", "not both"),
        ("roles: [{role: r, db: s, template: backup_operator}]", "declare the role with db: admin"),
        (
            "roles: [{role: r, db: s, template: app_read_write, target_db: t}]",
            "must be defined in t or in admin",
        ),
        (
            "roles: [{role: r, db: s, privileges: "
            "[{resource: {db: t, collection: ''}, actions: [find]}]}]",
            "only holds privileges on its own database s",
        ),
        (
            "roles: [{role: r, db: s, privileges: [{resource: {cluster: true}, actions: [find]}]}]",
            "a cluster privilege needs a role defined in admin",
        ),
        ("roles: [{role: r, db: s, roles: [ghost]}]", "ghost@s, which is neither built-in"),
        (
            "roles: [{role: a, db: s, roles: [b]}, {role: b, db: s, roles: [a]}]",
            "roles inherit each other in a cycle",
        ),
        (
            "users: [{user: u, db: s, password_env: A, roles: [ghost]}]",
            "ghost@s is neither built-in",
        ),
    ],
)
def test_catalog_problems(tmp_path, yaml_text, problem):
    path = tmp_path / "c.yaml"
    path.write_text(yaml_text + "\n")
    with pytest.raises(CatalogError) as raised:
        desired_rbac(load_catalog(path))
    assert any(problem in message for message in raised.value.problems), raised.value.problems


def test_literal_password_is_a_catalog_error(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("users: [{user: u, db: s, password: hunter2xyz}]\n")
    with pytest.raises(CatalogError) as raised:
        load_catalog(path)
    assert "a literal password is not allowed" in raised.value.problems[0]
    assert "hunter2xyz" not in " ".join(raised.value.problems)


def test_external_users_need_no_password(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("users: [{user: 'CN=app', db: $external, roles: [{role: read, db: s}]}]\n")
    desired = desired_rbac(load_catalog(path))
    [operation] = plan_rbac(desired, ObservedRbac()).operations
    assert "pwd" not in operation.command and operation.password is None


def test_passwords_are_read_from_env_or_file_and_put_in_only_on_the_wire(desired, tmp_path):
    secret_file = tmp_path / "monitor"
    secret_file.write_text("s3cret-from-file\nignored second line\n")
    plan = plan_rbac(desired, ObservedRbac())
    creates = [op for op in plan.operations if op.kind == "create-user"]
    app, monitor = creates
    monitor = type(monitor)(
        **{**monitor.__dict__, "password": PasswordSource(file=str(secret_file))}
    )
    passwords = read_passwords([app, monitor], environ={"APP_PASSWORD": "s3cret-from-env"})
    assert to_wire(app, passwords)["pwd"] == "s3cret-from-env"
    assert to_wire(monitor, passwords)["pwd"] == "s3cret-from-file"
    shown = json.dumps([op.as_dict() for op in plan.operations])
    assert "s3cret" not in shown and app.command["pwd"] == "***"


def test_missing_password_names_the_source_only():
    with pytest.raises(UsageError, match="environment variable NOPE is not set"):
        read_password(PasswordSource(env="NOPE"), environ={})
    with pytest.raises(UsageError, match="cannot read password file /nonexistent/pw"):
        read_password(PasswordSource(file="/nonexistent/pw"))
