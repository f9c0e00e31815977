"""What a SOURCE argument names: a backup id, an S3 backup, one of our backups, any dump."""

from __future__ import annotations

import pytest

from toolkit.backup.source import (
    is_backup_id,
    looks_like_our_incomplete_backup,
    materialize,
    resolve_source,
)
from toolkit.backup.storage import LocalStorage, S3Storage
from toolkit.errors import BackupError, UsageError


def test_backup_ids():
    assert is_backup_id("20261123T075541Z") and is_backup_id("20261123T075541Z-nightly_2")
    assert not is_backup_id("2026-11-23") and not is_backup_id("20261123T075541Z-")


def test_an_id_in_a_destination(tmp_path):
    (tmp_path / "20261123T075541Z").mkdir()
    resolved = resolve_source("20261123T075541Z", destination=str(tmp_path))
    assert resolved.location is not None and resolved.location.backup_id == "20261123T075541Z"
    assert isinstance(resolved.location.storage, LocalStorage)
    with pytest.raises(BackupError, match="no backup 20261123T000000Z"):
        resolve_source("20261123T000000Z", destination=str(tmp_path))
    with pytest.raises(UsageError, match="no destination"):
        resolve_source("20261123T000000Z", destination=None)


def test_paths(tmp_path):
    ours = tmp_path / "20261123T075541Z"
    ours.mkdir()
    (ours / "manifest.json").write_text("{}")
    resolved = resolve_source(str(ours), destination=None)
    assert resolved.location is not None and resolved.path == ours
    plain = tmp_path / "dump"
    plain.mkdir()
    assert resolve_source(str(plain), destination=None).location is None
    with pytest.raises(BackupError, match="no such file"):
        resolve_source(str(tmp_path / "missing"), destination=None)


def test_s3_sources(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    resolved = resolve_source("s3://bucket/prefix/20261123T075541Z", destination=None)
    assert isinstance(resolved.location.storage, S3Storage)
    assert resolved.location.url == "s3://bucket/prefix/20261123T075541Z"
    with pytest.raises(UsageError, match="does not name one backup"):
        resolve_source("s3://bucket/prefix", destination=None)


def test_an_incomplete_backup_of_ours_is_refused(tmp_path):
    partial = tmp_path / "20261123T075541Z"
    (partial / "dump").mkdir(parents=True)
    assert looks_like_our_incomplete_backup(partial)
    resolved = resolve_source(str(partial), destination=None)
    with pytest.raises(BackupError, match="incomplete"), materialize(resolved):
        pass
    with (
        pytest.raises(BackupError, match="incomplete"),
        materialize(resolve_source("20261123T075541Z", destination=str(tmp_path))),
    ):
        pass
