"""backup create|list|show|prune and restore end to end: statuses, the lock, metrics, the
balancer through a mongos, retention, duplicates, namespace selection and renames, users and
roles, catalog defaults, S3 failures, and passwords kept out of the output."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest

from tests.e2e.backup_support import DATABASES, backup_ids, invoke, populate, s3_server
from toolkit.actions import backup as actions
from toolkit.backup.manifest import Manifest
from toolkit.backup.storage import LocalStorage
from toolkit.errors import BackupError, OperationFailed
from toolkit.settings import ConnectionSettings


class _Boom(RuntimeError):
    pass


class _FailAfterFirstBatch:
    """Progress callbacks that make the dump fail part-way through."""

    def start(self, namespace, total):
        pass

    def advance(self, namespace, documents, size):
        raise _Boom("the network went away")

    def done(self, namespace):
        pass


def _create(uri, destination, cwd, *options):
    result = invoke(
        "--json", "backup", "create", "--to", str(destination), *options, uri=uri, cwd=cwd
    )
    assert result.returncode == 0, result.output
    return result.json()


# -- list: complete, incomplete, failed --------------------------------------------------------


def test_list_shows_complete_incomplete_and_failed(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=10)
    destination = tmp_path / "backups"
    complete = _create(mongo_server.uri, destination, tmp_path)["id"]
    with pytest.raises(_Boom):
        actions.create(
            ConnectionSettings(uri=mongo_server.uri),
            actions.CreateOptions(destination=str(destination)),
            progress=_FailAfterFirstBatch(),
        )
    # A run killed part-way: some files, no manifest.
    killed = destination / "20200101T000000Z"
    (killed / "dump").mkdir(parents=True)
    (killed / "dump" / "prelude.json").write_text("{}")
    (destination / "not-a-backup").mkdir()  # left alone: not ours

    listed = invoke("--json", "backup", "list", "--from", str(destination), cwd=tmp_path)
    assert listed.returncode == 0, listed.output
    backups = {b["id"]: b for b in listed.json()["backups"]}
    assert set(backups) == set(backup_ids(destination)) - {"not-a-backup"}
    assert backups[complete]["status"] == "complete"
    assert backups[complete]["databases"] == ["admin", *DATABASES[1:], "tk_shop"] or backups[
        complete
    ]["databases"] == sorted(["admin", *DATABASES])
    assert backups[complete]["duration_seconds"] >= 0 and backups[complete]["size"] > 0
    assert backups["20200101T000000Z"]["status"] == "incomplete"
    (failed,) = [b for b in backups.values() if b["status"] == "failed"]
    assert "the network went away" in failed["error"]
    assert sorted(p.name for p in (destination / failed["id"]).iterdir()) == ["status.json"]
    human = invoke("backup", "list", "--from", str(destination), cwd=tmp_path)
    for word in ("complete", "incomplete", "failed", "last verified", complete):
        assert word in human.stdout

    for bad in ("20200101T000000Z", failed["id"]):  # never restored, never shown as good
        result = invoke(
            "restore", bad, "--from", str(destination), uri=mongo_server.uri, cwd=tmp_path
        )
        assert result.returncode == 1 and "no manifest" in result.stderr


def test_metrics_file_on_success_and_failure(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=10)
    metrics = tmp_path / "textfile" / "mongo_backup.prom"
    metrics.parent.mkdir()
    result = _create(mongo_server.uri, tmp_path / "b", tmp_path, "--metrics-file", str(metrics))
    text = metrics.read_text()
    assert "# TYPE mongo_toolkit_backup_last_success_timestamp_seconds gauge" in text
    assert "mongo_toolkit_backup_status{" in text and text.count(" 1\n") >= 1
    sizes = [line for line in text.splitlines() if line.startswith("mongo_toolkit_backup_bytes{")]
    assert sizes and int(sizes[0].split()[-1]) == sum(f["size"] for f in result["files"])
    success_line = next(
        line for line in text.splitlines() if line.startswith("mongo_toolkit_backup_last_success")
    )

    # A failed run (no server there) writes status 0 and keeps the last success time.
    failed = invoke(
        "--timeout", "0.3", "backup", "create", "--to", str(tmp_path / "b"),
        "--metrics-file", str(metrics),
        uri="mongodb://127.0.0.1:1/?directConnection=true", cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode == 1, failed.output
    after = metrics.read_text()
    status = [line for line in after.splitlines() if line.startswith("mongo_toolkit_backup_status")]
    assert status[0].endswith(" 0")
    assert success_line in after
    assert not list(metrics.parent.glob(".*"))  # written atomically: no temporary left


def test_the_lock_stops_a_second_run(mongo_server, tmp_path):
    destination = tmp_path / "backups"
    storage = LocalStorage(destination)
    with storage.lock("another backup create"):
        result = invoke(
            "backup", "create", "--to", str(destination), uri=mongo_server.uri, cwd=tmp_path
        )
    assert result.returncode == 1
    assert "locked by another backup create" in result.stderr
    assert backup_ids(destination) == []
    assert (
        invoke(
            "backup", "create", "--to", str(destination), uri=mongo_server.uri, cwd=tmp_path
        ).returncode
        == 0
    )


# -- sharded clusters ----------------------------------------------------------------------


def test_balancer_is_stopped_for_the_dump_and_restarted(mongos_server, tmp_path):
    client = mongos_server.client()
    client.shop.orders.insert_many([{"n": n} for n in range(5)])
    client.admin.command("balancerStart")
    seen = []

    class Watch:
        def start(self, namespace, total):
            seen.append(client.admin.command("balancerStatus")["mode"])

        def advance(self, namespace, documents, size):
            pass

        def done(self, namespace):
            pass

    actions.create(
        ConnectionSettings(uri=mongos_server.uri),
        actions.CreateOptions(destination=str(tmp_path / "b")),
        progress=Watch(),
    )
    assert seen and set(seen) == {"off"}
    assert client.admin.command("balancerStatus")["mode"] == "full"

    # Restarted when the dump fails too.
    with pytest.raises(_Boom):
        actions.create(
            ConnectionSettings(uri=mongos_server.uri),
            actions.CreateOptions(destination=str(tmp_path / "b")),
            progress=_FailAfterFirstBatch(),
        )
    assert client.admin.command("balancerStatus")["mode"] == "full"
    commands = mongos_server.commands_seen
    assert commands.count("balancerStop") == 2 and commands.count("balancerStart") == 3

    # A balancer that was off stays off.
    client.admin.command("balancerStop")
    _create(mongos_server.uri, tmp_path / "b", tmp_path)
    assert client.admin.command("balancerStatus")["mode"] == "off"
    assert mongos_server.errors == []


# -- prune -----------------------------------------------------------------------------------


def _fake_backup(destination: Path, template: Manifest, started: dt.datetime, status: str) -> str:
    backup_id = started.strftime("%Y%m%dT%H%M%SZ")
    root = destination / backup_id
    root.mkdir(parents=True)
    if status == "complete":
        manifest = Manifest(**{**template.__dict__, "id": backup_id, "label": None,
                               "started_at": started, "finished_at": started, "files": ()})  # fmt: skip
        (root / "manifest.json").write_bytes(manifest.to_json())
    elif status == "failed":
        (root / "status.json").write_text(json.dumps({"status": "failed", "error": "x"}))
    else:
        (root / "dump.archive.zst").write_bytes(b"partial")
    return backup_id


def test_prune_with_borg_rules(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=5)
    destination = tmp_path / "backups"
    real = _create(mongo_server.uri, destination, tmp_path)
    template = Manifest.from_json((destination / real["id"] / "manifest.json").read_bytes(), "m")
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    made = {}
    for days in (1, 2, 3, 10, 40, 400):
        started = now - dt.timedelta(days=days, hours=1)
        made[days] = _fake_backup(destination, template, started, "complete")
    old_incomplete = _fake_backup(destination, template, now - dt.timedelta(days=5), "incomplete")
    old_failed = _fake_backup(destination, template, now - dt.timedelta(days=6), "failed")
    before = set(backup_ids(destination))

    dry = invoke(
        "--json", "backup", "prune", "--keep-daily", "2", "--keep-monthly", "2", "--dry-run",
        "--from", str(destination), cwd=tmp_path,
    )  # fmt: skip
    assert dry.returncode == 0, dry.output
    plan = dry.json()
    assert set(backup_ids(destination)) == before  # a dry run deletes nothing
    decisions = {d["id"]: d for d in plan["decisions"]}
    assert decisions[real["id"]]["keep"] and decisions[real["id"]]["rules"] == ["daily[1]"]
    assert decisions[made[1]]["rules"] == ["daily[2]"]
    # monthly: this month is taken by daily (used, not counted), so the next months count.
    kept = {i for i, d in decisions.items() if d["keep"]}
    assert (
        decisions[old_incomplete]["keep"] is False
        and "incomplete" in decisions[old_incomplete]["reason"]
    )
    assert decisions[old_failed]["keep"] is False and "failed" in decisions[old_failed]["reason"]
    for backup_id in before - kept:
        assert decisions[backup_id]["reason"]  # every deletion says which rule no longer keeps it
    assert set(plan["would_delete"]) == before - kept

    human = invoke(
        "backup", "prune", "--keep-daily", "2", "--keep-monthly", "2", "--from", str(destination),
        cwd=tmp_path,
    )  # fmt: skip
    assert human.returncode == 0, human.output
    assert "deleted" in human.stdout and "no rule keeps it" in human.stdout
    assert set(backup_ids(destination)) == kept

    # However strict the policy, the newest complete backup stays.
    strict = invoke(
        "--json", "backup", "prune", "--keep-within", "1h", "--from", str(destination), cwd=tmp_path
    )
    assert strict.returncode == 0, strict.output
    assert backup_ids(destination) == [real["id"]]
    assert strict.json()["decisions"][0]["rules"] in (["newest"], ["within"])

    nothing = invoke("backup", "prune", "--from", str(destination), cwd=tmp_path)
    assert nothing.returncode == 2 and "no retention rule" in nothing.stderr


# -- restore: duplicates, selection, renames, dry run --------------------------------------------


def test_restore_without_drop_counts_duplicates(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=10)
    backup_id = _create(mongo_server.uri, tmp_path / "b", tmp_path)["id"]
    client.tk_shop.orders.delete_many({"status": "closed"})
    remaining = client.tk_shop.orders.count_documents({})
    client.tk_shop.orders.update_one({"_id": "odd-types"}, {"$set": {"changed": True}})

    result = invoke(
        "--json", "restore", backup_id, "--from", str(tmp_path / "b"), "--ns-include", "tk_shop.orders",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.output
    outcome = result.json()
    (orders,) = outcome["collections"]
    assert orders["duplicates"] == remaining and orders["inserted"] == 11 - remaining
    assert client.tk_shop.orders.count_documents({}) == 11
    assert client.tk_shop.orders.find_one({"_id": "odd-types"})["changed"] is True  # it stays
    human = invoke(
        "restore", backup_id, "--from", str(tmp_path / "b"), "--ns-include", "tk_shop.orders",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert "11 document(s) were already there" in human.stdout

    dropped = invoke(
        "--json", "restore", backup_id, "--from", str(tmp_path / "b"), "--ns-include", "tk_shop.*",
        "--drop", uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert dropped.json()["duplicates"] == 0
    assert "changed" not in client.tk_shop.orders.find_one({"_id": "odd-types"})


def test_restore_selection_renames_and_dry_run(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=10)
    backup_id = _create(mongo_server.uri, tmp_path / "b", tmp_path)["id"]
    before = set(client.list_database_names())

    dry = invoke(
        "--json", "restore", backup_id, "--from", str(tmp_path / "b"),
        "--ns-include", "tk_*", "--ns-exclude", "tk_logs.events",
        "--ns-from", "tk_$db$.$collection$", "--ns-to", "copy_$db$.$collection$", "--dry-run",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert dry.returncode == 0, dry.output
    steps = dry.json()["steps"]
    kinds = [step["kind"] for step in steps]
    assert kinds == sorted(kinds, key=["create", "create-view", "insert", "create-indexes"].index)
    namespaces = {step["namespace"] for step in steps}
    assert "copy_shop.orders" in namespaces and "copy_logs.sessions" in namespaces
    assert "copy_logs.events" not in namespaces and not any(n.startswith("tk_") for n in namespaces)
    assert set(client.list_database_names()) == before  # nothing written

    real = invoke(
        "--json", "restore", backup_id, "--from", str(tmp_path / "b"),
        "--ns-include", "tk_*", "--ns-exclude", "tk_logs.events",
        "--ns-from", "tk_$db$.$collection$", "--ns-to", "copy_$db$.$collection$",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert real.returncode == 0, real.output
    assert [step["namespace"] for step in real.json()["steps"]] == [s["namespace"] for s in steps]
    assert client.copy_shop.orders.count_documents({}) == 11
    assert "events" not in client.copy_logs.list_collection_names()
    assert [s["name"] for s in client.copy_text.articles.list_indexes()] == ["_id_", "search"]

    bad = invoke(
        "restore", backup_id, "--from", str(tmp_path / "b"), "--ns-from", "a.$x$",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert bad.returncode == 2 and "--ns-to" in bad.stderr


def test_users_and_roles_are_restored(mongo_server, tmp_path):
    client = mongo_server.client()
    client.admin.command(
        "createRole", "shopReader", privileges=[
            {"resource": {"db": "tk_shop", "collection": ""}, "actions": ["find"]}], roles=[]
    )  # fmt: skip
    client.admin.command("createUser", "alice", pwd="alice-password", roles=["shopReader"])
    client.tk_shop.orders.insert_one({"sku": "a", "qty": 1})
    client.tk_shop.orders.create_index("sku")
    users_before = client.admin.command("usersInfo", showCredentials=True)["users"]
    backup_id = _create(mongo_server.uri, tmp_path / "b", tmp_path)["id"]
    client.admin.command("dropUser", "alice")
    client.admin.command("dropRole", "shopReader")

    result = invoke(
        "--json",
        "restore",
        backup_id,
        "--from",
        str(tmp_path / "b"),
        uri=mongo_server.uri,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.output
    outcome = result.json()
    assert outcome["users"] == 1 and outcome["roles"] == 1
    kinds = [step["kind"] for step in outcome["steps"]]
    assert kinds.index("insert") < kinds.index("users") < kinds.index("create-indexes")
    assert client.admin.command("usersInfo", showCredentials=True)["users"] == users_before
    assert client.admin.command("rolesInfo", "shopReader")["roles"]
    assert "tempusers" not in client.admin.list_collection_names()


# -- catalog defaults, show -------------------------------------------------------------------


def test_catalog_backup_section_gives_the_defaults(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=5)
    catalog = tmp_path / "catalogs" / "ops.yaml"
    catalog.parent.mkdir()
    catalog.write_text(
        "backup:\n"
        f"  destination: {tmp_path / 'nightly'}\n"
        "  format: directory\n"
        "  compress: gzip\n"
        "  databases: [tk_shop]\n"
        "  retention:\n"
        "    keep_last: 1\n"
    )
    created = invoke("--json", "backup", "create", uri=mongo_server.uri, cwd=tmp_path)
    assert created.returncode == 0, created.output
    result = created.json()
    assert result["layout"] == "directory" and result["compression"] == "gzip"
    assert result["databases"] == ["tk_shop"]
    assert result["location"].startswith(str(tmp_path / "nightly"))
    shown = invoke("--json", "backup", "show", result["id"], cwd=tmp_path)
    assert shown.returncode == 0, shown.output
    assert {c["collection"] for c in shown.json()["collections"]} == {
        "orders",
        "open_orders",
        "customers",
    }
    second = invoke(
        "--json", "backup", "create", "--label", "two", uri=mongo_server.uri, cwd=tmp_path
    )
    assert second.returncode == 0, second.output
    pruned = invoke("--json", "backup", "prune", cwd=tmp_path)  # keep_last 1 from the catalog
    assert pruned.returncode == 0, pruned.output
    assert pruned.json()["kept"] == [second.json()["id"]]
    listed = invoke("backup", "list", cwd=tmp_path)
    assert listed.returncode == 0 and second.json()["id"] in listed.stdout


def test_show_of_our_backup(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=10)
    result = _create(mongo_server.uri, tmp_path / "b", tmp_path, "--format", "directory")
    shown = invoke(
        "--json", "backup", "show", result["id"], "--from", str(tmp_path / "b"), cwd=tmp_path
    )
    assert shown.returncode == 0, shown.output
    data = shown.json()
    assert set(data) == {"collections", "oplog", "server_version"}
    assert data["server_version"] == "7.0.14" and data["oplog"] is None
    orders = next(c for c in data["collections"] if c["collection"] == "orders")
    assert set(orders) == {"db", "collection", "type", "documents", "bytes", "indexes", "options"}
    assert orders["documents"] == 11
    assert {i["name"] for i in orders["indexes"]} == {
        "_id_",
        "sku_unique",
        "status_1_at_-1",
        "open_by_price",
    }
    assert orders["options"]["validationLevel"] == "moderate"
    human = invoke("backup", "show", str(tmp_path / "b" / result["id"]), cwd=tmp_path)
    assert "tk_logs.sessions" in human.stdout and "TTL 3600s" in human.stdout
    missing = invoke(
        "backup", "show", "20200101T000000Z", "--from", str(tmp_path / "b"), cwd=tmp_path
    )
    assert missing.returncode == 1 and "no backup 20200101T000000Z" in missing.stderr


# -- S3 ----------------------------------------------------------------------------------------


def test_s3_failed_upload_leaves_no_manifest(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=10)
    with s3_server() as s3:
        bucket = s3.bucket()
        destination = f"s3://{bucket}/db"
        uploads_during = []

        class WatchUploads(_FailAfterFirstBatch):
            def advance(self, namespace, documents, size):
                # The archive is being streamed as a multipart upload while the dump runs.
                uploads_during.append(
                    len(s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []))
                )
                raise _Boom("the dump broke")

        with pytest.raises(_Boom):
            actions.create(
                ConnectionSettings(uri=mongo_server.uri),
                actions.CreateOptions(destination=destination, s3_endpoint_url=s3.endpoint),
                progress=WatchUploads(),
            )
        assert uploads_during and set(uploads_during) <= {1}  # one archive upload, in flight
        client = s3.client()
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
        assert not any(key.endswith("manifest.json") for key in keys)
        assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # aborted
        listed = invoke(
            "--json",
            "backup",
            "list",
            "--from",
            destination,
            "--s3-endpoint-url",
            s3.endpoint,
            cwd=tmp_path,
        )
        assert [b["status"] for b in listed.json()["backups"]] == ["failed"]

        # The lock on S3 is an object: a second run is refused while one holds it.
        from toolkit.backup.storage import open_storage

        storage = open_storage(destination, s3_endpoint_url=s3.endpoint)
        with (
            storage.lock("a running create"),
            pytest.raises(BackupError, match="locked by a running create"),
        ):
            actions.create(
                ConnectionSettings(uri=mongo_server.uri),
                actions.CreateOptions(destination=destination, s3_endpoint_url=s3.endpoint),
            )
        done = invoke("--json", "backup", "create", "--to", destination, "--s3-endpoint-url", s3.endpoint,
                      uri=mongo_server.uri, cwd=tmp_path)  # fmt: skip
        assert done.returncode == 0, done.output
        restored = invoke("--json", "restore", f"{destination}/{done.json()['id']}", "--s3-endpoint-url",
                          s3.endpoint, "--drop", uri=mongo_server.uri, cwd=tmp_path)  # fmt: skip
        assert restored.returncode == 0, restored.output


# -- secrets -----------------------------------------------------------------------------------


def test_passwords_never_reach_the_output(server_factory, tmp_path):
    with server_factory(auth=True) as secured:
        admin = secured.client()
        admin.admin.command("createUser", "ops", pwd="Sup3rSecretPw", roles=["root"])
        admin.close()
        uri = f"mongodb://ops:Sup3rSecretPw@127.0.0.1:{secured.port}/?authSource=admin"
        client = secured.client(username="ops", password="Sup3rSecretPw", authSource="admin")
        client.tk_shop.orders.insert_one({"sku": "a", "qty": 1})
        outputs = []
        created = invoke(
            "--json", "backup", "create", "--to", str(tmp_path / "b"), uri=uri, cwd=tmp_path
        )
        outputs.append(created)
        backup_id = created.json()["id"]
        outputs.append(
            invoke(
                "-v",
                "restore",
                backup_id,
                "--from",
                str(tmp_path / "b"),
                "--drop",
                uri=uri,
                cwd=tmp_path,
            )
        )
        outputs.append(
            invoke(
                "backup",
                "verify",
                backup_id,
                "--from",
                str(tmp_path / "b"),
                "--restore-test",
                "--into",
                uri.replace("127.0.0.1", "127.0.0.1"),
                uri=uri,
                cwd=tmp_path,
            )  # fmt: skip
        )
        wrong = uri.replace("Sup3rSecretPw", "Wr0ngSecretPw")
        outputs.append(
            invoke("backup", "create", "--to", str(tmp_path / "b"), uri=wrong, cwd=tmp_path)
        )
        assert [o.returncode for o in outputs] == [0, 0, 0, 1], [o.output for o in outputs]
        for result in outputs:
            assert "Sup3rSecretPw" not in result.output and "Wr0ngSecretPw" not in result.output
        assert "***" in outputs[-1].stderr or "Authentication failed" in outputs[-1].stderr
        assert "Sup3rSecretPw" not in (tmp_path / "b" / backup_id / "manifest.json").read_text()


def test_threads_feed_one_archive(mongo_server, tmp_path):
    """--parallel dumps several collections at once into one archive; the archive reads back."""
    client = mongo_server.client()
    for index in range(6):
        client.tk_par[f"c{index}"].insert_many([{"i": i, "c": index} for i in range(300)])
    result = _create(
        mongo_server.uri, tmp_path / "b", tmp_path, "--parallel", "4", "--db", "tk_par"
    )
    assert sum(c["documents"] for c in result["collections"]) == 1800
    assert (
        invoke(
            "backup", "verify", result["id"], "--from", str(tmp_path / "b"), cwd=tmp_path
        ).returncode
        == 0
    )
    assert threading.active_count() < 50
    assert OperationFailed  # the error family the failures above come through


# -- progress ----------------------------------------------------------------------------------


def _run_on_a_terminal(args, uri, cwd):
    """Run mongo-toolkit with stderr on a pseudo-terminal; return (exit code, stdout, terminal)."""
    import os
    import pty
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    environment = {key: value for key, value in os.environ.items() if key != "TOOLKIT_CATALOG"}
    environment.update(MONGODB_URI=uri, PYTHONPATH=str(root), COLUMNS="160", TERM="xterm")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", *args],
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=environment,
        cwd=cwd,
    )
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    stdout = process.stdout.read().decode()
    process.wait(timeout=60)
    os.close(controller)
    return process.returncode, stdout, seen.decode(errors="replace")


def test_progress_bars_on_a_terminal_only(mongo_server, tmp_path):
    populate(mongo_server.client(), documents=30)
    code, stdout, terminal = _run_on_a_terminal(
        ["backup", "create", "--to", str(tmp_path / "b")], mongo_server.uri, tmp_path
    )
    assert code == 0, stdout + terminal
    assert "tk_shop.orders" in terminal and "docs" in terminal  # a bar per collection
    assert "complete" in stdout
    code, stdout, terminal = _run_on_a_terminal(
        ["--json", "backup", "create", "--to", str(tmp_path / "b")], mongo_server.uri, tmp_path
    )
    assert code == 0 and "tk_shop.orders" not in terminal  # none with --json
    json.loads(stdout)
    piped = invoke(
        "backup", "create", "--to", str(tmp_path / "b"), uri=mongo_server.uri, cwd=tmp_path
    )
    assert piped.returncode == 0 and piped.stderr == ""  # none without a terminal


def test_list_never_cuts_an_id_on_a_narrow_terminal(tmp_path):
    backup_id = "20261123T103800Z-nightly-label"
    (tmp_path / "backups" / backup_id).mkdir(parents=True)
    listed = invoke("backup", "list", "--from", str(tmp_path / "backups"), env={"COLUMNS": "60"})
    assert listed.returncode == 0, listed.output
    assert backup_id in listed.stdout
