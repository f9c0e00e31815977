"""Every read `backup create` makes on MongoDB, and the balancer pause around a sharded dump.

Documents are read as raw batches (``find_raw_batches``): the bytes the
server sent, BSON documents laid end to end, go to the dump unchanged, with
no decoding and re-encoding; memory holds one batch at a time.

How mongodump does each step (mongo-tools ``mongodump/``), which this follows:

- databases: every one but ``local`` and ``config``; collections: every one
  but internal ``system.*`` ones (``system.js`` and admin's users, roles and
  version document are kept); views and time series by their metadata, a
  time series' documents from its ``system.buckets`` collection (before 8.3);
- ``--oplog`` (oplog_dump.go): the start is the oldest prepared or
  in-progress transaction's ``startOpTime.ts`` in ``config.transactions``,
  otherwise the newest oplog entry; after the data, the entries from the
  start to the newest are dumped verbatim, and the start entry must still
  be there (otherwise the oplog rolled over during the dump);
- through a mongos, ``--oplog`` is refused; the balancer is stopped while the
  dump runs and restarted afterwards (also when the dump fails).
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from bson import _convert_raw_document_lists_to_streams
from bson.binary import Binary
from bson.timestamp import Timestamp
from pymongo import MongoClient
from pymongo.cursor import RawBatchCursor

from toolkit.backup.archive import has_buckets_namespace
from toolkit.backup.bsonstream import documents_in_array
from toolkit.backup.directory import BUCKETS_PREFIX
from toolkit.backup.namespaces import SKIPPED_DATABASES, is_dumped_collection
from toolkit.errors import OperationFailed
from toolkit.mongo.client import ConnectionSettings, translate_errors

log = logging.getLogger(__name__)

OPLOG_DB = "local"
OPLOG_COLLECTION = "oplog.rs"
# Aim for raw batches of about 4 MiB (see batch_size_for).
BATCH_BYTES = 4 * 1024 * 1024
DEFAULT_BATCH_DOCUMENTS = 1000
MIN_BATCH_DOCUMENTS = 16
MAX_BATCH_DOCUMENTS = 100_000


@dataclass(frozen=True)
class ServerInfo:
    """The deployment a dump reads: its version and topology (the manifest's words)."""

    version: str
    topology: str  # "standalone", "replica set" or "sharded"


@dataclass(frozen=True)
class SourceCollection:
    """One collection (or view, or time series) to dump, with what its metadata file says.

    ``options`` and ``indexes`` are BSON-typed as the server listed them;
    ``uuid`` is 32 hex digits (None for views). ``data_name`` is the
    collection whose documents are read: the buckets of a time series,
    nothing (None) for a view.
    """

    db: str
    name: str
    type: str
    options: dict[str, Any] = field(default_factory=dict)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    uuid: str | None = None
    data_name: str | None = None

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.name}"


def observe_server(client: MongoClient) -> ServerInfo:
    """Return the server version (buildInfo) and topology (hello) of ``client``'s deployment."""
    hello = client.admin.command("hello")
    build = client.admin.command("buildInfo")
    if hello.get("msg") == "isdbgrid":
        topology = "sharded"
    elif hello.get("setName") or "hosts" in hello:
        topology = "replica set"
    else:
        topology = "standalone"
    return ServerInfo(version=str(build.get("version") or "unknown"), topology=topology)


def _uuid_hex(value: Any) -> str | None:
    if isinstance(value, Binary):
        return bytes(value).hex()
    if hasattr(value, "hex") and hasattr(value, "bytes"):  # uuid.UUID
        return str(value.hex)
    return None


def observe_collections(
    client: MongoClient,
    server_version: str,
    *,
    accepts_database: Callable[[str], bool],
    accepts: Callable[[str], bool],
) -> list[SourceCollection]:
    """Return every collection a dump takes, sorted by namespace.

    ``accepts_database(db)`` and ``accepts(namespace)`` select (``--db``,
    ``--ns-include``, ``--ns-exclude``).
    """
    found = []
    for db in client.list_database_names():
        if db in SKIPPED_DATABASES or not accepts_database(db):
            continue
        database = client[db]
        for entry in database.list_collections():
            name = entry["name"]
            kind = entry.get("type", "collection")
            if not is_dumped_collection(db, name) or not accepts(f"{db}.{name}"):
                continue
            options = dict(entry.get("options") or {})
            uuid = _uuid_hex((entry.get("info") or {}).get("uuid"))
            if kind == "view":
                found.append(SourceCollection(db, name, kind, options, [], None, None))
                continue
            indexes = [dict(index) for index in database[name].list_indexes()]
            data_name = name
            if kind == "timeseries" and has_buckets_namespace(server_version):
                data_name = BUCKETS_PREFIX + name
            found.append(SourceCollection(db, name, kind, options, indexes, uuid, data_name))
    return sorted(found, key=lambda collection: (collection.db, collection.name))


def estimate_count(client: MongoClient, collection: SourceCollection) -> int | None:
    """Return the server's estimate of how many documents ``collection`` holds (for progress)."""
    if collection.data_name is None:
        return 0
    try:
        return int(client[collection.db][collection.data_name].estimated_document_count())
    except Exception:  # an estimate only: a progress bar without a total is fine
        log.debug("no document count for %s", collection.namespace, exc_info=True)
        return None


def batch_size_for(client: MongoClient, db: str, name: str) -> int:
    """Return how many documents to ask for per batch so a batch is about BATCH_BYTES.

    The server fills a getMore up to 16 MiB by default, and the driver holds
    a reply two or three times over while it unpacks a raw batch: smaller
    batches keep memory flat. The average document size comes from
    collStats; without it, a fixed default.
    """
    try:
        stats = client[db].command("collStats", name)
        average = float(stats.get("avgObjSize") or 0)
    except Exception:  # a view, a missing privilege: the default does
        log.debug("no collStats for %s.%s", db, name, exc_info=True)
        average = 0.0
    if average <= 0:
        return DEFAULT_BATCH_DOCUMENTS
    return max(MIN_BATCH_DOCUMENTS, min(MAX_BATCH_DOCUMENTS, int(BATCH_BYTES / average)))


class RawBatch(NamedTuple):
    """One raw batch: BSON documents end to end, and how many (None: not known)."""

    data: bytes
    documents: int | None


class _CountingRawBatchCursor(RawBatchCursor):  # type: ignore[type-arg]
    """``find_raw_batches`` that also tells how many documents each batch holds.

    The driver turns each reply's ``firstBatch``/``nextBatch`` array into the
    documents end to end, checking every document's framing in C as it goes;
    the array's size against the result's gives the count for nothing
    (``documents_in_array``), where counting the documents again in Python
    would cost a tenth of a dump's CPU. This repeats the three lines of
    ``RawBatchCursor._unpack_response`` (pymongo 4.x) around that
    measurement. A reply of any other shape gets None: the caller counts.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (the batch's bytes object, its count): the iteration matches them by identity.
        self.batch_counts: deque[tuple[bytes, int | None]] = deque()

    def _unpack_response(  # type: ignore[override]
        self,
        response: Any,
        cursor_id: int | None,
        codec_options: Any,
        user_fields: Any = None,
        legacy_response: bool = False,
    ) -> Any:
        raw_response = response.raw_response(cursor_id, user_fields=user_fields)
        if legacy_response:
            return raw_response
        cursor = raw_response[0].get("cursor")
        sizes: dict[str, int] = {}
        if isinstance(cursor, dict):
            for key in ("firstBatch", "nextBatch"):
                batch = cursor.get(key)  # the array's BSON (bytes, or a raw document)
                raw = batch if isinstance(batch, bytes) else getattr(batch, "raw", None)
                if isinstance(raw, bytes):
                    sizes[key] = len(raw)
        _convert_raw_document_lists_to_streams(raw_response[0])
        for key, array_size in sizes.items():
            converted = cursor.get(key)  # [documents end to end], or [] for an empty batch
            if converted and isinstance(converted[0], bytes):
                data = converted[0]
                self.batch_counts.append((data, documents_in_array(array_size, len(data))))
        return raw_response

    def count_of(self, data: bytes) -> int | None:
        """Return the count measured for the batch ``data`` (just yielded), or None."""
        counts = self.batch_counts
        while counts:
            measured, count = counts.popleft()
            if measured is data:
                return count
        return None


def read_raw_batches(
    client: MongoClient, db: str, name: str, *, batch_size: int = 0
) -> Iterator[RawBatch]:
    """Yield ``db.name``'s documents as raw batches: BSON documents end to end, as sent.

    ``batch_size`` documents per batch (0: the server's default, up to 16 MiB).
    Each comes with its number of documents when the reply told it (see
    ``_CountingRawBatchCursor``), None otherwise.
    """
    cursor = _CountingRawBatchCursor(client[db][name], {}, batch_size=batch_size)
    try:
        for data in cursor:
            yield RawBatch(data, cursor.count_of(data))
    finally:
        cursor.close()


# -- oplog -------------------------------------------------------------------------------------


def oplog_start(client: MongoClient) -> Timestamp | None:
    """Return where an oplog capture starts (mongodump's rule; see the module docstring).

    None when the oplog is empty.
    """
    transactions = client.config["transactions"]
    oldest = transactions.find_one(
        {"state": {"$in": ["prepared", "inProgress"]}},
        sort=[("startOpTime.ts", 1)],
        projection={"startOpTime": 1},
    )
    if oldest is not None:
        start = (oldest.get("startOpTime") or {}).get("ts")
        if isinstance(start, Timestamp):
            return start
    return oplog_newest(client)


def oplog_newest(client: MongoClient) -> Timestamp | None:
    """Return the ``ts`` of the newest oplog entry, or None when the oplog is empty."""
    newest = client[OPLOG_DB][OPLOG_COLLECTION].find_one(
        {}, sort=[("$natural", -1)], projection={"ts": 1, "_id": 0}
    )
    if newest is None:
        return None
    ts = newest.get("ts")
    return ts if isinstance(ts, Timestamp) else None


def read_oplog(client: MongoClient, start: Timestamp, end: Timestamp) -> Iterator[bytes]:
    """Yield the oplog entries from ``start`` to ``end`` (both included) as raw batches."""
    cursor = client[OPLOG_DB][OPLOG_COLLECTION].find_raw_batches(
        {"$and": [{"ts": {"$gte": start}}, {"ts": {"$lte": end}}]},
        batch_size=DEFAULT_BATCH_DOCUMENTS,
    )
    try:
        yield from cursor
    finally:
        cursor.close()


# -- sharded clusters --------------------------------------------------------------------------


@contextlib.contextmanager
def balancer_stopped(client: MongoClient, settings: ConnectionSettings) -> Iterator[bool]:
    """Stop the balancer for the duration (through a mongos); restart it afterwards.

    Yield whether it was running (and so was stopped). It is restarted even
    when the body raises; a balancer that was already off is left off. Raise
    OperationFailed when it cannot be stopped, or restarted after a body that
    succeeded (after a failed body the restart's own failure is logged, and
    the body's error is the one raised).
    """
    with translate_errors(settings, "stopping the balancer"):
        status = client.admin.command("balancerStatus")
        running = status.get("mode", "full") != "off"
        if running:
            client.admin.command("balancerStop")
            log.info("balancer stopped for the dump")
    failed = False
    try:
        yield running
    except BaseException:
        failed = True
        raise
    finally:
        if running:
            try:
                with translate_errors(settings, "restarting the balancer"):
                    client.admin.command("balancerStart")
                log.info("balancer restarted")
            except OperationFailed as error:
                if not failed:
                    raise
                log.error("%s (restart it with sh.startBalancer())", error.message)
