"""Handshake and server-information commands of the test server."""

from __future__ import annotations

import socket
import struct
import time

import bson
import pymongo
import pytest
from bson import ObjectId
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.errors import OperationFailure

from tests.support.server import MongoTestServer


def test_start_and_stop_are_fast() -> None:
    started = time.monotonic()
    servers = [MongoTestServer().start() for _ in range(10)]
    for server in servers:
        server.stop()
    assert time.monotonic() - started < 2.0
    assert len({server.port for server in servers}) == 10


def test_binds_loopback_on_a_free_port(mongo_server: MongoTestServer) -> None:
    assert mongo_server.uri == f"mongodb://127.0.0.1:{mongo_server.port}/"
    with socket.create_connection(("127.0.0.1", mongo_server.port), timeout=2):
        pass


def test_standalone_hello_fields_in_mongod_order(client: pymongo.MongoClient) -> None:
    reply = client.admin.command("hello")
    assert list(reply) == [
        "isWritablePrimary",
        "topologyVersion",
        "maxBsonObjectSize",
        "maxMessageSizeBytes",
        "maxWriteBatchSize",
        "localTime",
        "logicalSessionTimeoutMinutes",
        "connectionId",
        "minWireVersion",
        "maxWireVersion",
        "readOnly",
        "ok",
    ]
    assert reply["isWritablePrimary"] is True
    assert reply["maxWireVersion"] == 21 and reply["minWireVersion"] == 0
    assert reply["logicalSessionTimeoutMinutes"] == 30
    assert reply["readOnly"] is False
    assert isinstance(reply["topologyVersion"]["processId"], ObjectId)


def test_topology_version_counter_is_int64(client: pymongo.MongoClient) -> None:
    raw_options = CodecOptions(document_class=RawBSONDocument)
    reply = client.admin.command("hello", codec_options=raw_options)
    topology_version = reply["topologyVersion"].raw
    # BSON type 0x12 is int64: mongosh fails on an int32 counter or cursor id.
    assert b"\x12counter\x00" in topology_version


def test_legacy_is_master_answers_ismaster(client: pymongo.MongoClient) -> None:
    for name in ("isMaster", "ismaster"):
        reply = client.admin.command(name)
        assert reply["ismaster"] is True
        assert "isWritablePrimary" not in reply


def test_hello_ok_comes_first_when_asked(client: pymongo.MongoClient) -> None:
    reply = client.admin.command({"hello": 1, "helloOk": True})
    assert next(iter(reply)) == "helloOk"


def test_monitoring_hello_does_not_spin(mongo_server: MongoTestServer) -> None:
    connection = mongo_server.client()
    try:
        connection.admin.command("ping")
        before = mongo_server.commands_seen.count("hello")
        time.sleep(1.0)
        after = mongo_server.commands_seen.count("hello")
    finally:
        connection.close()
    # pymongo streams awaitable hellos; the server holds each for maxAwaitTimeMS.
    assert after - before <= 3


def test_ping_build_info_and_parameters(client: pymongo.MongoClient) -> None:
    assert client.test.command("ping") == {"ok": 1.0}
    info = client.admin.command("buildInfo")
    assert info["version"] == "7.0.14"
    assert info["versionArray"] == [7, 0, 14, 0]
    for field in (
        "gitVersion",
        "modules",
        "allocator",
        "javascriptEngine",
        "sysInfo",
        "storageEngines",
    ):
        assert field in info
    assert info["bits"] == 64 and info["debug"] is False
    assert info["maxBsonObjectSize"] == 16777216
    fcv = client.admin.command({"getParameter": 1, "featureCompatibilityVersion": 1})
    assert fcv == {"featureCompatibilityVersion": {"version": "7.0"}, "ok": 1.0}
    everything = client.admin.command({"getParameter": "*"})
    assert "featureCompatibilityVersion" in everything and "authenticationMechanisms" in everything
    with pytest.raises(OperationFailure) as error:
        client.admin.command({"getParameter": 1, "noSuchParameter": 1})
    assert error.value.code == 72


def test_version_is_configurable() -> None:
    with MongoTestServer(version="7.0.2") as server:
        connection = server.client()
        try:
            assert connection.server_info()["version"] == "7.0.2"
        finally:
            connection.close()


def test_unknown_command_fails_with_59(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.test.command("foo")
    assert error.value.code == 59
    assert error.value.details == {
        "ok": 0.0,
        "errmsg": "no such command: 'foo'",
        "code": 59,
        "codeName": "CommandNotFound",
    }


def test_unknown_field_is_refused(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.test.command({"find": "c", "filtre": {}})
    assert error.value.code == 40415
    assert error.value.details["errmsg"] == "BSON field 'find.filtre' is an unknown field."


def test_admin_only_commands(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.test.command("listDatabases")
    assert error.value.code == 13


def test_server_status(client: pymongo.MongoClient, mongo_server: MongoTestServer) -> None:
    status = client.admin.command("serverStatus")
    assert list(status)[:8] == [
        "host",
        "version",
        "process",
        "pid",
        "uptime",
        "uptimeMillis",
        "uptimeEstimate",
        "localTime",
    ]
    assert status["process"] == "mongod"
    assert status["version"] == "7.0.14"
    assert status["host"] == mongo_server.host
    assert status["connections"]["current"] >= 1
    assert "repl" not in status


def test_connection_status_and_get_log(client: pymongo.MongoClient) -> None:
    status = client.admin.command("connectionStatus")
    assert status == {
        "authInfo": {"authenticatedUsers": [], "authenticatedUserRoles": []},
        "ok": 1.0,
    }
    log = client.admin.command({"getLog": "startupWarnings"})
    assert log == {"totalLinesWritten": 0, "log": [], "ok": 1.0}


def test_end_sessions_with_more_to_come_gets_no_reply(mongo_server: MongoTestServer) -> None:
    connection = mongo_server.client()
    connection.test.c.insert_one({"a": 1})
    connection.close()  # sends endSessions with w:0 (moreToCome)
    deadline = time.monotonic() + 2
    while "endSessions" not in mongo_server.commands_seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "endSessions" in mongo_server.commands_seen
    assert mongo_server.errors == []


def _op_query(request_id: int, namespace: str, query: dict) -> bytes:
    body = struct.pack("<i", 0) + namespace.encode() + b"\x00" + struct.pack("<ii", 0, -1)
    body += bson.encode(query)
    return struct.pack("<iiii", 16 + len(body), request_id, 0, 2004) + body


def _read_op_reply(sock: socket.socket) -> dict:
    header = sock.recv(16, socket.MSG_WAITALL)
    length = struct.unpack("<i", header[:4])[0]
    payload = sock.recv(length - 16, socket.MSG_WAITALL)
    return bson.decode(payload[20:])


def test_legacy_op_query_handshake_and_refusal(mongo_server: MongoTestServer) -> None:
    with socket.create_connection(("127.0.0.1", mongo_server.port), timeout=5) as sock:
        sock.sendall(_op_query(1, "admin.$cmd", {"isMaster": 1, "helloOk": True}))
        reply = _read_op_reply(sock)
        assert reply["ismaster"] is True and reply["helloOk"] is True
        sock.sendall(_op_query(2, "test.$cmd", {"find": "c"}))
        refused = _read_op_reply(sock)
    assert refused["ok"] == 0 and refused["code"] == 352


def test_list_commands_and_whatsmyuri(client: pymongo.MongoClient) -> None:
    commands = client.admin.command("listCommands")["commands"]
    assert "find" in commands and "listShards" not in commands
    assert client.admin.command("whatsmyuri")["you"].startswith("127.0.0.1:")
