"""Acceptance: any single flipped byte in any file of a backup makes `verify` fail naming that
file; `verify --restore-test` restores into scratch databases, compares, and drops them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.e2e.backup_support import DATABASES, backup_ids, invoke, populate

POSITIONS_PER_FILE = 24


def _create(uri: str, destination: Path, cwd: Path, *options: str) -> str:
    created = invoke(
        "--json", "backup", "create", "--to", str(destination), *options, uri=uri, cwd=cwd
    )
    assert created.returncode == 0, created.output
    return created.json()["id"]


def _positions(size: int, rng: random.Random) -> list[int]:
    ends = list(range(min(size, 8))) + list(range(max(0, size - 8), size))
    return sorted(set(ends + [rng.randrange(size) for _ in range(POSITIONS_PER_FILE - 16)]))


@pytest.mark.parametrize(
    "options",
    [("--format", "archive", "--compress", "zstd"), ("--format", "directory", "--compress", "gzip"),
     ("--format", "directory", "--compress", "none")],
    ids=["archive-zstd", "directory-gzip", "directory-none"],
)  # fmt: skip
def test_any_flipped_byte_fails_verify_naming_the_file(replset, tmp_path, options):
    client = replset.client()
    populate(client, documents=40)
    destination = tmp_path / "backups"
    backup_id = _create(replset.uri, destination, tmp_path, "--oplog", *options)
    root = destination / backup_id
    ok = invoke("--json", "backup", "verify", backup_id, "--from", str(destination), cwd=tmp_path)
    assert ok.returncode == 0, ok.output
    assert ok.json()["ok"] is True

    rng = random.Random(7)
    files = sorted(path for path in root.rglob("*") if path.is_file())
    assert {path.name for path in files} >= {"manifest.json", "manifest.json.sha256"}
    checked = 0
    for path in files:
        relative = path.relative_to(root).as_posix()
        original = path.read_bytes()
        for position in _positions(len(original), rng):
            damaged = bytearray(original)
            damaged[position] ^= 0xFF
            path.write_bytes(bytes(damaged))
            result = invoke("backup", "verify", backup_id, "--from", str(destination), cwd=tmp_path)
            assert result.returncode == 3, (relative, position, result.output)
            assert relative in result.output, (relative, position, result.output)
            assert "Traceback" not in result.output
            checked += 1
        path.write_bytes(original)
    assert checked >= len(files) * 16
    listed = invoke("--json", "backup", "list", "--from", str(destination), cwd=tmp_path).json()
    (entry,) = listed["backups"]
    assert entry["verified_ok"] is False  # the last verification (of a damaged copy) failed
    assert (
        invoke("backup", "verify", backup_id, "--from", str(destination), cwd=tmp_path).returncode
        == 0
    )


def test_restore_refuses_a_damaged_backup_before_writing(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=20)
    destination = tmp_path / "backups"
    backup_id = _create(mongo_server.uri, destination, tmp_path)
    archive = destination / backup_id / "dump.archive.zst"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    for db in DATABASES:
        client.drop_database(db)
    result = invoke(
        "restore", backup_id, "--from", str(destination), uri=mongo_server.uri, cwd=tmp_path
    )
    assert result.returncode == 1
    assert "dump.archive.zst" in result.stderr and "Traceback" not in result.output
    assert not set(DATABASES) & set(client.list_database_names())


def test_restore_test_into_another_server(mongo_server, server_factory, tmp_path):
    client = mongo_server.client()
    populate(client, documents=30)
    destination = tmp_path / "backups"
    backup_id = _create(mongo_server.uri, destination, tmp_path, "--format", "directory")
    with server_factory() as scratch:
        result = invoke(
            "--json", "backup", "verify", backup_id, "--from", str(destination),
            "--restore-test", "--into", scratch.uri,
            uri=mongo_server.uri, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.output
        test = result.json()["restore_test"]
        assert test["problems"] == []
        assert test["collections"] == 6  # five collections and a view
        assert test["documents"] == 31 + 20 + 60 + 40 + 30
        assert set(test["databases"]) == set(DATABASES)
        # The scratch databases are gone; nothing was written to the source server.
        assert not any(
            name.startswith("tkverify_") for name in scratch.client().list_database_names()
        )
        assert scratch.errors == []
    assert not any(name.startswith("tkverify_") for name in client.list_database_names())
    listed = invoke("--json", "backup", "list", "--from", str(destination), cwd=tmp_path).json()
    assert listed["backups"][0]["verified_ok"] is True
    assert listed["backups"][0]["last_verified"]


def test_verify_refuses_what_is_not_a_complete_backup(tmp_path):
    destination = tmp_path / "backups"
    (destination / "20260101T000000Z").mkdir(parents=True)
    (destination / "20260101T000000Z" / "dump.archive.zst").write_bytes(b"partial")
    result = invoke(
        "backup", "verify", "20260101T000000Z", "--from", str(destination), cwd=tmp_path
    )
    assert result.returncode == 1
    assert "incomplete" in result.stderr and "Traceback" not in result.output
    assert backup_ids(destination) == ["20260101T000000Z"]


def test_files_the_manifest_does_not_list_fail_verify_and_block_restore(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=10)
    destination = tmp_path / "backups"
    backup_id = _create(mongo_server.uri, destination, tmp_path, "--format", "directory")
    dump = destination / backup_id / "dump"
    (dump / "tk_shop" / "extra.bson.zst").write_bytes((dump / "prelude.json.zst").read_bytes())
    verified = invoke("backup", "verify", backup_id, "--from", str(destination), cwd=tmp_path)
    assert verified.returncode == 3, verified.output
    assert "dump/tk_shop/extra.bson.zst: not listed in the manifest" in verified.output
    restored = invoke(
        "restore", backup_id, "--from", str(destination), "--dry-run",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert restored.returncode == 1
    assert "dump/tk_shop/extra.bson.zst" in restored.stderr


def test_show_names_the_damaged_archive_of_one_of_our_backups(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=20)
    destination = tmp_path / "backups"
    backup_id = _create(mongo_server.uri, destination, tmp_path)
    archive = destination / backup_id / "dump.archive.zst"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    shown = invoke("backup", "show", backup_id, "--from", str(destination), cwd=tmp_path)
    assert shown.returncode == 1, shown.output
    assert "dump.archive.zst" in shown.stderr and "offset" in shown.stderr
    assert "no MongoDB dump here" not in shown.stderr


def test_an_unreachable_scratch_server_is_not_a_failed_verification(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=5)
    destination = tmp_path / "backups"
    backup_id = _create(mongo_server.uri, destination, tmp_path)
    verified = invoke(
        "--timeout", "1", "backup", "verify", backup_id, "--from", str(destination),
        "--restore-test", cwd=tmp_path,
        env={"TOOLKIT_RESTORE_TEST_URI": "mongodb://u:hunter2@127.0.0.1:1"},
    )  # fmt: skip
    assert verified.returncode == 1, verified.output
    assert "cannot reach" in verified.stderr and "hunter2" not in verified.output
    listed = invoke("--json", "backup", "list", "--from", str(destination), cwd=tmp_path)
    [entry] = listed.json()["backups"]
    assert entry["verified_ok"] is None  # nothing recorded: the backup was not found wanting
