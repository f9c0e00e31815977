"""`mongo-toolkit restore`: observe the target, plan the steps, then run exactly them.

The source is checked before anything is written: a backup of ours against
its manifest (size and SHA-256 of every file), any other dump by reading it
whole (framing and structure of every document, an archive's CRCs), so a
damaged source is refused with the file and offset and nothing restored.
Then the steps of ``toolkit.plan.restore`` run in mongorestore's order; a
dry run prints them and writes nothing.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

import bson
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from toolkit.actions.progress import NoProgress, Progress
from toolkit.backup.archive import ArchiveDocument, data_collection
from toolkit.backup.bsonstream import DocumentReader
from toolkit.backup.contents import DumpContents, read_contents
from toolkit.backup.inventory import inventory
from toolkit.backup.manifest import Manifest, verify_files
from toolkit.backup.namespaces import (
    ROLES_NAMESPACE,
    USERS_NAMESPACE,
    NamespaceFilter,
    NamespaceRenamer,
    OplogTimestamp,
    parse_oplog_limit,
    select_oplog_entry,
    split_namespace,
)
from toolkit.backup.source import ResolvedSource, dump_path, materialize, resolve_source
from toolkit.errors import BackupError, OperationFailed, ToolkitError, UsageError
from toolkit.mongo import restore as mongo
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.plan.restore import (
    DumpedCollection,
    OplogSummary,
    RestoreOptions,
    RestoreStep,
    plan_restore,
)

log = logging.getLogger(__name__)

BATCH_DOCUMENTS: Final = 1000
BATCH_BYTES: Final = 16 * 1024 * 1024
RAW_ENTRY: Final[CodecOptions[RawBSONDocument]] = CodecOptions(document_class=RawBSONDocument)


@dataclass(frozen=True)
class RestoreRequest:
    """The command line of `restore` (SOURCE and its options)."""

    source: str
    destination: str | None = None
    s3_endpoint_url: str | None = None
    drop: bool = False
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    ns_from: tuple[str, ...] = ()
    ns_to: tuple[str, ...] = ()
    oplog_replay: bool = False
    oplog_limit: str | None = None
    parallel: int = 4
    dry_run: bool = False
    users_and_roles: bool = True


@dataclass
class CollectionOutcome:
    """What was restored into one target namespace."""

    namespace: str
    source: str
    read: int = 0
    inserted: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "source": self.source,
            "documents": self.read,
            "inserted": self.inserted,
            "duplicates": self.duplicates,
        }


@dataclass
class OplogOutcome:
    applied: int = 0
    skipped: int = 0
    last: OplogTimestamp | None = None
    stopped_at_limit: bool = False

    def as_dict(self, limit: OplogTimestamp | None) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "skipped": self.skipped,
            "limit": None if limit is None else {"t": limit.t, "i": limit.i},
            "last_applied": None if self.last is None else {"t": self.last.t, "i": self.last.i},
        }


@dataclass
class RestoreResult:
    """The plan, and what running it did (nothing for a dry run)."""

    source: str
    dry_run: bool
    steps: list[RestoreStep]
    oplog_limit: OplogTimestamp | None = None
    collections: dict[str, CollectionOutcome] = field(default_factory=dict)
    users: int = 0
    roles: int = 0
    oplog: OplogOutcome | None = None
    indexes: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return sum(outcome.duplicates for outcome in self.collections.values())

    @property
    def inserted(self) -> int:
        return sum(outcome.inserted for outcome in self.collections.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "dry_run": self.dry_run,
            "steps": [step.as_dict() for step in self.steps],
            "collections": [outcome.as_dict() for outcome in self.collections.values()],
            "inserted": self.inserted,
            "duplicates": self.duplicates,
            "users": self.users,
            "roles": self.roles,
            "oplog": None if self.oplog is None else self.oplog.as_dict(self.oplog_limit),
            "indexes": self.indexes,
            "warnings": self.warnings,
        }


def restore_options(request: RestoreRequest) -> RestoreOptions:
    """Check the request's options together; return the planner's options.

    Raise UsageError for an --oplog-limit without --oplog-replay, or renames
    with an oplog replay (the oplog names the dump's namespaces).
    """
    if request.oplog_limit is not None and not request.oplog_replay:
        raise UsageError("--oplog-limit needs --oplog-replay")
    if request.oplog_replay and (request.ns_from or request.ns_to):
        raise UsageError(
            "--oplog-replay cannot be combined with --ns-from/--ns-to",
            hint="the oplog names the dump's namespaces; restore under the original names",
        )
    if request.parallel < 1:
        raise UsageError("--parallel must be at least 1")
    limit = parse_oplog_limit(request.oplog_limit) if request.oplog_limit is not None else None
    return RestoreOptions(
        drop=request.drop,
        selection=NamespaceFilter(include=request.include, exclude=request.exclude),
        renamer=NamespaceRenamer(request.ns_from, request.ns_to),
        oplog_replay=request.oplog_replay,
        oplog_limit=limit,
        users_and_roles=request.users_and_roles,
    )


def restore(
    settings: ConnectionSettings,
    request: RestoreRequest,
    *,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore a dump (a backup id, an S3 backup or a path) into the server of ``settings``.

    Raise UsageError for contradicting options, BackupError for a source
    that is missing, incomplete or damaged (before anything is written), and
    OperationFailed naming the step that failed and what was done before it.
    """
    resolved = resolve_source(
        request.source, destination=request.destination, s3_endpoint_url=request.s3_endpoint_url
    )
    return restore_resolved(settings, request, resolved, progress=progress)


def restore_resolved(
    settings: ConnectionSettings,
    request: RestoreRequest,
    resolved: ResolvedSource,
    *,
    progress: Progress | None = None,
) -> RestoreResult:
    """Restore the source ``resolved`` names (see ``restore``)."""
    options = restore_options(request)
    with materialize(resolved) as (path, manifest):
        counts, oplog = _check_source(path, manifest, skip=request.dry_run)
        contents = read_contents(path if manifest is None else dump_path(path, manifest))
        if options.oplog_replay and not contents.has_oplog:
            raise UsageError(
                f"{resolved.description} holds no oplog to replay",
                hint="only a dump taken with --oplog (mongodump --oplog, backup create --oplog) "
                "has one",
            )
        collections = [
            DumpedCollection(
                db=item.db,
                collection=item.collection,
                type=item.type,
                options=dict(item.metadata.options) if item.metadata else {},
                indexes=list(item.metadata.indexes) if item.metadata else [],
                documents=counts.get(item.namespace),
            )
            for item in contents.collections
        ]
        client = connect(settings)
        try:
            targets = {
                split_namespace(options.renamer.rename(item.namespace))[0]
                for item in collections
                if options.selection.accepts(item.namespace)
            }
            with translate_errors(settings, "reading the target's collections"):
                existing = mongo.observe_namespaces(client, targets)
            try:
                steps = plan_restore(collections, existing, options, oplog=oplog)
            except ValueError as error:
                raise UsageError(str(error)) from error
            result = RestoreResult(
                resolved.description, request.dry_run, steps, oplog_limit=options.oplog_limit
            )
            result.warnings.extend(_consistency_warnings(options, oplog))
            if request.dry_run:
                return result
            runner = _Runner(client, settings, contents, options, result, request.parallel)
            runner.run(progress or NoProgress())
            return result
        finally:
            client.close()


def _consistency_warnings(options: RestoreOptions, oplog: OplogSummary | None) -> list[str]:
    """Say so when --oplog-limit asks for a moment the dump may not be consistent at.

    A dump taken with --oplog (ours or mongodump's) holds each collection as
    of the moment it was read; replaying the captured oplog makes the whole
    consistent at the capture's end. A limit before that end is exact for
    collections read before the limit, but a collection read after it may
    already hold writes made after the limit (no oplog entry can undo them).
    """
    limit = options.oplog_limit
    if limit is None or oplog is None or oplog.last is None or limit > oplog.last:
        return []
    return [
        f"--oplog-limit {limit} is before the end of the dump's oplog ({oplog.last}): the "
        "restore is exact as of the limit only for collections dumped before it; any "
        "collection dumped later may already hold writes made after the limit"
    ]


def _check_source(
    path: Path, manifest: Manifest | None, *, skip: bool
) -> tuple[dict[str, int], OplogSummary | None]:
    """Check the source before writing; return document counts per namespace and the oplog.

    Ours: every file's size and SHA-256 against the manifest (counts from
    it). Any other dump: read whole with structural checks (counts from
    that). ``skip`` (a dry run) checks no SHA-256 and walks no document's
    structure.
    """
    if manifest is not None:
        if not skip:
            problems = verify_files(manifest, lambda relative: (path / relative).open("rb"))
            if problems:
                raise BackupError(
                    f"{path} does not match its manifest: "
                    + "; ".join(str(problem) for problem in problems),
                    hint="the backup is damaged: restore another one (`backup list`)",
                )
        counts = {f"{item.db}.{item.collection}": item.documents for item in manifest.collections}
        oplog = None
        if manifest.oplog is not None:
            first, last = manifest.oplog.first, manifest.oplog.last
            oplog = OplogSummary(
                manifest.oplog.entries,
                OplogTimestamp(first.t, first.i),
                OplogTimestamp(last.t, last.i),
            )
        return counts, oplog
    # A dry run reads the dump as `backup show` does (framing and CRCs, no structural walk):
    # its plan then has the same counts and oplog as the real run.
    found = inventory(path, validate=not skip)
    counts = {f"{item.db}.{item.collection}": item.documents for item in found.collections}
    oplog = None
    if found.oplog is not None:
        earliest = found.oplog.first
        latest = found.oplog.last
        oplog = OplogSummary(
            found.oplog.entries,
            None if earliest is None else OplogTimestamp(earliest["t"], earliest["i"]),
            None if latest is None else OplogTimestamp(latest["t"], latest["i"]),
        )
    return counts, oplog


class _Inserter:
    """Insert batches on a thread pool; batches of one namespace run one after the other."""

    def __init__(
        self,
        client: Any,
        settings: ConnectionSettings,
        parallel: int,
        on_done: Callable[[str, int, int, int, int], None],
    ) -> None:
        self._client = client
        self._settings = settings
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="restore")
        self._slots = threading.Semaphore(parallel * 2)
        self._last: dict[str, Future[None]] = {}
        self._on_done = on_done
        self.error: BaseException | None = None

    def submit(self, key: str, db: str, name: str, documents: list[bytes], size: int) -> None:
        if self.error is not None:
            raise self.error
        self._slots.acquire()
        previous = self._last.get(key)

        def task() -> None:
            try:
                if previous is not None:
                    previous.result()
                with translate_errors(self._settings, f"inserting into {db}.{name}"):
                    outcome = mongo.insert_raw(self._client, db, name, documents)
                self._on_done(key, len(documents), size, outcome.inserted, outcome.duplicates)
            except BaseException as error:
                if self.error is None:
                    self.error = error
                raise
            finally:
                self._slots.release()

        self._last[key] = self._pool.submit(task)

    def wait(self) -> None:
        for future in list(self._last.values()):
            with contextlib.suppress(BaseException):
                future.result()
        self._pool.shutdown(wait=True)
        if self.error is not None:
            raise self.error

    def cancel(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class _Destination:
    """Where one dumped namespace's documents go."""

    key: str  # the outcome's key: the target namespace (or the temporary authz collection)
    db: str
    name: str


class _Runner:
    """Runs the planned steps, streaming the dump's documents into the server."""

    def __init__(
        self,
        client: Any,
        settings: ConnectionSettings,
        contents: DumpContents,
        options: RestoreOptions,
        result: RestoreResult,
        parallel: int,
    ) -> None:
        self.client = client
        self.settings = settings
        self.contents = contents
        self.options = options
        self.result = result
        self.parallel = parallel
        self._lock = threading.Lock()
        self._types = {item.namespace: item.type for item in contents.collections}
        self._progress: Progress = NoProgress()
        self._current = "the restore"

    # -- bookkeeping ---------------------------------------------------------------------

    def _record(self, key: str, read: int, size: int, inserted: int, duplicates: int) -> None:
        with self._lock:
            outcome = self.result.collections[key]
            outcome.read += read
            outcome.inserted += inserted
            outcome.duplicates += duplicates
        self._progress.advance(key, read, size)

    def _done_so_far(self) -> str:
        inserted = self.result.inserted
        touched = sum(1 for outcome in self.result.collections.values() if outcome.read)
        parts = [f"{inserted} document(s) inserted into {touched} collection(s)"]
        if self.result.oplog is not None:
            parts.append(f"{self.result.oplog.applied} oplog entries applied")
        if self.result.indexes:
            parts.append(f"{self.result.indexes} index(es) created")
        return ", ".join(parts)

    def run(self, progress: Progress) -> None:
        self._progress = progress
        steps = self.result.steps
        try:
            for step in steps:
                if step.kind in ("drop", "create", "create-view"):
                    self._current = step.describe()
                    self._ddl(step)
            inserts = [step for step in steps if step.kind in ("insert", "users", "roles")]
            if inserts:
                self._current = "restoring documents"
                self._insert(inserts)
            merged = False
            for step in steps:
                self._current = step.describe()
                if step.kind in ("users", "roles"):
                    if not merged:  # one merge takes users and roles together
                        self._merge_authz()
                        merged = True
                elif step.kind == "oplog":
                    self._replay()
                elif step.kind == "create-indexes":
                    with translate_errors(self.settings, step.describe()):
                        mongo.create_indexes(
                            self.client, *split_namespace(step.namespace), step.indexes
                        )
                    self.result.indexes += len(step.indexes)
        except ToolkitError as error:
            raise OperationFailed(
                f"restore stopped while {self._current}: {error.message}; "
                f"done before it: {self._done_so_far()}",
                hint="fix the cause and run the restore again (with --drop to start clean); "
                "documents already restored are counted as duplicates on a rerun",
            ) from error
        finally:
            spool = getattr(self, "_oplog_spool", None)
            if spool is not None:
                spool.close()

    def _ddl(self, step: RestoreStep) -> None:
        db, name = split_namespace(step.namespace)
        with translate_errors(self.settings, step.describe()):
            if step.kind == "drop":
                mongo.drop_collection(self.client, db, name)
            else:
                mongo.create_collection(self.client, db, name, step.options or {})

    # -- documents -----------------------------------------------------------------------

    def _destinations(self, steps: list[RestoreStep]) -> dict[str, _Destination]:
        """Map each dumped namespace (its data collection) to where its documents go."""
        destinations: dict[str, _Destination] = {}
        version = self.contents.server_version or ""
        for step in steps:
            if step.kind == "users":
                destination = _Destination(step.namespace, "admin", mongo.TEMP_USERS)
            elif step.kind == "roles":
                destination = _Destination(step.namespace, "admin", mongo.TEMP_ROLES)
            else:
                db, name = split_namespace(step.namespace)
                kind = self._types.get(step.source, "collection")
                destination = _Destination(step.namespace, db, data_collection(name, kind, version))
            self.result.collections[destination.key] = CollectionOutcome(
                step.namespace, step.source
            )
            destinations[step.source] = destination
        return destinations

    def _insert(self, steps: list[RestoreStep]) -> None:
        destinations = self._destinations(steps)
        if any(step.kind in ("users", "roles") for step in steps):
            with translate_errors(self.settings, "preparing the temporary users and roles"):
                mongo.prepare_temporary_authz(self.client)
        totals = {step.source: step.documents for step in steps}
        for source, destination in destinations.items():
            self._progress.start(destination.key, totals.get(source))
        if self.contents.kind == "archive":
            self._insert_archive(destinations)
        else:
            self._insert_files(destinations)
        for destination in destinations.values():
            self._progress.done(destination.key)

    def _insert_files(self, destinations: dict[str, _Destination]) -> None:
        def restore_one(source: str, destination: _Destination) -> None:
            db, name = split_namespace(source)
            batch: list[bytes] = []
            size = 0
            for _offset, raw in self.contents.collection_documents(db, name):
                batch.append(raw)
                size += len(raw)
                if len(batch) >= BATCH_DOCUMENTS or size >= BATCH_BYTES:
                    self._insert_batch(destination, batch, size)
                    batch, size = [], 0
            self._insert_batch(destination, batch, size)

        with ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="restore") as pool:
            futures = [
                pool.submit(restore_one, source, destination)
                for source, destination in destinations.items()
            ]
            first_error: BaseException | None = None
            for future in futures:
                try:
                    future.result()
                except BaseException as error:
                    if first_error is None:
                        first_error = error
            if first_error is not None:
                raise first_error

    def _insert_batch(self, destination: _Destination, batch: list[bytes], size: int) -> None:
        if not batch:
            return
        with translate_errors(self.settings, f"inserting into {destination.db}.{destination.name}"):
            outcome = mongo.insert_raw(self.client, destination.db, destination.name, batch)
        self._record(destination.key, len(batch), size, outcome.inserted, outcome.duplicates)

    def _insert_archive(self, destinations: dict[str, _Destination]) -> None:
        """Stream the archive once: documents to their collections, oplog entries to a spool."""
        inserter = _Inserter(self.client, self.settings, self.parallel, self._record)
        batches: dict[str, tuple[list[bytes], int]] = {}
        # Closed by run() once the oplog is replayed (or the restore fails).
        spool = self._oplog_spool = tempfile.TemporaryFile(prefix="mongo-toolkit-oplog-")  # noqa: SIM115
        try:
            with self.contents.archive() as archive:
                owners: dict[tuple[str, str], str | None] = {}
                for event in archive.events():
                    if not isinstance(event, ArchiveDocument):
                        continue
                    key = (event.db, event.collection)
                    if key == ("", "oplog"):
                        spool.write(event.raw)
                        continue
                    if key not in owners:
                        entry = archive.collection_for(event.db, event.collection)
                        owners[key] = None if entry is None else entry.namespace
                    source = owners[key]
                    destination = destinations.get(source) if source is not None else None
                    if destination is None:
                        continue
                    documents, size = batches.get(source, ([], 0))  # type: ignore[arg-type]
                    documents.append(event.raw)
                    size += len(event.raw)
                    if len(documents) >= BATCH_DOCUMENTS or size >= BATCH_BYTES:
                        inserter.submit(
                            destination.key, destination.db, destination.name, documents, size
                        )
                        documents, size = [], 0
                    batches[source] = (documents, size)  # type: ignore[index]
            for source, (documents, size) in batches.items():
                if documents:
                    destination = destinations[source]
                    inserter.submit(
                        destination.key, destination.db, destination.name, documents, size
                    )
        except BaseException:
            inserter.cancel()
            raise
        inserter.wait()

    # -- users and roles ----------------------------------------------------------------

    def _merge_authz(self) -> None:
        with translate_errors(self.settings, "merging users and roles"):
            mongo.merge_users_and_roles(self.client, drop=self.options.drop)
        for key, attribute in ((USERS_NAMESPACE, "users"), (ROLES_NAMESPACE, "roles")):
            outcome = self.result.collections.get(key)
            if outcome is not None:
                setattr(self.result, attribute, outcome.read)

    # -- oplog ---------------------------------------------------------------------------

    def _oplog_raw_entries(self) -> Iterator[bytes]:
        if self.contents.kind == "archive":
            spool = getattr(self, "_oplog_spool", None)
            if spool is None:  # nothing was inserted: read the archive for its oplog alone
                with self.contents.archive() as archive:
                    for event in archive.events():
                        if isinstance(event, ArchiveDocument) and (event.db, event.collection) == (
                            "",
                            "oplog",
                        ):
                            yield event.raw
                return
            spool.seek(0)
            reader = DocumentReader(cast(BinaryIO, spool), "the archive's oplog")
            for _offset, raw in reader.documents():
                yield raw
            return
        for _offset, raw in self.contents.oplog_entries():
            yield raw

    def _replay(self) -> None:
        outcome = self.result.oplog = OplogOutcome()
        limit = self.options.oplog_limit
        selection = self.options.selection
        self._progress.start("oplog", None)
        with translate_errors(self.settings, "replaying the oplog"):
            for raw in self._oplog_raw_entries():
                entry = bson.decode(raw, RAW_ENTRY)
                ts = entry.get("ts")
                position = OplogTimestamp(ts.time, ts.inc) if ts is not None else None
                if limit is not None and position is not None and position >= limit:
                    outcome.stopped_at_limit = True
                    break
                selected: Mapping[str, Any] | None = entry
                if not selection.everything:
                    selected = select_oplog_entry(
                        entry, selection.accepts, selection.accepts_database
                    )
                if selected is None:
                    outcome.skipped += 1
                    continue
                state = mongo.replay_entry(self.client, selected)
                if state == "applied":
                    outcome.applied += 1
                    outcome.last = position
                else:
                    outcome.skipped += 1
                self._progress.advance("oplog", 1, len(raw))
        self._progress.done("oplog")
