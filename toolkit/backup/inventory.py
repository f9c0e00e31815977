"""What a backup holds, read from its files alone: no server needed (``backup show``).

``inventory(source)`` accepts

- a directory dump (mongodump's or this toolkit's; plain, gzip or zstd files),
  or one database directory of such a dump;
- an archive file, plain or compressed (gzip or zstd, recognised from the
  content, whatever the file name);
- a lone ``.bson`` file (or its ``.metadata.json``), as mongorestore takes
  one: the database is the name of the directory it sits in;
- a directory of this toolkit's holding one of those, possibly beside a
  ``manifest.json`` (ignored here).

Every document is read (streamed: memory stays flat) to count documents and
bytes. Damaged input raises BackupError naming the file and the offset; no
other exception escapes for bad data.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import bson
from bson import json_util
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.timestamp import Timestamp

from toolkit.backup import compression as compress
from toolkit.backup.archive import (
    MAGIC_BYTES,
    ArchiveCollectionEnd,
    ArchiveDocument,
    read_archive,
)
from toolkit.backup.directory import (
    DirectoryDump,
    looks_like_dump,
    read_bson_file,
    read_directory,
)
from toolkit.errors import BackupError

IGNORED_NAMES: Final = frozenset({"manifest.json"})
_DECODE_OPTIONS: Final[CodecOptions[dict[str, Any]]] = CodecOptions(
    datetime_conversion=DatetimeConversion.DATETIME_AUTO
)


def _plain(value: Any) -> Any:
    """Return BSON-typed data as plain JSON data (relaxed Extended JSON)."""
    return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))


@dataclass(frozen=True)
class CollectionInventory:
    """One collection of a backup.

    ``documents`` and ``bytes`` count the BSON documents stored for it (for a
    time series: its bucket documents); ``indexes`` and ``options`` come from
    its metadata, BSON-typed.
    """

    db: str
    collection: str
    type: str
    documents: int
    bytes: int
    indexes: tuple[dict[str, Any], ...]
    options: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        """Return the plain JSON form (``indexes`` and ``options`` as relaxed Extended JSON)."""
        return {
            "db": self.db,
            "collection": self.collection,
            "type": self.type,
            "documents": self.documents,
            "bytes": self.bytes,
            "indexes": _plain(list(self.indexes)),
            "options": _plain(self.options),
        }


@dataclass(frozen=True)
class OplogInventory:
    """The oplog captured with the dump: how many entries, first and last ``ts``.

    ``first`` and ``last`` are ``{"t": seconds, "i": increment}``, None when
    the oplog is empty.
    """

    entries: int
    first: dict[str, int] | None
    last: dict[str, int] | None

    def as_json(self) -> dict[str, Any]:
        """Return ``{"entries", "first", "last"}``."""
        return {"entries": self.entries, "first": self.first, "last": self.last}


@dataclass(frozen=True)
class Inventory:
    """Everything ``backup show`` prints about a backup."""

    collections: tuple[CollectionInventory, ...]
    oplog: OplogInventory | None
    server_version: str | None

    def as_json(self) -> dict[str, Any]:
        """Return ``{"collections": [...], "oplog": {...} or None, "server_version"}``."""
        return {
            "collections": [collection.as_json() for collection in self.collections],
            "oplog": None if self.oplog is None else self.oplog.as_json(),
            "server_version": self.server_version,
        }


def _timestamp(raw: bytes, name: str, offset: int) -> dict[str, int]:
    try:
        entry = bson.decode(raw, _DECODE_OPTIONS)
    except Exception as error:  # InvalidBSON and the value errors the decoder raises
        raise BackupError(
            f"{name}: damaged BSON at offset {offset}: the oplog entry does not decode: {error}"
        ) from error
    ts = entry.get("ts")
    if not isinstance(ts, Timestamp):
        raise BackupError(f"{name}: the oplog entry at offset {offset} has no timestamp 'ts'")
    return {"t": ts.time, "i": ts.inc}


class _OplogCounter:
    """Count oplog entries, keeping only the first and the last one."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entries = 0
        self._first: tuple[int, bytes] | None = None
        self._last: tuple[int, bytes] | None = None

    def add(self, offset: int, raw: bytes) -> None:
        if self._first is None:
            self._first = (offset, raw)
        self._last = (offset, raw)
        self.entries += 1

    def add_all(self, entries: Iterable[tuple[int, bytes]]) -> None:
        for offset, raw in entries:
            self.add(offset, raw)

    def result(self) -> OplogInventory:
        first = last = None
        if self._first is not None and self._last is not None:
            first = _timestamp(self._first[1], self.name, self._first[0])
            last = _timestamp(self._last[1], self.name, self._last[0])
        return OplogInventory(self.entries, first, last)


def _count(documents: Iterable[tuple[int, bytes]]) -> tuple[int, int]:
    count = 0
    size = 0
    for _offset, raw in documents:
        count += 1
        size += len(raw)
    return count, size


def _inventory_directory(dump: DirectoryDump, *, validate: bool) -> Inventory:
    collections = []
    for collection in dump.collections:
        documents, size = _count(collection.documents(validate=validate))
        metadata = collection.metadata
        collections.append(
            CollectionInventory(
                db=collection.db,
                collection=collection.collection,
                type=collection.type,
                documents=documents,
                bytes=size,
                indexes=tuple(metadata.indexes) if metadata else (),
                options=dict(metadata.options) if metadata else {},
            )
        )
    oplog = None
    if dump.oplog_path is not None:
        counter = _OplogCounter(str(dump.oplog_path))
        counter.add_all(dump.oplog_entries(validate=validate))
        oplog = counter.result()
    return Inventory(tuple(collections), oplog, dump.server_version)


def _inventory_archive(path: Path, *, validate: bool) -> Inventory:
    name = str(path)
    with compress.open_file(path) as (stream, _compression):
        reader = read_archive(stream, name, validate=validate)
        totals: dict[str, tuple[int, int]] = {}
        oplog = None
        for entry in reader.collections:
            if entry.is_oplog:
                oplog = _OplogCounter(name)
        for event in reader.events():
            if isinstance(event, ArchiveDocument):
                if oplog is not None and event.db == "" and event.collection == "oplog":
                    oplog.add(event.offset, event.raw)
            elif isinstance(event, ArchiveCollectionEnd):
                entry_for = reader.collection_for(event.db, event.collection)
                if entry_for is not None:
                    totals[entry_for.namespace] = (event.documents, event.bytes)
    collections = []
    for entry in reader.collections:
        if entry.is_oplog:
            continue
        documents, size = totals.get(entry.namespace, (0, 0))
        metadata = entry.metadata
        collections.append(
            CollectionInventory(
                db=entry.db,
                collection=entry.collection,
                type=entry.collection_type,
                documents=documents,
                bytes=size,
                indexes=tuple(metadata.indexes) if metadata else (),
                options=dict(metadata.options) if metadata else {},
            )
        )
    collections.sort(key=lambda collection: (collection.db, collection.collection))
    server_version = reader.header.server_version or None
    return Inventory(tuple(collections), None if oplog is None else oplog.result(), server_version)


def _is_collection_file(path: Path) -> bool:
    name = path.name
    for ending in (".gz", ".zst"):
        if name.endswith(ending):
            name = name[: -len(ending)]
    return name.endswith((".bson", ".metadata.json"))


def _starts_like_archive(path: Path) -> bool:
    """Return True when the decompressed content of ``path`` starts with the archive magic."""
    try:
        with compress.open_file(path) as (stream, _compression):
            return stream.read(len(MAGIC_BYTES)) == MAGIC_BYTES
    except BackupError:
        return False


def locate_dump(source: Path) -> tuple[str, Path]:
    """Return (kind, path) of the dump at ``source``: kind is "directory", "archive" or "bson".

    A directory that is not itself a dump may hold exactly one dump (an
    archive file or a dump directory) beside a ``manifest.json``. Raise
    BackupError when there is nothing there, no dump, or more than one.
    """
    source = Path(source)
    if source.is_file():
        return ("bson" if _is_collection_file(source) else "archive"), source
    if not source.is_dir():
        raise BackupError(f"{source}: no such file or directory")
    if looks_like_dump(source):
        return "directory", source
    entries = [
        entry
        for entry in sorted(source.iterdir())
        if entry.name not in IGNORED_NAMES and not entry.name.startswith(".")
    ]
    directories = [entry for entry in entries if entry.is_dir() and looks_like_dump(entry)]
    files = [entry for entry in entries if entry.is_file()]
    if not directories and len(files) == 1:
        # The one file beside the manifest: read as an archive, which says precisely
        # what is wrong with it if it is not one.
        return "archive", files[0]
    archives = [entry for entry in files if _starts_like_archive(entry)]
    found = directories + archives
    if len(found) == 1:
        return ("directory" if found[0].is_dir() else "archive"), found[0]
    if not found:
        raise BackupError(
            f"{source}: no MongoDB dump here (no database directories, oplog.bson, "
            "prelude.json or archive file)"
        )
    names = ", ".join(entry.name for entry in found)
    raise BackupError(f"{source}: more than one dump here ({names}); name the one to read")


def inventory(source: Path, *, validate: bool = True) -> Inventory:
    """Return what the backup at ``source`` holds (see the module docstring for what it accepts).

    With ``validate`` (the default) the documents of files that no checksum
    covers (directory dumps, lone ``.bson`` files) are walked structurally;
    an archive's documents are proved by its per-collection CRC-64 instead.
    Raise BackupError naming the file and offset for damaged data, and when
    ``source`` holds no dump.
    """
    kind, path = locate_dump(Path(source))
    if kind == "archive":
        return _inventory_archive(path, validate=False)
    if kind == "bson":
        return _inventory_directory(read_bson_file(path), validate=validate)
    return _inventory_directory(read_directory(path), validate=validate)
