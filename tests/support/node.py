"""One listening server process (a mongod, a replica-set member or a mongos).

mockupdb parses the wire protocol (OP_MSG and the legacy OP_QUERY handshake)
and writes replies; this module replaces its accept and per-connection loops
so that (1) one slow command (an awaitable hello waiting for a topology
change) does not block the other connections, as mockupdb's loop holds one
lock for all of them, (2) stop() returns in milliseconds rather than after
mockupdb's one-second accept poll, and (3) a member marked down hangs up on
every connection.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import select
import socket
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
import mockupdb
from bson import Int64, ObjectId, Timestamp

from tests.support import dispatch
from tests.support.catalog import utcnow
from tests.support.errors import CommandError
from tests.support.state import MAX_BSON_SIZE, ServerState

MORE_TO_COME = mockupdb.OP_MSG_FLAGS["moreToCome"]
_EPOCH = datetime.datetime(1970, 1, 1)

# Commands the legacy OP_QUERY opcode may still carry (MongoDB 5.1+ refuses the rest).
LEGACY_ALLOWED = {"hello", "isMaster", "ismaster"}


@dataclass
class Connection:
    """Per-connection state: id, peer, authenticated users, SASL conversations."""

    id: int
    peer: str
    authenticated_users: list[tuple[str, str]] = field(default_factory=list)
    conversations: dict[int, Any] = field(default_factory=dict)
    client_metadata: dict[str, Any] | None = None


class WireServer(mockupdb.MockupDB):
    """mockupdb's parser and reply writer with our own loops (see module docstring)."""

    def __init__(self, node: Node, port: int | None = None) -> None:
        super().__init__(port=port, request_timeout=int(1e6))
        self._address = ("127.0.0.1", port or 0)
        self._node = node
        self.refusing = False

    def _accept_loop(self) -> None:
        listener = self._listening_sock
        try:
            listener.setblocking(False)
        except OSError:  # stopped before this thread ran
            return
        while not self._stopped and not mockupdb._shutting_down:
            try:
                readable, _, _ = select.select([listener], [], [], 0.05)
            except (OSError, ValueError):
                break
            if not readable:
                continue
            try:
                client, address = listener.accept()
            except OSError:
                continue
            if self.refusing or self._stopped:
                _close_quietly(client)
                continue
            client.setblocking(True)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._server_loop, args=(client, address), daemon=True)
            self._server_threads[thread] = None
            self._server_socks[client] = None
            thread.start()

    def _server_loop(self, client: socket.socket, address: Any) -> None:
        connection = self._node.open_connection(address)
        try:
            while not self._stopped and not self.refusing:
                request = mockupdb.mock_server_receive_request(client, self)
                reply = self._node.handle(connection, request)
                if reply is None or self.refusing:
                    continue
                request.replies(reply)
        except (OSError, EOFError):
            pass
        except Exception:  # a parse failure or a bug: record it and drop the connection
            self._node.errors.append(traceback.format_exc())
        finally:
            self._node.close_connection(connection)
            _close_quietly(client)

    def hang_up_all(self) -> None:
        """Close every open connection (the member went down)."""
        for sock in list(self._server_socks):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()


class Node:
    """A server process on one port; ``role`` is "standalone", "replset" or "mongos"."""

    def __init__(self, state: ServerState, role: str, index: int = 0) -> None:
        self.state = state
        self.role = role
        self.index = index
        self.process_id = ObjectId()
        self.topology_counter = 0
        self.started_monotonic = time.monotonic()
        self.started = utcnow()
        self._connection_ids = itertools.count(1)
        self.connections_current = 0
        self.connections_total = 0
        self.commands_seen: list[str] = []
        self.errors: list[str] = []
        self.index_stats: dict[tuple[str, str], dict[str, Any]] = {}
        self.down = False
        self.lag_seconds = 0.0
        self.stopping = False
        self.wire = WireServer(self)
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    def start(self, port: int | None = None) -> int:
        if port is not None:
            self.wire._address = ("127.0.0.1", port)
        self.port = self.wire.run()
        return self.port

    def stop(self) -> None:
        with self.state.lock:
            self.stopping = True
            self.state.topology_changed.notify_all()
        self.wire.stop()

    def set_down(self, down: bool) -> None:
        self.down = down
        self.wire.refusing = down
        if down:
            self.wire.hang_up_all()

    # ------------------------------------------------------------------ identity

    @property
    def me(self) -> str:
        replset = self.state.replset
        if replset is not None and replset.initiated and self.index < len(replset.members):
            return replset.members[self.index].host
        return f"127.0.0.1:{self.port}"

    def uptime_seconds(self) -> float:
        return time.monotonic() - self.started_monotonic

    def is_writable_primary(self) -> bool:
        if self.role != "replset":
            return True
        replset = self.state.rs
        return replset.initiated and replset.primary == self.index and not self.down

    def member_state(self) -> int:
        """replSetGetStatus state: 1 primary, 2 secondary, 7 arbiter, 8 down."""
        replset = self.state.rs
        if self.down:
            return 8
        if replset.members[self.index].arbiter_only:
            return 7
        return 1 if replset.primary == self.index else 2

    def bump_topology(self) -> None:
        self.topology_counter += 1

    # ------------------------------------------------------------------ connections

    def open_connection(self, address: Any) -> Connection:
        with self.state.lock:
            self.connections_current += 1
            self.connections_total += 1
            connection_id = next(self._connection_ids)
        peer = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        return Connection(connection_id, peer)

    def close_connection(self, connection: Connection) -> None:
        with self.state.lock:
            self.connections_current -= 1

    def handle(self, connection: Connection, request: Any) -> dict[str, Any] | None:
        """Run one request; return the reply document, or None when none is due."""
        if isinstance(request, mockupdb.OpMsg):
            body = dict(request.doc)
            db = body.pop("$db", "admin")
            legacy = False
            more_to_come = bool(request.flags & MORE_TO_COME)
        elif isinstance(request, mockupdb.Command):
            body = dict(request.doc)
            if "$query" in body:
                body = dict(body["$query"])
            db = request.namespace
            legacy = True
            more_to_come = False
        else:
            # OP_QUERY on a collection, legacy writes, OP_GET_MORE: gone since 5.1/6.0.
            raise OSError("legacy opcode")
        if not body:
            return CommandError(59, "no such command: ''").to_reply()
        name = next(iter(body))
        self.commands_seen.append(name)
        if legacy and name not in LEGACY_ALLOWED:
            return CommandError(
                352,
                f"Unsupported OP_QUERY command: {name}. The client driver may require an "
                "upgrade. For more details see https://dochub.mongodb.org/core/legacy-opcode-removal",
            ).to_reply()
        ctx = dispatch.Context(
            self, connection, db, name, body, more_to_come=more_to_come, legacy=legacy
        )
        reply = dispatch.run_command(ctx)
        if more_to_come:
            return None
        try:
            size = len(bson.encode(reply))
        except Exception as error:  # an unencodable value is a test-server bug
            self.errors.append(traceback.format_exc())
            return CommandError(1, f"test server could not encode the reply: {error!r}").to_reply()
        if size > MAX_BSON_SIZE + 16 * 1024:
            return CommandError(10334, "BSONObj size is invalid: reply too large").to_reply()
        return reply

    # ------------------------------------------------------------------ $indexStats counters

    def index_usage(self, ns: str, name: str, created: Any) -> dict[str, Any]:
        stats = self.index_stats.get((ns, name))
        if stats is None:
            return {"ops": 0, "since": created, "building": False}
        return {
            "ops": stats.get("ops", 0),
            "since": stats.get("since") or created,
            "building": stats.get("building", False),
        }

    def count_index_use(self, ns: str, name: str) -> None:
        stats = self.index_stats.setdefault((ns, name), {})
        stats["ops"] = stats.get("ops", 0) + 1

    def set_index_stats(
        self,
        ns: str,
        name: str,
        *,
        ops: int | None = None,
        since: Any = None,
        building: bool = False,
    ) -> None:
        stats = self.index_stats.setdefault((ns, name), {})
        if ops is not None:
            stats["ops"] = ops
        if since is not None:
            stats["since"] = since
        stats["building"] = building

    def forget_index_stats(self, ns: str, name: str | None = None) -> None:
        for key in list(self.index_stats):
            if key[0] == ns and (name is None or key[1] == name):
                del self.index_stats[key]

    # ------------------------------------------------------------------ hello

    def hello_response(self, ctx: dispatch.Context | None, *, legacy_name: bool) -> dict[str, Any]:
        """The hello / isMaster reply for this node (MONGODB-FACTS section 4)."""
        body: Mapping[str, Any] = ctx.body if ctx is not None else {}
        reply: dict[str, Any] = {}
        if body.get("helloOk"):
            reply["helloOk"] = True
        primary_field = "ismaster" if legacy_name else "isWritablePrimary"
        topology_version = {"processId": self.process_id, "counter": Int64(self.topology_counter)}
        if self.role == "mongos":
            reply[primary_field] = True
            reply["msg"] = "isdbgrid"
            reply["topologyVersion"] = topology_version
            reply.update(_limits())
            reply["localTime"] = utcnow()
            reply["logicalSessionTimeoutMinutes"] = 30
            reply["connectionId"] = ctx.connection.id if ctx else 0
            reply["maxWireVersion"] = 21
            reply["minWireVersion"] = 0
        elif self.role == "standalone":
            reply[primary_field] = True
            reply["topologyVersion"] = topology_version
            self._append_common(reply, ctx)
        else:
            replset = self.state.rs
            if not replset.initiated:
                reply[primary_field] = False
                reply["secondary"] = False
                reply["info"] = "Does not have a valid replica set config"
                reply["isreplicaset"] = True
                reply["topologyVersion"] = topology_version
                self._append_common(reply, ctx)
            else:
                reply["topologyVersion"] = topology_version
                reply.update(self._replset_fields(legacy_name))
                self._append_common(reply, ctx)
        if ctx is not None:
            mechanisms = self._sasl_supported_mechs(body.get("saslSupportedMechs"))
            if mechanisms is not None:
                reply["saslSupportedMechs"] = mechanisms
        return reply

    def _append_common(self, reply: dict[str, Any], ctx: dispatch.Context | None) -> None:
        reply.update(_limits())
        reply["localTime"] = utcnow()
        reply["logicalSessionTimeoutMinutes"] = 30
        reply["connectionId"] = ctx.connection.id if ctx else 0
        reply["minWireVersion"] = 0
        reply["maxWireVersion"] = 21
        reply["readOnly"] = False

    def _replset_fields(self, legacy_name: bool) -> dict[str, Any]:
        replset = self.state.rs
        member = replset.members[self.index]
        fields: dict[str, Any] = {}
        hosts = [m.host for m in replset.members if m.electable]
        passives = [
            m.host
            for m in replset.members
            if not m.electable
            and not m.hidden
            and not m.arbiter_only
            and m.secondary_delay_secs == 0
        ]
        arbiters = [m.host for m in replset.members if m.arbiter_only]
        fields["hosts"] = hosts
        if passives:
            fields["passives"] = passives
        if arbiters:
            fields["arbiters"] = arbiters
        fields["setName"] = replset.set_name
        fields["setVersion"] = replset.version
        is_primary = self.is_writable_primary()
        fields["ismaster" if legacy_name else "isWritablePrimary"] = is_primary
        fields["secondary"] = not is_primary and not member.arbiter_only
        if replset.primary is not None:
            fields["primary"] = replset.members[replset.primary].host
        if member.arbiter_only:
            fields["arbiterOnly"] = True
        if member.priority == 0 and not member.hidden:
            fields["passive"] = True
        if member.hidden:
            fields["hidden"] = True
        if not member.build_indexes:
            fields["buildIndexes"] = False
        if member.secondary_delay_secs:
            fields["slaveDelay" if legacy_name else "secondaryDelaySecs"] = Int64(
                member.secondary_delay_secs
            )
        if member.tags:
            fields["tags"] = dict(member.tags)
        fields["me"] = member.host
        if is_primary:
            fields["electionId"] = replset.election_id
        ts, _ = self.applied_optime()
        # lastWriteDate has seconds resolution: it is derived from the optime.
        write_date = _EPOCH + datetime.timedelta(seconds=ts.time)
        fields["lastWrite"] = {
            "opTime": {"ts": ts, "t": Int64(replset.term)},
            "lastWriteDate": write_date,
            "majorityOpTime": {"ts": ts, "t": Int64(replset.term)},
            "majorityWriteDate": write_date,
        }
        return fields

    def applied_optime(self) -> tuple[Any, Any]:
        """(ts, wall) this member has applied: the primary's, minus its lag."""
        ts, wall = self.state.last_optime()
        if self.role != "replset" or self.is_writable_primary():
            return ts, wall
        lag = self.lag_seconds + self.state.rs.members[self.index].secondary_delay_secs
        if lag <= 0:
            return ts, wall
        return (
            Timestamp(max(ts.time - int(lag), 0), ts.inc),
            wall - datetime.timedelta(seconds=lag),
        )

    def _sasl_supported_mechs(self, requested: Any) -> list[str] | None:
        if not isinstance(requested, str) or "." not in requested:
            return None
        db, user = requested.split(".", 1)
        document = self.state.find_user(db, user)
        if document is None:
            return None
        return list(document.get("credentials", {}).keys())


def _limits() -> dict[str, Any]:
    return {
        "maxBsonObjectSize": 16777216,
        "maxMessageSizeBytes": 48000000,
        "maxWriteBatchSize": 100000,
    }
