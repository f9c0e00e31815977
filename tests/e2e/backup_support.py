"""Helpers for the backup and restore end-to-end tests.

- ``invoke``: run the CLI in this process (``toolkit.cli.main``), capturing
  stdout, stderr and the exit code as a subprocess would see them; much
  faster than a subprocess, so most tests use it (``run_cli`` where the
  process itself matters: signals, progress on a terminal).
- ``populate``: three databases with validators, TTL, text, unique, compound,
  partial and sparse indexes, a view and a capped collection, documents of
  every common BSON type.
- ``snapshot``: what a round trip must preserve: every document's raw bytes,
  every collection's options and index specs.
- ``s3``: a moto S3 server over HTTP (moto.server.ThreadedMotoServer), with
  credentials in the environment the usual AWS way.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import os
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pymongo
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from tests.e2e.cli import CliResult

DATABASES = ("tk_shop", "tk_logs", "tk_text")
COMPAT = Path(__file__).resolve().parents[2].parent / "shared" / "compat" / "mongodump"


def invoke(
    *args: str,
    uri: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> CliResult:
    """Run ``mongo-toolkit ARGS`` in-process; return its exit code, stdout and stderr.

    The URI goes through MONGODB_URI (never argv), as a user would pass a
    password; ``cwd`` is where it runs (the default catalogs/ path is relative).
    """
    from toolkit.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_streams = sys.stdout, sys.stderr
    saved_environment = dict(os.environ)
    saved_cwd = os.getcwd()
    for key in ("MONGODB_URI", "TOOLKIT_CATALOG"):
        os.environ.pop(key, None)
    os.environ["COLUMNS"] = "200"
    if uri is not None:
        os.environ["MONGODB_URI"] = uri
    os.environ.update(env or {})
    if cwd is not None:
        os.chdir(cwd)
    code: Any = 0
    try:
        sys.stdout, sys.stderr = stdout, stderr
        try:
            main(list(args))
        except SystemExit as exit_request:
            code = exit_request.code
    finally:
        sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_environment)
    if code is None:
        code = 0
    return CliResult(int(code), stdout.getvalue(), stderr.getvalue())


def populate(
    client: pymongo.MongoClient, *, documents: int = 120, seen: dt.datetime | None = None
) -> None:
    """Create the three test databases (see the module docstring).

    ``seen`` is the date in the TTL-indexed ``tk_logs.sessions`` (default: a
    fixed past date; a live server's TTL monitor would delete those, so live
    tests pass a recent one).
    """
    shop = client["tk_shop"]
    shop.create_collection(
        "orders",
        validator={
            "$jsonSchema": {
                "bsonType": "object",
                "required": ["sku", "qty"],
                "properties": {"sku": {"bsonType": "string"}, "qty": {"bsonType": ["int", "long"]}},
            }
        },
        validationLevel="moderate",
        validationAction="error",
    )
    base = dt.datetime(2026, 1, 2, 3, 4, 5, 678000)
    shop.orders.insert_many(
        [
            {
                "_id": ObjectId(),
                "sku": f"SKU-{index:05d}",
                "qty": Int64(index) if index % 2 else index,
                "price": Decimal128(Decimal(f"{index}.99")),
                "ratio": index / 7,
                "at": base + dt.timedelta(minutes=index),
                "tags": ["a", "b", index] if index % 3 else [],
                "nested": {"deep": {"deeper": [{"x": index}, None, True]}},
                "status": "open" if index % 4 else "closed",
                "blob": Binary(bytes([index % 256]) * 8),
                "token": Binary.from_uuid(uuid.UUID(int=index)),
            }
            for index in range(documents)
        ]
    )
    shop.orders.insert_one(
        {
            "_id": "odd-types",
            "sku": "SKU-ODD",
            "qty": 0,
            "pattern": Regex("^a.*b$", "i"),
            "stamp": Timestamp(1700000000, 7),
            "low": MinKey(),
            "high": MaxKey(),
            "code": Code("function () { return 1; }"),
            "empty": {},
            "negative_zero": -0.0,
            "big": Int64(2**62),
        }
    )
    shop.orders.create_index([("sku", 1)], unique=True, name="sku_unique")
    shop.orders.create_index([("status", 1), ("at", -1)])
    shop.orders.create_index(
        [("price", 1)], partialFilterExpression={"status": "open"}, name="open_by_price"
    )
    shop.create_collection(
        "open_orders", viewOn="orders", pipeline=[{"$match": {"status": "open"}}]
    )
    shop.customers.insert_many([{"_id": index, "name": f"c{index}"} for index in range(20)])
    shop.customers.create_index([("email", 1)], sparse=True, unique=True)

    logs = client["tk_logs"]
    logs.create_collection("events", capped=True, size=1 << 20, max=5000)
    logs.events.insert_many(
        [
            {"at": base + dt.timedelta(seconds=index), "level": "info", "n": index}
            for index in range(60)
        ]
    )
    logs.create_collection("sessions", validator={"kind": {"$in": ["web", "api"]}})
    logs.sessions.insert_many(
        [{"kind": "web" if index % 2 else "api", "seen": seen or base} for index in range(40)]
    )
    logs.sessions.create_index([("seen", 1)], expireAfterSeconds=3600, name="ttl_seen")

    text = client["tk_text"]
    text.articles.insert_many(
        [
            {
                "title": f"Article {index}",
                "body": "lorem ipsum dolor " * (index % 5 + 1),
                "n": index,
            }
            for index in range(30)
        ]
    )
    text.articles.create_index(
        [("title", "text"), ("body", "text")],
        weights={"title": 10, "body": 2},
        default_language="english",
        name="search",
    )


def _raw_documents(client: pymongo.MongoClient, db: str, name: str) -> list[bytes]:
    documents = []
    for batch in client[db][name].find_raw_batches({}):
        position = 0
        while position < len(batch):
            size = int.from_bytes(batch[position : position + 4], "little")
            documents.append(bytes(batch[position : position + size]))
            position += size
    return sorted(documents)


@dataclass(frozen=True)
class Snapshot:
    """Everything a round trip must preserve, per namespace: documents, options, indexes."""

    documents: dict[str, list[bytes]]
    options: dict[str, Any]
    indexes: dict[str, Any]


def _canonical(value: Any) -> Any:
    from bson import json_util

    return json.loads(json_util.dumps(value, json_options=json_util.CANONICAL_JSON_OPTIONS))


def snapshot(client: pymongo.MongoClient, databases: tuple[str, ...] = DATABASES) -> Snapshot:
    documents: dict[str, list[bytes]] = {}
    options: dict[str, Any] = {}
    indexes: dict[str, Any] = {}
    for db in databases:
        for entry in client[db].list_collections():
            name = entry["name"]
            if name.startswith("system."):
                continue
            namespace = f"{db}.{name}"
            options[namespace] = (entry.get("type"), _canonical(entry.get("options", {})))
            if entry.get("type") == "view":
                continue
            documents[namespace] = _raw_documents(client, db, name)
            indexes[namespace] = sorted(
                (_canonical(dict(spec)) for spec in client[db][name].list_indexes()),
                key=lambda spec: spec["name"],
            )
    return Snapshot(documents, options, indexes)


def drop_databases(client: pymongo.MongoClient, databases: tuple[str, ...] = DATABASES) -> None:
    for db in databases:
        client.drop_database(db)


def backup_ids(destination: Path) -> list[str]:
    return sorted(entry.name for entry in destination.iterdir() if not entry.name.startswith("."))


@dataclass
class S3Server:
    endpoint: str
    environment: dict[str, str]

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1")

    def bucket(self) -> str:
        name = f"tk-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name


S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on a free local port, with fake credentials in os.environ."""
    from moto.server import ThreadedMotoServer

    saved = {key: os.environ.get(key) for key in S3_ENVIRONMENT}
    os.environ.update(S3_ENVIRONMENT)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield S3Server(f"http://{host}:{port}", dict(S3_ENVIRONMENT))
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
