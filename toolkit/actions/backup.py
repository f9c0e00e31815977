"""`mongo-toolkit backup create|list|show|verify|prune`.

create: under the destination's lock, read the server (collections, then each
collection's raw batches, then the oplog) straight into the dump writer,
then write ``manifest.json.sha256`` and, last, ``manifest.json``: the commit.
A run that fails cleanly deletes what it wrote and leaves a ``status.json``
saying why (the backup lists as failed); a run killed outright leaves partial
files and no manifest (it lists as incomplete). Neither is ever counted as a
good backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import bson
from bson import json_util
from bson.timestamp import Timestamp

from toolkit import __version__
from toolkit.actions import restore as restore_action
from toolkit.actions.progress import NoProgress, Progress
from toolkit.backup import compression as compress
from toolkit.backup.bsonstream import DocumentReader
from toolkit.backup.directory import render_metadata_json
from toolkit.backup.inventory import Inventory, inventory
from toolkit.backup.manifest import (
    CollectionStats,
    Manifest,
    ManifestFile,
    OplogPosition,
    OplogRange,
    new_backup_id,
)
from toolkit.backup.metrics import BackupMetrics, read_last_success, write_metrics
from toolkit.backup.namespaces import (
    NamespaceFilter,
    names_in,
    select_oplog_entry,
)
from toolkit.backup.reader import check_backup
from toolkit.backup.source import (
    MANIFEST_CHECKSUM,
    STATUS,
    BackupLocation,
    ResolvedSource,
    dump_path,
    is_backup_id,
    materialize,
    read_manifest,
    resolve_source,
)
from toolkit.backup.storage import MANIFEST, Storage, open_storage
from toolkit.backup.writer import (
    ArchiveDumpWriter,
    CollectionToWrite,
    DirectoryDumpWriter,
    DumpWriter,
)
from toolkit.errors import (
    BackupError,
    ConnectionFailed,
    PermissionDenied,
    ToolkitError,
    UsageError,
)
from toolkit.mongo import dump as mongo
from toolkit.mongo import restore as mongo_restore
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.plan.restore import RestoreStep, convert_index_spec
from toolkit.plan.retention import (
    BackupRecord,
    RetentionDecision,
    RetentionPolicy,
    parse_keep_within,
    parse_policy,
    plan_retention,
)

log = logging.getLogger(__name__)

LAYOUTS: Final = ("archive", "directory")
DEFAULT_LAYOUT: Final = "archive"
DEFAULT_COMPRESSION: Final = "zstd"
DEFAULT_PARALLEL: Final = 4
MAX_THREADS: Final = 4
VERIFIED_RECORD: Final = "verified/{id}.json"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def default_threads() -> int:
    """zstd worker threads for a dump: one per CPU this process may use, at most MAX_THREADS.

    Each worker holds a few job buffers (about 20 MB at the default level),
    so the cap keeps a dump's memory flat on big machines.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(MAX_THREADS, available))


# -- options --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateOptions:
    """Everything `backup create` needs, command line and catalog defaults merged."""

    destination: str
    layout: str = DEFAULT_LAYOUT
    compression: str = DEFAULT_COMPRESSION
    level: int | None = None
    oplog: bool = False
    databases: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    parallel: int = DEFAULT_PARALLEL
    label: str | None = None
    metrics_file: Path | None = None
    s3_endpoint_url: str | None = None
    threads: int = field(default_factory=lambda: default_threads())

    @property
    def selection(self) -> NamespaceFilter:
        return NamespaceFilter(self.databases, self.include, self.exclude)


def create_options(
    catalog_backup: Mapping[str, Any] | None,
    *,
    destination: str | None,
    layout: str | None,
    compression: str | None,
    level: int | None,
    oplog: bool | None,
    databases: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    parallel: int | None,
    label: str | None,
    metrics_file: Path | None,
    s3_endpoint_url: str | None,
) -> CreateOptions:
    """Merge the command line over the catalog's ``backup`` section over the defaults.

    Raise UsageError when there is no destination or a value is out of range.
    """
    section = dict(catalog_backup or {})
    destination = destination or section.get("destination")
    if not destination:
        raise UsageError(
            "no backup destination",
            hint="pass --to DEST (a directory or s3://bucket/prefix), "
            "or set backup.destination in the catalog",
        )
    compression = compression or section.get("compress") or DEFAULT_COMPRESSION
    if level is None:
        level = section.get("level")
    if level is not None and compression == "none":
        raise UsageError("--level needs a compression (zstd or gzip)")
    if level is not None and compression == "gzip" and not 1 <= level <= 9:
        raise UsageError(f"gzip levels are 1 to 9, not {level}")
    if level is not None and compression == "zstd" and not 1 <= level <= 22:
        raise UsageError(f"zstd levels are 1 to 22, not {level}")
    if label is not None:
        try:
            new_backup_id(utcnow(), label)
        except ValueError as error:
            raise UsageError(f"--label: {error}") from error
    if parallel is not None and parallel < 1:
        raise UsageError("--parallel must be at least 1")
    return CreateOptions(
        destination=str(destination),
        layout=layout or section.get("format") or DEFAULT_LAYOUT,
        compression=compression,
        level=level,
        oplog=bool(section.get("oplog", False)) if oplog is None else oplog,
        databases=databases or tuple(section.get("databases") or ()),
        include=include,
        exclude=exclude,
        parallel=parallel or DEFAULT_PARALLEL,
        label=label,
        metrics_file=metrics_file,
        s3_endpoint_url=s3_endpoint_url,
    )


# -- create ---------------------------------------------------------------------------------


@dataclass
class CreateResult:
    """A backup that completed: its manifest, where it is, and what it cost."""

    manifest: Manifest
    destination: str
    seconds: float
    bytes: int

    @property
    def documents(self) -> int:
        return sum(item.documents for item in self.manifest.collections)

    def as_dict(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            "id": manifest.id,
            "status": manifest.status,
            "destination": self.destination,
            "location": f"{self.destination.rstrip('/')}/{manifest.id}",
            "started_at": manifest.started_at,
            "finished_at": manifest.finished_at,
            "seconds": round(self.seconds, 3),
            "bytes": self.bytes,
            "documents": self.documents,
            "layout": manifest.layout,
            "compression": manifest.compression,
            "server_version": manifest.server_version,
            "topology": manifest.topology,
            "databases": list(manifest.databases),
            "oplog": None if manifest.oplog is None else manifest.oplog.to_document(),
            "collections": [item.to_document() for item in manifest.collections],
            "files": [item.to_document() for item in manifest.files],
        }


def create(
    settings: ConnectionSettings,
    options: CreateOptions,
    *,
    progress: Progress | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> CreateResult:
    """Dump the server of ``settings`` into a new backup at ``options.destination``.

    Write the metrics file (if asked) whatever happens. Raise UsageError for
    ``--oplog`` where mongodump refuses it, BackupError for storage
    failures or a held lock, OperationFailed for server failures.
    """
    started = time.monotonic()
    storage = open_storage(options.destination, s3_endpoint_url=options.s3_endpoint_url)
    result: CreateResult | None = None
    try:
        result = _create(settings, options, storage, progress or NoProgress(), clock)
        return result
    finally:
        if options.metrics_file is not None:
            _write_run_metrics(options, storage, result, time.monotonic() - started)


def _write_run_metrics(
    options: CreateOptions, storage: Storage, result: CreateResult | None, seconds: float
) -> None:
    assert options.metrics_file is not None
    now = time.time()
    metrics = BackupMetrics(
        destination=storage.url,
        succeeded=result is not None,
        finished_at=now,
        duration_seconds=seconds,
        bytes=result.bytes if result is not None else 0,
        documents=result.documents if result is not None else 0,
        last_success=now if result is not None else read_last_success(options.metrics_file),
    )
    try:
        write_metrics(options.metrics_file, metrics)
    except BackupError as error:
        if result is not None:
            raise
        log.error("%s", error.message)  # the run's own error is the one to report


def _unused_backup_id(
    storage: Storage, label: str | None, clock: Callable[[], dt.datetime]
) -> tuple[str, dt.datetime]:
    """Return a new id (ids are to the second: wait for the next second if this one is taken)."""
    existing = set(storage.backup_ids())
    for _attempt in range(5):
        started_at = clock()
        backup_id = new_backup_id(started_at, label)
        if backup_id not in existing:
            return backup_id, started_at
        time.sleep(1.0 - started_at.microsecond / 1e6 + 0.01)
        existing = set(storage.backup_ids())
    raise BackupError(f"no free backup id in {storage.url} (the clock does not advance?)")


def _owner() -> str:
    return f"backup create on {socket.gethostname()}"


def _create(
    settings: ConnectionSettings,
    options: CreateOptions,
    storage: Storage,
    progress: Progress,
    clock: Callable[[], dt.datetime],
) -> CreateResult:
    started = time.monotonic()
    with storage.lock(_owner()):
        backup_id, started_at = _unused_backup_id(storage, options.label, clock)
        try:
            manifest = _dump(settings, options, storage, backup_id, started_at, progress, clock)
        except BaseException as error:
            _record_failure(storage, backup_id, started_at, error, clock)
            raise
    total = sum(item.size for item in manifest.files)
    return CreateResult(manifest, storage.url, time.monotonic() - started, total)


def _record_failure(
    storage: Storage,
    backup_id: str,
    started_at: dt.datetime,
    error: BaseException,
    clock: Callable[[], dt.datetime],
) -> None:
    """Delete what a failed run wrote and leave ``status.json`` saying why (best effort)."""
    message = (
        error.message if isinstance(error, ToolkitError) else f"{type(error).__name__}: {error}"
    )
    status = {
        "status": "failed",
        "id": backup_id,
        "started_at": started_at.isoformat(),
        "failed_at": clock().isoformat(),
        "error": message,
        "toolkit_version": __version__,
    }
    try:
        with contextlib.suppress(BackupError):
            storage.delete_backup(backup_id)
        storage.write_bytes(
            backup_id, STATUS, (json.dumps(status, indent=2) + "\n").encode("utf-8")
        )
    except Exception:  # the failure being reported matters more than its record
        log.warning("could not record the failure of backup %s", backup_id, exc_info=True)


def _check_topology(options: CreateOptions, server: mongo.ServerInfo) -> None:
    if not options.oplog:
        return
    if server.topology == "sharded":
        # mongodump: "can't use --oplog option when dumping from a mongos".
        raise UsageError(
            "can't use --oplog when dumping through a mongos (as mongodump refuses it)",
            hint="a point-in-time backup of a sharded cluster needs each shard's oplog captured "
            "separately, which this toolkit does not do; back up without --oplog",
        )
    if server.topology != "replica set":
        raise UsageError(
            "--oplog needs a replica set: a standalone server has no oplog",
            hint="back up without --oplog, or run the server as a (single-member) replica set",
        )


def _metadata_json(collection: mongo.SourceCollection) -> str:
    return render_metadata_json(
        options=collection.options,
        indexes=collection.indexes,
        uuid=collection.uuid,
        collection_name=collection.name,
        type=collection.type,
    )


def _open_writer(
    options: CreateOptions, storage: Storage, backup_id: str, server: mongo.ServerInfo
) -> DumpWriter:
    compression = cast(compress.Compression, options.compression)
    if options.layout == "archive":
        return ArchiveDumpWriter(
            storage,
            backup_id,
            compression=compression,
            level=options.level,
            threads=options.threads,
            server_version=server.version,
            tool_version=f"mongo-toolkit {__version__}",
            concurrent_collections=options.parallel,
        )
    return DirectoryDumpWriter(
        storage,
        backup_id,
        compression=compression,
        level=options.level,
        threads=options.threads,
        server_version=server.version,
        tool_version=f"mongo-toolkit {__version__}",
    )


@dataclass
class _OplogCapture:
    start: Timestamp
    end: Timestamp | None = None
    entries: int = 0
    first: Timestamp | None = None
    last: Timestamp | None = None


def _dump(
    settings: ConnectionSettings,
    options: CreateOptions,
    storage: Storage,
    backup_id: str,
    started_at: dt.datetime,
    progress: Progress,
    clock: Callable[[], dt.datetime],
) -> Manifest:
    selection = options.selection
    client = connect(settings)
    try:
        with translate_errors(settings, "reading the server's version and topology"):
            server = mongo.observe_server(client)
        _check_topology(options, server)
        with translate_errors(settings, "listing collections and indexes"):
            collections = mongo.observe_collections(
                client,
                server.version,
                accepts_database=selection.accepts_database,
                accepts=selection.accepts,
            )
        # Through a mongos the balancer must not move chunks while the dump reads them.
        balancer: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
        if server.topology == "sharded":
            balancer = mongo.balancer_stopped(client, settings)
        with balancer:
            files, totals, capture = _dump_data(
                client, settings, options, storage, backup_id, server, collections, progress
            )
    finally:
        client.close()
    oplog = None
    if capture is not None:
        first = capture.first or capture.start
        last = capture.last or capture.end or capture.start
        oplog = OplogRange(
            OplogPosition(first.time, first.inc),
            OplogPosition(last.time, last.inc),
            capture.entries,
        )
    manifest = Manifest(
        id=backup_id,
        label=options.label,
        started_at=started_at,
        finished_at=max(clock(), started_at),
        toolkit_version=__version__,
        server_version=server.version,
        topology=server.topology,
        layout=options.layout,
        compression=options.compression,
        databases=tuple(names_in(collection.namespace for collection in collections)),
        oplog=oplog,
        files=tuple(files),
        collections=tuple(
            CollectionStats(collection.db, collection.name, *totals[collection.namespace])
            for collection in collections
        ),
    )
    _commit(storage, backup_id, manifest)
    return manifest


def _commit(storage: Storage, backup_id: str, manifest: Manifest) -> None:
    """Write the manifest's checksum, then the manifest itself: the backup is complete."""
    data = manifest.to_json()
    digest = hashlib.sha256(data).hexdigest()
    storage.write_bytes(backup_id, MANIFEST_CHECKSUM, f"{digest}  {MANIFEST}\n".encode("ascii"))
    storage.write_bytes(backup_id, MANIFEST, data)


def _dump_data(
    client: Any,
    settings: ConnectionSettings,
    options: CreateOptions,
    storage: Storage,
    backup_id: str,
    server: mongo.ServerInfo,
    collections: list[mongo.SourceCollection],
    progress: Progress,
) -> tuple[list[ManifestFile], dict[str, tuple[int, int]], _OplogCapture | None]:
    writer = _open_writer(options, storage, backup_id, server)
    capture: _OplogCapture | None = None
    try:
        if options.oplog:
            with translate_errors(settings, "reading where the oplog starts"):
                start = mongo.oplog_start(client)
            if start is None:
                raise BackupError(
                    "the replica set's oplog is empty: nothing to start the capture at"
                )
            capture = _OplogCapture(start)
        writer.start(
            [CollectionToWrite(c.db, c.name, c.type, _metadata_json(c)) for c in collections],
            oplog=options.oplog,
        )
        totals: dict[str, tuple[int, int]] = {}

        counting = not isinstance(progress, NoProgress)
        stopping = threading.Event()  # set by the first failure: the other workers stop too

        def dump_one(collection: mongo.SourceCollection) -> None:
            try:
                dump_collection(collection)
            except BaseException:
                stopping.set()
                raise

        def dump_collection(collection: mongo.SourceCollection) -> None:
            namespace = collection.namespace
            if stopping.is_set():
                return
            with translate_errors(settings, f"dumping {namespace}"):
                total = mongo.estimate_count(client, collection) if counting else None
                progress.start(namespace, total)
                if collection.data_name is not None:
                    data_name = collection.data_name
                    batch_size = mongo.batch_size_for(client, collection.db, data_name)
                    for batch in mongo.read_raw_batches(
                        client, collection.db, data_name, batch_size=batch_size
                    ):
                        if stopping.is_set():
                            return
                        count = writer.write_block(
                            collection.db, collection.name, batch.data, batch.documents
                        )
                        progress.advance(namespace, count, len(batch.data))
            written = writer.end_collection(collection.db, collection.name)
            totals[namespace] = (written.documents, written.bytes)
            progress.done(namespace)

        with ThreadPoolExecutor(max_workers=options.parallel, thread_name_prefix="dump") as pool:
            futures = [pool.submit(dump_one, collection) for collection in collections]
            try:
                for future in futures:
                    future.result()
            except BaseException:
                stopping.set()
                for future in futures:
                    future.cancel()
                raise
        if capture is not None:
            _dump_oplog(client, settings, options, writer, capture, progress)
        files = writer.finish()
    except BaseException as error:
        writer.abort(error)
        raise
    return files, totals, capture


def _dump_oplog(
    client: Any,
    settings: ConnectionSettings,
    options: CreateOptions,
    writer: DumpWriter,
    capture: _OplogCapture,
    progress: Progress,
) -> None:
    """Dump the oplog from the capture's start to the newest entry (mongodump --oplog)."""
    selection = options.selection
    progress.start("oplog", None)
    with translate_errors(settings, "dumping the oplog"):
        end = mongo.oplog_newest(client)
        capture.end = end or capture.start
        for block in mongo.read_oplog(client, capture.start, capture.end):
            entries = list(DocumentReader(io.BytesIO(block), "the oplog batch").documents())
            if capture.first is None and entries:
                first = bson.decode(entries[0][1]).get("ts")
                if first != capture.start:
                    raise BackupError(
                        f"oplog overflow: the entry at {capture.start} where the capture starts "
                        "is no longer in the oplog (it rolled over during the dump)",
                        hint="make the oplog larger (replSetResizeOplog) or back up when fewer "
                        "writes happen",
                    )
                capture.first = first
            kept: list[bytes] = []
            for _offset, raw in entries:
                if not selection.everything:
                    entry = bson.decode(raw)
                    chosen = select_oplog_entry(
                        entry, selection.accepts, selection.accepts_database
                    )
                    if chosen is None:
                        continue
                    if chosen != entry:
                        raw = bson.encode(chosen)
                kept.append(raw)
            if entries:
                capture.last = bson.decode(entries[-1][1]).get("ts")
            if kept:
                count = writer.write_oplog_block(b"".join(kept))
                capture.entries += count
                progress.advance("oplog", count, sum(len(raw) for raw in kept))
    if capture.first is None:
        raise BackupError(
            f"oplog overflow: no entry at {capture.start} where the capture starts "
            "(it rolled over during the dump)"
        )
    writer.end_oplog()
    progress.done("oplog")


# -- list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BackupSummary:
    """One backup as `backup list` shows it."""

    id: str
    started_at: dt.datetime
    status: str  # complete, incomplete, failed
    size: int
    databases: tuple[str, ...] | None
    duration_seconds: float | None
    last_verified: dt.datetime | None
    verified_ok: bool | None
    layout: str | None = None
    compression: str | None = None
    oplog: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started_at": self.started_at,
            "status": self.status,
            "size": self.size,
            "databases": None if self.databases is None else list(self.databases),
            "duration_seconds": self.duration_seconds,
            "last_verified": self.last_verified,
            "verified_ok": self.verified_ok,
            "layout": self.layout,
            "compression": self.compression,
            "oplog": self.oplog,
            "error": self.error,
        }


def _started_at_from_id(backup_id: str) -> dt.datetime:
    return dt.datetime.strptime(backup_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


def _verified(storage: Storage, backup_id: str) -> tuple[dt.datetime | None, bool | None]:
    try:
        data = storage.read_record(VERIFIED_RECORD.format(id=backup_id))
    except BackupError:
        return None, None
    if data is None:
        return None, None
    try:
        record = json.loads(data)
        return dt.datetime.fromisoformat(record["verified_at"]), bool(record["ok"])
    except (ValueError, KeyError, TypeError):
        return None, None


def summarize(storage: Storage, backup_id: str) -> BackupSummary:
    """Return what `backup list` says about one backup (its status from its files)."""
    files = {item.path: item.size for item in _files_or_none(storage, backup_id)}
    size = sum(files.values())
    verified_at, verified_ok = _verified(storage, backup_id)
    started_at = _started_at_from_id(backup_id)
    if MANIFEST in files:
        try:
            manifest = read_manifest(BackupLocation(storage, backup_id))
        except BackupError as error:
            return BackupSummary(
                backup_id,
                started_at,
                "incomplete",
                size,
                None,
                None,
                verified_at,
                verified_ok,
                error=error.message,
            )
        return BackupSummary(
            backup_id,
            manifest.started_at,
            "complete",
            size,
            manifest.databases,
            (manifest.finished_at - manifest.started_at).total_seconds(),
            verified_at,
            verified_ok,
            manifest.layout,
            manifest.compression,
            None if manifest.oplog is None else manifest.oplog.to_document(),
        )
    if STATUS in files:
        reason: str | None = None
        with contextlib.suppress(Exception), storage.open_read(backup_id, STATUS) as handle:
            reason = str(json.loads(handle.read()).get("error"))
        return BackupSummary(
            backup_id,
            started_at,
            "failed",
            size,
            None,
            None,
            verified_at,
            verified_ok,
            error=reason,
        )
    return BackupSummary(backup_id, started_at, "incomplete", size, None, None, None, None)


def _files_or_none(storage: Storage, backup_id: str) -> list[Any]:
    try:
        return storage.files(backup_id)
    except BackupError:
        return []


def list_backups(storage: Storage) -> list[BackupSummary]:
    """Return every backup in ``storage``, oldest first.

    Directories whose names are not backup ids are not ours: never listed, never pruned.
    """
    return [
        summarize(storage, backup_id)
        for backup_id in storage.backup_ids()
        if is_backup_id(backup_id)
    ]


# -- show -----------------------------------------------------------------------------------


def show(source: str, *, destination: str | None, s3_endpoint_url: str | None) -> Inventory:
    """Return what the backup or dump at ``source`` holds, read from its files alone."""
    resolved = resolve_source(source, destination=destination, s3_endpoint_url=s3_endpoint_url)
    with materialize(resolved) as (path, manifest):
        return inventory(path if manifest is None else dump_path(path, manifest))


# -- verify ---------------------------------------------------------------------------------


@dataclass
class RestoreTest:
    """`verify --restore-test`: what went into the scratch databases, and how it compared."""

    uri: str
    databases: dict[str, str]  # dumped database -> scratch database
    collections: int = 0
    documents: int = 0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "databases": self.databases,
            "collections": self.collections,
            "documents": self.documents,
            "problems": self.problems,
        }


@dataclass
class VerifyResult:
    id: str
    location: str
    files: int
    bytes: int
    documents: int
    problems: list[str]
    restore_test: RestoreTest | None = None
    verified_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and (self.restore_test is None or not self.restore_test.problems)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "location": self.location,
            "ok": self.ok,
            "files": self.files,
            "bytes": self.bytes,
            "documents": self.documents,
            "problems": self.problems,
            "restore_test": None if self.restore_test is None else self.restore_test.as_dict(),
            "verified_at": self.verified_at,
        }


def _check_manifest_checksum(location: BackupLocation) -> list[str]:
    storage, backup_id = location.storage, location.backup_id
    with storage.open_read(backup_id, MANIFEST) as handle:
        data = handle.read()
    if not storage.exists(backup_id, MANIFEST_CHECKSUM):
        return [f"{MANIFEST_CHECKSUM}: missing"]
    with storage.open_read(backup_id, MANIFEST_CHECKSUM) as handle:
        recorded = handle.read()
    expected = f"{hashlib.sha256(data).hexdigest()}  {MANIFEST}\n".encode("ascii")
    if recorded == expected:
        return []
    text = recorded.decode("ascii", "replace")
    if len(recorded) != len(expected) or not text[:64].isalnum() or text[64:] != f"  {MANIFEST}\n":
        return [f"{MANIFEST_CHECKSUM}: damaged (not '<sha256>  {MANIFEST}')"]
    return [
        f"{MANIFEST}: SHA-256 {hashlib.sha256(data).hexdigest()}, {MANIFEST_CHECKSUM} says "
        f"{text[:64]} (one of the two files is damaged)"
    ]


def verify(
    settings: ConnectionSettings,
    source: str,
    *,
    destination: str | None,
    s3_endpoint_url: str | None,
    restore_test: bool = False,
    into: str | None = None,
    on_file: Callable[[str, int], None] | None = None,
    clock: Callable[[], dt.datetime] = utcnow,
) -> VerifyResult:
    """Check a backup of ours: every file's size and SHA-256, its content, and the counts.

    With ``restore_test``, also restore it into scratch databases (on
    ``into``, else the server of ``settings``), compare counts and index
    specs, and drop the scratch databases. The outcome is recorded for
    `backup list`. Raise BackupError for a backup that is not ours or is
    incomplete.
    """
    resolved = resolve_source(source, destination=destination, s3_endpoint_url=s3_endpoint_url)
    location = resolved.location
    if location is None:
        raise BackupError(
            f"{source} is not a backup of ours (no manifest.json to verify against)",
            hint="`backup show` reads any dump and reports damage with its file and offset",
        )
    problems: list[str] = []
    try:
        manifest = read_manifest(location)
    except BackupError as error:
        if location.storage.exists(location.backup_id, MANIFEST):
            # The manifest itself is damaged: that is the verification's finding.
            manifest = None
            problems.append(f"{MANIFEST}: {error.message}")
        else:
            raise
    result = VerifyResult(location.backup_id, location.url, 0, 0, 0, problems)
    if manifest is not None:
        problems.extend(_check_manifest_checksum(location))
        check = check_backup(location, manifest, on_file=on_file)
        result.files = check.files + 2
        result.bytes = check.bytes
        result.documents = check.documents
        problems.extend(check.problems)
        if restore_test and not problems:
            target = ConnectionSettings(uri=into, timeout=settings.timeout) if into else settings
            result.restore_test = _restore_test(target, location, manifest)
    result.verified_at = clock()
    record = {
        "verified_at": result.verified_at.isoformat(),
        "ok": result.ok,
        "problems": problems + (result.restore_test.problems if result.restore_test else []),
        "restore_test": restore_test,
    }
    try:
        location.storage.write_record(
            VERIFIED_RECORD.format(id=location.backup_id), json.dumps(record).encode("utf-8")
        )
    except BackupError as error:
        log.warning("could not record the verification: %s", error.message)
    return result


def _scratch_names(databases: tuple[str, ...]) -> dict[str, str]:
    token = uuid.uuid4().hex[:6]
    return {db: f"tkverify_{token}_{db}"[:63] for db in databases}


def _restore_test(
    settings: ConnectionSettings, location: BackupLocation, manifest: Manifest
) -> RestoreTest:
    """Restore into scratch databases, compare counts, options and indexes, drop them."""
    databases = tuple(db for db in manifest.databases if db != "admin")
    names = _scratch_names(databases)
    test = RestoreTest(settings.masked_uri, names)
    if not databases:
        return test
    request = restore_action.RestoreRequest(
        source=location.url,
        drop=True,
        include=tuple(f"{db}.*" for db in databases),
        ns_from=tuple(f"{db}.$collection$" for db in databases),
        ns_to=tuple(f"{names[db]}.$collection$" for db in databases),
        users_and_roles=False,
        parallel=DEFAULT_PARALLEL,
    )
    expected = {f"{item.db}.{item.collection}": item.documents for item in manifest.collections}
    client = connect(settings)
    try:
        try:
            outcome = restore_action.restore_resolved(
                settings, request, ResolvedSource(location.url, location=location)
            )
        except (ConnectionFailed, PermissionDenied):
            raise  # the scratch server's trouble, not the backup's: nothing is recorded
        except ToolkitError as error:
            test.problems.append(f"the restore failed: {error.message}")
            return test
        wanted_indexes = {
            step.namespace: list(step.indexes)
            for step in outcome.steps
            if step.kind == "create-indexes"
        }
        for step in outcome.steps:
            if step.kind not in ("create", "create-view"):
                continue
            test.collections += 1
            test.problems.extend(
                _compare_restored(client, settings, step, expected, wanted_indexes, test)
            )
    finally:
        with (
            contextlib.suppress(Exception),
            translate_errors(settings, "dropping scratch databases"),
        ):
            for scratch in names.values():
                mongo_restore.drop_database(client, scratch)
        client.close()
    return test


def _compare_restored(
    client: Any,
    settings: ConnectionSettings,
    step: RestoreStep,
    expected: Mapping[str, int],
    wanted_indexes: Mapping[str, list[Mapping[str, Any]]],
    test: RestoreTest,
) -> Iterator[str]:
    """Compare one restored collection with what the dump holds; yield each difference."""
    db, name = step.namespace.split(".", 1)
    with translate_errors(settings, f"reading {step.namespace}"):
        options, indexes = mongo_restore.observe_collection(client, db, name)
        view = step.kind == "create-view"
        count = 0 if view or options is None else mongo_restore.count_documents(client, db, name)
    test.documents += count
    if options is None:
        yield f"{step.source}: not restored"
        return
    want = expected.get(step.source, 0)
    if count != want:
        yield f"{step.source}: {count} documents restored, the manifest says {want}"
    want_options = dict(step.options or {})
    id_index = want_options.pop("idIndex", None)
    if _plain(options) != _plain(want_options):
        yield (
            f"{step.source}: options {_plain(options)} restored, the dump has "
            f"{_plain(want_options)}"
        )
    if view:
        return
    want_specs = ([id_index] if id_index is not None else []) + list(
        wanted_indexes.get(step.namespace, [])
    )
    if _index_view(indexes) != _index_view(want_specs):
        yield (
            f"{step.source}: indexes {_index_view(indexes)} restored, the dump has "
            f"{_index_view(want_specs)}"
        )


def _plain(value: Any) -> Any:
    return json.loads(json_util.dumps(value, json_options=json_util.CANONICAL_JSON_OPTIONS))


def _index_view(indexes: list[Any]) -> list[Any]:
    return sorted(
        (_plain(convert_index_spec(index)) for index in indexes), key=lambda spec: spec["name"]
    )


# -- prune ----------------------------------------------------------------------------------


def retention_policy(
    catalog_backup: Mapping[str, Any] | None, flags: Mapping[str, Any]
) -> RetentionPolicy:
    """Return the policy from the command line's --keep-* flags, else the catalog's retention.

    Raise UsageError when neither sets a rule, or a value is invalid.
    """
    given = {key: value for key, value in flags.items() if value is not None}
    source = "the command line"
    if not given:
        given = dict((catalog_backup or {}).get("retention") or {})
        source = "the catalog's backup.retention"
    if not given:
        raise UsageError(
            "no retention rule: prune would delete every backup but the newest",
            hint="pass --keep-daily 7 (and others), or set backup.retention in the catalog",
        )
    if isinstance(given.get("keep_within"), str):
        try:
            parse_keep_within(given["keep_within"])
        except ValueError as error:
            raise UsageError(f"--keep-within: {error}", hint="e.g. 36h, 7d, 2w") from error
    try:
        return parse_policy(given)
    except ValueError as error:
        raise UsageError(f"invalid retention in {source}: {error}") from error


@dataclass
class PruneResult:
    destination: str
    dry_run: bool
    policy: RetentionPolicy
    decisions: list[RetentionDecision]
    summaries: dict[str, BackupSummary]
    deleted: list[str]

    def as_dict(self) -> dict[str, Any]:
        policy = {
            key: (value.total_seconds() if isinstance(value, dt.timedelta) else value)
            for key, value in self.policy.__dict__.items()
            if value is not None
        }
        return {
            "destination": self.destination,
            "dry_run": self.dry_run,
            "policy": policy,
            "kept": [d.id for d in self.decisions if d.keep],
            "deleted": self.deleted if not self.dry_run else [],
            "would_delete": [d.id for d in self.decisions if not d.keep] if self.dry_run else [],
            "decisions": [
                {
                    "id": d.id,
                    "status": self.summaries[d.id].status,
                    "started_at": self.summaries[d.id].started_at,
                    "keep": d.keep,
                    "rules": list(d.rules),
                    "reason": d.reason,
                }
                for d in self.decisions
            ],
        }


def prune(
    storage: Storage,
    policy: RetentionPolicy,
    *,
    dry_run: bool,
    now: dt.datetime | None = None,
    on_delete: Callable[[RetentionDecision], None] | None = None,
) -> PruneResult:
    """Decide every backup with borg's rules; delete the ones no rule keeps (not on a dry run).

    Holds the destination's lock while deleting, so it never races a
    running `backup create`.
    """
    moment = now or utcnow()

    def decide() -> tuple[list[RetentionDecision], dict[str, BackupSummary]]:
        summaries = {summary.id: summary for summary in list_backups(storage)}
        records = [
            BackupRecord(summary.id, summary.started_at, summary.status)  # type: ignore[arg-type]
            for summary in summaries.values()
        ]
        try:
            return plan_retention(records, policy, moment), summaries
        except ValueError as error:
            raise UsageError(str(error)) from error

    if dry_run:
        decisions, summaries = decide()
        return PruneResult(storage.url, True, policy, decisions, summaries, [])
    deleted: list[str] = []
    with storage.lock("backup prune"):
        decisions, summaries = decide()
        for decision in decisions:
            if decision.keep:
                continue
            storage.delete_backup(decision.id)
            with contextlib.suppress(BackupError):
                storage.delete_record(VERIFIED_RECORD.format(id=decision.id))
            deleted.append(decision.id)
            if on_delete is not None:
                on_delete(decision)
    return PruneResult(storage.url, False, policy, decisions, summaries, deleted)


def open_destination(destination: str | None, s3_endpoint_url: str | None, what: str) -> Storage:
    """Return the storage of ``destination``; raise UsageError when there is none."""
    if not destination:
        raise UsageError(
            f"no destination to {what}",
            hint="pass --from DEST (a directory or s3://bucket/prefix), "
            "or set backup.destination in the catalog",
        )
    return open_storage(destination, s3_endpoint_url=s3_endpoint_url)
