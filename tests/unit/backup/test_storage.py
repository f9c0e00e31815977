"""Storage: local directories and S3 (moto's in-process mock), the same interface."""

from __future__ import annotations

import json
import os
import time

import boto3
import pytest
from moto import mock_aws

from toolkit.backup import storage as storage_module
from toolkit.backup.storage import (
    LOCK_NAME,
    MANIFEST,
    LocalStorage,
    S3Storage,
    open_storage,
)
from toolkit.errors import BackupError, UsageError

# -- choosing a storage -------------------------------------------------------------------------


def test_open_storage(tmp_path):
    assert isinstance(open_storage(str(tmp_path)), LocalStorage)
    with pytest.raises(UsageError, match="invalid S3 destination"):
        open_storage("s3:///nothing")
    with pytest.raises(UsageError, match="unsupported destination"):
        open_storage("ftp://host/x")


# -- local ----------------------------------------------------------------------------------------


def test_local_write_is_atomic(tmp_path):
    storage = LocalStorage(tmp_path / "dest")
    with storage.open_write("20260101T000000Z", "dump/a.bson") as handle:
        handle.write(b"partial")
        partials = list((tmp_path / "dest" / "20260101T000000Z" / "dump").iterdir())
        assert [p.name.endswith(".partial") for p in partials] == [True]
        assert storage.files("20260101T000000Z") == []  # not visible yet
    assert [(f.path, f.size) for f in storage.files("20260101T000000Z")] == [("dump/a.bson", 7)]
    assert storage.exists("20260101T000000Z", "dump/a.bson")


def test_local_write_failure_leaves_nothing(tmp_path):
    storage = LocalStorage(tmp_path)
    with pytest.raises(RuntimeError), storage.open_write("20260101T000000Z", "x") as handle:
        handle.write(b"abc")
        raise RuntimeError("boom")
    assert list((tmp_path / "20260101T000000Z").iterdir()) == []


def test_local_listing_and_deletion(tmp_path):
    storage = LocalStorage(tmp_path)
    assert storage.backup_ids() == []
    storage.write_bytes("20260101T000000Z", "dump/x", b"1")
    storage.write_bytes("20260101T000000Z", MANIFEST, b"{}")
    storage.write_bytes("20260102T000000Z", "y", b"2")
    (tmp_path / ".hidden").mkdir()
    assert storage.backup_ids() == ["20260101T000000Z", "20260102T000000Z"]
    with storage.open_read("20260101T000000Z", MANIFEST) as handle:
        assert handle.read() == b"{}"
    with pytest.raises(BackupError) as caught, storage.open_read("20260101T000000Z", "nope"):
        pass
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    storage.delete_backup("20260101T000000Z")
    assert storage.backup_ids() == ["20260102T000000Z"]
    with pytest.raises(BackupError, match="no backup"):
        storage.files("20260101T000000Z")
    with pytest.raises(UsageError):
        storage.files("../escape")


def test_local_deletion_removes_the_manifest_first(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("20260101T000000Z", "a", b"1")
    storage.write_bytes("20260101T000000Z", MANIFEST, b"{}")
    seen = []
    real_unlink = type(tmp_path).unlink

    def unlink(path, *args, **kwargs):
        seen.append(path.name)
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "unlink", unlink)
    storage.delete_backup("20260101T000000Z")
    assert seen[0] == MANIFEST


def test_local_lock(tmp_path):
    storage = LocalStorage(tmp_path)
    with storage.lock("first"):
        holder = json.loads((tmp_path / LOCK_NAME).read_text())
        assert holder["owner"] == "first" and holder["pid"] == os.getpid()
        with pytest.raises(BackupError, match="locked by first"), storage.lock("second"):
            pass
    assert not (tmp_path / LOCK_NAME).exists()
    with storage.lock("third"):
        pass


def test_a_dead_process_lock_is_taken_over(tmp_path):
    storage = LocalStorage(tmp_path)
    (tmp_path / LOCK_NAME).write_text(
        json.dumps(
            {
                "owner": "killed",
                "host": __import__("socket").gethostname(),
                "pid": 2**22 + 12345,  # no such process
                "acquired_at": time.time(),
                "expires_at": time.time() + 3600,
                "token": "x",
            }
        )
    )
    with storage.lock("next"):
        assert json.loads((tmp_path / LOCK_NAME).read_text())["owner"] == "next"


def test_an_expired_lock_is_taken_over_and_a_young_empty_one_is_not(tmp_path):
    storage = LocalStorage(tmp_path)
    (tmp_path / LOCK_NAME).write_text(
        json.dumps({"owner": "old", "host": "elsewhere", "pid": 1, "expires_at": time.time() - 1})
    )
    with storage.lock("next"):
        pass
    (tmp_path / LOCK_NAME).write_text("")  # another run is creating it right now
    with pytest.raises(BackupError, match="being written"), storage.lock("me"):
        pass
    old = time.time() - storage_module.UNREADABLE_LOCK_GRACE_SECONDS - 5
    os.utime(tmp_path / LOCK_NAME, (old, old))
    with storage.lock("me"):
        pass


def test_local_records(tmp_path):
    storage = LocalStorage(tmp_path)
    assert storage.read_record("verified/a.json") is None
    storage.write_record("verified/a.json", b"{}")
    assert storage.read_record("verified/a.json") == b"{}"
    assert storage.backup_ids() == []  # records are never listed as backups
    storage.delete_record("verified/a.json")
    storage.delete_record("verified/a.json")
    assert storage.read_record("verified/a.json") is None
    with pytest.raises(ValueError):
        storage.read_record("../x")


# -- S3 ---------------------------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="backups")
        yield client


def test_s3_round_trip(s3):
    storage = open_storage("s3://backups/prod/shop")
    assert isinstance(storage, S3Storage) and storage.url == "s3://backups/prod/shop"
    storage.write_bytes("20260101T000000Z", "dump.archive.zst", b"data")
    storage.write_bytes("20260101T000000Z", MANIFEST, b"{}")
    storage.write_bytes("20260102T000000Z", "x", b"1")
    assert storage.backup_ids() == ["20260101T000000Z", "20260102T000000Z"]
    assert [(f.path, f.size) for f in storage.files("20260101T000000Z")] == [
        ("dump.archive.zst", 4),
        (MANIFEST, 2),
    ]
    with storage.open_read("20260101T000000Z", "dump.archive.zst") as handle:
        assert handle.read() == b"data"
    with pytest.raises(BackupError) as caught, storage.open_read("20260101T000000Z", "missing"):
        pass
    assert isinstance(caught.value.__cause__, FileNotFoundError)
    assert storage.exists("20260101T000000Z", MANIFEST) and not storage.exists("x", "y")
    storage.delete_backup("20260101T000000Z")
    assert storage.backup_ids() == ["20260102T000000Z"]
    assert storage.local_path("20260102T000000Z") is None


def test_s3_multipart_is_streamed_and_committed_on_close(s3, monkeypatch):
    monkeypatch.setattr(storage_module, "PART_SIZE", 5 * 1024 * 1024)
    storage = open_storage("s3://backups/p")
    chunk = os.urandom(1024 * 1024)
    with storage.open_write("20260101T000000Z", "dump.archive.zst") as handle:
        for _ in range(11):
            handle.write(chunk)
        uploads = s3.list_multipart_uploads(Bucket="backups")["Uploads"]
        assert len(uploads) == 1
        parts = s3.list_parts(
            Bucket="backups", Key=uploads[0]["Key"], UploadId=uploads[0]["UploadId"]
        )
        assert len(parts["Parts"]) == 2  # sent while writing, not at the end
        assert "Contents" not in s3.list_objects_v2(Bucket="backups")  # not visible yet
    body = s3.get_object(Bucket="backups", Key="p/20260101T000000Z/dump.archive.zst")["Body"].read()
    assert body == chunk * 11
    assert s3.list_multipart_uploads(Bucket="backups").get("Uploads", []) == []


def test_s3_failed_upload_is_aborted(s3):
    storage = open_storage("s3://backups/p")
    with pytest.raises(RuntimeError), storage.open_write("20260101T000000Z", "x") as handle:
        handle.write(b"abc")
        raise RuntimeError("boom")
    assert s3.list_multipart_uploads(Bucket="backups").get("Uploads", []) == []
    assert "Contents" not in s3.list_objects_v2(Bucket="backups")


def test_s3_lock_and_records(s3):
    storage = open_storage("s3://backups/p")
    with (
        storage.lock("first"),
        pytest.raises(BackupError, match="locked by first"),
        storage.lock("second"),
    ):
        pass
    with storage.lock("third"):
        pass
    assert storage.read_record("verified/a.json") is None
    storage.write_record("verified/a.json", b"{}")
    assert storage.read_record("verified/a.json") == b"{}"
    assert storage.backup_ids() == []
    storage.delete_record("verified/a.json")
    assert storage.read_record("verified/a.json") is None


def test_s3_expired_lock_is_taken_over(s3):
    storage = open_storage("s3://backups/p")
    s3.put_object(
        Bucket="backups",
        Key=f"p/{LOCK_NAME}",
        Body=json.dumps({"owner": "gone", "expires_at": time.time() - 1}).encode(),
    )
    with storage.lock("next"):
        pass


def test_s3_errors_are_backup_errors(s3):
    storage = open_storage("s3://no-such-bucket/p")
    with pytest.raises(BackupError, match="S3 listing backups"):
        storage.backup_ids()


def test_a_live_process_keeps_its_lock_past_the_expiry(tmp_path):
    storage = LocalStorage(tmp_path)
    (tmp_path / LOCK_NAME).write_text(
        json.dumps(
            {
                "owner": "long dump",
                "host": __import__("socket").gethostname(),
                "pid": os.getpid(),
                "acquired_at": time.time() - 86400,
                "expires_at": time.time() - 1,
                "token": "x",
            }
        )
    )
    with pytest.raises(BackupError, match="locked by long dump"), storage.lock("next"):
        pass


def test_s3_lock_is_renewed_while_held(s3):
    storage = open_storage("s3://backups/p")
    key = f"p/{LOCK_NAME}"
    with storage.lock("long", ttl_seconds=3):
        first = json.loads(s3.get_object(Bucket="backups", Key=key)["Body"].read())
        time.sleep(1.5)
        second = json.loads(s3.get_object(Bucket="backups", Key=key)["Body"].read())
        assert second["token"] == first["token"]
        assert second["expires_at"] > first["expires_at"]
    assert "Contents" not in s3.list_objects_v2(Bucket="backups", Prefix=key)


def test_big_local_files_are_flushed_while_written(tmp_path, monkeypatch):
    synced = []
    real = os.fdatasync
    monkeypatch.setattr(storage_module, "SYNC_EVERY", 1000)
    monkeypatch.setattr(storage_module.os, "fdatasync", lambda fd: (synced.append(fd), real(fd)))
    storage = LocalStorage(tmp_path)
    with storage.open_write("20260101T000000Z", "big") as handle:
        for _ in range(10):
            handle.write(b"x" * 600)
    assert synced  # some of it reached the disk before the commit's fsync
    assert (tmp_path / "20260101T000000Z" / "big").read_bytes() == b"x" * 6000


def test_part_sizes_reach_s3s_object_limit_within_its_part_limit():
    from toolkit.backup.storage import MAX_PART_SIZE, part_size

    sizes = [part_size(number) for number in range(1, 10_001)]  # S3: at most 10,000 parts
    assert sizes[0] == 16 * 1024 * 1024 and sizes[999] == sizes[0] and sizes[1000] == 2 * sizes[0]
    assert max(sizes) <= MAX_PART_SIZE
    assert sum(sizes) >= 5 * 1024**4  # S3's largest object, 5 TiB
