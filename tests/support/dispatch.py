"""Command registry and dispatch: one function per command, registered by name.

A handler takes a ``Context`` and returns the reply fields (without ``ok``),
or raises CommandError. To add a command (applyOps, say), write a handler in
one of the ``commands_*`` modules and decorate it::

    @command("applyOps", admin_only=True, write=True)
    def apply_ops(ctx: Context) -> dict: ...

The dispatcher checks, in mongod's order: the command exists for this role
(59), authentication (13), admin-only (13), unknown fields (40415),
primary/secondary state (10107, 13435); then calls the handler under the
state lock and appends ``ok: 1.0``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bson import Int64

from tests.support.catalog import GENERIC_FIELDS
from tests.support.errors import CommandError

if TYPE_CHECKING:
    from tests.support.node import Connection, Node
    from tests.support.state import ServerState

ALL_ROLES = frozenset({"standalone", "replset", "mongos"})
MONGOD = frozenset({"standalone", "replset"})
MONGOS = frozenset({"mongos"})


@dataclass(frozen=True)
class CommandSpec:
    """How the dispatcher treats one command."""

    name: str
    handler: Callable[[Context], dict[str, Any]]
    roles: frozenset[str] = ALL_ROLES
    requires_auth: bool = True
    admin_only: bool = False
    write: bool = False  # needs a writable primary
    read: bool = False  # on a secondary, needs secondaryOk ($readPreference not primary)
    fields: frozenset[str] | None = None  # known fields; None: not checked
    replset_only: bool = False  # answers 76 NoReplicationEnabled on a standalone


COMMANDS: dict[str, CommandSpec] = {}
_LOWERCASE: dict[str, str] = {}


def command(name: str, *aliases: str, **options: Any) -> Callable:
    """Register a handler under ``name`` (and ``aliases``); see CommandSpec for options."""
    fields = options.pop("fields", None)

    def register(handler: Callable[[Context], dict[str, Any]]) -> Callable:
        for command_name in (name, *aliases):
            COMMANDS[command_name] = CommandSpec(
                command_name,
                handler,
                fields=frozenset(fields) | {command_name} if fields is not None else None,
                **options,
            )
        return handler

    return register


@dataclass
class Context:
    """One command being run: where it came from and what it says."""

    node: Node
    connection: Connection
    db: str
    name: str
    body: dict[str, Any]
    more_to_come: bool = False
    legacy: bool = False  # arrived as OP_QUERY
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def state(self) -> ServerState:
        return self.node.state

    @property
    def value(self) -> Any:
        return self.body[self.name]

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)

    def collection_name(self) -> str:
        """The command's first value as a collection name (error 2/73 otherwise)."""
        value = self.value
        if not isinstance(value, str):
            raise CommandError(2, f"collection name has invalid type {bson_type_name(value)}")
        if not value:
            raise CommandError(73, f"Invalid namespace specified '{self.db}.'")
        return value


def bson_type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int" if -(2**31) <= value < 2**31 else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list):
        return "array"
    if value is None:
        return "null"
    return type(value).__name__


def run_command(ctx: Context) -> dict[str, Any]:
    """Run one command and return the reply document (ok: 1.0 or an error reply)."""
    spec = COMMANDS.get(ctx.name)
    if spec is None or ctx.node.role not in spec.roles:
        return CommandError(59, f"no such command: '{ctx.name}'").to_reply()
    try:
        with ctx.state.lock:
            _check(spec, ctx)
            reply = spec.handler(ctx)
    except CommandError as error:
        return error.to_reply()
    except Exception as error:  # a bug in the test server: make it loud
        ctx.node.errors.append(traceback.format_exc())
        print(f"test server: {ctx.name} failed:\n{traceback.format_exc()}", file=sys.stderr)
        return CommandError(1, f"test server internal error in {ctx.name}: {error!r}").to_reply()
    reply = dict(reply)
    ok = reply.pop("ok", 1.0)
    reply["ok"] = ok
    return reply


def _check(spec: CommandSpec, ctx: Context) -> None:
    node = ctx.node
    if spec.replset_only and node.role == "standalone":
        raise CommandError(76, "not running with --replSet")
    if (
        ctx.state.auth
        and spec.requires_auth
        and not ctx.connection.authenticated_users
        and not _localhost_exception(ctx)
    ):
        # 7.0 capitalises "Command" (older servers wrote "command ... requires authentication").
        raise CommandError(13, f"Command {ctx.name} requires authentication")
    if spec.admin_only and ctx.db != "admin":
        raise CommandError(13, f"{ctx.name} may only be run against the admin database.")
    if spec.fields is not None:
        for key in ctx.body:
            if key.startswith("$") or key in GENERIC_FIELDS or key in spec.fields:
                continue
            raise CommandError(40415, f"BSON field '{ctx.name}.{key}' is an unknown field.")
    if node.role == "replset":
        # State-change errors carry the topologyVersion (4.4+), so drivers can tell a
        # stale error from news and keep their streaming monitors.
        topology_version = {"processId": node.process_id, "counter": Int64(node.topology_counter)}
        if spec.write and not node.is_writable_primary():
            raise CommandError(10107, "not primary", topologyVersion=topology_version)
        if spec.read and not node.is_writable_primary() and not _secondary_ok(ctx):
            raise CommandError(
                13435, "not primary and secondaryOk=false", topologyVersion=topology_version
            )


def _secondary_ok(ctx: Context) -> bool:
    if ctx.legacy:
        return True
    preference = ctx.body.get("$readPreference")
    return isinstance(preference, Mapping) and preference.get("mode", "primary") != "primary"


def _localhost_exception(ctx: Context) -> bool:
    """While no user exists, a local connection may create the first user or role on
    admin, and initiate a replica set (manual: "Localhost Exception")."""
    # The manual's list ("All Localhost Exception Privileges"); usersInfo is not on it.
    allowed = {"createUser", "createRole", "replSetInitiate", "replSetGetStatus", "replSetReconfig"}
    if ctx.node.role == "mongos":
        allowed.add("addShard")
    if ctx.name not in allowed or ctx.db != "admin":
        return False
    return not ctx.state.users() and not ctx.state.roles()
