"""Acceptance: crash safety. `backup create` killed with SIGKILL at random moments, 20 times:
no killed run is ever listed as complete unless it committed (and then it verifies), prune
never deletes the newest complete backup, and the next run succeeds (the stale lock is taken
over)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.backup_support import invoke, populate

ROOT = Path(__file__).resolve().parents[2]
TRIALS = 20


def _start(uri: str, destination: Path, cwd: Path, layout: str) -> subprocess.Popen[str]:
    environment = {key: value for key, value in os.environ.items() if key != "TOOLKIT_CATALOG"}
    environment["MONGODB_URI"] = uri
    environment["PYTHONPATH"] = str(ROOT)
    return subprocess.Popen(
        [
            sys.executable, "-m", "toolkit", "backup", "create", "--to", str(destination),
            "--format", layout, "--parallel", "1",
        ],
        env=environment,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _new_entries(destination: Path, known: set[str]) -> set[str]:
    if not destination.is_dir():
        return set()
    return {entry.name for entry in destination.iterdir() if not entry.name.startswith(".")} - known


def _listing(destination: Path, cwd: Path) -> dict[str, dict]:
    listed = invoke("--json", "backup", "list", "--from", str(destination), cwd=cwd)
    assert listed.returncode == 0, listed.output
    return {backup["id"]: backup for backup in listed.json()["backups"]}


def test_sigkill_at_random_moments(mongo_server, tmp_path):
    client = mongo_server.client()
    populate(client, documents=400)
    client.tk_bulk.items.insert_many([{"n": n, "pad": "x" * 200} for n in range(3000)])
    destination = tmp_path / "backups"
    rng = random.Random(20261123)

    # One run to completion: a complete backup to protect, and how long a dump takes.
    started = time.monotonic()
    process = _start(mongo_server.uri, destination, tmp_path, "archive")
    appeared = None
    while process.poll() is None:
        if appeared is None and _new_entries(destination, set()):
            appeared = time.monotonic()
        time.sleep(0.005)
    assert process.returncode == 0, process.stderr.read()
    total = time.monotonic() - started
    dumping = max(0.05, time.monotonic() - (appeared or started))
    (first,) = _listing(destination, tmp_path)
    newest_complete = first

    outcomes = []
    for trial in range(TRIALS):
        known = set(_listing(destination, tmp_path))
        layout = "directory" if trial % 2 else "archive"
        process = _start(mongo_server.uri, destination, tmp_path, layout)
        launched = time.monotonic()
        if trial % 4 == 0:
            # Anywhere in the run, start-up included.
            deadline = launched + rng.uniform(0, total * 1.1)
        else:
            # Once the backup's directory exists: while its files are being written.
            while not _new_entries(destination, known) and process.poll() is None:
                if time.monotonic() - launched > 60:
                    break
                time.sleep(0.002)
            deadline = time.monotonic() + rng.uniform(0, dumping * 0.8)
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.002)
        finished_before_kill = process.poll() is not None
        if not finished_before_kill:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        process.stdout.close()
        process.stderr.close()

        backups = _listing(destination, tmp_path)
        created = sorted(set(backups) - known)
        for backup_id in created:
            status = backups[backup_id]["status"]
            outcomes.append(status)
            if status == "complete":
                # Only a run that got as far as its commit may be complete, and then it is whole.
                verified = invoke(
                    "backup", "verify", backup_id, "--from", str(destination), cwd=tmp_path
                )
                assert verified.returncode == 0, verified.output
            else:
                assert status == "incomplete", backups[backup_id]
                assert not (destination / backup_id / "manifest.json").exists()
        if finished_before_kill:
            assert process.returncode == 0
        complete = [i for i, b in backups.items() if b["status"] == "complete"]
        newest_complete = max(complete)

        pruned = invoke(
            "--json", "backup", "prune", "--keep-last", "1", "--from", str(destination),
            cwd=tmp_path,
        )  # fmt: skip
        assert pruned.returncode == 0, pruned.output
        assert newest_complete in pruned.json()["kept"]
        assert (destination / newest_complete / "manifest.json").is_file()
        for backup_id, backup in _listing(destination, tmp_path).items():
            assert backup["status"] != "complete" or backup_id == newest_complete

    assert len(outcomes) >= TRIALS // 2  # most kills landed after the backup had started
    assert "incomplete" in outcomes

    # The next run succeeds: the dead run's lock is stale and is taken over.
    last = invoke(
        "--json", "backup", "create", "--to", str(destination), uri=mongo_server.uri, cwd=tmp_path
    )
    assert last.returncode == 0, last.output
    assert _listing(destination, tmp_path)[last.json()["id"]]["status"] == "complete"
    print(json.dumps({"trials": TRIALS, "outcomes": outcomes}))
