"""Users, roles and SCRAM authentication.

Users live in admin.system.users and roles in admin.system.roles as ordinary
documents (so find on them works and writes reach the oplog); credentials come
from scram.py and are never echoed back unless ``showCredentials`` asks.
Authorization is authentication only: any authenticated user may run any
command (roles are stored and reported, not enforced).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from bson import Binary

from tests.support.catalog import CollectionInfo
from tests.support.dispatch import Context, command
from tests.support.errors import CommandError
from tests.support.state import ServerState

MECHANISMS = ["SCRAM-SHA-1", "SCRAM-SHA-256"]

DATABASE_ROLES = {"read", "readWrite", "dbAdmin", "dbOwner", "userAdmin"}
ADMIN_ROLES = {
    "clusterAdmin",
    "clusterManager",
    "clusterMonitor",
    "hostManager",
    "backup",
    "restore",
    "readAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "dbAdminAnyDatabase",
    "root",
    "__system",
    "enableSharding",
    "__queryableBackup",
}

ROLE_ACTIONS = {
    "read": [
        "changeStream",
        "collStats",
        "dbHash",
        "dbStats",
        "find",
        "killCursors",
        "listCollections",
        "listIndexes",
        "listSearchIndexes",
    ],
    "readWrite": [
        "changeStream",
        "collStats",
        "convertToCapped",
        "createCollection",
        "createIndex",
        "dbHash",
        "dbStats",
        "dropCollection",
        "dropIndex",
        "find",
        "insert",
        "killCursors",
        "listCollections",
        "listIndexes",
        "remove",
        "renameCollectionSameDB",
        "update",
    ],
}


def _scram() -> Any:
    # Imported on first use: scram.py is a separate module the server only needs for users.
    from tests.support import scram

    return scram


def is_builtin_role(role: str, db: str) -> bool:
    return role in DATABASE_ROLES or (db == "admin" and role in ADMIN_ROLES)


# ------------------------------------------------------------------ storage


def _system_collection(state: ServerState, name: str, key: dict[str, int]) -> CollectionInfo:
    info = state.get("admin", name)
    if info is None:
        info = state.create_collection("admin", name)
        state.build_index(
            info,
            {
                "v": 2,
                "key": key,
                "name": "_".join(f"{field}_{value}" for field, value in key.items()),
                "unique": True,
            },
        )
    return info


def _users(state: ServerState) -> CollectionInfo:
    return _system_collection(state, "system.users", {"user": 1, "db": 1})


def _roles(state: ServerState) -> CollectionInfo:
    return _system_collection(state, "system.roles", {"role": 1, "db": 1})


def _find_role(state: ServerState, role: str, db: str) -> dict[str, Any] | None:
    for document in state.roles():
        if document.get("role") == role and document.get("db") == db:
            return document
    return None


def _parse_role_names(value: Any, db: str, field_name: str) -> list[dict[str, str]]:
    if not isinstance(value, list):
        raise CommandError(14, f"BSON field '{field_name}' is the wrong type, expected array")
    roles = []
    for item in value:
        if isinstance(item, str):
            roles.append({"role": item, "db": db})
        elif isinstance(item, Mapping) and isinstance(item.get("role"), str):
            roles.append({"role": item["role"], "db": item.get("db", db)})
        else:
            raise CommandError(2, "role names must be either strings or objects")
    return roles


def _check_roles_exist(state: ServerState, roles: list[dict[str, str]]) -> None:
    for role in roles:
        if is_builtin_role(role["role"], role["db"]):
            continue
        if _find_role(state, role["role"], role["db"]) is None:
            raise CommandError(31, f"Could not find role: {role['role']}@{role['db']}")


def _require_user(state: ServerState, user: str, db: str) -> dict[str, Any]:
    document = state.find_user(db, user)
    if document is None:
        raise CommandError(11, f'Could not find user "{user}" for db "{db}"')
    return document


def _replace(state: ServerState, info: CollectionInfo, document: dict[str, Any]) -> None:
    state.update(
        info, {"_id": document["_id"]}, document, multi=False, upsert=False, bypass_validation=True
    )


def _user_name(ctx: Context) -> str:
    name = ctx.value
    if not isinstance(name, str) or not name:
        raise CommandError(2, "User name must be a non-empty string")
    return name


# ------------------------------------------------------------------ users


@command(
    "createUser",
    write=True,
    fields={
        "pwd",
        "roles",
        "customData",
        "mechanisms",
        "digestPassword",
        "authenticationRestrictions",
    },
)
def create_user(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    user = _user_name(ctx)
    db = ctx.db
    if state.find_user(db, user) is not None:
        raise CommandError(51003, f'User "{user}@{db}" already exists')
    password = ctx.get("pwd")
    if db != "$external" and not isinstance(password, str):
        raise CommandError(
            2,
            "Must provide a 'pwd' field for all user documents, except those "
            "with '$external' as the user's source db",
        )
    roles = _parse_role_names(ctx.get("roles", []), db, "createUser.roles")
    _check_roles_exist(state, roles)
    mechanisms = ctx.get("mechanisms") or list(MECHANISMS)
    for mechanism in mechanisms:
        if mechanism not in MECHANISMS:
            raise CommandError(2, f"Unknown auth mechanism '{mechanism}'")
    document: dict[str, Any] = {
        "_id": f"{db}.{user}",
        "userId": Binary.from_uuid(uuid.uuid4()),
        "user": user,
        "db": db,
        "credentials": _scram().make_credentials(user, password, list(mechanisms))
        if password is not None
        else {"external": True},
        "roles": roles,
    }
    if "customData" in ctx.body:
        document["customData"] = ctx.get("customData")
    if ctx.get("authenticationRestrictions"):
        document["authenticationRestrictions"] = ctx.get("authenticationRestrictions")
    state.insert(_users(state), document, bypass_validation=True)
    return {}


@command(
    "updateUser",
    write=True,
    fields={
        "pwd",
        "roles",
        "customData",
        "mechanisms",
        "digestPassword",
        "authenticationRestrictions",
    },
)
def update_user(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    user = _user_name(ctx)
    document = _require_user(state, user, ctx.db)
    if not any(
        key in ctx.body
        for key in ("pwd", "roles", "customData", "mechanisms", "authenticationRestrictions")
    ):
        raise CommandError(2, "Must specify at least one field to update in updateUser")
    if "roles" in ctx.body:
        roles = _parse_role_names(ctx.get("roles"), ctx.db, "updateUser.roles")
        _check_roles_exist(state, roles)
        document["roles"] = roles
    if "customData" in ctx.body:
        document["customData"] = ctx.get("customData")
    if "pwd" in ctx.body or "mechanisms" in ctx.body:
        mechanisms = ctx.get("mechanisms") or list(document.get("credentials", {})) or MECHANISMS
        if "pwd" not in ctx.body:
            # Restricting mechanisms without a new password keeps the stored subset.
            document["credentials"] = {
                key: value
                for key, value in document.get("credentials", {}).items()
                if key in mechanisms
            }
        else:
            document["credentials"] = _scram().make_credentials(
                user, ctx.get("pwd"), list(mechanisms)
            )
    if "authenticationRestrictions" in ctx.body:
        document["authenticationRestrictions"] = ctx.get("authenticationRestrictions")
    _replace(state, _users(state), _user_field_order(document))
    return {}


def _user_field_order(document: dict[str, Any]) -> dict[str, Any]:
    order = [
        "_id",
        "userId",
        "user",
        "db",
        "credentials",
        "roles",
        "customData",
        "authenticationRestrictions",
    ]
    ordered = {key: document[key] for key in order if key in document}
    ordered.update({key: value for key, value in document.items() if key not in ordered})
    return ordered


@command("dropUser", write=True, fields=set())
def drop_user(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    user = _user_name(ctx)
    document = _require_user(state, user, ctx.db)
    state.delete(_users(state), {"_id": document["_id"]}, limit=1)
    return {}


@command("dropAllUsersFromDatabase", write=True, fields=set())
def drop_all_users(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    removed = state.delete(_users(state), {"db": ctx.db}, limit=0)
    return {"n": len(removed)}


@command("grantRolesToUser", write=True, fields={"roles"})
def grant_roles_to_user(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_user(state, _user_name(ctx), ctx.db)
    roles = _parse_role_names(ctx.get("roles"), ctx.db, "grantRolesToUser.roles")
    _check_roles_exist(state, roles)
    for role in roles:
        if role not in document["roles"]:
            document["roles"].append(role)
    _replace(state, _users(state), document)
    return {}


@command("revokeRolesFromUser", write=True, fields={"roles"})
def revoke_roles_from_user(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_user(state, _user_name(ctx), ctx.db)
    roles = _parse_role_names(ctx.get("roles"), ctx.db, "revokeRolesFromUser.roles")
    _check_roles_exist(state, roles)
    document["roles"] = [role for role in document["roles"] if role not in roles]
    _replace(state, _users(state), document)
    return {}


@command(
    "usersInfo",
    read=True,
    fields={
        "showCredentials",
        "showCustomData",
        "showPrivileges",
        "showAuthenticationRestrictions",
        "filter",
    },
)
def users_info(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    value = ctx.value
    every = state.users()
    if value == 1 or value == 1.0:
        selected = [doc for doc in every if doc["db"] == ctx.db]
        exact = False
    elif isinstance(value, Mapping) and value.get("forAllDBs"):
        selected = every
        exact = False
    else:
        wanted = _parse_user_names(value, ctx.db)
        selected = [doc for doc in every if (doc["user"], doc["db"]) in wanted]
        exact = True
    if ctx.get("filter"):
        if exact:
            raise CommandError(2, "Filter is only allowed when retrieving all users")
        selected = state.run_pipeline("admin", selected, [{"$match": dict(ctx.get("filter"))}])
    selected.sort(key=lambda doc: (doc["user"], doc["db"]))
    show_privileges = bool(ctx.get("showPrivileges"))
    if show_privileges and not exact:
        raise CommandError(2, "showPrivileges may only be set when requesting specific users")
    users = [_report_user(ctx, doc, show_privileges) for doc in selected]
    return {"users": users}


def _parse_user_names(value: Any, db: str) -> set[tuple[str, str]]:
    items = value if isinstance(value, list) else [value]
    names = set()
    for item in items:
        if isinstance(item, str):
            names.add((item, db))
        elif isinstance(item, Mapping) and "user" in item:
            names.add((item["user"], item.get("db", db)))
        else:
            raise CommandError(2, "User name must be either a string or an object")
    return names


def _report_user(ctx: Context, document: dict[str, Any], show_privileges: bool) -> dict[str, Any]:
    mechanisms = [key for key in document.get("credentials", {}) if key in MECHANISMS]
    show_custom = ctx.get("showCustomData", True)
    if not show_privileges:
        report = copy.deepcopy(document)
        if not ctx.get("showCredentials"):
            report.pop("credentials", None)
        if not ctx.get("showAuthenticationRestrictions"):
            report.pop("authenticationRestrictions", None)
        if not show_custom:
            report.pop("customData", None)
        report["mechanisms"] = mechanisms
        return report
    report = {key: document[key] for key in ("_id", "userId", "user", "db")}
    report["mechanisms"] = mechanisms
    if show_custom and "customData" in document:
        report["customData"] = document["customData"]
    if ctx.get("showCredentials"):
        report["credentials"] = document.get("credentials")
    report["roles"] = copy.deepcopy(document.get("roles", []))
    inherited = _role_closure(ctx.state, document.get("roles", []))
    report["inheritedRoles"] = inherited
    report["inheritedPrivileges"] = _privileges_of(ctx.state, inherited)
    report["inheritedAuthenticationRestrictions"] = []
    if ctx.get("showAuthenticationRestrictions") and "authenticationRestrictions" in document:
        report["authenticationRestrictions"] = document["authenticationRestrictions"]
    return report


def roles_of_users(ctx: Context, users: list[tuple[str, str]]) -> list[dict[str, str]]:
    roles: list[dict[str, str]] = []
    for user, db in users:
        document = ctx.state.find_user(db, user)
        for role in (document or {}).get("roles", []):
            if role not in roles:
                roles.append(dict(role))
    return roles


def _role_closure(state: ServerState, roles: list[dict[str, str]]) -> list[dict[str, str]]:
    result: list[dict[str, str]] = []
    pending = [dict(role) for role in roles]
    while pending:
        role = pending.pop(0)
        if role in result:
            continue
        result.append(role)
        custom = _find_role(state, role["role"], role["db"])
        if custom is not None:
            pending.extend(dict(item) for item in custom.get("roles", []))
    return result


def _privileges_of(state: ServerState, roles: list[dict[str, str]]) -> list[dict[str, Any]]:
    privileges: list[dict[str, Any]] = []
    for role in roles:
        custom = _find_role(state, role["role"], role["db"])
        if custom is not None:
            source = custom.get("privileges", [])
        elif role["role"] in ROLE_ACTIONS:
            source = [
                {
                    "resource": {"db": role["db"], "collection": ""},
                    "actions": ROLE_ACTIONS[role["role"]],
                }
            ]
        else:
            source = []
        for privilege in source:
            _merge_privilege(privileges, privilege)
    return privileges


def _merge_privilege(privileges: list[dict[str, Any]], privilege: Mapping[str, Any]) -> None:
    for existing in privileges:
        if existing["resource"] == privilege["resource"]:
            existing["actions"] = sorted(set(existing["actions"]) | set(privilege["actions"]))
            return
    privileges.append(
        {"resource": dict(privilege["resource"]), "actions": sorted(privilege["actions"])}
    )


# ------------------------------------------------------------------ roles


def _role_name(ctx: Context) -> str:
    name = ctx.value
    if not isinstance(name, str) or not name:
        raise CommandError(2, "Role name must be a non-empty string")
    return name


def _parse_privileges(value: Any, field_name: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise CommandError(14, f"BSON field '{field_name}' is the wrong type, expected array")
    privileges = []
    for item in value:
        if (
            not isinstance(item, Mapping)
            or not isinstance(item.get("resource"), Mapping)
            or not isinstance(item.get("actions"), list)
        ):
            raise CommandError(2, "privileges must be objects with 'resource' and 'actions'")
        privileges.append({"resource": dict(item["resource"]), "actions": list(item["actions"])})
    return privileges


def _require_role(state: ServerState, role: str, db: str) -> dict[str, Any]:
    if is_builtin_role(role, db):
        raise CommandError(2, f"Cannot modify built-in role: {role}@{db}")
    document = _find_role(state, role, db)
    if document is None:
        raise CommandError(31, f"Could not find role: {role}@{db}")
    return document


@command("createRole", write=True, fields={"privileges", "roles", "authenticationRestrictions"})
def create_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    role = _role_name(ctx)
    if is_builtin_role(role, ctx.db):
        raise CommandError(51002, f'Role "{role}@{ctx.db}" already exists')
    if _find_role(state, role, ctx.db) is not None:
        raise CommandError(51002, f'Role "{role}@{ctx.db}" already exists')
    if "privileges" not in ctx.body or "roles" not in ctx.body:
        missing = "privileges" if "privileges" not in ctx.body else "roles"
        raise CommandError(
            40414, f"BSON field 'createRole.{missing}' is missing but a required field"
        )
    privileges = _parse_privileges(ctx.get("privileges"), "createRole.privileges")
    roles = _parse_role_names(ctx.get("roles"), ctx.db, "createRole.roles")
    _check_roles_exist(state, roles)
    document: dict[str, Any] = {
        "_id": f"{ctx.db}.{role}",
        "role": role,
        "db": ctx.db,
        "privileges": privileges,
        "roles": roles,
    }
    if ctx.get("authenticationRestrictions"):
        document["authenticationRestrictions"] = ctx.get("authenticationRestrictions")
    state.insert(_roles(state), document, bypass_validation=True)
    return {}


@command("updateRole", write=True, fields={"privileges", "roles", "authenticationRestrictions"})
def update_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    if (
        "privileges" not in ctx.body
        and "roles" not in ctx.body
        and "authenticationRestrictions" not in ctx.body
    ):
        raise CommandError(2, "Must specify at least one field to update in updateRole")
    if "privileges" in ctx.body:
        document["privileges"] = _parse_privileges(ctx.get("privileges"), "updateRole.privileges")
    if "roles" in ctx.body:
        roles = _parse_role_names(ctx.get("roles"), ctx.db, "updateRole.roles")
        _check_roles_exist(state, roles)
        document["roles"] = roles
    if "authenticationRestrictions" in ctx.body:
        document["authenticationRestrictions"] = ctx.get("authenticationRestrictions")
    _replace(state, _roles(state), document)
    return {}


@command("dropRole", write=True, fields=set())
def drop_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    state.delete(_roles(state), {"_id": document["_id"]}, limit=1)
    reference = {"role": document["role"], "db": document["db"]}
    for user in state.users():
        if reference in user.get("roles", []):
            user["roles"] = [role for role in user["roles"] if role != reference]
            _replace(state, _users(state), user)
    return {}


@command("grantPrivilegesToRole", write=True, fields={"privileges"})
def grant_privileges_to_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    for privilege in _parse_privileges(ctx.get("privileges"), "grantPrivilegesToRole.privileges"):
        for existing in document["privileges"]:
            if existing["resource"] == privilege["resource"]:
                for action in privilege["actions"]:
                    if action not in existing["actions"]:
                        existing["actions"].append(action)
                break
        else:
            document["privileges"].append(privilege)
    _replace(state, _roles(state), document)
    return {}


@command("revokePrivilegesFromRole", write=True, fields={"privileges"})
def revoke_privileges_from_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    for privilege in _parse_privileges(
        ctx.get("privileges"), "revokePrivilegesFromRole.privileges"
    ):
        for existing in document["privileges"]:
            if existing["resource"] == privilege["resource"]:
                existing["actions"] = [
                    action for action in existing["actions"] if action not in privilege["actions"]
                ]
    document["privileges"] = [item for item in document["privileges"] if item["actions"]]
    _replace(state, _roles(state), document)
    return {}


@command("grantRolesToRole", write=True, fields={"roles"})
def grant_roles_to_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    roles = _parse_role_names(ctx.get("roles"), ctx.db, "grantRolesToRole.roles")
    _check_roles_exist(state, roles)
    for role in roles:
        if role not in document["roles"]:
            document["roles"].append(role)
    _replace(state, _roles(state), document)
    return {}


@command("revokeRolesFromRole", write=True, fields={"roles"})
def revoke_roles_from_role(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    document = _require_role(state, _role_name(ctx), ctx.db)
    roles = _parse_role_names(ctx.get("roles"), ctx.db, "revokeRolesFromRole.roles")
    document["roles"] = [role for role in document["roles"] if role not in roles]
    _replace(state, _roles(state), document)
    return {}


@command(
    "rolesInfo",
    read=True,
    fields={"showPrivileges", "showBuiltinRoles", "showAuthenticationRestrictions"},
)
def roles_info(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    value = ctx.value
    show_privileges = bool(ctx.get("showPrivileges"))
    show_restrictions = bool(ctx.get("showAuthenticationRestrictions"))
    reports: list[dict[str, Any]] = []
    if value == 1 or value == 1.0 or (isinstance(value, Mapping) and "forAllDBs" in value):
        every_db = isinstance(value, Mapping)
        custom = [doc for doc in state.roles() if every_db or doc["db"] == ctx.db]
        names = [(doc["role"], doc["db"]) for doc in custom]
        if ctx.get("showBuiltinRoles") and not every_db:
            builtin = sorted(DATABASE_ROLES | (ADMIN_ROLES if ctx.db == "admin" else set()))
            names = [(role, ctx.db) for role in builtin] + names
    else:
        items = value if isinstance(value, list) else [value]
        names = []
        for item in items:
            if isinstance(item, str):
                names.append((item, ctx.db))
            elif isinstance(item, Mapping) and "role" in item:
                names.append((item["role"], item.get("db", ctx.db)))
            else:
                raise CommandError(2, "Role name must be either a string or an object")
    for role, db in names:
        report = _report_role(state, role, db, show_privileges, show_restrictions)
        if report is not None:
            reports.append(report)
    return {"roles": reports}


def _report_role(
    state: ServerState, role: str, db: str, show_privileges: bool, show_restrictions: bool
) -> dict[str, Any] | None:
    """One rolesInfo entry (AuthzManagerExternalStateLocal::getRolesDescription, in the
    field order of the manual's examples): the stored role document without the fields
    not asked for, then what it inherits. With showAuthenticationRestrictions a role's
    own restrictions come wrapped in one more array, [[{clientSource: [...]}]], or [] when
    it has none, and inheritedAuthenticationRestrictions lists its own and those of every
    role it inherits, one array per role that has any."""
    if is_builtin_role(role, db):
        report: dict[str, Any] = {
            "role": role,
            "db": db,
            "isBuiltin": True,
            "roles": [],
        }
        if show_restrictions:
            report["authenticationRestrictions"] = []
        report["inheritedRoles"] = []
        if show_privileges:
            privileges = _privileges_of(state, [{"role": role, "db": db}])
            report["privileges"] = privileges
            report["inheritedPrivileges"] = copy.deepcopy(privileges)
        if show_restrictions:
            report["inheritedAuthenticationRestrictions"] = []
        return report
    document = _find_role(state, role, db)
    if document is None:
        return None
    inherited = _role_closure(state, document.get("roles", []))
    report = {"_id": document["_id"], "role": role, "db": db}
    if show_privileges:
        report["privileges"] = copy.deepcopy(document.get("privileges", []))
    report["roles"] = copy.deepcopy(document.get("roles", []))
    own_restrictions = document.get("authenticationRestrictions")
    if show_restrictions:
        report["authenticationRestrictions"] = (
            [copy.deepcopy(own_restrictions)] if own_restrictions is not None else []
        )
    report["isBuiltin"] = False
    report["inheritedRoles"] = inherited
    if show_privileges:
        inherited_privileges = copy.deepcopy(document.get("privileges", []))
        for privilege in _privileges_of(state, inherited):
            _merge_privilege(inherited_privileges, privilege)
        report["inheritedPrivileges"] = inherited_privileges
    if show_restrictions:
        every_restriction = [own_restrictions] if own_restrictions else []
        for reference in inherited:
            custom = _find_role(state, reference["role"], reference["db"])
            if custom is not None and custom.get("authenticationRestrictions"):
                every_restriction.append(custom["authenticationRestrictions"])
        report["inheritedAuthenticationRestrictions"] = copy.deepcopy(every_restriction)
    return report


# ------------------------------------------------------------------ authentication


@command(
    "saslStart", requires_auth=False, fields={"mechanism", "payload", "autoAuthorize", "options"}
)
def sasl_start(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    db = ctx.db

    def lookup(user: str) -> dict[str, Any] | None:
        document = state.find_user(db, user)
        return document.get("credentials") if document else None

    options = ctx.get("options") or {}
    conversation = _scram().ScramServerConversation(
        str(ctx.get("mechanism")),
        lookup,
        skip_empty_exchange=bool(options.get("skipEmptyExchange")),
    )
    conversation_id = len(ctx.connection.conversations) + 1
    ctx.connection.conversations[conversation_id] = (conversation, db)
    return _sasl_step(ctx, conversation_id, _payload_bytes(ctx.get("payload")))


@command("saslContinue", requires_auth=False, fields={"conversationId", "payload"})
def sasl_continue(ctx: Context) -> dict[str, Any]:
    conversation_id = ctx.get("conversationId")
    if conversation_id not in ctx.connection.conversations:
        raise CommandError(17, "No SASL session state found")
    return _sasl_step(ctx, conversation_id, _payload_bytes(ctx.get("payload")))


def _payload_bytes(payload: Any) -> bytes:
    if isinstance(payload, str):
        return payload.encode()
    return bytes(payload or b"")


def _sasl_step(ctx: Context, conversation_id: int, payload: bytes) -> dict[str, Any]:
    conversation, db = ctx.connection.conversations[conversation_id]
    try:
        server_payload, done = conversation.step(payload)
    except CommandError:
        ctx.connection.conversations.pop(conversation_id, None)
        raise
    if done:
        ctx.connection.conversations.pop(conversation_id, None)
        user = (conversation.username, db)
        if user not in ctx.connection.authenticated_users:
            ctx.connection.authenticated_users.append(user)
    return {"conversationId": conversation_id, "done": done, "payload": Binary(server_payload)}


@command("logout", requires_auth=False, fields=set())
def logout(ctx: Context) -> dict[str, Any]:
    ctx.connection.authenticated_users = [
        (user, db) for user, db in ctx.connection.authenticated_users if db != ctx.db
    ]
    return {}
