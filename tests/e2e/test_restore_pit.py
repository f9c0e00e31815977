"""Acceptance: point in time. On a replica-set test server, with writes during the dump,
`restore --oplog-replay --oplog-limit TS` restores the state as of that timestamp."""

from __future__ import annotations

import pytest
from bson import Timestamp

from tests.e2e.backup_support import invoke
from toolkit.actions import backup as actions
from toolkit.settings import ConnectionSettings


def _state(client):
    return {name: list(client.pit[name].find({}, sort=[("_id", 1)])) for name in ("a", "b")}


class _WritesDuringTheDump:
    """Progress callbacks that write once each collection has been dumped (the dump goes on)."""

    def __init__(self, replset, client):
        self.replset = replset
        self.client = client
        self.marks: list[tuple[Timestamp, dict]] = []  # (ts of the write, state after it)

    def _record(self):
        ts = self.replset.oplog[-1]["ts"]
        self.marks.append((ts, _state(self.client)))

    def start(self, namespace, total):
        pass

    def advance(self, namespace, documents, size):
        pass

    def done(self, namespace):
        a, b = self.client.pit.a, self.client.pit.b
        if namespace == "pit.a":  # a is dumped, b is not yet: write to a only
            writes = [
                lambda: a.insert_one({"_id": 100, "v": "new"}),
                lambda: a.update_one({"_id": 1}, {"$set": {"v": 11}, "$unset": {"gone": ""}}),
                lambda: a.delete_one({"_id": 2}),
                lambda: a.replace_one({"_id": 3}, {"replaced": True}),
            ]
        elif namespace == "pit.b":  # both are dumped; the oplog capture is still to come
            writes = [
                lambda: b.insert_one({"_id": 200, "w": "new"}),
                lambda: a.update_one({"_id": 100}, {"$set": {"v": "newer"}}),
                lambda: b.update_one({"_id": 5}, {"$inc": {"w": 5}}),
                lambda: b.delete_one({"_id": 6}),
                lambda: a.insert_one({"_id": 101, "v": "last"}),
            ]
        else:
            return
        for write in writes:
            write()
            self._record()


@pytest.mark.parametrize("layout", ["archive", "directory"])
def test_oplog_limit_restores_the_state_as_of_that_timestamp(replset, tmp_path, layout):
    client = replset.client()
    client.pit.a.insert_many([{"_id": n, "v": n, "gone": True} for n in range(10)])
    client.pit.b.insert_many([{"_id": n, "w": n} for n in range(10)])
    client.pit.a.create_index("v")
    initial = _state(client)
    destination = tmp_path / "backups"
    hook = _WritesDuringTheDump(replset, client)
    result = actions.create(
        ConnectionSettings(uri=replset.uri),
        actions.CreateOptions(
            destination=str(destination), layout=layout, oplog=True, databases=("pit",), parallel=1
        ),
        progress=hook,
    )
    manifest = result.manifest
    assert manifest.oplog is not None and len(hook.marks) == 9
    last = hook.marks[-1][0]
    assert (manifest.oplog.last.t, manifest.oplog.last.i) >= (last.time, last.inc)
    assert manifest.oplog.entries >= 9

    # Before the first write during the dump, then after each one, then without a limit.
    cases = [(hook.marks[0][0], initial)]
    cases += [
        (hook.marks[index + 1][0], hook.marks[index][1]) for index in range(len(hook.marks) - 1)
    ]
    cases.append((Timestamp(last.time, last.inc + 1), hook.marks[-1][1]))
    for limit, expected in cases:
        client.drop_database("pit")
        restored = invoke(
            "--json", "restore", manifest.id, "--from", str(destination), "--drop",
            "--oplog-replay", "--oplog-limit", f"{limit.time}:{limit.inc}",
            uri=replset.uri, cwd=tmp_path,
        )  # fmt: skip
        assert restored.returncode == 0, restored.output
        assert _state(client) == expected, f"--oplog-limit {limit.time}:{limit.inc}"
        outcome = restored.json()
        assert outcome["oplog"]["limit"] == {"t": limit.time, "i": limit.inc}

    client.drop_database("pit")
    full = invoke(
        "restore", manifest.id, "--from", str(destination), "--oplog-replay",
        uri=replset.uri, cwd=tmp_path,
    )  # fmt: skip
    assert full.returncode == 0, full.output
    assert _state(client) == hook.marks[-1][1]
    assert [spec["name"] for spec in client.pit.a.list_indexes()] == ["_id_", "v_1"]
    assert replset.errors == []


def test_oplog_refused_where_mongodump_refuses_it(mongo_server, mongos_server, tmp_path):
    for server, words in ((mongos_server, "mongos"), (mongo_server, "replica set")):
        result = invoke(
            "backup", "create", "--to", str(tmp_path / "b"), "--oplog", uri=server.uri, cwd=tmp_path
        )
        assert result.returncode == 2, result.output
        assert words in result.stderr


def test_oplog_limit_needs_an_oplog(mongo_server, tmp_path):
    client = mongo_server.client()
    client.x.y.insert_one({"a": 1})
    created = invoke(
        "--json",
        "backup",
        "create",
        "--to",
        str(tmp_path / "b"),
        uri=mongo_server.uri,
        cwd=tmp_path,
    )
    backup_id = created.json()["id"]
    no_replay = invoke(
        "restore", backup_id, "--from", str(tmp_path / "b"), "--oplog-limit", "1:1",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert no_replay.returncode == 2 and "--oplog-replay" in no_replay.stderr
    no_oplog = invoke(
        "restore", backup_id, "--from", str(tmp_path / "b"), "--oplog-replay",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert no_oplog.returncode == 2 and "no oplog" in no_oplog.stderr
    bad = invoke(
        "restore", backup_id, "--from", str(tmp_path / "b"), "--oplog-replay", "--oplog-limit", "soon",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "timestamp" in bad.stderr
