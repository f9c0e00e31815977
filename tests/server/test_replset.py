"""The replica-set test cluster: hello, replSetGetStatus, controls, oplog, failover."""

from __future__ import annotations

import datetime
import time

import pymongo
import pytest
from bson import Int64, ObjectId, Timestamp
from pymongo.errors import NotPrimaryError, OperationFailure

from tests.support.server import ReplicaSetTestCluster


def _status(replset: ReplicaSetTestCluster, index: int = 0) -> dict:
    connection = replset.member(index).client()
    try:
        return connection.admin.command("replSetGetStatus")
    finally:
        connection.close()


def test_uri_and_topology(replset: ReplicaSetTestCluster, rs_client: pymongo.MongoClient) -> None:
    ports = [member.port for member in replset.members]
    assert replset.uri == (
        "mongodb://" + ",".join(f"127.0.0.1:{port}" for port in ports) + "/?replicaSet=rs0"
    )
    rs_client.admin.command("ping")
    assert rs_client.topology_description.topology_type_name == "ReplicaSetWithPrimary"
    assert rs_client.primary == ("127.0.0.1", ports[0])
    wanted = {("127.0.0.1", ports[1]), ("127.0.0.1", ports[2])}
    deadline = time.monotonic() + 10  # the driver's monitors find secondaries asynchronously
    while rs_client.secondaries != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rs_client.secondaries == wanted
    assert replset.member(1).uri.endswith("/?directConnection=true")


def test_hello_on_primary_and_secondary(replset: ReplicaSetTestCluster) -> None:
    primary = replset.member(0).client()
    secondary = replset.member(1).client()
    try:
        hello = primary.admin.command("hello")
        assert list(hello)[:10] == [
            "topologyVersion",
            "hosts",
            "setName",
            "setVersion",
            "isWritablePrimary",
            "secondary",
            "primary",
            "me",
            "electionId",
            "lastWrite",
        ]
        assert hello["hosts"] == [member.host for member in replset.members]
        assert hello["setName"] == "rs0" and hello["setVersion"] == 1
        assert hello["electionId"] == ObjectId("7fffffff0000000000000001")
        assert set(hello["lastWrite"]) == {
            "opTime",
            "lastWriteDate",
            "majorityOpTime",
            "majorityWriteDate",
        }
        other = secondary.admin.command("hello")
        assert other["isWritablePrimary"] is False and other["secondary"] is True
        assert other["primary"] == replset.member(0).host
        assert "electionId" not in other
        legacy = secondary.admin.command("isMaster")
        assert legacy["ismaster"] is False
    finally:
        primary.close()
        secondary.close()


def test_repl_set_get_status_shape(replset: ReplicaSetTestCluster) -> None:
    status = _status(replset, 1)
    assert list(status)[:11] == [
        "set",
        "date",
        "myState",
        "term",
        "syncSourceHost",
        "syncSourceId",
        "heartbeatIntervalMillis",
        "majorityVoteCount",
        "writeMajorityCount",
        "votingMembersCount",
        "writableVotingMembersCount",
    ]
    assert status["set"] == "rs0" and status["myState"] == 2
    assert isinstance(status["term"], Int64)
    assert status["syncSourceHost"] == replset.member(0).host
    assert status["majorityVoteCount"] == 2 and status["votingMembersCount"] == 3
    members = status["members"]
    assert [member["_id"] for member in members] == [0, 1, 2]
    assert [member["stateStr"] for member in members] == ["PRIMARY", "SECONDARY", "SECONDARY"]
    me = members[1]
    assert me["self"] is True and me["health"] == 1.0 and isinstance(me["health"], float)
    assert "lastHeartbeat" not in me and "optimeDurable" not in me
    other = members[2]
    assert list(other)[:10] == [
        "_id",
        "name",
        "health",
        "state",
        "stateStr",
        "uptime",
        "optime",
        "optimeDurable",
        "optimeDate",
        "optimeDurableDate",
    ]
    assert isinstance(other["optime"]["ts"], Timestamp) and isinstance(other["optime"]["t"], Int64)
    assert "electionTime" in members[0] and "electionTime" not in other


def test_member_down(replset: ReplicaSetTestCluster) -> None:
    replset.member(2).set_down(True)
    down = _status(replset)["members"][2]
    assert (down["health"], down["state"], down["stateStr"]) == (0.0, 8, "(not reachable/healthy)")
    with pytest.raises(pymongo.errors.PyMongoError):
        unreachable = pymongo.MongoClient(replset.member(2).uri, serverSelectionTimeoutMS=500)
        try:
            unreachable.admin.command("ping")
        finally:
            unreachable.close()
    replset.member(2).set_down(False)
    assert _status(replset)["members"][2]["stateStr"] == "SECONDARY"


def test_member_lag_shows_in_optime(
    replset: ReplicaSetTestCluster, rs_client: pymongo.MongoClient
) -> None:
    rs_client.app.c.insert_one({"a": 1})
    replset.member(1).set_lag(90)
    members = _status(replset)["members"]
    primary_date, lagging_date = members[0]["optimeDate"], members[1]["optimeDate"]
    assert (primary_date - lagging_date).total_seconds() == pytest.approx(90, abs=1)
    assert members[0]["optime"]["ts"].time - members[1]["optime"]["ts"].time == 90
    assert members[2]["optimeDate"] == primary_date


def test_config_controls_show_in_hello_and_config(replset: ReplicaSetTestCluster) -> None:
    replset.member(2).configure(priority=0, hidden=True, secondary_delay_secs=3600)
    replset.member(1).configure(priority=0)
    connection = replset.member(0).client()
    try:
        hello = connection.admin.command("hello")
        assert hello["hosts"] == [replset.member(0).host]
        assert hello["passives"] == [replset.member(1).host]
        assert hello["setVersion"] == 3
        config = connection.admin.command("replSetGetConfig")["config"]
        hidden = config["members"][2]
        assert (hidden["hidden"], hidden["priority"], hidden["secondaryDelaySecs"]) == (
            True,
            0,
            3600,
        )
        assert isinstance(hidden["secondaryDelaySecs"], Int64)
        assert config["version"] == 3
        stored = connection.local["system.replset"].find_one()
        assert stored["members"][2]["hidden"] is True
    finally:
        connection.close()
    delayed = replset.member(2).client()
    try:
        own = delayed.admin.command("hello")
        assert own["hidden"] is True and own["secondaryDelaySecs"] == 3600
    finally:
        delayed.close()


def test_writes_append_to_the_oplog(
    replset: ReplicaSetTestCluster, rs_client: pymongo.MongoClient
) -> None:
    start = replset.oplog[-1]["ts"]
    items = rs_client.app.items
    items.insert_one({"_id": 1, "a": 1})
    items.update_one({"_id": 1}, {"$set": {"b": 2}})
    items.delete_one({"_id": 1})
    entries = list(rs_client.local["oplog.rs"].find({"ts": {"$gt": start}}).sort("$natural", 1))
    assert [(entry["op"], entry["ns"]) for entry in entries] == [
        ("c", "app.$cmd"),
        ("i", "app.items"),
        ("u", "app.items"),
        ("d", "app.items"),
    ]
    create, insert, update, delete = entries
    assert create["o"]["create"] == "items"
    assert list(insert) == ["op", "ns", "ui", "o", "o2", "ts", "t", "v", "wall"]
    assert insert["o"] == {"_id": 1, "a": 1} and insert["o2"] == {"_id": 1}
    assert update["o"] == {"$v": 2, "diff": {"i": {"b": 2}}} and update["o2"] == {"_id": 1}
    assert delete["o"] == {"_id": 1}
    assert isinstance(insert["t"], Int64) and insert["v"] == 2 and isinstance(insert["v"], Int64)
    assert isinstance(insert["wall"], datetime.datetime)
    timestamps = [entry["ts"] for entry in entries]
    assert timestamps == sorted(timestamps) and len(set(timestamps)) == 4
    assert insert["ui"] == create["ui"]
    newest = rs_client.local["oplog.rs"].find_one(sort=[("$natural", -1)])
    assert newest["op"] == "d"


def test_oplog_is_listed_and_read_only(rs_client: pymongo.MongoClient) -> None:
    [entry] = rs_client.local.list_collections(filter={"name": "oplog.rs"})
    assert entry["options"]["capped"] is True and "idIndex" not in entry
    with pytest.raises(OperationFailure) as error:
        rs_client.local["oplog.rs"].insert_one({"op": "n"})
    assert error.value.code == 73


def test_secondary_refuses_writes_and_needs_secondary_ok(replset: ReplicaSetTestCluster) -> None:
    secondary = replset.member(1).client()
    try:
        with pytest.raises(NotPrimaryError) as error:
            secondary.app.c.insert_one({"a": 1})
        assert error.value.details["code"] == 10107
        assert error.value.details["codeName"] == "NotWritablePrimary"
        assert secondary.app.c.find_one() is None  # directConnection reads are secondaryOk
        with pytest.raises(NotPrimaryError) as refused:
            secondary.app.command({"find": "c", "$readPreference": {"mode": "primary"}})
        assert refused.value.details["code"] == 13435
    finally:
        secondary.close()


def test_failover_when_the_primary_goes_down(
    replset: ReplicaSetTestCluster, rs_client: pymongo.MongoClient
) -> None:
    rs_client.app.c.insert_one({"before": True})
    replset.member(0).set_down(True)
    rs_client.app.c.insert_one({"after": True})
    assert replset.primary.index == 1
    status = _status(replset, 1)
    assert status["term"] == 2
    assert [member["stateStr"] for member in status["members"]] == [
        "(not reachable/healthy)",
        "PRIMARY",
        "SECONDARY",
    ]
    replset.member(0).set_down(False)
    assert replset.primary.index == 1  # a returning member comes back as a secondary
    replset.member(0).make_primary()
    assert replset.primary.index == 0


def test_uninitiated_member_then_initiate() -> None:
    with ReplicaSetTestCluster(members=1, initiated=False) as cluster:
        connection = cluster.member(0).client()
        try:
            hello = connection.admin.command("hello")
            assert hello["isreplicaset"] is True
            assert hello["isWritablePrimary"] is False and hello["secondary"] is False
            assert connection.admin.command("isMaster")["ismaster"] is False
            with pytest.raises(OperationFailure) as error:
                connection.admin.command("replSetGetStatus")
            assert error.value.details == {
                "ok": 0.0,
                "errmsg": "no replset config has been received",
                "code": 94,
                "codeName": "NotYetInitialized",
            }
            connection.admin.command(
                "replSetInitiate",
                {"_id": "rs0", "members": [{"_id": 0, "host": cluster.member(0).host}]},
            )
            assert connection.admin.command("hello")["isWritablePrimary"] is True
            with pytest.raises(OperationFailure) as again:
                connection.admin.command("replSetInitiate", {})
            assert again.value.code == 23
        finally:
            connection.close()


def test_initiate_with_a_wrong_set_name() -> None:
    with ReplicaSetTestCluster(members=1, initiated=False) as cluster:
        connection = cluster.member(0).client()
        try:
            with pytest.raises(OperationFailure) as error:
                connection.admin.command(
                    "replSetInitiate",
                    {"_id": "other", "members": [{"_id": 0, "host": cluster.member(0).host}]},
                )
            assert error.value.code == 93
        finally:
            connection.close()


def test_standalone_has_no_replication(client: pymongo.MongoClient) -> None:
    with pytest.raises(OperationFailure) as error:
        client.admin.command("replSetGetStatus")
    assert error.value.code == 76


def test_server_status_repl_section(rs_client: pymongo.MongoClient) -> None:
    repl = rs_client.admin.command("serverStatus")["repl"]
    assert repl["setName"] == "rs0" and repl["isWritablePrimary"] is True
    assert "rbid" in repl


def test_create_indexes_reports_commit_quorum(rs_client: pymongo.MongoClient) -> None:
    reply = rs_client.app.command(
        {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}
    )
    assert reply == {
        "numIndexesBefore": 1,
        "numIndexesAfter": 2,
        "createdCollectionAutomatically": True,
        "commitQuorum": "votingMembers",
        "ok": 1.0,
    }
    entries = list(rs_client.local["oplog.rs"].find({"o.createIndexes": "c"}))
    assert [entry["o"]["name"] for entry in entries] == ["a_1"]
