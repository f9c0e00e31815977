"""Replica-set commands: replSetInitiate, replSetGetStatus, replSetGetConfig,
replSetReconfig; plus the election the test cluster runs when a member goes down."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from bson import Int64, Timestamp

from tests.support.catalog import utcnow
from tests.support.dispatch import MONGOD, Context, command
from tests.support.errors import CommandError
from tests.support.state import MemberConfig, ServerState

STATE_NAMES = {
    0: "STARTUP",
    1: "PRIMARY",
    2: "SECONDARY",
    7: "ARBITER",
    8: "(not reachable/healthy)",
}
EPOCH = datetime.datetime(1970, 1, 1)


# ------------------------------------------------------------------ elections


def elect_primary(state: ServerState, preferred: int | None = None) -> None:
    """Make the best healthy electable member primary (a new term when it changes).

    Highest priority wins, then the lowest member index; ``preferred`` wins
    among equals (the member where replSetInitiate ran). As in MongoDB, a
    primary needs a majority of the voting members up: without one, the
    primary steps down and no member is elected.
    """
    replset = state.rs
    if not replset.initiated:
        return

    def up(index: int) -> bool:
        return index < len(state.nodes) and not state.nodes[index].down

    voting = [index for index, member in enumerate(replset.members) if member.votes > 0]
    has_majority = 2 * sum(1 for index in voting if up(index)) > len(voting)
    candidates = [
        index
        for index, member in enumerate(replset.members)
        if member.electable and up(index) and has_majority
    ]
    current = replset.primary
    if current is not None and current in candidates:
        return
    if not candidates:
        new = None
    else:
        new = sorted(
            candidates,
            key=lambda index: (-replset.members[index].priority, index != preferred, index),
        )[0]
    if new != current:
        replset.primary = new
        if new is not None:
            if current is not None or replset.election_time is not None:
                replset.term += 1
            replset.election_time = state.next_timestamp()
            replset.election_date = utcnow()
            state.log_op("n", "", {"msg": "new primary"})
    topology_changed(state)


def topology_changed(state: ServerState) -> None:
    for node in state.nodes:
        node.bump_topology()
    state.topology_changed.notify_all()


def _parse_members(config: Mapping[str, Any], state: ServerState) -> list[MemberConfig]:
    members_doc = config.get("members")
    if not isinstance(members_doc, list) or not members_doc:
        raise CommandError(93, "Replica set configuration must contain a non-empty 'members' array")
    if len(members_doc) != len(state.nodes):
        raise CommandError(
            93,
            f"test server: the config lists {len(members_doc)} members but the test cluster "
            f"has {len(state.nodes)}; members map to cluster members by position",
        )
    members = []
    seen_ids = set()
    for item in members_doc:
        if not isinstance(item, Mapping) or "_id" not in item or "host" not in item:
            raise CommandError(93, "Each member of the replica set config needs '_id' and 'host'")
        if item["_id"] in seen_ids:
            raise CommandError(
                93,
                f"Found two member configurations with same _id field, "
                f"members._id == {item['_id']}",
            )
        seen_ids.add(item["_id"])
        delay = item.get("secondaryDelaySecs", item.get("slaveDelay", 0))
        member = MemberConfig(
            id=int(item["_id"]),
            host=str(item["host"]),
            priority=float(item.get("priority", 0 if item.get("arbiterOnly") else 1)),
            hidden=bool(item.get("hidden", False)),
            secondary_delay_secs=int(delay),
            votes=int(item.get("votes", 1)),
            arbiter_only=bool(item.get("arbiterOnly", False)),
            build_indexes=bool(item.get("buildIndexes", True)),
            tags=dict(item.get("tags", {})),
        )
        if (member.hidden or member.secondary_delay_secs) and member.priority != 0:
            raise CommandError(
                93,
                "priority must be 0 when hidden=true"
                if member.hidden
                else "priority must be 0 when secondaryDelaySecs is used",
            )
        members.append(member)
    return members


def store_config(state: ServerState) -> None:
    """Keep local.system.replset in step with the config."""
    info = state.get("local", "system.replset")
    if info is None:
        info = state.create_collection("local", "system.replset", log=False)
    document = state.rs.config_document()
    store = state.data(info)._store
    store._documents.clear()
    for index in info.indexes:
        if index.keymap is not None:
            index.keymap.clear()
    store[document["_id"]] = document
    state._add_keys(info, document)


@command("replSetInitiate", roles=MONGOD, admin_only=True, replset_only=True)
def repl_set_initiate(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    replset = state.rs
    if replset.initiated:
        raise CommandError(23, "already initialized")
    config = ctx.value
    if not isinstance(config, Mapping) or not config:
        members = [
            MemberConfig(index, f"127.0.0.1:{node.port}") for index, node in enumerate(state.nodes)
        ]
    else:
        if config.get("_id") != replset.set_name:
            raise CommandError(
                93,
                f"Attempting to initiate a replica set with name {config.get('_id')}, but "
                f"command line reports {replset.set_name}; rejecting",
            )
        members = _parse_members(config, state)
        if isinstance(config.get("settings"), Mapping):
            replset.settings = {
                key: value
                for key, value in config["settings"].items()
                if key not in ("replicaSetId",)
            }
    replset.members = members
    replset.version = int(config.get("version", 1)) if isinstance(config, Mapping) else 1
    replset.initiated = True
    state.enable_oplog()
    state.log_op("n", "", {"msg": "initiating set"})
    store_config(state)
    elect_primary(state, preferred=ctx.node.index)
    return {}


@command(
    "replSetGetConfig",
    roles=MONGOD,
    admin_only=True,
    replset_only=True,
    fields={"commitmentStatus", "includeNewlyAdded"},
)
def repl_set_get_config(ctx: Context) -> dict[str, Any]:
    replset = ctx.state.rs
    if not replset.initiated:
        raise CommandError(94, "no replset config has been received")
    reply: dict[str, Any] = {"config": replset.config_document()}
    if ctx.get("commitmentStatus"):
        reply["commitmentStatus"] = True
    return reply


@command(
    "replSetReconfig",
    roles=MONGOD,
    admin_only=True,
    replset_only=True,
    write=True,
    fields={"force", "maxTimeMS"},
)
def repl_set_reconfig(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    replset = state.rs
    if not replset.initiated:
        raise CommandError(94, "no replset config has been received")
    config = ctx.value
    if not isinstance(config, Mapping) or config.get("_id") != replset.set_name:
        raise CommandError(93, "replSetReconfig config _id must match the replica set name")
    version = int(config.get("version", 0))
    if version <= replset.version and not ctx.get("force"):
        raise CommandError(
            103, f"New config version {version} must be greater than old version {replset.version}"
        )
    replset.members = _parse_members(config, state)
    replset.version = max(version, replset.version + 1)
    store_config(state)
    elect_primary(state)
    topology_changed(state)
    return {}


@command(
    "replSetGetStatus", roles=MONGOD, admin_only=True, replset_only=True, fields={"initialSync"}
)
def repl_set_get_status(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    replset = state.rs
    if not replset.initiated:
        raise CommandError(94, "no replset config has been received")
    node = ctx.node
    primary_node = state.nodes[replset.primary] if replset.primary is not None else None
    term = Int64(replset.term)
    ts, wall = node.applied_optime()
    primary_ts, primary_wall = state.last_optime()
    voting = [member for member in replset.members if member.votes]
    majority = len(voting) // 2 + 1
    writable_voting = [member for member in voting if not member.arbiter_only]
    sync_host, sync_id = _sync_source(state, node)
    optime = {"ts": ts, "t": term}
    reply: dict[str, Any] = {
        "set": replset.set_name,
        "date": utcnow(),
        "myState": node.member_state(),
        "term": term,
        "syncSourceHost": sync_host,
        "syncSourceId": sync_id,
        "heartbeatIntervalMillis": Int64(2000),
        "majorityVoteCount": majority,
        "writeMajorityCount": min(majority, len(writable_voting)),
        "votingMembersCount": len(voting),
        "writableVotingMembersCount": len(writable_voting),
        "optimes": {
            "lastCommittedOpTime": {"ts": primary_ts, "t": term},
            "lastCommittedWallTime": primary_wall,
            "readConcernMajorityOpTime": {"ts": primary_ts, "t": term},
            "appliedOpTime": optime,
            "durableOpTime": optime,
            "lastAppliedWallTime": wall,
            "lastDurableWallTime": wall,
        },
        "lastStableRecoveryTimestamp": primary_ts,
    }
    if node is primary_node and replset.election_time is not None:
        reply["electionCandidateMetrics"] = {
            "lastElectionReason": "electionTimeout",
            "lastElectionDate": replset.election_date,
            "electionTerm": term,
            "lastCommittedOpTimeAtElection": {"ts": Timestamp(0, 0), "t": Int64(-1)},
            "lastSeenOpTimeAtElection": {"ts": replset.election_time, "t": Int64(replset.term - 1)},
            "numVotesNeeded": majority,
            "priorityAtElection": float(replset.members[node.index].priority),
            "electionTimeoutMillis": Int64(10000),
            "newTermStartDate": replset.election_date,
            "wMajorityWriteAvailabilityDate": replset.election_date,
        }
    reply["members"] = [
        _member_status(ctx, index)
        for index in sorted(
            range(len(replset.members)), key=lambda index: replset.members[index].id
        )
    ]
    return reply


def _sync_source(state: ServerState, node: Any) -> tuple[str, int]:
    replset = state.rs
    if node.is_writable_primary() or replset.primary is None or node.down:
        return "", -1
    primary = replset.members[replset.primary]
    return primary.host, primary.id


def _member_status(ctx: Context, index: int) -> dict[str, Any]:
    state = ctx.state
    replset = state.rs
    member = replset.members[index]
    node = state.nodes[index]
    is_self = node is ctx.node
    now = utcnow()
    status: dict[str, Any] = {"_id": member.id, "name": member.host}
    if node.down:
        zero = {"ts": Timestamp(0, 0), "t": Int64(-1)}
        status.update(
            {
                "health": 0.0,
                "state": 8,
                "stateStr": STATE_NAMES[8],
                "uptime": 0,
                "optime": dict(zero),
                "optimeDurable": dict(zero),
                "optimeDate": EPOCH,
                "optimeDurableDate": EPOCH,
                "lastAppliedWallTime": EPOCH,
                "lastDurableWallTime": EPOCH,
                "lastHeartbeat": now,
                "lastHeartbeatRecv": EPOCH,
                "pingMs": Int64(0),
                "lastHeartbeatMessage": f"Error connecting to {member.host} :: caused by :: "
                "Connection refused",
                "authenticated": False,
                "syncSourceHost": "",
                "syncSourceId": -1,
                "infoMessage": "",
                "configVersion": -1,
                "configTerm": -1,
            }
        )
        return status
    member_state = node.member_state()
    ts, wall = node.applied_optime()
    optime = {"ts": ts, "t": Int64(replset.term)}
    optime_date = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=ts.time)
    sync_host, sync_id = _sync_source(state, node)
    status.update(
        {
            "health": 1.0,
            "state": member_state,
            "stateStr": STATE_NAMES.get(member_state, "UNKNOWN"),
            "uptime": int(node.uptime_seconds()),
        }
    )
    if not member.arbiter_only:
        status["optime"] = optime
        if not is_self:
            status["optimeDurable"] = dict(optime)
        status["optimeDate"] = optime_date
        if not is_self:
            status["optimeDurableDate"] = optime_date
        status["lastAppliedWallTime"] = wall
        status["lastDurableWallTime"] = wall
    if not is_self:
        status["lastHeartbeat"] = now
        status["lastHeartbeatRecv"] = now
        status["pingMs"] = Int64(0)
        status["lastHeartbeatMessage"] = ""
    status["syncSourceHost"] = sync_host
    status["syncSourceId"] = sync_id
    status["infoMessage"] = ""
    if member_state == 1 and replset.election_time is not None:
        status["electionTime"] = replset.election_time
        status["electionDate"] = replset.election_date
    status["configVersion"] = replset.version
    status["configTerm"] = replset.term
    if is_self:
        status["self"] = True
        status["lastHeartbeatMessage"] = ""
    return status
