"""Read a stored backup back and check everything about it, in one pass per file.

``check_backup`` is what ``backup verify`` runs: for every file the manifest
lists, it reads the stored bytes once, and on that one pass

- hashes them (SHA-256) and counts them against the manifest's size and digest;
- decompresses them (zstd, gzip or none, with every frame checksum checked);
- splits the documents of a data file (or the archive) by their length
  prefixes, checks each one's framing and, in an archive, every namespace's
  CRC-64, and counts documents per collection against the manifest.

Documents are framed and counted without being copied out of the read
buffer (``skip_documents``), so the pass costs little more than the
decompression itself. Every problem names the file it was found in.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from toolkit.backup import compression as compress
from toolkit.backup.archive import ArchiveCollectionEnd, data_collection, read_archive
from toolkit.backup.bsonstream import DocumentReader
from toolkit.backup.directory import OPLOG_NAME, data_file_path
from toolkit.backup.manifest import CHUNK_SIZE, Manifest, ManifestFile
from toolkit.backup.source import BackupLocation, unlisted_files
from toolkit.backup.writer import DIRECTORY_NAME
from toolkit.errors import BackupError


class HashingReader(io.RawIOBase):
    """Read from a stream, hashing (SHA-256) and counting every byte that passes."""

    def __init__(self, raw: IO[bytes]) -> None:
        import hashlib

        self._raw = raw
        self._digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        data = self._raw.read(-1 if size is None else size)
        if data:
            self._digest.update(data)
            self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read (and hash) whatever is left of the stream."""
        while self.read(CHUNK_SIZE):
            pass

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


@dataclass
class FileCheck:
    """What one pass over one stored file found."""

    path: str
    size: int = 0
    sha256: str = ""
    problems: list[str] = field(default_factory=list)
    # data files: (db, data collection) -> documents; the oplog is ("", "oplog")
    documents: dict[tuple[str, str], int] = field(default_factory=dict)


@dataclass
class BackupCheck:
    """Everything ``check_backup`` found: files read, bytes, documents and problems."""

    files: int = 0
    bytes: int = 0
    documents: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _read_content(
    path: str,
    reader: BinaryIO,
    name: str,
    kind: str,
    check: FileCheck,
) -> None:
    if kind == "archive":
        archive = read_archive(reader, name)
        for event in archive.events(documents=False):
            if isinstance(event, ArchiveCollectionEnd):
                check.documents[(event.db, event.collection)] = event.documents
        return
    key = ("", "oplog") if kind == "oplog" else ("", path)
    count, _size = DocumentReader(reader, name).skip_documents()
    check.documents[key] = count


def check_file(
    location: BackupLocation,
    entry: ManifestFile,
    kind: str,
) -> FileCheck:
    """Read one stored file once: hash it, and read its content when ``kind`` says it has some.

    ``kind`` is "archive", "data" (a ``.bson``), "oplog" or "other" (metadata,
    prelude: hashed only). Problems are recorded, never raised.
    """
    check = FileCheck(entry.path)
    name = f"{location.url}/{entry.path}"
    try:
        with location.storage.open_read(location.backup_id, entry.path) as raw:
            hashing = HashingReader(raw)
            try:
                if kind != "other":
                    decompressed = compress.open_reader(
                        cast(BinaryIO, hashing),
                        compress.compression_from_name(entry.path),
                        name=name,
                    )
                    _read_content(entry.path, decompressed, name, kind, check)
            except BackupError as error:
                check.problems.append(str(error))
            hashing.drain()
    except FileNotFoundError:
        check.problems.append(f"{entry.path}: missing")
        return check
    except BackupError as error:
        cause = error.__cause__
        if isinstance(cause, FileNotFoundError):
            check.problems.append(f"{entry.path}: missing")
        else:
            check.problems.append(f"{entry.path}: cannot be read: {error}")
        return check
    except OSError as error:
        check.problems.append(f"{entry.path}: cannot be read: {error}")
        return check
    check.size = hashing.size
    check.sha256 = hashing.hexdigest()
    if check.size != entry.size:
        check.problems.insert(
            0, f"{entry.path}: {check.size} bytes, the manifest says {entry.size}"
        )
    elif check.sha256 != entry.sha256:
        check.problems.insert(
            0, f"{entry.path}: SHA-256 {check.sha256}, the manifest says {entry.sha256}"
        )
    return check


def _file_kind(manifest: Manifest, path: str) -> str:
    if manifest.layout == "archive":
        return "archive"
    base = path.removesuffix(".gz").removesuffix(".zst")
    if base == f"{DIRECTORY_NAME}/{OPLOG_NAME}":
        return "oplog"
    if base.endswith(".bson"):
        return "data"
    return "other"


def _expected_data_paths(manifest: Manifest) -> dict[str, tuple[str, str]]:
    """Map each possible data file path of the manifest's collections to (db, collection)."""
    compression = cast(compress.Compression, manifest.compression)
    paths: dict[str, tuple[str, str]] = {}
    for item in manifest.collections:
        for collection_type in ("collection", "timeseries"):
            path = data_file_path(
                Path(DIRECTORY_NAME),
                item.db,
                item.collection,
                type=collection_type,
                compression=compression,
            ).as_posix()
            paths.setdefault(path, (item.db, item.collection))
    return paths


def check_backup(
    location: BackupLocation,
    manifest: Manifest,
    *,
    on_file: Callable[[str, int], None] | None = None,
) -> BackupCheck:
    """Read every file of a backup once; return what was found (see the module docstring).

    ``on_file(path, size)`` is called after each file. Every file is checked,
    whatever the earlier ones gave.
    """
    result = BackupCheck()
    counted: dict[tuple[str, str], int] = {}
    oplog_entries: int | None = None
    data_paths = _expected_data_paths(manifest)
    for entry in manifest.files:
        kind = _file_kind(manifest, entry.path)
        check = check_file(location, entry, kind)
        result.files += 1
        result.bytes += check.size
        result.problems.extend(check.problems)
        for (db, name), count in check.documents.items():
            if (db, name) == ("", "oplog"):
                oplog_entries = count
            elif db == "":  # a directory dump's data file, named by its path
                owner = data_paths.get(name)
                if owner is not None:
                    counted[owner] = count
            else:
                counted[(db, name)] = count
        if on_file is not None:
            on_file(entry.path, check.size)
    for path in unlisted_files(location, manifest):
        result.problems.append(f"{path}: not listed in the manifest (put there afterwards?)")
    if not result.problems:
        result.problems.extend(_compare_counts(manifest, counted, oplog_entries))
    result.documents = sum(counted.values())
    return result


def _compare_counts(
    manifest: Manifest, counted: dict[tuple[str, str], int], oplog_entries: int | None
) -> Iterator[str]:
    for item in manifest.collections:
        found = counted.get((item.db, item.collection))
        if found is None:
            # An archive names a time series' data by its buckets collection.
            buckets = data_collection(item.collection, "timeseries", manifest.server_version)
            found = counted.get((item.db, buckets))
        if found is None:
            found = 0
        if found != item.documents:
            yield (
                f"{item.db}.{item.collection}: {found} documents in the dump, "
                f"the manifest says {item.documents}"
            )
    if (
        manifest.oplog is not None
        and oplog_entries is not None
        and oplog_entries != manifest.oplog.entries
    ):
        yield (
            f"oplog: {oplog_entries} entries in the dump, "
            f"the manifest says {manifest.oplog.entries}"
        )
