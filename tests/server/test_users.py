"""Users, roles and SCRAM authentication (MONGODB-FACTS section 7)."""

from __future__ import annotations

from collections.abc import Iterator

import pymongo
import pytest
from pymongo.errors import OperationFailure

from tests.support.server import MongoTestServer


def _failure(call, *args, **kwargs) -> OperationFailure:
    with pytest.raises(OperationFailure) as error:
        call(*args, **kwargs)
    return error.value


@pytest.fixture
def secured() -> Iterator[MongoTestServer]:
    with MongoTestServer(auth=True) as server:
        yield server


def test_create_user_and_users_info(client: pymongo.MongoClient) -> None:
    client.shop.command(
        "createUser", "app", pwd="s3cret", roles=["readWrite"], customData={"team": "web"}
    )
    reply = client.shop.command("usersInfo", "app")
    [user] = reply["users"]
    assert list(user) == ["_id", "userId", "user", "db", "roles", "customData", "mechanisms"]
    assert user["_id"] == "shop.app" and user["userId"].subtype == 4
    assert user["roles"] == [{"role": "readWrite", "db": "shop"}]
    assert user["mechanisms"] == ["SCRAM-SHA-1", "SCRAM-SHA-256"]
    assert "credentials" not in user and "s3cret" not in repr(reply)
    assert client.shop.command("usersInfo", 1)["users"][0]["user"] == "app"
    assert client.shop.command("usersInfo", {"user": "app", "db": "shop"})["users"]
    assert client.admin.command("usersInfo", {"forAllDBs": True})["users"][0]["db"] == "shop"
    with_credentials = client.shop.command("usersInfo", "app", showCredentials=True)
    assert set(with_credentials["users"][0]["credentials"]) == {"SCRAM-SHA-1", "SCRAM-SHA-256"}


def test_users_info_with_privileges(client: pymongo.MongoClient) -> None:
    client.shop.command(
        "createRole",
        "auditor",
        privileges=[{"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}],
        roles=[],
    )
    client.shop.command("createUser", "bob", pwd="pw", roles=["auditor", "read"])
    [user] = client.shop.command("usersInfo", "bob", showPrivileges=True)["users"]
    assert list(user)[:6] == ["_id", "userId", "user", "db", "mechanisms", "roles"]
    assert {"role": "auditor", "db": "shop"} in user["inheritedRoles"]
    resources = [privilege["resource"] for privilege in user["inheritedPrivileges"]]
    assert {"db": "shop", "collection": "orders"} in resources


def test_user_errors(client: pymongo.MongoClient) -> None:
    client.shop.command("createUser", "app", pwd="pw", roles=[])
    duplicate = _failure(client.shop.command, "createUser", "app", pwd="pw", roles=[])
    assert duplicate.details == {
        "ok": 0.0,
        "errmsg": 'User "app@shop" already exists',
        "code": 51003,
        "codeName": "Location51003",
    }
    missing = _failure(client.shop.command, "dropUser", "ghost")
    assert (missing.code, missing.details["errmsg"]) == (
        11,
        'Could not find user "ghost" for db "shop"',
    )
    bad_role = _failure(client.shop.command, "createUser", "x", pwd="pw", roles=["raed"])
    assert (bad_role.code, bad_role.details["codeName"]) == (31, "RoleNotFound")
    assert "pw" not in bad_role.details["errmsg"]


def test_update_grant_revoke_drop_user(client: pymongo.MongoClient) -> None:
    db = client.shop
    db.command("createUser", "app", pwd="pw", roles=["read"])
    db.command("grantRolesToUser", "app", roles=["readWrite", {"role": "read", "db": "other"}])
    db.command("revokeRolesFromUser", "app", roles=["read"])
    db.command("updateUser", "app", customData={"v": 2}, mechanisms=["SCRAM-SHA-256"], pwd="new")
    [user] = db.command("usersInfo", "app")["users"]
    assert user["roles"] == [{"role": "readWrite", "db": "shop"}, {"role": "read", "db": "other"}]
    assert user["customData"] == {"v": 2} and user["mechanisms"] == ["SCRAM-SHA-256"]
    db.command("dropUser", "app")
    assert db.command("usersInfo", 1)["users"] == []


def test_roles(client: pymongo.MongoClient) -> None:
    db = client.shop
    find_orders = {"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}
    db.command("createRole", "reader", privileges=[find_orders], roles=["read"])
    db.command(
        "grantPrivilegesToRole",
        "reader",
        privileges=[{"resource": {"db": "shop", "collection": "orders"}, "actions": ["insert"]}],
    )
    [role] = db.command("rolesInfo", "reader", showPrivileges=True)["roles"]
    assert role["isBuiltin"] is False
    assert role["privileges"] == [
        {"resource": {"db": "shop", "collection": "orders"}, "actions": ["find", "insert"]}
    ]
    assert role["roles"] == [{"role": "read", "db": "shop"}]
    db.command("revokePrivilegesFromRole", "reader", privileges=[find_orders])
    db.command("updateRole", "reader", roles=[])
    [role] = db.command("rolesInfo", {"role": "reader", "db": "shop"}, showPrivileges=True)["roles"]
    assert role["privileges"][0]["actions"] == ["insert"] and role["roles"] == []
    [builtin] = db.command("rolesInfo", "readWrite")["roles"]
    assert builtin["isBuiltin"] is True and builtin["roles"] == []
    assert _failure(db.command, "createRole", "reader", privileges=[], roles=[]).code == 51002
    db.command("dropRole", "reader")
    assert db.command("rolesInfo", 1)["roles"] == []
    assert _failure(db.command, "dropRole", "reader").code == 31


def test_roles_info_shows_authentication_restrictions(client: pymongo.MongoClient) -> None:
    """The manual's rolesInfo example: a role's own restrictions come wrapped in one more
    array, and inheritedAuthenticationRestrictions has one array per role that has any."""
    db = client.products
    restriction = [{"clientSource": ["198.51.100.0"]}]
    db.command(
        "createRole",
        "associate",
        privileges=[],
        roles=["readWrite"],
        authenticationRestrictions=restriction,
    )
    [role] = db.command("rolesInfo", 1, showAuthenticationRestrictions=True)["roles"]
    assert role == {
        "_id": "products.associate",
        "role": "associate",
        "db": "products",
        "roles": [{"role": "readWrite", "db": "products"}],
        "authenticationRestrictions": [restriction],
        "isBuiltin": False,
        "inheritedRoles": [{"role": "readWrite", "db": "products"}],
        "inheritedAuthenticationRestrictions": [restriction],
    }
    assert list(role) == [
        "_id",
        "role",
        "db",
        "roles",
        "authenticationRestrictions",
        "isBuiltin",
        "inheritedRoles",
        "inheritedAuthenticationRestrictions",
    ]
    # without the flag neither field is there
    [plain] = db.command("rolesInfo", "associate")["roles"]
    assert "authenticationRestrictions" not in plain
    assert "inheritedAuthenticationRestrictions" not in plain

    server_side = [{"serverAddress": ["10.0.0.1"]}]
    db.command(
        "createRole",
        "lead",
        privileges=[],
        roles=["associate"],
        authenticationRestrictions=server_side,
    )
    db.command("createRole", "plain", privileges=[], roles=["associate"])
    reply = db.command(
        "rolesInfo",
        ["lead", "plain"],
        showAuthenticationRestrictions=True,
        showPrivileges=True,
    )
    lead, plain = reply["roles"]
    assert lead["authenticationRestrictions"] == [server_side]
    assert lead["inheritedAuthenticationRestrictions"] == [server_side, restriction]
    assert list(lead) == [
        "_id",
        "role",
        "db",
        "privileges",
        "roles",
        "authenticationRestrictions",
        "isBuiltin",
        "inheritedRoles",
        "inheritedPrivileges",
        "inheritedAuthenticationRestrictions",
    ]
    assert plain["authenticationRestrictions"] == []
    assert plain["inheritedAuthenticationRestrictions"] == [restriction]
    [builtin] = db.command("rolesInfo", "read", showAuthenticationRestrictions=True)["roles"]
    assert builtin["authenticationRestrictions"] == []
    assert builtin["inheritedAuthenticationRestrictions"] == []


def test_auth_required_and_localhost_exception(secured: MongoTestServer) -> None:
    anonymous = secured.client()
    try:
        refused = _failure(anonymous.admin.command, "listDatabases")
        assert refused.details == {
            "ok": 0.0,
            "errmsg": "Command listDatabases requires authentication",
            "code": 13,
            "codeName": "Unauthorized",
        }
        assert anonymous.admin.command("ping")["ok"] == 1.0
        assert anonymous.admin.command("buildInfo")["version"] == "7.0.14"
        assert _failure(anonymous.shop.command, "createUser", "x", pwd="p", roles=[]).code == 13
        anonymous.admin.command("createUser", "root", pwd="pw", roles=["root"])
        # The localhost exception closes once a user exists.
        assert _failure(anonymous.admin.command, "createUser", "y", pwd="p", roles=[]).code == 13
    finally:
        anonymous.close()


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-1", "SCRAM-SHA-256"])
def test_scram_login(secured: MongoTestServer, mechanism: str) -> None:
    setup = secured.client()
    setup.admin.command("createUser", "root", pwd="pw", roles=["root"])
    setup.close()
    user = pymongo.MongoClient(
        secured.uri,
        username="root",
        password="pw",
        authMechanism=mechanism,
        serverSelectionTimeoutMS=3000,
    )
    try:
        assert "admin" in user.list_database_names()
        status = user.admin.command("connectionStatus")["authInfo"]
        assert status["authenticatedUsers"] == [{"user": "root", "db": "admin"}]
        assert status["authenticatedUserRoles"] == [{"role": "root", "db": "admin"}]
    finally:
        user.close()
    assert secured.errors == []


def test_wrong_password_fails_with_18(secured: MongoTestServer) -> None:
    setup = secured.client()
    setup.admin.command("createUser", "root", pwd="pw", roles=["root"])
    setup.close()
    wrong = pymongo.MongoClient(
        secured.uri, username="root", password="nope", serverSelectionTimeoutMS=3000
    )
    try:
        failure = _failure(wrong.admin.command, "ping")
        assert failure.details == {
            "ok": 0.0,
            "errmsg": "Authentication failed.",
            "code": 18,
            "codeName": "AuthenticationFailed",
        }
    finally:
        wrong.close()


def test_user_in_another_database(secured: MongoTestServer) -> None:
    setup = secured.client()
    setup.admin.command("createUser", "root", pwd="pw", roles=["root"])
    setup.close()
    root = pymongo.MongoClient(secured.uri, username="root", password="pw")
    root.shop.command("createUser", "app", pwd="apppw", roles=["readWrite"])
    root.close()
    app = pymongo.MongoClient(secured.uri, username="app", password="apppw", authSource="shop")
    try:
        app.shop.items.insert_one({"a": 1})
        assert app.shop.items.count_documents({}) == 1
        app.shop.command("logout")
    finally:
        app.close()
