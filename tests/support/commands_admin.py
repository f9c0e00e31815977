"""Handshake and server-information commands: hello, ping, buildInfo, serverStatus ..."""

from __future__ import annotations

import os
import platform
import socket
from collections.abc import Mapping
from typing import Any

from bson import Int64, Timestamp

from tests.support.catalog import utcnow
from tests.support.dispatch import Context, command
from tests.support.errors import CommandError

GIT_VERSION = "ce59cfc6a3c5e5c067dca0d30697edd68d4f5188"


def version_array(version: str) -> list[int]:
    parts = [int(part) for part in version.split("-")[0].split(".")[:3]]
    while len(parts) < 3:
        parts.append(0)
    return [*parts, 0]


# ------------------------------------------------------------------ hello


@command("hello", requires_auth=False)
def hello(ctx: Context) -> dict[str, Any]:
    _await_topology_change(ctx)
    return ctx.node.hello_response(ctx, legacy_name=False)


@command("isMaster", "ismaster", requires_auth=False)
def is_master(ctx: Context) -> dict[str, Any]:
    _await_topology_change(ctx)
    return ctx.node.hello_response(ctx, legacy_name=True)


def _await_topology_change(ctx: Context) -> None:
    """Awaitable hello: hold the reply until the topology changes or maxAwaitTimeMS passes.

    Drivers that see topologyVersion stream their monitoring hellos; answering at
    once would make them spin (pymongo and the Node driver send the next
    one immediately).
    """
    topology_version = ctx.get("topologyVersion")
    max_await = ctx.get("maxAwaitTimeMS")
    if isinstance(ctx.get("client"), Mapping):
        ctx.connection.client_metadata = dict(ctx.get("client"))
    if not isinstance(topology_version, Mapping) or max_await is None:
        return
    node = ctx.node
    if topology_version.get("processId") != node.process_id:
        return
    counter = topology_version.get("counter")
    if counter != node.topology_counter:
        return
    ctx.state.topology_changed.wait_for(
        lambda: node.topology_counter != counter or node.stopping or node.down,
        timeout=max(0, float(max_await)) / 1000,
    )


@command("ping", requires_auth=False)
def ping(ctx: Context) -> dict[str, Any]:
    return {}


@command("buildInfo", "buildinfo", requires_auth=False)
def build_info(ctx: Context) -> dict[str, Any]:
    version = ctx.state.version
    return {
        "version": version,
        "gitVersion": GIT_VERSION,
        "modules": [],
        "allocator": "tcmalloc",
        "javascriptEngine": "mozjs",
        "sysInfo": "deprecated",
        "versionArray": version_array(version),
        "openssl": {
            "running": "OpenSSL 3.0.2 15 Mar 2022",
            "compiled": "OpenSSL 3.0.2 15 Mar 2022",
        },
        "buildEnvironment": {
            "distmod": "ubuntu2204",
            "distarch": "x86_64",
            "target_arch": "x86_64",
            "target_os": "linux",
        },
        "bits": 64,
        "debug": False,
        "maxBsonObjectSize": 16777216,
        "storageEngines": ["devnull", "wiredTiger"],
    }


# ------------------------------------------------------------------ parameters


def _parameters(ctx: Context) -> dict[str, Any]:
    parameters: dict[str, Any] = {
        "authenticationMechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"],
        "cursorTimeoutMillis": Int64(600000),
        "logLevel": 0,
        "maxTransactionLockRequestTimeoutMillis": 5,
        "notablescan": False,
        "quiet": False,
        "transactionLifetimeLimitSeconds": 60,
        "ttlMonitorEnabled": True,
        "ttlMonitorSleepSecs": 60,
    }
    if ctx.node.role != "mongos":
        parameters["featureCompatibilityVersion"] = {"version": "7.0"}
    return dict(sorted(parameters.items()))


@command("getParameter", admin_only=True)
def get_parameter(ctx: Context) -> dict[str, Any]:
    available = _parameters(ctx)
    selector = ctx.value
    show_details = isinstance(selector, Mapping) and bool(selector.get("showDetails"))
    everything = selector == "*" or (
        isinstance(selector, Mapping) and bool(selector.get("allParameters"))
    )
    if everything:
        chosen = available
    else:
        chosen = {}
        for name in ctx.body:
            if name == ctx.name or name.startswith("$") or name in ("lsid", "comment"):
                continue
            if name not in available:
                raise CommandError(72, "no option found to get")
            chosen[name] = available[name]
        if not chosen:
            raise CommandError(72, "no option found to get")
    if show_details:
        return {
            name: {"value": value, "settableAtRuntime": True, "settableAtStartup": True}
            for name, value in chosen.items()
        }
    return chosen


@command("getCmdLineOpts", admin_only=True)
def get_cmd_line_opts(ctx: Context) -> dict[str, Any]:
    node = ctx.node
    program = "mongos" if node.role == "mongos" else "mongod"
    argv = [program, "--bind_ip", "127.0.0.1", "--port", str(node.port)]
    parsed: dict[str, Any] = {"net": {"bindIp": "127.0.0.1", "port": node.port}}
    if node.role == "replset":
        argv += ["--replSet", ctx.state.rs.set_name]
        parsed["replication"] = {"replSet": ctx.state.rs.set_name}
    if ctx.state.auth:
        parsed["security"] = {"authorization": "enabled"}
    return {"argv": argv, "parsed": parsed}


# ------------------------------------------------------------------ status


@command("serverStatus")
def server_status(ctx: Context) -> dict[str, Any]:
    node = ctx.node
    uptime = node.uptime_seconds()
    reply: dict[str, Any] = {
        "host": node.me,
        "version": ctx.state.version,
        "process": "mongos" if node.role == "mongos" else "mongod",
        "pid": Int64(os.getpid()),
        "uptime": float(int(uptime)),
        "uptimeMillis": Int64(int(uptime * 1000)),
        "uptimeEstimate": Int64(int(uptime)),
        "localTime": utcnow(),
        "asserts": {"regular": 0, "warning": 0, "msg": 0, "user": 0, "tripwire": 0, "rollovers": 0},
        "connections": {
            "current": node.connections_current,
            "available": 838860 - node.connections_current,
            "totalCreated": node.connections_total,
            "rejected": 0,
            "active": 1,
            "threaded": node.connections_current,
            "exhaustIsMaster": 0,
            "exhaustHello": 0,
            "awaitingTopologyChanges": 0,
        },
        "mem": {"bits": 64, "resident": 100, "virtual": 2600, "supported": True},
        "opcounters": _opcounters(node.commands_seen),
    }
    if node.role == "replset":
        reply["opcountersRepl"] = {
            "insert": Int64(0),
            "query": Int64(0),
            "update": Int64(0),
            "delete": Int64(0),
            "getmore": Int64(0),
            "command": Int64(0),
        }
        if ctx.state.rs.initiated:
            repl = node.hello_response(None, legacy_name=False)
            repl = {key: value for key, value in repl.items() if key in _REPL_FIELDS}
            repl["rbid"] = 1
            reply["repl"] = repl
    if node.role != "mongos":
        reply["storageEngine"] = {
            "name": "wiredTiger",
            "supportsCommittedReads": True,
            "oldestRequiredTimestampForCrashRecovery": Timestamp(0, 0),
            "supportsPendingDrops": True,
            "dropPendingIdents": Int64(0),
            "supportsSnapshotReadConcern": True,
            "readOnly": False,
            "persistent": True,
            "backupCursorOpen": False,
        }
        reply["wiredTiger"] = {
            "cache": {
                "bytes currently in the cache": Int64(1048576),
                "maximum bytes configured": Int64(1073741824),
                "tracked dirty bytes in the cache": Int64(0),
            },
        }
    return reply


_REPL_FIELDS = {
    "topologyVersion",
    "hosts",
    "passives",
    "arbiters",
    "setName",
    "setVersion",
    "isWritablePrimary",
    "secondary",
    "primary",
    "arbiterOnly",
    "passive",
    "hidden",
    "buildIndexes",
    "secondaryDelaySecs",
    "tags",
    "me",
    "electionId",
    "lastWrite",
}


def _opcounters(seen: list[str]) -> dict[str, Int64]:
    counts = {"insert": 0, "query": 0, "update": 0, "delete": 0, "getmore": 0, "command": 0}
    for name in seen:
        if name == "insert":
            counts["insert"] += 1
        elif name == "find":
            counts["query"] += 1
        elif name == "update":
            counts["update"] += 1
        elif name == "delete":
            counts["delete"] += 1
        elif name == "getMore":
            counts["getmore"] += 1
        else:
            counts["command"] += 1
    return {key: Int64(value) for key, value in counts.items()}


@command("hostInfo")
def host_info(ctx: Context) -> dict[str, Any]:
    return {
        "system": {
            "currentTime": utcnow(),
            "hostname": socket.gethostname(),
            "cpuAddrSize": 64,
            "memSizeMB": Int64(8192),
            "memLimitMB": Int64(8192),
            "numCores": os.cpu_count() or 1,
            "cpuArch": platform.machine() or "x86_64",
            "numaEnabled": False,
        },
        "os": {"type": "Linux", "name": "test server", "version": platform.release()},
        "extra": {},
    }


@command("whatsmyuri", requires_auth=False)
def whats_my_uri(ctx: Context) -> dict[str, Any]:
    return {"you": ctx.connection.peer}


@command("getLog", admin_only=True)
def get_log(ctx: Context) -> dict[str, Any]:
    value = ctx.value
    if value == "*":
        return {"names": ["global", "startupWarnings"]}
    if value == "startupWarnings":
        return {"totalLinesWritten": 0, "log": []}
    if value == "global":
        return {"totalLinesWritten": len(ctx.state.warnings), "log": list(ctx.state.warnings)}
    raise CommandError(2, f"no RamLog named: {value}")


@command("endSessions", "killSessions", requires_auth=False)
def end_sessions(ctx: Context) -> dict[str, Any]:
    # pymongo sends endSessions with moreToCome (w:0): the node consumes it silently.
    return {}


@command("connectionStatus", requires_auth=False)
def connection_status(ctx: Context) -> dict[str, Any]:
    from tests.support.commands_users import roles_of_users

    users = [{"user": user, "db": db} for user, db in ctx.connection.authenticated_users]
    auth_info: dict[str, Any] = {
        "authenticatedUsers": users,
        "authenticatedUserRoles": roles_of_users(ctx, ctx.connection.authenticated_users),
    }
    if ctx.get("showPrivileges"):
        auth_info["authenticatedUserPrivileges"] = []
    return {"authInfo": auth_info}


@command("listCommands", requires_auth=False)
def list_commands(ctx: Context) -> dict[str, Any]:
    from tests.support.dispatch import COMMANDS

    return {
        "commands": {
            name: {
                "help": "",
                "requiresAuth": spec.requires_auth,
                "secondaryOk": True,
                "adminOnly": spec.admin_only,
            }
            for name, spec in sorted(COMMANDS.items())
            if ctx.node.role in spec.roles
        }
    }


@command("getDefaultRWConcern", admin_only=True)
def get_default_rw_concern(ctx: Context) -> dict[str, Any]:
    return {
        "defaultReadConcern": {"level": "local"},
        "defaultWriteConcern": {"w": "majority", "wtimeout": 0},
        "defaultWriteConcernSource": "implicit",
        "defaultReadConcernSource": "implicit",
        "localUpdateWallClockTime": utcnow(),
    }
