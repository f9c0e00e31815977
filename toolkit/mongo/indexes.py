"""Observe indexes, their usage on every member and their sizes, for `indexes report`.

$indexStats counters are kept per mongod and count only the operations that
mongod served: a primary knows nothing of the reads its secondaries answer.
So on a replica set every data-bearing member is asked directly (a
directConnection client per member, with the same credentials and TLS
options as the URI). Through a mongos each shard answers for itself and the
``shard`` field tells them apart, but only from the one node the mongos routes
to (the primary by default): the shards' secondaries are not read, so the
report gives ``usage-unknown`` rather than ``unused`` there. Shard members are
not contacted directly: the mongos's users live on the config servers, and a
shard's own replica set may not know them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pymongo.errors
import pymongo.uri_parser
from pymongo import MongoClient, ReadPreference

from toolkit.mongo.client import ConnectionSettings, connect
from toolkit.mongo.schema import observe_schema
from toolkit.plan.indexes import (
    IndexObservation,
    MemberUsage,
    ObservedCollectionName,
    ObservedIndex,
)

log = logging.getLogger(__name__)

SYSTEM_DATABASES = frozenset({"admin", "config", "local"})
# replSetGetStatus states whose member holds data and answers queries.
READABLE_STATES = frozenset({1, 2})  # PRIMARY, SECONDARY
ARBITER_STATE = 7
# URI options that must not reach a per-member direct connection.
_TOPOLOGY_OPTIONS = frozenset(
    {"replicaset", "directconnection", "readpreference", "readpreferencetags", "loadbalanced"}
)

MemberConnector = Callable[[str], MongoClient]


def list_user_databases(client: MongoClient) -> list[str]:
    """Names of the databases on the server, without admin, config and local."""
    names = client.list_database_names()
    return sorted(name for name in names if name not in SYSTEM_DATABASES)


def member_connector(settings: ConnectionSettings) -> MemberConnector:
    """Return a function that opens a direct connection to one member ("host:port")
    with the URI's credentials and options (TLS, authSource...), never its topology."""
    parsed = pymongo.uri_parser.parse_uri(settings.uri, validate=False, warn=True)
    options: dict[str, Any] = {
        name: value
        for name, value in dict(parsed.get("options") or {}).items()
        if name.lower() not in _TOPOLOGY_OPTIONS
    }
    if parsed.get("username") is not None:
        options["username"] = parsed["username"]
        if parsed.get("password") is not None:
            options["password"] = parsed["password"]
        if not any(name.lower() == "authsource" for name in options) and parsed.get("database"):
            # A URI's /database is the authentication database when authSource is absent.
            options["authSource"] = parsed["database"]

    def open_member(host: str) -> MongoClient:
        member = ConnectionSettings(uri=f"mongodb://{host}/", timeout=settings.timeout)
        return connect(member, directConnection=True, **options)

    return open_member


def observe_indexes(
    client: MongoClient, databases: Iterable[str], open_member: MemberConnector
) -> IndexObservation:
    """Return every index of ``databases`` with each member's counters and its size.

    Raise pymongo errors (the caller translates them); a replica-set member
    that cannot be reached is listed in ``unreachable`` instead.
    """
    databases = tuple(databases)
    schema = observe_schema(client, databases)
    collections = [c for c in schema.collections if c.type != "view"]
    hello = client.admin.command("hello")

    usage: dict[tuple[str, str, str], list[MemberUsage]] = {}
    sizes: dict[tuple[str, str, str], int] = {}
    stats_specs: dict[tuple[str, str, str], dict[str, Any]] = {}
    unreachable: list[str] = []
    if hello.get("msg") == "isdbgrid":
        topology = "sharded"
        members = _read_through(client, collections, usage, sizes, stats_specs, by_shard=True)
    elif hello.get("setName"):
        topology = "replica set"
        members = []
        member_sizes: dict[tuple[str, str, str], list[int]] = {}
        for host, readable in _data_members(client):
            if not readable:
                unreachable.append(host)
                continue
            try:
                member_client = open_member(host)
            except pymongo.errors.PyMongoError as error:  # pragma: no cover - parse errors
                log.debug("cannot open %s: %s", host, error)
                unreachable.append(host)
                continue
            try:
                one_size: dict[tuple[str, str, str], int] = {}
                _read_member(member_client, host, collections, usage, one_size, stats_specs)
                members.append(host)
                for key, size in one_size.items():
                    member_sizes.setdefault(key, []).append(size)
            except (pymongo.errors.ConnectionFailure, pymongo.errors.ServerSelectionTimeoutError):
                log.debug("member %s did not answer", host, exc_info=True)
                unreachable.append(host)
            finally:
                member_client.close()
        # Every member holds a full copy: the size of an index is its largest copy.
        sizes = {key: max(values) for key, values in member_sizes.items()}
    else:
        topology = "standalone"
        members = _read_through(client, collections, usage, sizes, stats_specs, by_shard=False)

    indexes: list[ObservedIndex] = []
    for collection in collections:
        specs = {str(spec["name"]): dict(spec) for spec in collection.indexes}
        names = list(specs)
        for (db, name, index_name), spec in stats_specs.items():
            # An index still being built is in $indexStats but not yet in listIndexes.
            if (db, name) == (collection.db, collection.name) and index_name not in specs:
                specs[index_name] = spec
                names.append(index_name)
        for index_name in names:
            spec = specs[index_name]
            identity = (collection.db, collection.name, index_name)
            indexes.append(
                ObservedIndex(
                    db=collection.db,
                    collection=collection.name,
                    name=index_name,
                    key=tuple(dict(spec.get("key") or {}).items()),
                    spec=spec,
                    usage=tuple(usage.get(identity, [])),
                    size=sizes.get(identity),
                )
            )
    return IndexObservation(
        databases=databases,
        collections=tuple(ObservedCollectionName(c.db, c.name, c.type) for c in collections),
        indexes=tuple(indexes),
        members=tuple(members),
        unreachable=tuple(unreachable),
        topology=topology,
    )


def _data_members(client: MongoClient) -> Iterator[tuple[str, bool]]:
    """Yield (host, readable) for each data-bearing member, hidden ones included
    (hello leaves hidden members out; replSetGetStatus lists them all)."""
    status = client.admin.command("replSetGetStatus")
    for member in status.get("members", []):
        state = int(member.get("state", 6))
        if state == ARBITER_STATE:
            continue
        healthy = float(member.get("health", 0)) > 0
        yield str(member.get("name")), healthy and state in READABLE_STATES


def _read_member(
    client: MongoClient,
    host: str,
    collections: list[Any],
    usage: dict[tuple[str, str, str], list[MemberUsage]],
    sizes: dict[tuple[str, str, str], int],
    specs: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    for collection in collections:
        database = client.get_database(
            collection.db, read_preference=ReadPreference.PRIMARY_PREFERRED
        )
        for document in _aggregate(database, collection.name, [{"$indexStats": {}}]):
            _record_usage(collection, document, host, usage, specs)
        for document in _aggregate(
            database, collection.name, [{"$collStats": {"storageStats": {}}}]
        ):
            for name, size in _index_sizes(document).items():
                sizes[(collection.db, collection.name, name)] = size


def _read_through(
    client: MongoClient,
    collections: list[Any],
    usage: dict[tuple[str, str, str], list[MemberUsage]],
    sizes: dict[tuple[str, str, str], int],
    specs: dict[tuple[str, str, str], dict[str, Any]],
    *,
    by_shard: bool,
) -> list[str]:
    """Read a standalone, or every shard through a mongos; return the member labels."""
    members: list[str] = []
    for collection in collections:
        database = client[collection.db]
        for document in _aggregate(database, collection.name, [{"$indexStats": {}}]):
            label = _label(document, by_shard)
            if label not in members:
                members.append(label)
            _record_usage(collection, document, label, usage, specs)
        # Through a mongos each shard holds part of the collection: sizes add up.
        for document in _aggregate(
            database, collection.name, [{"$collStats": {"storageStats": {}}}]
        ):
            for name, size in _index_sizes(document).items():
                identity = (collection.db, collection.name, name)
                sizes[identity] = sizes.get(identity, 0) + size
    return members


def _aggregate(database: Any, name: str, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    try:
        return list(database[name].aggregate(pipeline))
    except pymongo.errors.OperationFailure as error:
        if error.code == 26:  # NamespaceNotFound: dropped while we read
            return []
        if error.code == 166 and not name.startswith("system.buckets."):
            # CommandNotSupportedOnView: a time-series collection is a view over its
            # buckets collection, whose indexes carry the same names.
            return _aggregate(database, f"system.buckets.{name}", pipeline)
        raise


def _label(document: Mapping[str, Any], by_shard: bool) -> str:
    host = str(document.get("host", "?"))
    if by_shard and document.get("shard"):
        return f"{document['shard']}/{host}"
    return host


def _record_usage(
    collection: Any,
    document: Mapping[str, Any],
    member: str,
    usage: dict[tuple[str, str, str], list[MemberUsage]],
    specs: dict[tuple[str, str, str], dict[str, Any]],
) -> None:
    name = str(document.get("name"))
    accesses = document.get("accesses") or {}
    since = accesses.get("since")
    if isinstance(since, dt.datetime) and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    identity = (collection.db, collection.name, name)
    usage.setdefault(identity, []).append(
        MemberUsage(
            member=member,
            ops=int(accesses.get("ops", 0) or 0),
            since=since if isinstance(since, dt.datetime) else None,
            building=bool(document.get("building")),
        )
    )
    spec = document.get("spec")
    if isinstance(spec, Mapping):
        specs.setdefault(identity, dict(spec))


def _index_sizes(document: Mapping[str, Any]) -> dict[str, int]:
    storage = document.get("storageStats") or {}
    return {str(name): int(size) for name, size in (storage.get("indexSizes") or {}).items()}
