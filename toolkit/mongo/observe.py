"""Read-only observations of a server: what it is, how its members are doing.

Each observe_* function takes a connected MongoClient and returns plain
frozen dataclasses, so the planners and assessments that consume them never
import pymongo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pymongo
import pymongo.errors
from bson.timestamp import Timestamp
from pymongo import MongoClient, ReadPreference

# replSetGetStatus state codes (manual: replica set member states).
MEMBER_STATES = {
    0: "STARTUP",
    1: "PRIMARY",
    2: "SECONDARY",
    3: "RECOVERING",
    5: "STARTUP2",
    6: "UNKNOWN",
    7: "ARBITER",
    8: "DOWN",
    9: "ROLLBACK",
    10: "REMOVED",
}


@dataclass(frozen=True)
class MemberStatus:
    """One replica-set member as replSetGetStatus reports it."""

    id: int
    name: str
    state: int
    state_str: str
    health: float
    optime_date: datetime | None
    is_self: bool = False
    delay_seconds: int = 0  # secondaryDelaySecs in the replica-set config (a delayed member)


@dataclass(frozen=True)
class ServerObservation:
    """What a server said about itself at one moment."""

    version: str
    topology: str  # "standalone", "replica set", "replica set (not initiated)" or "sharded"
    ping_ms: float
    set_name: str | None = None
    members: tuple[MemberStatus, ...] = ()
    oplog_first: datetime | None = None
    oplog_last: datetime | None = None
    shards: tuple[str, ...] = ()
    balancer_mode: str | None = None


def observe_server(
    client: MongoClient, *, budget_seconds: float | None = None
) -> ServerObservation:
    """Ping the server and describe it: version, topology, members, oplog window, shards.

    Commands go to the primary when there is one, else to another member
    (primaryPreferred): a replica set without a primary is still described.
    ``budget_seconds`` bounds everything after the first ping (which waits
    only as long as the client's server selection). Raise pymongo errors; the
    caller translates them (toolkit.mongo.client).
    """
    admin = client.admin

    def command(name: str) -> dict[str, Any]:
        return admin.command(name, read_preference=ReadPreference.PRIMARY_PREFERRED)

    started = time.perf_counter()
    command("ping")
    ping_ms = (time.perf_counter() - started) * 1000
    if budget_seconds is None:
        return _describe(client, command, ping_ms)
    with pymongo.timeout(budget_seconds):
        return _describe(client, command, ping_ms)


def _describe(client: MongoClient, command: Any, ping_ms: float) -> ServerObservation:
    admin = client.admin
    hello = command("hello")
    version = str(command("buildInfo").get("version", "unknown"))

    if hello.get("msg") == "isdbgrid":
        shards = admin.command("listShards").get("shards", [])
        balancer = admin.command("balancerStatus")
        return ServerObservation(
            version=version,
            topology="sharded",
            ping_ms=ping_ms,
            shards=tuple(f"{shard['_id']} ({shard.get('host', '?')})" for shard in shards),
            balancer_mode=str(balancer.get("mode")),
        )

    if not hello.get("setName"):
        # A mongod started with --replSet whose set was never initiated says isreplicaset.
        topology = "replica set (not initiated)" if hello.get("isreplicaset") else "standalone"
        return ServerObservation(version=version, topology=topology, ping_ms=ping_ms)

    status = command("replSetGetStatus")
    delays = _member_delays(command)
    members = tuple(
        _member_status(member, delays.get(int(member.get("_id", -1)), 0))
        for member in status.get("members", [])
    )
    first, last = _oplog_window(client)
    return ServerObservation(
        version=version,
        topology="replica set",
        ping_ms=ping_ms,
        set_name=str(hello["setName"]),
        members=members,
        oplog_first=first,
        oplog_last=last,
    )


def _member_delays(command: Any) -> dict[int, int]:
    """Return each delayed member's secondaryDelaySecs by member _id (replSetGetConfig).

    Empty when the config cannot be read (no privilege): no member counts as delayed.
    """
    try:
        config = command("replSetGetConfig").get("config", {})
    except pymongo.errors.OperationFailure:
        return {}
    delays = {}
    for member in config.get("members", []):
        delay = int(member.get("secondaryDelaySecs", 0) or 0)
        if delay:
            delays[int(member.get("_id", -1))] = delay
    return delays


def _member_status(member: dict[str, Any], delay_seconds: int = 0) -> MemberStatus:
    state = int(member.get("state", 6))
    optime_date = member.get("optimeDate")
    if isinstance(optime_date, datetime) and optime_date.tzinfo is None:
        optime_date = optime_date.replace(tzinfo=UTC)
    return MemberStatus(
        id=int(member.get("_id", -1)),
        name=str(member.get("name", "?")),
        state=state,
        state_str=str(member.get("stateStr", MEMBER_STATES.get(state, str(state)))),
        health=float(member.get("health", 0)),
        optime_date=optime_date if isinstance(optime_date, datetime) else None,
        is_self=bool(member.get("self", False)),
        delay_seconds=delay_seconds,
    )


def _oplog_window(client: MongoClient) -> tuple[datetime | None, datetime | None]:
    """Return the times of the first and last oplog entries (on the primary when possible)."""
    oplog = client.get_database("local", read_preference=ReadPreference.PRIMARY_PREFERRED)[
        "oplog.rs"
    ]
    try:
        first = oplog.find_one({}, {"ts": 1}, sort=[("$natural", 1)])
        last = oplog.find_one({}, {"ts": 1}, sort=[("$natural", -1)])
    except pymongo.errors.OperationFailure:
        return None, None  # no privilege on local: the window is unknown, not a failure
    return _timestamp_time(first), _timestamp_time(last)


def _timestamp_time(entry: dict[str, Any] | None) -> datetime | None:
    if not entry or not isinstance(entry.get("ts"), Timestamp):
        return None
    return entry["ts"].as_datetime()
