"""Prometheus textfile metrics of `backup create --metrics-file`."""

from __future__ import annotations

import pytest

from toolkit.backup.metrics import BackupMetrics, read_last_success, render_metrics, write_metrics
from toolkit.errors import BackupError


def _metrics(**overrides):
    values = dict(
        destination='s3://b/p"x',
        succeeded=True,
        finished_at=1763884541.25,
        duration_seconds=12.5,
        bytes=1234,
        documents=56,
        last_success=1763884541.25,
    )
    values.update(overrides)
    return BackupMetrics(**values)


def test_render():
    text = render_metrics(_metrics())
    lines = text.splitlines()
    assert 'mongo_toolkit_backup_status{destination="s3://b/p\\"x"} 1' in lines
    assert 'mongo_toolkit_backup_bytes{destination="s3://b/p\\"x"} 1234' in lines
    assert any(line.startswith("mongo_toolkit_backup_duration_seconds{") for line in lines)
    assert "# TYPE mongo_toolkit_backup_last_success_timestamp_seconds gauge" in lines
    assert text.endswith("\n")


def test_a_failure_keeps_the_last_success(tmp_path):
    path = tmp_path / "backup.prom"
    assert read_last_success(path) is None
    write_metrics(path, _metrics())
    assert read_last_success(path) == 1763884541.25
    write_metrics(path, _metrics(succeeded=False, last_success=read_last_success(path), bytes=0))
    text = path.read_text()
    assert 'mongo_toolkit_backup_status{destination="s3://b/p\\"x"} 0' in text
    assert read_last_success(path) == 1763884541.25
    first_failure = render_metrics(_metrics(succeeded=False, last_success=None))
    assert "last_success" not in first_failure


def test_unwritable(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(BackupError, match="metrics file"):
        write_metrics(tmp_path / "file" / "x.prom", _metrics())
