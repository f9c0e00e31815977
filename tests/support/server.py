"""A MongoDB 7.0 wire-protocol test server for the test suite (never shipped).

Real clients (pymongo, the mongo-toolkit CLI, mongosh) connect to it over TCP on
127.0.0.1. It is strict: a command it does not implement fails with
CommandNotFound (59), as mongod does for an unknown command.

    with MongoTestServer() as server:               # a standalone mongod
        client = pymongo.MongoClient(server.uri)

    with MongoTestServer(role="mongos") as mongos:  # hello says msg: "isdbgrid"
        ...

    with ReplicaSetTestCluster(members=3) as rs:    # one primary, two secondaries
        rs.member(1).set_lag(30)                    # replSetGetStatus shows it behind
        rs.member(2).set_down(True)                 # its port hangs up; health 0
        rs.member(0).set_index_stats("shop", "orders", "sku_1", ops=5)

How it is built: mockupdb parses the wire protocol (node.py), mongomock stores
documents and evaluates queries, updates and pipelines (state.py), and exact
metadata (collection options, index specs through indexes.py, validators
through validation.py, users through scram.py, replica-set and sharding
state, oplog) is kept by the server itself. Commands are registered per name
in the commands_*.py modules (dispatch.py explains how to add one).

Known deviations from a real server are listed in tests/support/README.md.
"""

from __future__ import annotations

import datetime
from typing import Any

import pymongo

from tests.support import (  # noqa: F401  (importing registers the commands)
    commands_admin,
    commands_backup,
    commands_crud,
    commands_ddl,
    commands_oplog,
    commands_replication,
    commands_sharding,
    commands_users,
)
from tests.support.commands_replication import elect_primary, store_config, topology_changed
from tests.support.node import Node
from tests.support.state import MemberConfig, ServerState

__all__ = ["MemberHandle", "MongoTestServer", "ReplicaSetTestCluster"]


class MongoTestServer:
    """One test server process: ``role`` is "standalone" (a mongod) or "mongos".

    ``auth=True`` requires authentication for every command but the handshake,
    ping, buildInfo and SASL; while no user exists, createUser/createRole on
    admin pass (the localhost exception).
    """

    def __init__(
        self, role: str = "standalone", auth: bool = False, version: str = "7.0.14"
    ) -> None:
        if role not in ("standalone", "mongos"):
            raise ValueError(
                f"role must be 'standalone' or 'mongos', not {role!r} "
                "(use ReplicaSetTestCluster for replica sets)"
            )
        self.role = role
        self.state = ServerState(kind=role, auth=auth, version=version)
        self.node = Node(self.state, role)
        self.state.nodes.append(self.node)
        self._started = False

    # lifecycle ----------------------------------------------------------

    def start(self) -> MongoTestServer:
        """Listen on a free port on 127.0.0.1; return self."""
        if not self._started:
            self.node.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Close the port and every connection (safe to call twice)."""
        if self._started:
            self.node.stop()
            self._started = False

    def __enter__(self) -> MongoTestServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # addresses ----------------------------------------------------------

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.node.port}"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.node.port}/"

    def client(self, **options: Any) -> pymongo.MongoClient:
        """A pymongo client for this server (the caller closes it)."""
        options.setdefault("serverSelectionTimeoutMS", 5000)
        return pymongo.MongoClient(self.uri, **options)

    # what happened --------------------------------------------------------

    @property
    def commands_seen(self) -> list[str]:
        """Names of the commands received, in order (handshakes included)."""
        return list(self.node.commands_seen)

    @property
    def errors(self) -> list[str]:
        """Tracebacks of test-server bugs hit so far (should stay empty)."""
        return list(self.node.errors)

    @property
    def warnings(self) -> list[str]:
        """Messages mongod would log, e.g. validationAction "warn" failures."""
        return list(self.state.warnings)

    # controls -------------------------------------------------------------

    def set_index_stats(
        self,
        db: str,
        collection: str,
        index_name: str,
        *,
        ops: int | None = None,
        since: datetime.datetime | None = None,
        building: bool = False,
    ) -> None:
        """Set what $indexStats reports for one index (accesses.ops/since, building)."""
        with self.state.lock:
            self.node.set_index_stats(
                f"{db}.{collection}", index_name, ops=ops, since=since, building=building
            )


class MemberHandle:
    """Controls for one member of a ReplicaSetTestCluster."""

    def __init__(self, cluster: ReplicaSetTestCluster, index: int) -> None:
        self._cluster = cluster
        self.index = index

    @property
    def _node(self) -> Node:
        return self._cluster.nodes[self.index]

    @property
    def port(self) -> int:
        return self._node.port

    @property
    def host(self) -> str:
        """The member's name in the replica-set config ("127.0.0.1:PORT")."""
        return self._node.me

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self._node.port}/?directConnection=true"

    @property
    def is_primary(self) -> bool:
        with self._cluster.state.lock:
            return self._node.is_writable_primary()

    @property
    def commands_seen(self) -> list[str]:
        return list(self._node.commands_seen)

    def client(self, **options: Any) -> pymongo.MongoClient:
        options.setdefault("serverSelectionTimeoutMS", 5000)
        return pymongo.MongoClient(self.uri, **options)

    def set_down(self, down: bool = True) -> None:
        """Take the member down (its port hangs up; replSetGetStatus shows health 0,
        state 8) or bring it back. A primary that goes down is replaced by election."""
        state = self._cluster.state
        with state.lock:
            self._node.set_down(down)
            elect_primary(state)
            topology_changed(state)

    def set_lag(self, seconds: float) -> None:
        """Make the member's optime/optimeDate trail the primary's by ``seconds``."""
        with self._cluster.state.lock:
            self._node.lag_seconds = float(seconds)
            topology_changed(self._cluster.state)

    def set_index_stats(
        self,
        db: str,
        collection: str,
        index_name: str,
        *,
        ops: int | None = None,
        since: datetime.datetime | None = None,
        building: bool = False,
    ) -> None:
        """Set what $indexStats reports on this member for one index."""
        with self._cluster.state.lock:
            self._node.set_index_stats(
                f"{db}.{collection}", index_name, ops=ops, since=since, building=building
            )

    def configure(
        self,
        *,
        priority: float | None = None,
        hidden: bool | None = None,
        secondary_delay_secs: int | None = None,
        votes: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        """Change this member's replica-set config entry (bumps the config version)."""
        state = self._cluster.state
        with state.lock:
            member = state.rs.members[self.index]
            if priority is not None:
                member.priority = float(priority)
            if hidden is not None:
                member.hidden = hidden
            if secondary_delay_secs is not None:
                member.secondary_delay_secs = int(secondary_delay_secs)
            if votes is not None:
                member.votes = int(votes)
            if tags is not None:
                member.tags = dict(tags)
            state.rs.version += 1
            store_config(state)
            if state.rs.primary == self.index and not member.electable:
                state.rs.primary = None
            elect_primary(state)
            topology_changed(state)

    def make_primary(self) -> None:
        """Step the current primary down and elect this member (a new term)."""
        state = self._cluster.state
        with state.lock:
            if not state.rs.members[self.index].electable or self._node.down:
                raise ValueError(f"member {self.index} is not electable")
            state.rs.primary = None
            elect_primary(state, preferred=self.index)
            if state.rs.primary != self.index:
                state.rs.primary = self.index
                topology_changed(state)


class ReplicaSetTestCluster:
    """``members`` test servers sharing one data set as replica set ``set_name``.

    With ``initiated=True`` (the default) member 0 is primary from the start;
    with ``initiated=False`` the members answer as a fresh ``mongod --replSet``
    does until a client runs replSetInitiate (rs.initiate()).
    """

    def __init__(
        self,
        members: int = 3,
        set_name: str = "rs0",
        initiated: bool = True,
        auth: bool = False,
        version: str = "7.0.14",
    ) -> None:
        if members < 1:
            raise ValueError("a replica set needs at least one member")
        self.set_name = set_name
        self.initiated = initiated
        self.state = ServerState(kind="replset", auth=auth, version=version, set_name=set_name)
        self.nodes = [Node(self.state, "replset", index) for index in range(members)]
        self.state.nodes.extend(self.nodes)
        self._started = False

    def start(self) -> ReplicaSetTestCluster:
        if self._started:
            return self
        for node in self.nodes:
            node.start()
        self._started = True
        if self.initiated:
            state = self.state
            with state.lock:
                replset = state.rs
                replset.members = [
                    MemberConfig(index, f"127.0.0.1:{node.port}")
                    for index, node in enumerate(self.nodes)
                ]
                replset.initiated = True
                state.enable_oplog()
                state.log_op("n", "", {"msg": "initiating set"})
                store_config(state)
                elect_primary(state, preferred=0)
        return self

    def stop(self) -> None:
        if self._started:
            for node in self.nodes:
                node.stop()
            self._started = False

    def __enter__(self) -> ReplicaSetTestCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def uri(self) -> str:
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"mongodb://{hosts}/?replicaSet={self.set_name}"

    def client(self, **options: Any) -> pymongo.MongoClient:
        options.setdefault("serverSelectionTimeoutMS", 5000)
        return pymongo.MongoClient(self.uri, **options)

    def add_user(
        self, user: str, password: str, roles: list[dict[str, str]], db: str = "admin"
    ) -> None:
        """Store a user as if it existed before the set started (what the official
        image's init step leaves: the root user, created on a temporary standalone)."""
        import uuid

        from bson import Binary

        from tests.support import scram

        document = {
            "_id": f"{db}.{user}",
            "userId": Binary.from_uuid(uuid.uuid4()),
            "user": user,
            "db": db,
            "credentials": scram.make_credentials(user, password, ["SCRAM-SHA-1", "SCRAM-SHA-256"]),
            "roles": roles,
        }
        with self.state.lock:
            self.state.insert(commands_users._users(self.state), document, bypass_validation=True)

    def member(self, index: int) -> MemberHandle:
        if not 0 <= index < len(self.nodes):
            raise IndexError(f"no member {index} (the set has {len(self.nodes)})")
        return MemberHandle(self, index)

    @property
    def members(self) -> list[MemberHandle]:
        return [MemberHandle(self, index) for index in range(len(self.nodes))]

    @property
    def primary(self) -> MemberHandle | None:
        with self.state.lock:
            index = self.state.rs.primary
        return None if index is None else MemberHandle(self, index)

    @property
    def oplog(self) -> list[dict[str, Any]]:
        """A copy of local.oplog.rs, oldest first."""
        with self.state.lock:
            return [dict(entry) for entry in self.state.oplog]

    @property
    def commands_seen(self) -> list[str]:
        """Names of the commands every member received (member by member)."""
        return [name for node in self.nodes for name in node.commands_seen]

    @property
    def errors(self) -> list[str]:
        """Tracebacks of test-server bugs hit on any member (should stay empty)."""
        return [error for node in self.nodes for error in node.errors]
