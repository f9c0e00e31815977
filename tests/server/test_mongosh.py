"""The real mongosh against the test server (each run starts Node: about 1-2 s).

What mongosh 2.x sends on connect, as recorded against this server: hello
(legacy ``ismaster`` with helloOk and client metadata, on several
connections), buildInfo, ``aggregate`` on admin.atlascli (Atlas CLI local
deployment probe), ``atlasVersion`` (answered 59), ``getParameter: 'foo'``
(answered 72 "no option found to get", as mongod does) and
``getParameter: 1, featureCompatibilityVersion: 1``; on exit, endSessions
with w:0.
"""

from __future__ import annotations

import json

import pytest

from tests.support.server import MongoTestServer, ReplicaSetTestCluster

pytestmark = pytest.mark.mongosh

SCRIPT = """
const ping = db.runCommand({ping: 1});
db.createCollection("people", {validator: {$jsonSchema: {
  bsonType: "object", required: ["name"], properties: {name: {bsonType: "string"}}}}});
const indexName = db.people.createIndex({createdAt: 1}, {expireAfterSeconds: 3600});
db.people.insertOne({_id: 1, name: "ada", createdAt: new Date(0)});
let refused = null;
try { db.people.insertOne({_id: 2, age: 3}); } catch (error) { refused = error.code; }
const found = db.people.find({}, {_id: 1, name: 1}).toArray();
const indexes = db.people.getIndexes();
const options = db.getCollectionInfos({name: "people"})[0].options;
print(JSON.stringify({ping: ping.ok, indexName, refused, found, indexes, options,
                      count: db.people.countDocuments()}));
"""


def test_mongosh_round_trip(run_mongosh, mongo_server: MongoTestServer) -> None:
    completed = run_mongosh(mongo_server.uri + "shop", SCRIPT)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["ping"] == 1
    assert result["indexName"] == "createdAt_1"
    assert result["refused"] == 121
    assert result["found"] == [{"_id": 1, "name": "ada"}]
    assert result["indexes"] == [
        {"v": 2, "key": {"_id": 1}, "name": "_id_"},
        {"v": 2, "key": {"createdAt": 1}, "name": "createdAt_1", "expireAfterSeconds": 3600},
    ]
    assert result["options"]["validator"]["$jsonSchema"]["required"] == ["name"]
    assert result["count"] == 1
    seen = mongo_server.commands_seen
    for expected in (
        "buildInfo",
        "aggregate",
        "getParameter",
        "ping",
        "create",
        "createIndexes",
        "insert",
        "find",
        "listIndexes",
        "listCollections",
    ):
        assert expected in seen, expected
    assert "atlasVersion" in seen  # answered with CommandNotFound, which mongosh tolerates
    assert mongo_server.errors == []


def test_mongosh_initiates_a_replica_set(run_mongosh) -> None:
    script = """
    let before;
    try { rs.status(); before = "initiated"; } catch (error) { before = error.codeName; }
    const initiated = rs.initiate();
    const status = rs.status();
    print(JSON.stringify({before, ok: initiated.ok, state: status.members[0].stateStr,
                          primary: db.hello().isWritablePrimary}));
    """
    with ReplicaSetTestCluster(members=1, initiated=False) as cluster:
        completed = run_mongosh(cluster.member(0).uri, script)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        assert result == {
            "before": "NotYetInitialized",
            "ok": 1,
            "state": "PRIMARY",
            "primary": True,
        }
        assert "replSetInitiate" in cluster.member(0).commands_seen
        assert cluster.errors == []


def test_mongosh_authenticates_with_scram(run_mongosh) -> None:
    with MongoTestServer(auth=True) as server:
        setup = server.client()
        setup.admin.command("createUser", "admin", pwd="pa55", roles=["root"])
        setup.close()
        uri = f"mongodb://admin:pa55@127.0.0.1:{server.port}/?authSource=admin"
        completed = run_mongosh(
            uri,
            "print(db.getSiblingDB('admin').runCommand("
            "{connectionStatus: 1}).authInfo.authenticatedUsers[0].user)",
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert completed.stdout.strip().splitlines()[-1] == "admin"
        assert "saslStart" in server.commands_seen
        assert server.errors == []
