"""Write a dump into storage as it is read: mongodump's archive or directory layout.

A backup ``<id>`` holds either

- ``dump.archive[.zst|.gz]``: one mongodump archive, the whole stream
  compressed (``mongodump --archive --gzip`` compresses the same way); or
- ``dump/``: a mongodump directory dump (``prelude.json``, ``oplog.bson``,
  ``<db>/<collection>.bson`` and ``.metadata.json``, each file compressed
  and suffixed ``.gz`` as ``mongodump --gzip`` names them, or ``.zst``).

Every byte goes straight through the compressor into ``Storage.open_write``
(an atomic local file, or an S3 multipart upload streamed while the dump
runs), and is counted and hashed (SHA-256) on the way, so the manifest's file
list comes out of the writing itself: nothing is read back.

Writers are safe to feed from several threads (``--parallel``): the archive
serialises writes into its one stream (documents of different collections
interleave in segments, as mongodump's do); a directory dump writes each
collection to its own file.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Protocol

from toolkit.backup import compression as compress
from toolkit.backup.archive import ArchiveWriter
from toolkit.backup.bsonstream import count_documents
from toolkit.backup.directory import (
    OPLOG_NAME,
    PRELUDE_NAME,
    data_file_path,
    metadata_file_path,
    render_prelude_json,
)
from toolkit.backup.manifest import ManifestFile
from toolkit.backup.storage import Storage

ARCHIVE_NAME: Final = "dump.archive"
DIRECTORY_NAME: Final = "dump"
OPLOG_KEY: Final = ("", "oplog")
# Compressed chunks (about 128 KiB each) queued for the hashing and writing thread.
BACKGROUND_CHUNKS: Final = 64


def archive_file_name(compression: compress.Compression) -> str:
    """Return the archive's file name in a backup: ``dump.archive`` plus ``.gz``/``.zst``."""
    return ARCHIVE_NAME + compress.suffix(compression)


@dataclass(frozen=True)
class CollectionToWrite:
    """One collection of the dump: its name, type and ``.metadata.json`` text."""

    db: str
    collection: str
    type: str
    metadata_json: str

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"


@dataclass
class WrittenTotals:
    """Documents and uncompressed bytes written for one collection (or the oplog)."""

    documents: int = 0
    bytes: int = 0


class HashingStream:
    """A write-only stream that passes bytes on, counting them and hashing them (SHA-256).

    With ``background=True`` the hashing and the writing happen in a thread
    of their own, in order (an error there is raised by the next ``write``
    or by ``finish``). Measured on two CPUs, the GIL hand-offs cost more than
    the overlap gains, so dumps hash inline (the default). Call ``finish``
    before using the result.
    """

    def __init__(self, raw: IO[bytes], *, background: bool = False) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0
        self._queue: queue.Queue[Any] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        if background:
            self._queue = queue.Queue(maxsize=BACKGROUND_CHUNKS)
            self._thread = threading.Thread(target=self._run, name="backup-hash-write", daemon=True)
            self._thread.start()

    def writable(self) -> bool:
        return True

    def _consume(self, data: Any) -> None:
        self._raw.write(data)
        self._digest.update(data)

    def _run(self) -> None:
        assert self._queue is not None
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None:
                try:
                    self._consume(data)
                except BaseException as error:  # raised in the writing thread
                    self._error = error

    def write(self, data: Any) -> int:
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        if self._queue is None:
            self._consume(data)
        else:
            if self._error is not None:
                raise self._error
            # The compressor may reuse its buffer once write() returns: keep a copy.
            self._queue.put(bytes(data))
        self.size += size
        return size

    def flush(self) -> None:
        if self._queue is None:
            self._raw.flush()

    def finish(self) -> None:
        """Wait until everything written has been hashed and passed on; raise its error."""
        if self._queue is not None and self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._queue = None
        if self._error is not None:
            raise self._error
        self._raw.flush()

    @property
    def closed(self) -> bool:
        return False

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


class _StoredFile:
    """One file being written into storage through a hasher and a compressor."""

    def __init__(
        self,
        storage: Storage,
        backup_id: str,
        path: str,
        compression: compress.Compression,
        *,
        level: int | None,
        threads: int,
        background: bool = False,
    ) -> None:
        self.path = path
        self._stack = contextlib.ExitStack()
        raw = self._stack.enter_context(storage.open_write(backup_id, path))
        self._hashing = HashingStream(raw, background=background)
        self.stream = compress.open_writer(
            self._hashing,  # type: ignore[arg-type]
            compression,
            level=level,
            threads=threads,
        )

    def finish(self) -> ManifestFile:
        """Finish the compressed stream and commit the file; return its manifest entry."""
        self.stream.close()
        self._hashing.finish()
        self._stack.close()  # commits: rename locally, completes the multipart upload on S3
        return ManifestFile(self.path, self._hashing.size, self._hashing.hexdigest())

    def abort(self, error: BaseException | None = None) -> None:
        """Drop the file: nothing of it becomes visible."""
        failure = error or RuntimeError("aborted")
        with contextlib.suppress(BaseException):
            self._hashing.finish()
        with contextlib.suppress(Exception):
            self._stack.__exit__(type(failure), failure, failure.__traceback__)


class DumpWriter(Protocol):
    """What ``backup create`` writes through, whatever the layout."""

    def start(self, collections: Sequence[CollectionToWrite], *, oplog: bool) -> None: ...
    def write_block(
        self, db: str, collection: str, block: bytes, documents: int | None = None
    ) -> int: ...
    def end_collection(self, db: str, collection: str) -> WrittenTotals: ...
    def write_oplog_block(self, block: bytes) -> int: ...
    def end_oplog(self) -> WrittenTotals: ...
    def finish(self) -> list[ManifestFile]: ...
    def abort(self, error: BaseException | None = None) -> None: ...


class ArchiveDumpWriter:
    """Write the dump as one compressed mongodump archive, ``<id>/dump.archive[.zst|.gz]``.

    ``concurrent_collections`` is how many collections may be open at once
    (the ``--parallel`` of the dump). Thread-safe.
    """

    def __init__(
        self,
        storage: Storage,
        backup_id: str,
        *,
        compression: compress.Compression,
        level: int | None,
        threads: int,
        server_version: str,
        tool_version: str,
        concurrent_collections: int = 1,
    ) -> None:
        self._storage = storage
        self._backup_id = backup_id
        self._compression = compression
        self._level = level
        self._threads = threads
        self._server_version = server_version
        self._tool_version = tool_version
        self._concurrent = max(1, concurrent_collections)
        self._lock = threading.Lock()
        self._file: _StoredFile | None = None
        self._archive: ArchiveWriter | None = None
        self._totals: dict[tuple[str, str], WrittenTotals] = {}

    def start(self, collections: Sequence[CollectionToWrite], *, oplog: bool) -> None:
        """Open the archive file and write its header and prelude."""
        self._file = _StoredFile(
            self._storage,
            self._backup_id,
            archive_file_name(self._compression),
            self._compression,
            level=self._level,
            threads=self._threads,
        )
        archive = ArchiveWriter(
            self._file.stream,
            server_version=self._server_version,
            tool_version=self._tool_version,
            concurrent_collections=self._concurrent,
        )
        for entry in collections:
            archive.add_collection(entry.db, entry.collection, entry.metadata_json, entry.type)
            self._totals[(entry.db, entry.collection)] = WrittenTotals()
        if oplog:
            archive.add_oplog()
            self._totals[OPLOG_KEY] = WrittenTotals()
        archive.begin()
        self._archive = archive

    def _writer(self) -> ArchiveWriter:
        if self._archive is None:
            raise ValueError("call start() first")
        return self._archive

    def write_block(
        self, db: str, collection: str, block: bytes, documents: int | None = None
    ) -> int:
        """Append a raw batch of ``db.collection``; return the number of documents in it.

        ``documents``: the count when the caller knows it (framing checked), else None.
        """
        with self._lock:
            count = self._writer().write_block(db, collection, block, documents=documents)
            totals = self._totals[(db, collection)]
            totals.documents += count
            totals.bytes += len(block)
            return count

    def end_collection(self, db: str, collection: str) -> WrittenTotals:
        """Write the end of ``db.collection`` (its CRC); return what it holds."""
        with self._lock:
            self._writer().end_collection(db, collection)
            return self._totals[(db, collection)]

    def write_oplog_block(self, block: bytes) -> int:
        return self.write_block(*OPLOG_KEY, block)

    def end_oplog(self) -> WrittenTotals:
        return self.end_collection(*OPLOG_KEY)

    def finish(self) -> list[ManifestFile]:
        """Close the archive and commit the file; return its manifest entry."""
        with self._lock:
            self._writer().close()
            assert self._file is not None
            entry = self._file.finish()
            self._file = None
            return [entry]

    def abort(self, error: BaseException | None = None) -> None:
        """Drop the partial archive (an aborted multipart upload on S3, no file locally)."""
        with self._lock:
            if self._file is not None:
                self._file.abort(error)
                self._file = None


class DirectoryDumpWriter:
    """Write the dump as a mongodump directory dump under ``<id>/dump/``.

    Each collection's ``.bson`` is its own compressed file, opened on its
    first block (or at its end, for an empty collection); views get only
    their ``.metadata.json``. Thread-safe for different collections.
    """

    def __init__(
        self,
        storage: Storage,
        backup_id: str,
        *,
        compression: compress.Compression,
        level: int | None,
        threads: int,
        server_version: str,
        tool_version: str,
    ) -> None:
        self._storage = storage
        self._backup_id = backup_id
        self._compression = compression
        self._level = level
        self._threads = threads
        self._server_version = server_version
        self._tool_version = tool_version
        self._lock = threading.Lock()
        self._collections: dict[tuple[str, str], CollectionToWrite] = {}
        self._open: dict[tuple[str, str], _StoredFile] = {}
        self._totals: dict[tuple[str, str], WrittenTotals] = {}
        self._files: list[ManifestFile] = []

    def _small_file(self, path: str, data: bytes) -> None:
        stored = _StoredFile(
            self._storage,
            self._backup_id,
            path,
            self._compression,
            level=self._level,
            threads=0,
            background=False,
        )
        try:
            stored.stream.write(data)
        except BaseException as error:
            stored.abort(error)
            raise
        entry = stored.finish()
        with self._lock:
            self._files.append(entry)

    def _relative(self, path: Any) -> str:
        return path.as_posix()

    def start(self, collections: Sequence[CollectionToWrite], *, oplog: bool) -> None:
        """Write ``prelude.json`` and every collection's ``.metadata.json``."""
        prelude = render_prelude_json(
            server_version=self._server_version, tool_version=self._tool_version
        )
        self._small_file(
            f"{DIRECTORY_NAME}/{PRELUDE_NAME}{compress.suffix(self._compression)}",
            prelude.encode("utf-8"),
        )
        for entry in collections:
            key = (entry.db, entry.collection)
            self._collections[key] = entry
            self._totals[key] = WrittenTotals()
            path = metadata_file_path(
                Path(DIRECTORY_NAME), entry.db, entry.collection, compression=self._compression
            )
            self._small_file(self._relative(path), entry.metadata_json.encode("utf-8"))
        if oplog:
            self._totals[OPLOG_KEY] = WrittenTotals()

    def _data_path(self, key: tuple[str, str]) -> str:
        if key == OPLOG_KEY:
            return f"{DIRECTORY_NAME}/{OPLOG_NAME}{compress.suffix(self._compression)}"
        entry = self._collections[key]
        path = data_file_path(
            Path(DIRECTORY_NAME),
            entry.db,
            entry.collection,
            type=entry.type,
            compression=self._compression,
        )
        return self._relative(path)

    def _file_for(self, key: tuple[str, str]) -> _StoredFile:
        with self._lock:
            stored = self._open.get(key)
            if stored is None:
                if key not in self._totals:
                    raise ValueError(f"{key[0]}.{key[1]} was not declared in start()")
                stored = _StoredFile(
                    self._storage,
                    self._backup_id,
                    self._data_path(key),
                    self._compression,
                    level=self._level,
                    threads=self._threads,
                )
                self._open[key] = stored
            return stored

    def write_block(
        self, db: str, collection: str, block: bytes, documents: int | None = None
    ) -> int:
        """Append a raw batch to ``db.collection``'s file; return its number of documents.

        ``documents``: the count when the caller knows it (framing checked), else None.
        """
        key = (db, collection)
        if documents is None:
            count = count_documents(block, f"the block for {db}.{collection}")
        else:
            count = documents
        stored = self._file_for(key)
        stored.stream.write(block)
        totals = self._totals[key]
        totals.documents += count
        totals.bytes += len(block)
        return count

    def end_collection(self, db: str, collection: str) -> WrittenTotals:
        """Commit ``db.collection``'s file (an empty one if no block came; none for a view)."""
        key = (db, collection)
        if key != OPLOG_KEY and self._collections[key].type == "view":
            return self._totals[key]
        stored = self._file_for(key)
        entry = stored.finish()
        with self._lock:
            del self._open[key]
            self._files.append(entry)
        return self._totals[key]

    def write_oplog_block(self, block: bytes) -> int:
        return self.write_block(*OPLOG_KEY, block)

    def end_oplog(self) -> WrittenTotals:
        return self.end_collection(*OPLOG_KEY)

    def finish(self) -> list[ManifestFile]:
        """Return the manifest entries of every file written. Raise ValueError if one is open."""
        with self._lock:
            if self._open:
                names = ", ".join(f"{db}.{name}" for db, name in self._open)
                raise ValueError(f"collections not ended: {names}")
            return list(self._files)

    def abort(self, error: BaseException | None = None) -> None:
        """Drop every file still open (committed ones are left for the caller to delete)."""
        with self._lock:
            open_files = list(self._open.values())
            self._open.clear()
        for stored in open_files:
            stored.abort(error)
