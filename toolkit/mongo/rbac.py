"""Observe users and roles, and run planned user and role commands.

Passwords reach MongoDB only here, inside the createUser/updateUser command
document, at the moment it is sent: the plan holds "***" and the source's
name. pymongo leaves the bodies of createUser and updateUser out of its
command logs (they are security-sensitive commands), and the CLI's log
handler scrubs every registered secret besides.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pymongo import MongoClient

from toolkit.plan.rbac import (
    PASSWORD_MASK,
    ObservedRbac,
    ObservedRole,
    ObservedUser,
    PasswordSource,
    RbacOperation,
)

log = logging.getLogger(__name__)


def _refs(items: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    return tuple((str(item["role"]), str(item["db"])) for item in items or ())


def _restrictions(value: Any) -> tuple[Mapping[str, Any], ...]:
    """authenticationRestrictions as a flat list of documents (a role's may come as a
    list of lists, one per role it inherits from)."""
    flat: list[Mapping[str, Any]] = []
    for item in value or ():
        if isinstance(item, Mapping):
            flat.append(dict(item))
        elif isinstance(item, list):
            flat.extend(dict(inner) for inner in item if isinstance(inner, Mapping))
    return tuple(flat)


def observe_rbac(
    client: MongoClient, databases: Iterable[str], declared_roles: Iterable[tuple[str, str]]
) -> ObservedRbac:
    """Return every user, every user-defined role of every database, and the users this
    connection authenticated as.

    usersInfo with forAllDBs lists users but may not show authentication
    restrictions, so users are asked for again by name. rolesInfo has no
    forAllDBs: it answers for one database, so it is asked in each database
    that holds a role (read from admin.system.roles, where mongod keeps them
    all; a database that holds only roles is not in listDatabases), besides
    ``databases``, admin and the users' databases. Raise pymongo errors.
    """
    listed = client.admin.command({"usersInfo": {"forAllDBs": True}}).get("users", [])
    names = [{"user": u["user"], "db": u["db"]} for u in listed]
    detailed: dict[tuple[str, str], Mapping[str, Any]] = {}
    if names:
        reply = client.admin.command({"usersInfo": names, "showAuthenticationRestrictions": True})
        detailed = {(u["user"], u["db"]): u for u in reply.get("users", [])}
    users = []
    for entry in listed:
        key = (str(entry["user"]), str(entry["db"]))
        full = detailed.get(key, entry)
        users.append(
            ObservedUser(
                user=key[0],
                db=key[1],
                roles=_refs(full.get("roles", [])),
                mechanisms=tuple(str(m) for m in full.get("mechanisms", []) or []),
                custom_data=full.get("customData"),
                restrictions=_restrictions(full.get("authenticationRestrictions")),
            )
        )

    scope = sorted(
        {
            *databases,
            "admin",
            *(u.db for u in users),
            *(db for _, db in declared_roles),
            *role_databases(client),
        }
    )
    roles = []
    for db in scope:
        if db == "$external":
            continue
        found = client[db].command({"rolesInfo": 1, "showPrivileges": True}).get("roles", [])
        custom = [r for r in found if not r.get("isBuiltin")]
        if not custom:
            continue
        # Asked by name, rolesInfo also shows the roles' authentication restrictions.
        reply = client[db].command(
            {
                "rolesInfo": [{"role": r["role"], "db": r["db"]} for r in custom],
                "showPrivileges": True,
                "showAuthenticationRestrictions": True,
            }
        )
        for entry in reply.get("roles", []):
            roles.append(
                ObservedRole(
                    role=str(entry["role"]),
                    db=str(entry["db"]),
                    privileges=tuple(dict(p) for p in entry.get("privileges", []) or []),
                    roles=_refs(entry.get("roles", [])),
                    restrictions=_restrictions(entry.get("authenticationRestrictions")),
                )
            )

    status = client.admin.command({"connectionStatus": 1})
    authenticated = (status.get("authInfo") or {}).get("authenticatedUsers") or []
    protected = tuple((str(u["user"]), str(u["db"])) for u in authenticated)
    return ObservedRbac(roles=tuple(roles), users=tuple(users), protected=protected)


def role_databases(client: MongoClient) -> set[str]:
    """The databases in which user-defined roles are defined. mongod stores every
    role in admin.system.roles with its database in ``db``; userAdminAnyDatabase
    (which usersInfo forAllDBs needs too) grants find there."""
    found = client.admin["system.roles"].find({}, {"db": 1, "_id": 0})
    return {str(document["db"]) for document in found if document.get("db")}


def to_wire(operation: RbacOperation, passwords: Mapping[PasswordSource, str]) -> dict[str, Any]:
    """The command sent for ``operation``, with the real password in place of "***".

    Raise KeyError when the operation needs a password ``passwords`` lacks.
    """
    command = dict(operation.command)
    if command.get("pwd") == PASSWORD_MASK:
        if operation.password is None:
            raise KeyError(f"{operation.describe()} needs a password and has no source")
        command["pwd"] = passwords[operation.password]
    return command


def apply_rbac_operations(
    client: MongoClient,
    operations: Iterable[RbacOperation],
    passwords: Mapping[PasswordSource, str],
    *,
    allow_drop: bool,
    on_done: Callable[[RbacOperation, str], None] | None = None,
) -> list[tuple[RbacOperation, str]]:
    """Run each operation in order; skip destructive ones without ``allow_drop``.
    Stop at the first failure (pymongo raises)."""
    results: list[tuple[RbacOperation, str]] = []
    for operation in operations:
        if operation.destructive and not allow_drop:
            status = "skipped"
        else:
            # Log the planned command: it holds "***", never the password.
            log.debug("running %s: %s", operation.describe(), operation.command)
            client[operation.database].command(to_wire(operation, passwords))
            status = "done"
        results.append((operation, status))
        if on_done:
            on_done(operation, status)
    return results
