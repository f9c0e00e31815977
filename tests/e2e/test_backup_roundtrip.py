"""Acceptance: create, drop, restore gives byte-identical documents, the same indexes and
options, for archive and directory, zstd, gzip and none, to a local directory and to S3."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.backup_support import (
    DATABASES,
    backup_ids,
    drop_databases,
    invoke,
    populate,
    s3_server,
    snapshot,
)
from tests.e2e.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
CASES = [
    (layout, compression)
    for layout in ("archive", "directory")
    for compression in ("zstd", "gzip", "none")
]
SUFFIX = {"zstd": ".zst", "gzip": ".gz", "none": ""}


@pytest.fixture(scope="module")
def s3():
    with s3_server() as server:
        yield server


@pytest.mark.parametrize("where", ["local", "s3"])
@pytest.mark.parametrize(("layout", "compression"), CASES)
def test_round_trip(mongo_server, tmp_path, s3, where, layout, compression):
    client = mongo_server.client()
    populate(client)
    before = snapshot(client)
    assert len(before.documents) == 5 and len(before.options) == 6  # five collections, a view
    extra: list[str] = []
    if where == "local":
        destination = str(tmp_path / "backups")
    else:
        destination = f"s3://{s3.bucket()}/nightly/shop"
        extra = ["--s3-endpoint-url", s3.endpoint]

    created = invoke(
        "--json", "backup", "create", "--to", destination, "--format", layout,
        "--compress", compression, *extra,
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.output
    result = created.json()
    assert result["status"] == "complete"
    assert result["layout"] == layout and result["compression"] == compression
    suffix = SUFFIX[compression]
    paths = {item["path"] for item in result["files"]}
    if layout == "archive":
        assert paths == {f"dump.archive{suffix}"}
    else:
        # Named as mongodump names them (--gzip adds .gz to every file).
        assert f"dump/prelude.json{suffix}" in paths
        assert f"dump/tk_shop/orders.bson{suffix}" in paths
        assert f"dump/tk_shop/orders.metadata.json{suffix}" in paths
        assert f"dump/tk_shop/open_orders.metadata.json{suffix}" in paths
        assert f"dump/tk_shop/open_orders.bson{suffix}" not in paths  # a view has no data
    counts = {f"{c['db']}.{c['collection']}": c["documents"] for c in result["collections"]}
    assert counts["tk_shop.orders"] == 121 and counts["tk_logs.events"] == 60

    verified = invoke("backup", "verify", result["id"], "--from", destination, *extra, cwd=tmp_path)
    assert verified.returncode == 0, verified.output

    drop_databases(client)
    assert not set(DATABASES) & set(client.list_database_names())
    restored = invoke(
        "--json", "restore", result["id"], "--from", destination, *extra,
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert restored.returncode == 0, restored.output
    outcome = restored.json()
    assert outcome["duplicates"] == 0
    assert outcome["inserted"] == sum(len(docs) for docs in before.documents.values())

    after = snapshot(client)
    assert after.options == before.options
    assert after.indexes == before.indexes
    assert after.documents == before.documents  # byte for byte
    assert mongo_server.errors == []


def test_round_trip_through_the_real_command(mongo_server, tmp_path):
    """The same through `mongo-toolkit` as a process, with no catalog anywhere."""
    client = mongo_server.client()
    populate(client, documents=30)
    before = snapshot(client)
    destination = tmp_path / "backups"
    environment = {
        key: value for key, value in os.environ.items() if key not in ("TOOLKIT_CATALOG",)
    }
    environment["MONGODB_URI"] = mongo_server.uri
    environment["PYTHONPATH"] = str(ROOT)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "toolkit", *args],
            capture_output=True,
            text=True,
            env=environment,
            cwd=tmp_path,
            timeout=120,
        )

    created = run("backup", "create", "--to", str(destination), "--label", "manual")
    assert created.returncode == 0, created.stdout + created.stderr
    (backup_id,) = backup_ids(destination)
    assert backup_id.endswith("-manual")
    assert "complete" in created.stdout
    drop_databases(client)
    restored = run("restore", str(destination / backup_id))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restore complete" in restored.stdout
    assert snapshot(client) == before


@pytest.mark.live
def test_round_trip_live(server, tmp_path):
    """Create, drop, restore through the command, on a real MongoDB when MONGODB_URI is set."""
    client = server.client()
    drop_databases(client)
    recent = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    populate(client, documents=30, seen=recent)
    before = snapshot(client)
    destination = tmp_path / "backups"
    databases = [argument for db in DATABASES for argument in ("--db", db)]
    try:
        created = run_cli(
            "backup", "create", "--no-oplog", "--to", str(destination), *databases, uri=server.uri
        )
        assert created.returncode == 0, created.output
        (backup_id,) = backup_ids(destination)
        drop_databases(client)
        restored = run_cli("restore", str(destination / backup_id), uri=server.uri)
        assert restored.returncode == 0, restored.output
        assert snapshot(client) == before
    finally:
        drop_databases(client)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_long_collection_names_round_trip_in_the_directory_layout(
    mongo_server, tmp_path, compression
):
    """Names past mongodump's limit are shortened as it does; writing them must still fit."""
    client = mongo_server.client()
    long_name = "é" * 60  # 360 bytes once escaped: shortened to 238, as mongodump does
    client.tk_long[long_name].insert_many([{"n": n} for n in range(5)])
    client.tk_long[long_name].create_index("n", name="by_n")
    before = snapshot(client, ("tk_long",))
    destination = tmp_path / "backups"
    created = invoke(
        "--json", "backup", "create", "--no-oplog", "--to", str(destination),
        "--format", "directory", "--compress", compression, "--db", "tk_long",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert created.returncode == 0, created.output
    paths = [item["path"] for item in created.json()["files"]]
    assert max(len(path.rsplit("/", 1)[-1].encode()) for path in paths) <= 255
    drop_databases(client, ("tk_long",))
    restored = invoke(
        "restore", str(destination / created.json()["id"]), uri=mongo_server.uri, cwd=tmp_path
    )
    assert restored.returncode == 0, restored.output
    assert snapshot(client, ("tk_long",)) == before
