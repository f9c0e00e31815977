"""Observe a sharded cluster through a mongos, and run planned sharding operations.

The cluster's sharding state is read from where MongoDB keeps it: listShards
(shards and their zones, ``tags``), config.collections (shard keys),
config.tags (zone ranges) and config.settings (the balancer window). Zone
bounds are converted to and from Extended JSON markers ({"$minKey": 1}), the
form the catalog uses, so the planner compares like with like.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pymongo.errors
from bson import Int64, MaxKey, MinKey, ObjectId, json_util
from pymongo import MongoClient

from toolkit.mongo.schema import observe_schema
from toolkit.plan.shard import (
    ObservedShard,
    ObservedShardedCollection,
    ObservedSharding,
    ObservedZoneRange,
    ShardOperation,
)

log = logging.getLogger(__name__)

BUCKETS_PREFIX = "system.buckets."


def describe_server(client: MongoClient) -> str | None:
    """None for a mongos; otherwise what the server is, for the refusal message."""
    hello = client.admin.command("hello")
    if hello.get("msg") == "isdbgrid":
        return None
    if hello.get("setName"):
        return f"a member of replica set {hello['setName']}"
    return "a standalone mongod"


def observe_sharding(client: MongoClient, databases: Iterable[str]) -> ObservedSharding:
    """Read shards, sharded collections, zone ranges, the balancer window, and the
    collections and indexes of ``databases``. Raise pymongo errors."""
    shards = tuple(
        ObservedShard(
            name=str(shard["_id"]),
            host=str(shard.get("host", "")),
            zones=tuple(str(tag) for tag in shard.get("tags", [])),
        )
        for shard in client.admin.command("listShards").get("shards", [])
    )
    collections = []
    for document in client.config.collections.find({}):
        if document.get("dropped"):
            continue  # 4.4 and older keep dropped collections here
        collections.append(_sharded_collection(document))
    ranges = tuple(
        ObservedZoneRange(
            namespace=str(document["ns"]),
            min=_to_catalog(document["min"]),
            max=_to_catalog(document["max"]),
            zone=str(document.get("tag", "")),
        )
        for document in client.config.tags.find({})
    )
    balancer = client.config.settings.find_one({"_id": "balancer"}) or {}
    window = balancer.get("activeWindow")
    balancer_window = (
        (str(window["start"]), str(window["stop"]))
        if isinstance(window, Mapping) and "start" in window and "stop" in window
        else None
    )
    return ObservedSharding(
        shards=shards,
        collections=tuple(collections),
        ranges=ranges,
        balancer_window=balancer_window,
        schema=observe_schema(client, databases),
    )


def _sharded_collection(document: Mapping[str, Any]) -> ObservedShardedCollection:
    namespace = str(document["_id"])
    key = [(str(name), _to_catalog_value(value)) for name, value in document["key"].items()]
    db, _, name = namespace.partition(".")
    fields = document.get("timeseriesFields")
    if name.startswith(BUCKETS_PREFIX) and isinstance(fields, Mapping):
        # A time-series collection is sharded through its buckets collection, on
        # "meta" (the metaField) and "control.min.<timeField>" (the timeField).
        namespace = f"{db}.{name[len(BUCKETS_PREFIX) :]}"
        key = [(_user_field(field, fields), value) for field, value in key]
    return ObservedShardedCollection(
        namespace=namespace, key=tuple(key), unique=bool(document.get("unique"))
    )


def _user_field(field: str, fields: Mapping[str, Any]) -> str:
    meta = fields.get("metaField")
    if meta and (field == "meta" or field.startswith("meta.")):
        return str(meta) + field[len("meta") :]
    if field == f"control.min.{fields.get('timeField')}":
        return str(fields.get("timeField"))
    return field


def _to_catalog(bound: Mapping[str, Any]) -> dict[str, Any]:
    return {str(name): _to_catalog_value(value) for name, value in bound.items()}


def _to_catalog_value(value: Any) -> Any:
    if isinstance(value, MinKey):
        return {"$minKey": 1}
    if isinstance(value, MaxKey):
        return {"$maxKey": 1}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


def _to_bson(value: Any) -> Any:
    """Turn catalog bound values into BSON: Extended JSON markers into their types, and
    integers into NumberLong (hashed shard key bounds must be NumberLong; other
    numbers compare by value, whatever their type)."""
    if isinstance(value, Mapping):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return json_util.loads(json_util.dumps(dict(value)))
        return {name: _to_bson(item) for name, item in value.items()}
    if isinstance(value, int) and not isinstance(value, bool):
        return Int64(value)
    return value


def to_wire(operation: ShardOperation) -> dict[str, Any]:
    """The command document sent for ``operation``: zone bounds in BSON types."""
    command = dict(operation.command)
    if "updateZoneKeyRange" in command:
        command["min"] = _to_bson(command["min"])
        command["max"] = _to_bson(command["max"])
    return command


def run_operation(client: MongoClient, operation: ShardOperation) -> None:
    """Send one operation's command. Raise pymongo errors, write errors included."""
    command = to_wire(operation)
    log.debug("running %s: %s", operation.describe(), operation.command)
    reply = client[operation.database].command(command)
    errors = reply.get("writeErrors") or []
    if errors:
        first = errors[0]
        raise pymongo.errors.OperationFailure(
            str(first.get("errmsg", "write error")), first.get("code"), reply
        )


def apply_shard_operations(
    client: MongoClient,
    operations: Iterable[ShardOperation],
    *,
    allow_drop: bool,
    on_done: Callable[[ShardOperation, str], None] | None = None,
) -> list[tuple[ShardOperation, str]]:
    """Run each operation in order; skip destructive ones (and those waiting for one)
    without ``allow_drop``. Stop at the first failure (pymongo raises)."""
    results: list[tuple[ShardOperation, str]] = []
    for operation in operations:
        if not allow_drop and (operation.destructive or operation.needs_drop):
            status = "skipped"
        else:
            run_operation(client, operation)
            status = "done"
        results.append((operation, status))
        if on_done:
            on_done(operation, status)
    return results
