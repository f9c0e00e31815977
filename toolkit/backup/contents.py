"""Open any dump for reading its data: what it holds, then its documents and oplog entries.

``read_contents(path)`` takes what ``inventory.locate_dump`` accepts (our
backups' directories, mongodump directory dumps and database directories,
archives plain or compressed, lone ``.bson`` files) and returns a
``DumpContents``: the collections with their metadata, the server version,
whether an oplog was captured, and ways to stream the documents:

- a directory dump (or lone file) is read one collection file at a time
  (``collection_documents``), so collections can be restored in parallel;
- an archive is one stream whose namespaces interleave (``archive_events``).

Documents come as raw BSON ``bytes``; nothing is decoded. Damage raises
BackupError naming the file and the offset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from toolkit.backup import compression as compress
from toolkit.backup.archive import ArchiveReader, read_archive
from toolkit.backup.directory import (
    CollectionMetadata,
    DirectoryDump,
    DumpCollection,
    read_bson_file,
    read_directory,
)
from toolkit.backup.inventory import locate_dump

DumpKind = Literal["directory", "archive", "bson"]


@dataclass(frozen=True)
class ContentCollection:
    """One collection of a dump: name, type, metadata (None when the dump has none)."""

    db: str
    collection: str
    type: str
    metadata: CollectionMetadata | None

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"


@dataclass(frozen=True)
class DumpContents:
    """What a dump holds and how to read it (see the module docstring)."""

    kind: DumpKind
    path: Path
    collections: tuple[ContentCollection, ...]
    server_version: str | None
    has_oplog: bool
    directory: DirectoryDump | None = None

    def collection_documents(self, db: str, collection: str) -> Iterator[tuple[int, bytes]]:
        """Yield (offset, raw document) of one collection of a directory dump (or lone file)."""
        if self.directory is None:
            raise ValueError("an archive's documents come through archive_events()")
        for entry in self.directory.collections:
            if (entry.db, entry.collection) == (db, collection):
                return entry.documents()
        return iter(())

    def directory_collection(self, db: str, collection: str) -> DumpCollection | None:
        if self.directory is None:
            return None
        for entry in self.directory.collections:
            if (entry.db, entry.collection) == (db, collection):
                return entry
        return None

    def oplog_entries(self) -> Iterator[tuple[int, bytes]]:
        """Yield (offset, raw entry) of a directory dump's ``oplog.bson`` (archives: events)."""
        if self.directory is None:
            raise ValueError("an archive's oplog comes through archive_events()")
        return self.directory.oplog_entries()

    @contextlib.contextmanager
    def archive(self) -> Iterator[ArchiveReader]:
        """Open the archive again from its start; yield its reader (iterate ``events()``)."""
        if self.kind != "archive":
            raise ValueError("not an archive")
        with compress.open_file(self.path) as (stream, _compression):
            yield read_archive(stream, str(self.path))


def read_contents(source: Path) -> DumpContents:
    """Return what the dump at ``source`` holds; raise BackupError when it is not one."""
    kind, path = locate_dump(Path(source))
    if kind == "archive":
        with compress.open_file(path) as (stream, _compression):
            reader = read_archive(stream, str(path))
            collections = tuple(
                ContentCollection(entry.db, entry.collection, entry.collection_type, entry.metadata)
                for entry in reader.collections
                if not entry.is_oplog
            )
            has_oplog = any(entry.is_oplog for entry in reader.collections)
            server_version = reader.header.server_version or None
        return DumpContents("archive", path, collections, server_version, has_oplog)
    dump = read_bson_file(path) if kind == "bson" else read_directory(path)
    dump_kind: DumpKind = "bson" if kind == "bson" else "directory"
    collections = tuple(
        ContentCollection(entry.db, entry.collection, entry.type, entry.metadata)
        for entry in dump.collections
    )
    return DumpContents(
        dump_kind, path, collections, dump.server_version, dump.oplog_path is not None, dump
    )
