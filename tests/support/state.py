"""The data one test server (or one replica set) holds, and every change to it.

``ServerState`` owns the mongomock store (documents), the catalog (exact
metadata), cursors, the oplog and the replica-set configuration. All access
goes through ``state.lock``: mongomock is not thread-safe and mockupdb runs
one thread per connection. Command handlers call the methods here; they never
touch mongomock directly, so validation, unique indexes and the oplog cannot
be skipped by accident.
"""

from __future__ import annotations

import calendar
import copy
import os
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
import mongomock
import pymongo.errors
from bson import Binary, Int64, ObjectId, Regex, Timestamp
from mongomock import aggregate as mongomock_aggregate
from mongomock import helpers as mongomock_helpers

from tests.support import indexes as index_rules
from tests.support import mongomock_compat, validation
from tests.support.bsonfmt import render
from tests.support.catalog import CollectionInfo, IndexEntry, id_index_spec, utcnow
from tests.support.errors import CommandError, WriteError

mongomock_compat.install()

MAX_BSON_SIZE = 16 * 1024 * 1024
DEFAULT_BATCH_SIZE = 101
OPLOG_SIZE = Int64(990 * 1024 * 1024)


# --------------------------------------------------------------------------- values


def freeze(value: Any) -> Any:
    """A hashable stand-in for a BSON value, equal where MongoDB compares equal.

    Numbers of any type compare by value (1 == 1.0 == Int64(1)), as in an
    index; booleans stay distinct from numbers.
    """
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, bson.Decimal128):
        return ("number", float(value.to_decimal()))
    if isinstance(value, str):
        return ("string", value)
    if value is None:
        return ("null",)
    if isinstance(value, Mapping):
        return ("object", tuple((key, freeze(item)) for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return ("array", tuple(freeze(item) for item in value))
    if isinstance(value, Regex):
        return ("regex", value.pattern, str(value.flags))
    try:
        hash(value)
    except TypeError:
        return ("other", repr(value))
    return (type(value).__name__, value)


def same_bson(left: Any, right: Any) -> bool:
    """True when two documents encode to the same BSON (a no-op update)."""
    return bson.encode({"v": left}) == bson.encode({"v": right})


def with_id_first(document: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``document`` with ``_id`` first, adding an ObjectId when missing."""
    result: dict[str, Any] = {"_id": document["_id"] if "_id" in document else ObjectId()}
    for key, value in document.items():
        if key != "_id":
            result[key] = value
    return result


def bson_size(document: Mapping[str, Any]) -> int:
    return len(bson.encode(document))


def is_replacement(update: Any) -> bool:
    return isinstance(update, Mapping) and not any(key.startswith("$") for key in update)


# --------------------------------------------------------------------------- cursors


@dataclass
class Cursor:
    id: int
    ns: str
    documents: list[dict[str, Any]]
    position: int = 0

    def take(self, batch_size: int | None) -> list[dict[str, Any]]:
        """The next batch: at most ``batch_size`` documents (all when None) and 16 MiB."""
        batch: list[dict[str, Any]] = []
        total = 0
        while self.position < len(self.documents):
            if batch_size is not None and len(batch) >= batch_size:
                break
            document = self.documents[self.position]
            size = bson_size(document)
            if batch and total + size > MAX_BSON_SIZE - 64 * 1024:
                break
            batch.append(document)
            total += size
            self.position += 1
        return batch

    @property
    def exhausted(self) -> bool:
        return self.position >= len(self.documents)


# --------------------------------------------------------------------------- replica set


@dataclass
class MemberConfig:
    """One member of the replica-set config (replSetGetConfig members[i])."""

    id: int
    host: str
    priority: float = 1.0
    hidden: bool = False
    secondary_delay_secs: int = 0
    votes: int = 1
    arbiter_only: bool = False
    build_indexes: bool = True
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def electable(self) -> bool:
        return (
            self.priority > 0
            and not self.hidden
            and not self.arbiter_only
            and self.secondary_delay_secs == 0
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "_id": self.id,
            "host": self.host,
            "arbiterOnly": self.arbiter_only,
            "buildIndexes": self.build_indexes,
            "hidden": self.hidden,
            # A whole priority prints as an int, as mongod stores it.
            "priority": int(self.priority)
            if self.priority == int(self.priority)
            else float(self.priority),
            "tags": dict(self.tags),
            "secondaryDelaySecs": Int64(self.secondary_delay_secs),
            "votes": self.votes,
        }


@dataclass
class ReplicaSetState:
    set_name: str
    initiated: bool = False
    version: int = 1
    term: int = 1
    members: list[MemberConfig] = field(default_factory=list)
    primary: int | None = None  # index into members
    election_time: Timestamp | None = None
    election_date: Any = None
    replica_set_id: ObjectId = field(default_factory=ObjectId)
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def election_id(self) -> ObjectId:
        # 0x7fffffff followed by the term (MONGODB-FACTS section 4).
        return ObjectId(bytes.fromhex("7fffffff") + self.term.to_bytes(8, "big"))

    def config_document(self) -> dict[str, Any]:
        return {
            "_id": self.set_name,
            "version": self.version,
            "term": self.term,
            "members": [member.to_document() for member in self.members],
            "protocolVersion": Int64(1),
            "writeConcernMajorityJournalDefault": True,
            "settings": {
                "chainingAllowed": True,
                "heartbeatIntervalMillis": 2000,
                "heartbeatTimeoutSecs": 10,
                "electionTimeoutMillis": 10000,
                "catchUpTimeoutMillis": -1,
                "catchUpTakeoverDelayMillis": 30000,
                "getLastErrorModes": {},
                "getLastErrorDefaults": {"w": 1, "wtimeout": 0},
                "replicaSetId": self.replica_set_id,
                **self.settings,
            },
        }


# --------------------------------------------------------------------------- state


class ServerState:
    """Documents, catalog, cursors, oplog and cluster metadata of one deployment.

    ``kind`` is "standalone", "replset" or "mongos". Every method expects the
    caller to hold ``self.lock`` (the dispatcher takes it for each command).
    """

    def __init__(
        self, *, kind: str, auth: bool = False, version: str = "7.0.14", set_name: str | None = None
    ) -> None:
        self.kind = kind
        self.auth = auth
        self.version = version
        self.lock = threading.RLock()
        self.topology_changed = threading.Condition(self.lock)
        self.client = mongomock.MongoClient()
        self._scratch_client = mongomock.MongoClient()
        self.collections: dict[tuple[str, str], CollectionInfo] = {}
        self.system_uuids: dict[str, Binary] = {}
        self.cursors: dict[int, Cursor] = {}
        self.oplog: list[dict[str, Any]] = []
        self.oplog_enabled = False
        self._last_ts = Timestamp(0, 0)
        self.warnings: list[str] = []
        self.replset = ReplicaSetState(set_name) if kind == "replset" else None
        self.nodes: list[Any] = []
        self.started = utcnow()
        self.cluster_id = ObjectId()
        self._create_startup_collections()

    @property
    def rs(self) -> ReplicaSetState:
        """The replica-set state (only for kind "replset")."""
        if self.replset is None:
            raise AssertionError("not a replica set")
        return self.replset

    # ------------------------------------------------------------------ catalog

    def _create_startup_collections(self) -> None:
        if self.kind == "mongos":
            for name in (
                "shards",
                "databases",
                "collections",
                "chunks",
                "tags",
                "version",
                "mongos",
                "settings",
            ):
                self.create_collection("config", name, log=False)
            self._put_raw("config", "version", {"_id": 1, "clusterId": self.cluster_id})
            return
        self.create_collection("admin", "system.version", log=False)
        self._put_raw(
            "admin", "system.version", {"_id": "featureCompatibilityVersion", "version": "7.0"}
        )
        self.create_collection(
            "local", "startup_log", options={"capped": True, "size": 10485760}, log=False
        )
        self._put_raw(
            "local",
            "startup_log",
            {
                "_id": f"test-server-{int(time.time() * 1000)}",
                "hostname": "127.0.0.1",
                "startTime": self.started,
                "startTimeLocal": self.started.strftime("%a %b %d %H:%M:%S.%f")[:-3],
                "cmdLine": {"net": {"bindIp": "127.0.0.1"}},
                "pid": Int64(os.getpid()),
                "buildinfo": {"version": self.version},
            },
        )
        sessions = self.create_collection("config", "system.sessions", log=False)
        sessions.indexes.append(
            IndexEntry(
                {
                    "v": 2,
                    "key": {"lastUse": 1},
                    "name": "lsidTTLIndex",
                    "expireAfterSeconds": 1800,
                }
            )
        )

    def enable_oplog(self) -> None:
        """Create local.oplog.rs (capped, no _id index) and start logging writes."""
        if ("local", "oplog.rs") not in self.collections:
            info = CollectionInfo(
                "local",
                "oplog.rs",
                options={"capped": True, "size": OPLOG_SIZE, "autoIndexId": False},
                has_id_index=False,
            )
            self.collections[("local", "oplog.rs")] = info
        self.oplog_enabled = True

    def get(self, db: str, name: str) -> CollectionInfo | None:
        return self.collections.get((db, name))

    def collections_in(self, db: str) -> list[CollectionInfo]:
        return sorted(
            (info for (info_db, _), info in self.collections.items() if info_db == db),
            key=lambda info: info.name,
        )

    def database_names(self) -> list[str]:
        names = {db for db, _ in self.collections}
        if self.kind == "mongos":
            names.discard("local")
            names.add("admin")
        return sorted(names)

    def data(self, info: CollectionInfo) -> mongomock.Collection:
        return self.client[info.db][info.name]

    def create_collection(
        self,
        db: str,
        name: str,
        *,
        kind: str = "collection",
        options: Mapping[str, Any] | None = None,
        log: bool = True,
    ) -> CollectionInfo:
        """Add a namespace to the catalog (with its _id index) and log ``create``."""
        options = dict(options or {})
        info = CollectionInfo(db, name, kind=kind, options=options)
        if kind == "view" or kind == "timeseries":
            info.uuid = None
            info.has_id_index = False
        else:
            info.indexes.append(IndexEntry(id_index_spec(options.get("collation")), keymap={}))
        if kind == "timeseries":
            timeseries = options["timeseries"]
            if "metaField" in timeseries:
                key = {timeseries["metaField"]: 1, timeseries["timeField"]: 1}
                info.indexes.append(
                    IndexEntry({"v": 2, "key": key, "name": index_rules.default_index_name(key)})
                )
        self.collections[(db, name)] = info
        if kind != "view":
            self.client[db].get_collection(name)  # the mongomock side exists lazily
        if log:
            command: dict[str, Any] = {"create": name}
            command.update(options)
            if info.has_id_index:
                command["idIndex"] = dict(info.indexes[0].spec)
            self.log_op("c", f"{db}.$cmd", command, ui=info.uuid)
        return info

    def drop_collection(self, info: CollectionInfo, *, log: bool = True) -> int:
        """Remove a namespace and its documents; return the number of indexes it had."""
        count = len(info.indexes)
        records = 0 if info.is_view else len(self.data(info)._store)
        del self.collections[(info.db, info.name)]
        if info.kind != "view":
            self.client[info.db].drop_collection(info.name)
        self._kill_cursors_on(info.ns)
        for node in self.nodes:
            node.forget_index_stats(info.ns)
        if log:
            self.log_op(
                "c",
                f"{info.db}.$cmd",
                {"drop": info.name},
                o2={"numRecords": records},
                ui=info.uuid,
            )
        return count

    def rename_collection(
        self, info: CollectionInfo, db: str, name: str, *, drop_target: bool
    ) -> None:
        target = self.get(db, name)
        if target is not None:
            self.drop_collection(target, log=False)
        documents = list(self.data(info)._store._documents.items())
        self.client[info.db].drop_collection(info.name)
        del self.collections[(info.db, info.name)]
        old_ns = info.ns
        info.db, info.name = db, name
        self.collections[(db, name)] = info
        store = self.data(info)._store
        for key, document in documents:
            store[key] = document
        self._kill_cursors_on(old_ns)
        for node in self.nodes:
            node.forget_index_stats(old_ns)
        self.log_op(
            "c",
            f"{db}.$cmd" if db == old_ns.split(".", 1)[0] else "admin.$cmd",
            {
                "renameCollection": old_ns,
                "to": info.ns,
                "stayTemp": False,
                "dropTarget": drop_target,
            },
            ui=info.uuid,
        )

    def require_writable(self, db: str, name: str) -> CollectionInfo:
        """The collection to write to, created implicitly when missing."""
        info = self.get(db, name)
        check_writable_namespace(db, name)
        if info is None:
            return self.create_collection(db, name)
        if info.is_view:
            raise CommandError(166, f"Namespace {info.ns} is a view, not a collection")
        if (db, name) == ("local", "oplog.rs"):
            raise CommandError(73, "cannot write to 'local.oplog.rs'")
        return info

    def system_uuid(self, ns: str) -> Binary:
        if ns not in self.system_uuids:
            from tests.support.catalog import new_uuid

            self.system_uuids[ns] = new_uuid()
        return self.system_uuids[ns]

    # ------------------------------------------------------------------ oplog

    def next_timestamp(self) -> Timestamp:
        now = int(time.time())
        if now > self._last_ts.time:
            self._last_ts = Timestamp(now, 1)
        else:
            self._last_ts = Timestamp(self._last_ts.time, self._last_ts.inc + 1)
        return self._last_ts

    def log_op(
        self, op: str, ns: str, o: Mapping[str, Any], *, o2: Any = None, ui: Binary | None = None
    ) -> None:
        """Append one entry to local.oplog.rs (replica sets only)."""
        if not self.oplog_enabled:
            return
        entry: dict[str, Any] = {"op": op, "ns": ns}
        if ui is not None:
            entry["ui"] = ui
        entry["o"] = copy.deepcopy(dict(o))
        if o2 is not None:
            entry["o2"] = copy.deepcopy(o2)
        entry["ts"] = self.next_timestamp()
        entry["t"] = Int64(self.replset.term if self.replset else 1)
        entry["v"] = Int64(2)
        entry["wall"] = utcnow()
        self.oplog.append(entry)

    def last_optime(self) -> tuple[Timestamp, Any]:
        """(ts, wall) of the newest oplog entry; the start time before any write."""
        if self.oplog:
            return self.oplog[-1]["ts"], self.oplog[-1]["wall"]
        return Timestamp(calendar.timegm(self.started.timetuple()), 1), self.started

    # ------------------------------------------------------------------ virtual namespaces

    def virtual_documents(self, db: str, name: str) -> list[dict[str, Any]] | None:
        """Documents of namespaces the server derives rather than stores."""
        if (db, name) == ("local", "oplog.rs"):
            return copy.deepcopy(self.oplog) if self.oplog_enabled else []
        if name == "system.views":
            return self._view_definitions(db)
        if name.startswith("system.buckets."):
            return []
        return None

    def _view_definitions(self, db: str) -> list[dict[str, Any]]:
        definitions = []
        for info in self.collections_in(db):
            if info.kind == "view":
                definitions.append(
                    {
                        "_id": info.ns,
                        "viewOn": info.options["viewOn"],
                        "pipeline": copy.deepcopy(info.options["pipeline"]),
                    }
                )
            elif info.kind == "timeseries":
                timeseries = info.options["timeseries"]
                unpack = {"timeField": timeseries["timeField"]}
                if "metaField" in timeseries:
                    unpack["metaField"] = timeseries["metaField"]
                unpack["bucketMaxSpanSeconds"] = timeseries["bucketMaxSpanSeconds"]
                unpack["exclude"] = []
                definitions.append(
                    {
                        "_id": info.ns,
                        "viewOn": f"system.buckets.{info.name}",
                        "pipeline": [{"$_internalUnpackBucket": unpack}],
                    }
                )
        return definitions

    def has_views(self, db: str) -> bool:
        return any(info.kind in ("view", "timeseries") for info in self.collections_in(db))

    # ------------------------------------------------------------------ reads

    def source(
        self, db: str, name: str, depth: int = 0
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(documents in natural order, pipeline to run on them) for a namespace.

        A view resolves to its source's documents and its pipeline.
        """
        if depth > 20:
            raise CommandError(2, f"View depth too deep or view cycle detected for {db}.{name}")
        virtual = self.virtual_documents(db, name)
        if virtual is not None:
            return virtual, []
        info = self.get(db, name)
        if info is None:
            return [], []
        if info.is_view:
            documents, pipeline = self.source(db, info.options["viewOn"], depth + 1)
            return documents, pipeline + copy.deepcopy(info.options["pipeline"])
        return [copy.deepcopy(doc) for doc in self.data(info)._store.documents], []

    def find(
        self,
        db: str,
        name: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sort: Mapping[str, Any] | None = None,
        skip: int = 0,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Documents matching a find, through mongomock's query engine."""
        filter = dict(filter or {})
        info = self.get(db, name)
        virtual = self.virtual_documents(db, name)
        if virtual is None and (info is None or not info.is_view):
            if info is None:
                return []
            sort_list = list(sort.items()) if sort else None
            with mongomock_errors():
                cursor = self.data(info).find(
                    filter, projection or None, skip=skip, limit=abs(limit), sort=sort_list
                )
                return list(cursor)
        # Views and derived namespaces: run the equivalent pipeline.
        documents, pipeline = self.source(db, name)
        natural = (sort or {}).get("$natural")
        stages = list(pipeline)
        if filter:
            stages.append({"$match": filter})
        if sort:
            rest = {key: value for key, value in sort.items() if key != "$natural"}
            if natural is not None and natural < 0 and not pipeline:
                documents = list(reversed(documents))
            if rest:
                stages.append({"$sort": rest})
        if skip:
            stages.append({"$skip": skip})
        if limit:
            stages.append({"$limit": abs(limit)})
        if projection:
            stages.append({"$project": dict(projection)})
        return self.run_pipeline(db, documents, stages)

    def run_pipeline(
        self, db: str, documents: list[dict[str, Any]], pipeline: list[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """Run aggregation stages over ``documents`` with mongomock."""
        stages = translate_pipeline(pipeline)
        database = self.client[db]
        with mongomock_errors():
            for stage in stages:
                documents = list(
                    mongomock_aggregate.process_pipeline(documents, database, [stage], None)
                )
                if next(iter(stage)) in ("$group", "$bucket"):
                    # mongomock appends _id last; mongod writes it first.
                    documents = [with_id_first(doc) if "_id" in doc else doc for doc in documents]
        return documents

    def count_documents(self, info: CollectionInfo) -> int:
        return len(self.data(info)._store)

    def data_size(self, info: CollectionInfo) -> int:
        if info.is_view:
            return 0
        return sum(bson_size(doc) for doc in self.data(info)._store.documents)

    # ------------------------------------------------------------------ writes

    def _store_key(self, document_id: Any) -> Any:
        if isinstance(document_id, dict):
            return mongomock_helpers.hashdict(document_id)
        return document_id

    def _put_raw(self, db: str, name: str, document: dict[str, Any]) -> None:
        info = self.get(db, name)
        document = with_id_first(document)
        self.data(info)._store[self._store_key(document["_id"])] = document
        self._add_keys(info, document)

    def stored(self, info: CollectionInfo) -> list[dict[str, Any]]:
        """Deep copies of the stored documents, in natural order."""
        return [copy.deepcopy(doc) for doc in self.data(info)._store.documents]

    def insert(
        self, info: CollectionInfo, document: Mapping[str, Any], *, bypass_validation: bool = False
    ) -> dict[str, Any]:
        """Insert one document: validation, unique indexes, capped trimming, oplog.

        Raise WriteError (121, 11000, ...) when the document is refused.
        """
        document = mongomock_helpers.patch_datetime_awareness_in_document(with_id_first(document))
        check_id_value(document["_id"])
        if info.kind == "timeseries":
            check_timeseries_document(info, document)
        if not bypass_validation:
            self._check_validation(info, document, None)
        self._check_unique(info, document, None)
        self.data(info)._store[self._store_key(document["_id"])] = document
        self._add_keys(info, document)
        self.log_op("i", info.ns, document, o2={"_id": document["_id"]}, ui=info.uuid)
        if info.is_capped:
            self._trim_capped(info)
        return document

    def update(
        self,
        info: CollectionInfo,
        query: Mapping[str, Any],
        update: Any,
        *,
        multi: bool,
        upsert: bool,
        array_filters: list | None = None,
        bypass_validation: bool = False,
        sort: Mapping[str, Any] | None = None,
    ) -> tuple[int, int, Any, list[tuple[dict, dict]]]:
        """Apply one update statement.

        Return (matched, modified, upserted _id or None, [(before, after)...]).
        Raise WriteError for a document that fails validation or a unique index.
        """
        if array_filters:
            raise CommandError(
                238,
                "arrayFilters are not supported by the test server (mongomock has no "
                "implementation)",
            )
        if is_replacement(update) and multi:
            raise CommandError(9, "multi update is not supported for replacement-style update")
        if isinstance(update, Mapping) and not is_replacement(update):
            plain = [key for key in update if not key.startswith("$")]
            if plain:
                raise CommandError(
                    9,
                    f"Unknown modifier: {plain[0]}. Expected a valid update modifier or "
                    "pipeline-style update specified as an array",
                )
        matches = self.find(info.db, info.name, filter=query, sort=sort, limit=0 if multi else 1)
        changes: list[tuple[dict, dict]] = []
        matched = modified = 0
        for old in matches:
            matched += 1
            new = self._apply_update(old, query, update)
            if same_bson(old, new):
                continue
            if not same_bson(old["_id"], new.get("_id")):
                raise WriteError(
                    66,
                    "After applying the update, the (immutable) field '_id' was found to "
                    f"have been altered to _id: {render(new.get('_id'))}",
                )
            if info.kind == "timeseries":
                check_timeseries_document(info, new)
            if not bypass_validation:
                self._check_validation(info, new, old)
            self._check_unique(info, new, old)
            self._replace(info, old, new)
            self.log_op(
                "u", info.ns, oplog_update(old, new, update), o2={"_id": old["_id"]}, ui=info.uuid
            )
            changes.append((old, new))
            modified += 1
        if matched or not upsert:
            return matched, modified, None, changes
        new = self._apply_upsert(query, update)
        self.insert(info, new, bypass_validation=bypass_validation)
        return 0, 0, new["_id"], [({}, new)]

    def delete(
        self,
        info: CollectionInfo,
        query: Mapping[str, Any],
        *,
        limit: int,
        sort: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Delete matching documents (at most one when ``limit`` is 1); return them."""
        matches = self.find(info.db, info.name, filter=query, sort=sort, limit=limit)
        store = self.data(info)._store
        for document in matches:
            key = self._store_key(document["_id"])
            stored = store[key]
            del store[key]
            self._remove_keys(info, stored)
            self.log_op("d", info.ns, {"_id": document["_id"]}, ui=info.uuid)
        return matches

    def _replace(self, info: CollectionInfo, old: dict[str, Any], new: dict[str, Any]) -> None:
        store = self.data(info)._store
        key = self._store_key(old["_id"])
        self._remove_keys(info, store[key])
        new = mongomock_helpers.patch_datetime_awareness_in_document(new)
        store[key] = new
        self._add_keys(info, new)

    def _apply_update(
        self, old: dict[str, Any], query: Mapping[str, Any], update: Any
    ) -> dict[str, Any]:
        if is_replacement(update):
            if "_id" in update and not same_bson(update["_id"], old["_id"]):
                raise WriteError(
                    66,
                    "After applying the update, the (immutable) field '_id' was found to "
                    f"have been altered to _id: {render(update['_id'])}",
                )
            return with_id_first(
                {"_id": old["_id"], **{key: value for key, value in update.items() if key != "_id"}}
            )
        scratch = self._scratch()
        scratch._store[self._store_key(old["_id"])] = copy.deepcopy(old)
        with mongomock_errors(write=True):
            result = scratch.update_one(dict(query), update)
            if result.matched_count == 0:
                scratch.update_one({}, update)
        return next(iter(scratch._store.documents))

    def _apply_upsert(self, query: Mapping[str, Any], update: Any) -> dict[str, Any]:
        if is_replacement(update):
            document = dict(update)
            if "_id" not in document and "_id" in query and not isinstance(query["_id"], Mapping):
                document["_id"] = query["_id"]
            return with_id_first(document)
        scratch = self._scratch()
        with mongomock_errors(write=True):
            scratch.update_one(dict(query), update, upsert=True)
        return with_id_first(next(iter(scratch._store.documents)))

    def _scratch(self) -> mongomock.Collection:
        collection = self._scratch_client["scratch"]["scratch"]
        collection._store._documents.clear()
        return collection

    def _trim_capped(self, info: CollectionInfo) -> None:
        store = self.data(info)._store
        limit_docs = info.options.get("max")
        limit_bytes = info.options.get("size")
        while len(store) > 1:
            too_many = bool(limit_docs) and len(store) > limit_docs
            too_big = bool(limit_bytes) and self.data_size(info) > limit_bytes
            if not (too_many or too_big):
                break
            oldest = next(iter(store._documents))
            self._remove_keys(info, store._documents[oldest])
            del store[oldest]

    # ------------------------------------------------------------------ validation

    def _check_validation(
        self, info: CollectionInfo, new: dict[str, Any], old: dict[str, Any] | None
    ) -> None:
        validator = info.options.get("validator")
        level = info.options.get("validationLevel", "strict")
        if not validator or level == "off":
            return
        if (
            old is not None
            and level == "moderate"
            and validation.validate_document(validator, old) is not None
        ):
            return  # moderate: documents that already fail are not checked
        details = validation.validate_document(validator, new)
        if details is None:
            return
        if info.options.get("validationAction", "error") == "warn":
            self.warnings.append(
                f"Document would fail validation collection: {info.ns} "
                f"doc: {render({'_id': new.get('_id')})}"
            )
            return
        raise WriteError(
            121,
            "Document failed validation",
            errInfo={"failingDocumentId": new.get("_id"), "details": details},
        )

    # ------------------------------------------------------------------ unique indexes

    def index_keys(self, index: IndexEntry, document: Mapping[str, Any]) -> list[tuple[tuple, Any]]:
        """[(key tuple, frozen key)] a document contributes to ``index``."""
        if index.name == "_id_":
            key = (document.get("_id"),)
            return [(key, freeze(key))]
        values = index_rules.index_key_values(index.spec, dict(document))
        if values is None:
            return []
        seen: dict[Any, tuple] = {}
        for key in values:
            seen.setdefault(freeze(tuple(key)), tuple(key))
        return [(key, frozen) for frozen, key in seen.items()]

    def _check_unique(
        self, info: CollectionInfo, new: Mapping[str, Any], old: Mapping[str, Any] | None
    ) -> None:
        own = freeze(old["_id"]) if old is not None else None
        for index in info.indexes:
            if not index.is_unique or index.keymap is None:
                continue
            for key, frozen in self.index_keys(index, new):
                holders = index.keymap.get(frozen)
                if holders and (holders - {own}):
                    raise WriteError(
                        11000,
                        duplicate_key_message(info, index, key),
                        **duplicate_key_info(index, key),
                    )

    def _add_keys(self, info: CollectionInfo, document: Mapping[str, Any]) -> None:
        own = freeze(document["_id"])
        for index in info.indexes:
            if index.keymap is None:
                continue
            for _, frozen in self.index_keys(index, document):
                index.keymap.setdefault(frozen, set()).add(own)

    def _remove_keys(self, info: CollectionInfo, document: Mapping[str, Any]) -> None:
        own = freeze(document["_id"])
        for index in info.indexes:
            if index.keymap is None:
                continue
            for _, frozen in self.index_keys(index, document):
                holders = index.keymap.get(frozen)
                if holders is not None:
                    holders.discard(own)
                    if not holders:
                        del index.keymap[frozen]

    def build_index(self, info: CollectionInfo, spec: dict[str, Any]) -> IndexEntry:
        """Add an index to a collection; a unique one is checked against the data first.

        Raise CommandError 11000 when existing documents violate a new unique index.
        """
        entry = IndexEntry(dict(spec))
        if entry.is_unique:
            entry.keymap = {}
            for document in self.data(info)._store.documents:
                own = freeze(document["_id"])
                for key, frozen in self.index_keys(entry, document):
                    holders = entry.keymap.setdefault(frozen, set())
                    if holders - {own}:
                        raise CommandError(
                            11000,
                            f"Index build failed: {_uuid_text(ObjectId())}: Collection "
                            f"{info.ns} ( {_uuid_text(info.uuid)} ) :: caused by :: "
                            + duplicate_key_message(info, entry, key),
                            **duplicate_key_info(entry, key),
                        )
                    holders.add(own)
        info.indexes.append(entry)
        return entry

    # ------------------------------------------------------------------ cursors

    def open_cursor(
        self,
        ns: str,
        documents: list[dict[str, Any]],
        batch_size: int | None,
        *,
        single_batch: bool = False,
    ) -> dict[str, Any]:
        """The ``cursor`` reply document for a first batch; keeps a cursor when more remain."""
        cursor = Cursor(0, ns, documents)
        first = cursor.take(DEFAULT_BATCH_SIZE if batch_size is None else batch_size)
        cursor_id = 0
        if not cursor.exhausted and not single_batch:
            cursor_id = random.randint(1, 2**62)
            cursor.id = cursor_id
            self.cursors[cursor_id] = cursor
        return {"firstBatch": first, "id": Int64(cursor_id), "ns": ns}

    def _kill_cursors_on(self, ns: str) -> None:
        for cursor_id in [cid for cid, cursor in self.cursors.items() if cursor.ns == ns]:
            del self.cursors[cursor_id]

    # ------------------------------------------------------------------ users

    def users(self) -> list[dict[str, Any]]:
        info = self.get("admin", "system.users")
        return self.stored(info) if info else []

    def roles(self) -> list[dict[str, Any]]:
        info = self.get("admin", "system.roles")
        return self.stored(info) if info else []

    def find_user(self, db: str, user: str) -> dict[str, Any] | None:
        for document in self.users():
            if document.get("user") == user and document.get("db") == db:
                return document
        return None


# --------------------------------------------------------------------------- helpers


def _uuid_text(value: Any) -> str:
    import uuid as uuid_module

    if isinstance(value, Binary) and len(value) == 16:
        return str(uuid_module.UUID(bytes=bytes(value)))
    return str(uuid_module.uuid4())


def duplicate_key_message(info: CollectionInfo, index: IndexEntry, key: tuple) -> str:
    return index_rules.duplicate_key_message(info.ns, index.spec, tuple(key))


def duplicate_key_info(index: IndexEntry, key: tuple) -> dict[str, Any]:
    if index.name == "_id_":
        key_value = {"_id": key[0]}
    else:
        key_value = index_rules.format_duplicate_key(index.spec, tuple(key))
    return {"keyPattern": dict(index.key), "keyValue": key_value}


def check_writable_namespace(db: str, name: str) -> None:
    if not db or not name:
        raise CommandError(73, f"Invalid namespace specified '{db}.{name}'")
    if name == "system.views" or name.startswith("system.buckets."):
        raise CommandError(73, f"cannot write to '{db}.{name}'")
    if "$" in name or "\x00" in name:
        raise CommandError(73, f"Invalid collection name: {name}")


def check_id_value(value: Any) -> None:
    if isinstance(value, list):
        raise WriteError(53, "The '_id' value cannot be of type array")
    if isinstance(value, Regex) or hasattr(value, "pattern") and hasattr(value, "flags"):
        raise WriteError(53, "can't use a regex for _id")


def check_timeseries_document(info: CollectionInfo, document: Mapping[str, Any]) -> None:
    import datetime

    time_field = info.options["timeseries"]["timeField"]
    if not isinstance(document.get(time_field), datetime.datetime):
        raise WriteError(
            2, f"'{time_field}' must be present and contain a valid BSON UTC datetime value"
        )


def oplog_update(old: Mapping[str, Any], new: Mapping[str, Any], update: Any) -> dict[str, Any]:
    """The ``o`` of an update entry: the full document for a replacement, else a $v:2 diff."""
    if is_replacement(update):
        return dict(new)
    deleted = {key: False for key in old if key not in new}
    updated = {
        key: value for key, value in new.items() if key in old and not same_bson(old[key], value)
    }
    inserted = {key: value for key, value in new.items() if key not in old}
    diff: dict[str, Any] = {}
    if deleted:
        diff["d"] = deleted
    if updated:
        diff["u"] = updated
    if inserted:
        diff["i"] = inserted
    return {"$v": 2, "diff": diff}


def translate_pipeline(pipeline: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite stages mongomock lacks into equivalents it runs."""
    stages: list[dict[str, Any]] = []
    for stage in pipeline:
        if not isinstance(stage, Mapping) or len(stage) != 1:
            raise CommandError(
                40323, "A pipeline stage specification object must contain exactly one field."
            )
        ((name, spec),) = stage.items()
        if name == "$unset":
            fields = [spec] if isinstance(spec, str) else list(spec)
            stages.append({"$project": {field_name: 0 for field_name in fields}})
        elif name == "$replaceWith":
            stages.append({"$replaceRoot": {"newRoot": spec}})
        elif name == "$sortByCount":
            stages.append({"$group": {"_id": spec, "count": {"$sum": 1}}})
            stages.append({"$sort": {"count": -1}})
        elif name == "$sort" and "$natural" in spec:
            rest = {key: value for key, value in spec.items() if key != "$natural"}
            if rest:
                stages.append({"$sort": rest})
        else:
            stages.append({name: spec})
    return stages


class mongomock_errors:
    """Turn mongomock's exceptions into the errors mongod would answer with."""

    def __init__(self, write: bool = False) -> None:
        self.write = write

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type, exc, traceback) -> bool:
        if exc is None or isinstance(exc, (CommandError, WriteError)):
            return False
        if isinstance(exc, NotImplementedError):
            raise CommandError(238, f"not supported by the test server: {exc}") from exc
        if isinstance(exc, pymongo.errors.OperationFailure):
            code = exc.code or 2
            message = str(exc._message) if hasattr(exc, "_message") else str(exc)
            if "(immutable) field '_id'" in message:
                code = 66
            if self.write:
                raise WriteError(code, message) from exc
            raise CommandError(code, message) from exc
        if isinstance(exc, (ValueError, TypeError, KeyError)) and not isinstance(
            exc, pymongo.errors.PyMongoError
        ):
            if self.write:
                raise WriteError(2, f"{exc}") from exc
            raise CommandError(2, f"{exc}") from exc
        return False
