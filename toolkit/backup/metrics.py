"""Prometheus textfile metrics for `backup create --metrics-file` (node_exporter's collector).

node_exporter's textfile collector reads every ``*.prom`` file in its
directory on each scrape, so the file is replaced atomically (temporary file,
fsync, rename): a scrape sees the previous run's figures or this run's, never
half a file. A failed run still writes the file, with ``status 0``, and keeps
the previous run's last-success time so an alert on its age keeps firing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from toolkit.errors import BackupError
from toolkit.fsutil import atomic_write

PREFIX: Final = "mongo_toolkit_backup"
LAST_SUCCESS: Final = f"{PREFIX}_last_success_timestamp_seconds"


@dataclass(frozen=True)
class BackupMetrics:
    """One run of ``backup create``: when it finished, how long it took, what it wrote."""

    destination: str
    succeeded: bool
    finished_at: float  # seconds since the epoch
    duration_seconds: float
    bytes: int
    documents: int
    last_success: float | None  # this run's finish time if it succeeded, else the previous one


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_metrics(metrics: BackupMetrics) -> str:
    """Return the Prometheus text exposition for one run (HELP, TYPE, one sample each)."""
    labels = f'{{destination="{_label(metrics.destination)}"}}'
    samples = [
        (
            LAST_SUCCESS,
            "Time the last successful backup finished, in seconds since the epoch.",
            metrics.last_success,
        ),
        (
            f"{PREFIX}_last_run_timestamp_seconds",
            "Time the last backup run (successful or not) finished, in seconds since the epoch.",
            metrics.finished_at,
        ),
        (
            f"{PREFIX}_status",
            "1 when the last backup run succeeded, 0 when it failed.",
            1 if metrics.succeeded else 0,
        ),
        (
            f"{PREFIX}_duration_seconds",
            "How long the last backup run took.",
            metrics.duration_seconds,
        ),
        (
            f"{PREFIX}_bytes",
            "Bytes the last backup run stored (compressed, every file).",
            metrics.bytes,
        ),
        (
            f"{PREFIX}_documents",
            "Documents the last backup run dumped.",
            metrics.documents,
        ),
    ]
    lines = []
    for name, help_text, value in samples:
        if value is None:
            continue
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{labels} {_number(value)}")
    return "\n".join(lines) + "\n"


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(round(float(value), 3))


def read_last_success(path: Path) -> float | None:
    """Return the last-success time recorded in an existing metrics file, or None."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    match = re.search(rf"^{LAST_SUCCESS}(?:{{[^}}]*}})? ([0-9.eE+-]+)$", text, re.MULTILINE)
    if match is None:
        return None
    try:
        return float(match.group(1))
    except ValueError:
        return None


def write_metrics(path: Path, metrics: BackupMetrics) -> None:
    """Replace ``path`` atomically with the metrics of this run; raise BackupError on failure."""
    try:
        atomic_write(Path(path), render_metrics(metrics))
    except OSError as error:
        raise BackupError(
            f"cannot write the metrics file {path}: {error.strerror or error}",
            hint="point --metrics-file at node_exporter's textfile directory, e.g. "
            "/var/lib/node_exporter/textfile_collector/mongo_backup.prom",
        ) from error
