"""Plan the commands that make a server's users and roles match the catalog.

``plan_rbac(desired, observed, ...)`` is pure. Every list MongoDB keeps for a
role or a user (privileges and their actions, inherited roles, granted
roles, mechanisms, authentication restrictions) is compared as a set:
order never matters, and privileges on the same resource are merged the way
the server merges them. (community.mongodb's ``mongodb_role`` compares lists
in order and reports changes that are not there.)

Passwords: an operation that sets one carries only where it comes from
(``PasswordSource``: an environment variable or a file); the command in the
plan holds ``"pwd": "***"`` and toolkit.mongo.rbac puts the real value in at
the moment it sends the command. MongoDB cannot say whether a password
differs, so passwords are set only with ``update_passwords``, and then every
time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.catalog.model import Catalog
from toolkit.errors import CatalogError
from toolkit.plan.schema import canonical

PASSWORD_MASK = "***"  # noqa: S105 - the placeholder shown instead of a password
MECHANISMS = ("SCRAM-SHA-1", "SCRAM-SHA-256")
EXTERNAL_DB = "$external"

# Built-in roles (manual: "Built-In Roles"): the first exist in every database,
# the others only in admin.
DATABASE_ROLES = frozenset({"read", "readWrite", "dbAdmin", "dbOwner", "userAdmin"})
ADMIN_ROLES = frozenset(
    {
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
        "directShardOperations",
        "searchCoordinator",
    }
)

# What an application needs on its own database, and no more: no DDL (the
# toolkit owns the schema), no user administration.
APP_READ_WRITE_ACTIONS = (
    "changeStream",
    "collStats",
    "dbStats",
    "find",
    "insert",
    "listCollections",
    "listIndexes",
    "remove",
    "update",
)
TEMPLATES = ("app_read_write", "backup_operator", "monitoring", "read_only_analyst")
# Templates made of admin-only built-in roles must live in admin.
ADMIN_TEMPLATES = frozenset({"backup_operator", "monitoring"})


def is_builtin_role(role: str, db: str) -> bool:
    return role in DATABASE_ROLES or (db == "admin" and role in ADMIN_ROLES)


# --------------------------------------------------------------------------- desired state


@dataclass(frozen=True)
class PasswordSource:
    """Where a user's password comes from; never the password itself."""

    env: str | None = None
    file: str | None = None

    def describe(self) -> str:
        return f"${self.env}" if self.env else f"file {self.file}"


@dataclass(frozen=True)
class RoleSpec:
    role: str
    db: str
    privileges: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    roles: tuple[tuple[str, str], ...] = ()
    restrictions: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)

    @property
    def name(self) -> str:
        return f"{self.role}@{self.db}"


@dataclass(frozen=True)
class UserSpec:
    user: str
    db: str
    roles: tuple[tuple[str, str], ...] = ()
    mechanisms: tuple[str, ...] | None = None  # None: not managed (server default)
    custom_data: Mapping[str, Any] | None = field(default=None, hash=False)
    restrictions: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    password: PasswordSource | None = None

    @property
    def name(self) -> str:
        return f"{self.user}@{self.db}"


@dataclass(frozen=True)
class DesiredRbac:
    roles: tuple[RoleSpec, ...] = ()
    users: tuple[UserSpec, ...] = ()


def _role_refs(items: Iterable[Any], own_db: str) -> tuple[tuple[str, str], ...]:
    refs: list[tuple[str, str]] = []
    for item in items or ():
        if isinstance(item, str):
            ref = (item, own_db)
        else:
            ref = (str(item["role"]), str(item.get("db", own_db)))
        if ref not in refs:
            refs.append(ref)
    return tuple(refs)


def expand_template(
    template: str, target_db: str
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """The privileges and inherited roles of a ready-made role on ``target_db``."""
    if template == "app_read_write":
        resource = {"db": target_db, "collection": ""}
        return [{"resource": resource, "actions": list(APP_READ_WRITE_ACTIONS)}], []
    if template == "backup_operator":
        return [], [("backup", "admin"), ("restore", "admin")]
    if template == "monitoring":
        return [], [("clusterMonitor", "admin")]
    if template == "read_only_analyst":
        return [], [("read", target_db)]
    raise ValueError(f"unknown role template {template!r}")


def desired_rbac(catalog: Catalog) -> DesiredRbac:
    """Turn the catalog's ``roles`` and ``users`` into specs, templates expanded.

    Raise CatalogError listing every problem: a user without a password
    source (or with two), a role outside admin reaching into another database
    or the cluster, a template in the wrong database, a reference to a role
    that is neither built-in nor declared, inheritance cycles.
    """
    problems: list[str] = []
    roles: list[RoleSpec] = []
    for position, entry in enumerate(catalog.roles):
        role, db = str(entry["role"]), str(entry["db"])
        where = f"roles[{position}] ({role}@{db})"
        privileges = [dict(p) for p in entry.get("privileges") or []]
        inherited = list(_role_refs(entry.get("roles") or [], db))
        template = entry.get("template")
        if template:
            target = str(entry.get("target_db") or db)
            if template in ADMIN_TEMPLATES and db != "admin":
                problems.append(
                    f"{where}: template {template} uses roles that exist only in admin; "
                    "declare the role with db: admin"
                )
            if template not in ADMIN_TEMPLATES and target != db and db != "admin":
                problems.append(
                    f"{where}: template {template} on {target} must be defined in {target} "
                    "or in admin (a role outside admin only reaches its own database)"
                )
            extra_privileges, extra_roles = expand_template(str(template), target)
            privileges = extra_privileges + privileges
            inherited += [ref for ref in extra_roles if ref not in inherited]
        elif "target_db" in entry:
            problems.append(f"{where}: target_db only applies with a template")
        if db != "admin":
            for privilege in privileges:
                resource = privilege.get("resource") or {}
                if resource.get("cluster"):
                    problems.append(f"{where}: a cluster privilege needs a role defined in admin")
                elif resource.get("db") != db:
                    problems.append(
                        f"{where}: privilege on database {resource.get('db')!r}; a role "
                        f"outside admin only holds privileges on its own database {db}"
                    )
            for ref_role, ref_db in inherited:
                if ref_db != db:
                    problems.append(
                        f"{where}: inherits {ref_role}@{ref_db}; a role outside admin only "
                        f"inherits roles of its own database {db}"
                    )
        roles.append(
            RoleSpec(
                role=role,
                db=db,
                privileges=tuple(_merged_privileges(privileges)),
                roles=tuple(inherited),
                restrictions=tuple(dict(r) for r in entry.get("authentication_restrictions") or []),
            )
        )
    declared = {(spec.role, spec.db) for spec in roles}
    for spec in roles:
        for ref in spec.roles:
            if not is_builtin_role(*ref) and ref not in declared:
                problems.append(
                    f"role {spec.name} inherits {ref[0]}@{ref[1]}, which is neither built-in "
                    "nor declared in the catalog"
                )
    problems.extend(_cycles(roles))

    users: list[UserSpec] = []
    for position, entry in enumerate(catalog.users):
        user, db = str(entry["user"]), str(entry["db"])
        where = f"users[{position}] ({user}@{db})"
        env, file = entry.get("password_env"), entry.get("password_file")
        source = None
        if env and file:
            problems.append(f"{where}: give password_env or password_file, not both")
        elif env or file:
            source = PasswordSource(env=env, file=file)
        elif db != EXTERNAL_DB:
            problems.append(
                f"{where}: needs password_env or password_file (a literal password is not "
                "allowed in a catalog)"
            )
        granted = _role_refs(entry.get("roles") or [], db)
        for ref in granted:
            if not is_builtin_role(*ref) and ref not in declared:
                problems.append(
                    f"{where}: role {ref[0]}@{ref[1]} is neither built-in nor declared in "
                    "the catalog"
                )
        mechanisms = entry.get("mechanisms")
        users.append(
            UserSpec(
                user=user,
                db=db,
                roles=granted,
                mechanisms=tuple(dict.fromkeys(mechanisms)) if mechanisms else None,
                custom_data=entry.get("custom_data"),
                restrictions=tuple(dict(r) for r in entry.get("authentication_restrictions") or []),
                password=source,
            )
        )
    if problems:
        raise CatalogError(
            f"the catalog's roles and users have {len(problems)} problem"
            f"{'s' if len(problems) != 1 else ''}",
            problems=problems,
            hint="fix them and rerun `mongo-toolkit catalog check`",
        )
    return DesiredRbac(tuple(roles), tuple(users))


def _cycles(roles: list[RoleSpec]) -> list[str]:
    graph = {(spec.role, spec.db): [ref for ref in spec.roles] for spec in roles}
    problems: list[str] = []
    state: dict[tuple[str, str], int] = {}

    def visit(node: tuple[str, str], path: list[tuple[str, str]]) -> None:
        state[node] = 1
        for child in graph.get(node, []):
            if state.get(child) == 1:
                cycle = path[path.index(child) :] + [child] if child in path else [node, child]
                problems.append(
                    "roles inherit each other in a cycle: "
                    + " -> ".join(f"{r}@{d}" for r, d in cycle)
                )
            elif child in graph and state.get(child) is None:
                visit(child, [*path, child])
        state[node] = 2

    for node in graph:
        if state.get(node) is None:
            visit(node, [node])
    return problems


# --------------------------------------------------------------------------- observed state


@dataclass(frozen=True)
class ObservedRole:
    role: str
    db: str
    privileges: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)
    roles: tuple[tuple[str, str], ...] = ()
    restrictions: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class ObservedUser:
    user: str
    db: str
    roles: tuple[tuple[str, str], ...] = ()
    mechanisms: tuple[str, ...] = ()
    custom_data: Mapping[str, Any] | None = field(default=None, hash=False)
    restrictions: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)


@dataclass(frozen=True)
class ObservedRbac:
    """The user-defined roles and the users of the databases in scope.

    ``protected`` are the users this connection authenticated as: never dropped.
    """

    roles: tuple[ObservedRole, ...] = ()
    users: tuple[ObservedUser, ...] = ()
    protected: tuple[tuple[str, str], ...] = ()


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class RbacOperation:
    """One user or role command, with the database it runs on and why."""

    kind: str  # create-role, update-role, drop-role, create-user, update-user, drop-user
    target: str  # "role app_rw@shop" or "user app@shop"
    database: str
    reason: str
    command: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    destructive: bool = False
    #: set when the command's "pwd" (masked here) must be filled in from this source
    password: PasswordSource | None = None

    def describe(self) -> str:
        return f"{self.kind} {self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "database": self.database,
            "reason": self.reason,
            "destructive": self.destructive,
            "password": f"from {self.password.describe()}" if self.password else None,
            "command": self.command,
        }


@dataclass(frozen=True)
class RbacPlan:
    operations: tuple[RbacOperation, ...] = ()
    notes: tuple[str, ...] = ()

    def runnable(self, allow_drop: bool) -> list[RbacOperation]:
        return [op for op in self.operations if allow_drop or not op.destructive]


# --------------------------------------------------------------------------- normalisation


def _resource_key(resource: Mapping[str, Any]) -> tuple[Any, ...]:
    if resource.get("cluster"):
        return ("cluster",)
    if resource.get("anyResource"):
        return ("anyResource",)
    return ("db", str(resource.get("db", "")), str(resource.get("collection", "")))


def _resource_text(key: tuple[Any, ...]) -> str:
    if key[0] != "db":
        return key[0]
    db, collection = key[1] or "*", key[2] or "*"
    return f"{db}.{collection}"


def _merged_privileges(privileges: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Merge privileges on the same resource, as the server does; actions sorted."""
    merged: dict[tuple[Any, ...], tuple[dict[str, Any], set[str]]] = {}
    for privilege in privileges:
        resource = dict(privilege.get("resource") or {})
        key = _resource_key(resource)
        entry = merged.setdefault(key, (resource, set()))
        entry[1].update(str(action) for action in privilege.get("actions") or [])
    return [
        {"resource": resource, "actions": sorted(actions)} for resource, actions in merged.values()
    ]


def _privilege_map(
    privileges: Iterable[Mapping[str, Any]],
) -> dict[tuple[Any, ...], frozenset[str]]:
    result: dict[tuple[Any, ...], set[str]] = {}
    for privilege in privileges:
        key = _resource_key(privilege.get("resource") or {})
        result.setdefault(key, set()).update(str(a) for a in privilege.get("actions") or [])
    return {key: frozenset(actions) for key, actions in result.items()}


def _restriction_set(restrictions: Iterable[Mapping[str, Any]]) -> frozenset[Any]:
    return frozenset(
        canonical({name: sorted(str(v) for v in values) for name, values in r.items()})
        for r in restrictions
    )


def _privilege_changes(
    wanted: Iterable[Mapping[str, Any]], current: Iterable[Mapping[str, Any]]
) -> list[str]:
    want, have = _privilege_map(wanted), _privilege_map(current)
    changes = []
    for key in sorted(set(want) | set(have), key=repr):
        added = sorted(want.get(key, frozenset()) - have.get(key, frozenset()))
        removed = sorted(have.get(key, frozenset()) - want.get(key, frozenset()))
        if added:
            changes.append(f"+{','.join(added)} on {_resource_text(key)}")
        if removed:
            changes.append(f"-{','.join(removed)} on {_resource_text(key)}")
    return changes


def _set_changes(
    wanted: Iterable[tuple[str, str]], current: Iterable[tuple[str, str]]
) -> list[str]:
    want, have = set(wanted), set(current)
    return [f"+{r}@{d}" for r, d in sorted(want - have)] + [
        f"-{r}@{d}" for r, d in sorted(have - want)
    ]


def _role_documents(refs: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"role": role, "db": db} for role, db in refs]


# --------------------------------------------------------------------------- planning


def plan_rbac(
    desired: DesiredRbac,
    observed: ObservedRbac,
    *,
    databases: Iterable[str] = (),
    update_passwords: bool = False,
) -> RbacPlan:
    """Given the catalog's roles and users and the server's, return the operations that
    make the server match, in order: roles created (inherited ones first) and
    updated, users created and updated, then users and roles the catalog lacks
    dropped (destructive). ``databases`` limits the plan to roles and users
    defined in those databases (all when empty).
    """
    scope = set(databases)

    def in_scope(db: str) -> bool:
        return not scope or db in scope

    wanted_roles = [spec for spec in desired.roles if in_scope(spec.db)]
    wanted_users = [spec for spec in desired.users if in_scope(spec.db)]
    server_roles = {(r.role, r.db): r for r in observed.roles if in_scope(r.db)}
    server_users = {(u.user, u.db): u for u in observed.users if in_scope(u.db)}

    creates: list[RbacOperation] = []
    updates: list[RbacOperation] = []
    for spec in _inheritance_order(wanted_roles):
        current = server_roles.get((spec.role, spec.db))
        if current is None:
            command: dict[str, Any] = {
                "createRole": spec.role,
                "privileges": [dict(p) for p in spec.privileges],
                "roles": _role_documents(spec.roles),
            }
            if spec.restrictions:
                command["authenticationRestrictions"] = [dict(r) for r in spec.restrictions]
            creates.append(
                RbacOperation(
                    "create-role", f"role {spec.name}", spec.db, "not on the server", command
                )
            )
            continue
        operation = _update_role(spec, current)
        if operation is not None:
            updates.append(operation)

    user_creates: list[RbacOperation] = []
    user_updates: list[RbacOperation] = []
    for user in wanted_users:
        current_user = server_users.get((user.user, user.db))
        if current_user is None:
            user_creates.append(_create_user(user))
            continue
        operation = _update_user(user, current_user, update_passwords)
        if operation is not None:
            user_updates.append(operation)

    notes: list[str] = []
    drops: list[RbacOperation] = []
    declared_users = {(u.user, u.db) for u in desired.users}
    for key in sorted(server_users):
        if key in declared_users:
            continue
        if key in observed.protected:
            notes.append(
                f"user {key[0]}@{key[1]} is on the server, not in the catalog; it is the user "
                "this connection authenticated as, so it is never dropped"
            )
            continue
        drops.append(
            RbacOperation(
                "drop-user",
                f"user {key[0]}@{key[1]}",
                key[1],
                "on the server, not in the catalog",
                {"dropUser": key[0]},
                destructive=True,
            )
        )
    declared_roles = {(r.role, r.db) for r in desired.roles}
    for key in sorted(server_roles):
        if key in declared_roles:
            continue
        drops.append(
            RbacOperation(
                "drop-role",
                f"role {key[0]}@{key[1]}",
                key[1],
                "on the server, not in the catalog",
                {"dropRole": key[0]},
                destructive=True,
            )
        )
    return RbacPlan(tuple([*creates, *updates, *user_creates, *user_updates, *drops]), tuple(notes))


def _inheritance_order(roles: list[RoleSpec]) -> list[RoleSpec]:
    """Roles sorted so that each comes after the catalog roles it inherits."""
    by_key = {(spec.role, spec.db): spec for spec in roles}
    ordered: list[RoleSpec] = []
    seen: set[tuple[str, str]] = set()

    def place(spec: RoleSpec, depth: int = 0) -> None:
        key = (spec.role, spec.db)
        if key in seen or depth > len(roles):
            return
        seen.add(key)
        for ref in spec.roles:
            if ref in by_key:
                place(by_key[ref], depth + 1)
        ordered.append(spec)

    for spec in sorted(roles, key=lambda s: (s.db, s.role)):
        place(spec)
    return ordered


def _update_role(spec: RoleSpec, current: ObservedRole) -> RbacOperation | None:
    command: dict[str, Any] = {"updateRole": spec.role}
    reasons: list[str] = []
    privilege_changes = _privilege_changes(spec.privileges, current.privileges)
    if privilege_changes:
        command["privileges"] = [dict(p) for p in spec.privileges]
        reasons.append("privileges " + "; ".join(privilege_changes))
    role_changes = _set_changes(spec.roles, current.roles)
    if role_changes:
        command["roles"] = _role_documents(spec.roles)
        reasons.append("inherited roles " + ", ".join(role_changes))
    if _restriction_set(spec.restrictions) != _restriction_set(current.restrictions):
        command["authenticationRestrictions"] = [dict(r) for r in spec.restrictions]
        reasons.append("authentication restrictions differ")
    if not reasons:
        return None
    return RbacOperation("update-role", f"role {spec.name}", spec.db, "; ".join(reasons), command)


def _create_user(user: UserSpec) -> RbacOperation:
    command: dict[str, Any] = {"createUser": user.user}
    if user.password is not None:
        command["pwd"] = PASSWORD_MASK
    command["roles"] = _role_documents(user.roles)
    if user.mechanisms:
        command["mechanisms"] = list(user.mechanisms)
    if user.custom_data:
        command["customData"] = dict(user.custom_data)
    if user.restrictions:
        command["authenticationRestrictions"] = [dict(r) for r in user.restrictions]
    reason = "not on the server"
    if user.password is not None:
        reason += f"; password from {user.password.describe()}"
    return RbacOperation(
        "create-user", f"user {user.name}", user.db, reason, command, password=user.password
    )


def _update_user(
    user: UserSpec, current: ObservedUser, update_passwords: bool
) -> RbacOperation | None:
    command: dict[str, Any] = {"updateUser": user.user}
    reasons: list[str] = []
    needs_password = False
    role_changes = _set_changes(user.roles, current.roles)
    if role_changes:
        command["roles"] = _role_documents(user.roles)
        reasons.append("roles " + ", ".join(role_changes))
    if user.mechanisms is not None and set(user.mechanisms) != set(current.mechanisms):
        command["mechanisms"] = list(user.mechanisms)
        added = sorted(set(user.mechanisms) - set(current.mechanisms))
        removed = sorted(set(current.mechanisms) - set(user.mechanisms))
        reasons.append(
            "mechanisms " + ", ".join([f"+{m}" for m in added] + [f"-{m}" for m in removed])
        )
        # The server derives each mechanism's credentials from the password, so
        # adding one needs it; removing one does not.
        needs_password = bool(added)
    if canonical(dict(user.custom_data or {})) != canonical(dict(current.custom_data or {})):
        command["customData"] = dict(user.custom_data or {})
        reasons.append("customData differs")
    if _restriction_set(user.restrictions) != _restriction_set(current.restrictions):
        command["authenticationRestrictions"] = [dict(r) for r in user.restrictions]
        reasons.append("authentication restrictions differ")
    if update_passwords and user.password is not None:
        needs_password = True
        reasons.append(
            f"password set from {user.password.describe()} (--update-passwords: MongoDB "
            "cannot tell whether it changed, so it is set on every run)"
        )
    elif needs_password:
        reasons.append(f"the added mechanism needs the password, from {_source(user)}")
    if not reasons:
        return None
    password = None
    if needs_password:
        command["pwd"] = PASSWORD_MASK
        if user.mechanisms is not None:
            command["mechanisms"] = list(user.mechanisms)
        password = user.password
    return RbacOperation(
        "update-user",
        f"user {user.name}",
        user.db,
        "; ".join(reasons),
        command,
        password=password,
    )


def _source(user: UserSpec) -> str:
    return user.password.describe() if user.password else "nowhere (no password_env/file)"
