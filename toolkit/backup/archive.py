"""The ``mongodump --archive`` format: write it, read it back, checking every checksum.

The layout (mongo-tools ``common/archive/spec.md``, ``prelude.go``,
``multiplexer.go``, ``parser.go``, ``demultiplexer.go``)::

    magic number        0x8199e26d as a little-endian uint32 (bytes 6d e2 99 81)
    header              {concurrent_collections: int32, version: "0.1",
                         server_version: str, tool_version: str}
    collection metadata one document per collection:
                        {db, collection, metadata: <.metadata.json text>, size: int32, type}
    terminator          ff ff ff ff
    then, in any interleaving:
      segment           {db, collection, EOF: false, CRC: int64(0)} documents... ff ff ff ff
      end of collection {db, collection, EOF: true,  CRC: int64(crc)} ff ff ff ff

- ``CRC`` is the CRC-64 (ECMA table, reflected: CRC-64/XZ) of the bytes of
  every document of that namespace, in order, across all its segments; it
  is written as a signed int64. An empty namespace has CRC 0.
- The data namespace of a time-series collection ``x`` is ``system.buckets.x``
  while its metadata entry is named ``x`` (type "timeseries"); from server
  8.3 on time series have no buckets namespace.
- With ``--oplog`` the oplog is the namespace ``db: "", collection: "oplog"``
  with an empty ``metadata``.
- A collection without documents (a view, an empty collection) still gets
  one empty segment (header then terminator) before its end: mongorestore
  creates views when it sees their namespace.
- ``mongodump --archive --gzip`` passes the whole stream through gzip.

The reader enforces what mongorestore's demultiplexer does: a header before
any body, no data after a namespace's end, no namespace ended twice, every
declared collection ended by the end of the stream, and the CRC at each end.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Final, NamedTuple

import bson
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.int64 import Int64
from fastcrc import crc64

from toolkit.backup.bsonstream import (
    READ_SIZE,
    TERMINATOR,
    DocumentReader,
    check_frame,
    count_documents,
)
from toolkit.backup.directory import (
    BUCKETS_PREFIX,
    CollectionMetadata,
    parse_metadata_json,
)
from toolkit.errors import BackupError

MAGIC_NUMBER: Final = 0x8199E26D
MAGIC_BYTES: Final = MAGIC_NUMBER.to_bytes(4, "little")
TERMINATOR_BYTES: Final = b"\xff\xff\xff\xff"
FORMAT_VERSION: Final = "0.1"
OPLOG_NAMESPACE: Final = ("", "oplog")

_DECODE_OPTIONS: Final[CodecOptions[dict[str, Any]]] = CodecOptions(
    datetime_conversion=DatetimeConversion.DATETIME_AUTO
)
_INT64 = struct.Struct("<q")
_UINT64 = struct.Struct("<Q")
_WRITE_BATCH: Final = 1024 * 1024


def damaged_archive(name: str, offset: int, reason: str) -> BackupError:
    """Return the BackupError for a damaged archive ``name`` at ``offset``."""
    return BackupError(f"{name}: damaged archive at offset {offset}: {reason}")


def crc_to_int64(crc: int) -> int:
    """Return an unsigned 64-bit CRC as the signed int64 the archive stores."""
    return int(_INT64.unpack(_UINT64.pack(crc))[0])


def parse_version(version: str) -> tuple[int, ...] | None:
    """Return the numeric prefix of a server version ("7.0.16" -> (7, 0, 16)), or None."""
    match = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", version or "")
    if match is None:
        return None
    return tuple(int(part) for part in match.groups() if part is not None)


def has_buckets_namespace(server_version: str) -> bool:
    """Return True when time-series data lives in ``system.buckets.<name>`` (servers before 8.3).

    An unreadable version is taken as older, as most servers are.
    """
    version = parse_version(server_version)
    return version is None or version < (8, 3)


def data_collection(collection: str, type: str, server_version: str) -> str:
    """Return the collection whose documents the archive carries for ``collection``."""
    if type == "timeseries" and has_buckets_namespace(server_version):
        return BUCKETS_PREFIX + collection
    return collection


@dataclass(frozen=True)
class ArchiveHeader:
    """The archive's header document."""

    concurrent_collections: int
    version: str
    server_version: str
    tool_version: str


@dataclass(frozen=True)
class ArchiveCollection:
    """One collection-metadata entry of the archive's prelude.

    ``metadata_json`` is the ``.metadata.json`` text ("" for the oplog and
    for old special entries) and ``metadata`` its parsed form (None when
    empty). ``type`` is as written: "" in archives of older mongodump versions.
    ``offset`` is where the entry starts in the archive.
    """

    db: str
    collection: str
    metadata_json: str
    size: int
    type: str
    metadata: CollectionMetadata | None
    offset: int

    @property
    def namespace(self) -> str:
        """``db.collection``."""
        return f"{self.db}.{self.collection}"

    @property
    def is_oplog(self) -> bool:
        """True for the oplog captured by ``mongodump --oplog``."""
        return (self.db, self.collection) == OPLOG_NAMESPACE

    @property
    def collection_type(self) -> str:
        """ "collection", "view" or "timeseries", from the entry or else its metadata."""
        if self.type:
            return self.type
        if self.metadata is not None and self.metadata.type:
            return self.metadata.type
        return "collection"


class ArchiveDocument(NamedTuple):
    """One document of a namespace, as it comes in the archive."""

    db: str
    collection: str
    offset: int
    raw: bytes


class ArchiveCollectionEnd(NamedTuple):
    """A namespace's end-of-collection block, after its CRC was checked."""

    db: str
    collection: str
    offset: int
    documents: int
    bytes: int
    crc: int


ArchiveEvent = ArchiveDocument | ArchiveCollectionEnd


def _decode(raw: bytes, name: str, offset: int, what: str) -> dict[str, Any]:
    try:
        return bson.decode(raw, _DECODE_OPTIONS)
    except Exception as error:  # InvalidBSON and the value errors the decoder raises
        raise damaged_archive(name, offset, f"the {what} does not decode: {error}") from error


class _Fields:
    """Typed access to the fields of one archive document, with errors that locate it.

    Go's unmarshalling leaves a missing field at its zero value, so a missing
    field gives the default; a field of the wrong type is damage.
    """

    def __init__(self, document: dict[str, Any], name: str, offset: int, what: str) -> None:
        self._document = document
        self._name = name
        self._offset = offset
        self._what = what

    def _get(self, key: str, kind: type, default: Any) -> Any:
        value = self._document.get(key, default)
        # bool is an int in Python, not in BSON.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise damaged_archive(
                self._name, self._offset, f"the {self._what} field {key!r} is not of the right type"
            )
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, str, ""))

    def number(self, key: str) -> int:
        return int(self._get(key, int, 0))

    def flag(self, key: str) -> bool:
        return bool(self._get(key, bool, False))


class _Namespace:
    """Reading state of one data namespace."""

    __slots__ = ("documents", "bytes", "crc", "ended")

    def __init__(self) -> None:
        self.documents = 0
        self.bytes = 0
        self.crc = 0
        self.ended = False


class ArchiveReader:
    """Read a mongodump archive from a binary stream (already decompressed).

    Construction reads the magic number, the header and the prelude
    (``header``, ``collections``); ``events()`` then streams the documents.
    ``name`` is used in errors. With ``validate``, every document is also
    checked structurally (the CRC already proves the bytes are the ones
    mongodump wrote, so this is rarely needed). Raise BackupError naming the
    file and offset for anything damaged.
    """

    def __init__(
        self,
        stream: BinaryIO,
        name: str,
        *,
        validate: bool = False,
        read_size: int = READ_SIZE,
    ) -> None:
        self.name = name
        self._read_magic(stream)
        self._reader = DocumentReader(
            stream, name, offset=len(MAGIC_BYTES), read_size=read_size, validate=validate
        )
        self.header = self._read_header()
        self.collections = self._read_prelude()
        self._data_namespaces = self._map_data_namespaces()
        self._consumed = False

    def _read_magic(self, stream: BinaryIO) -> None:
        head = b""
        while len(head) < 4:
            chunk = stream.read(4 - len(head))
            if not chunk:
                break
            head += chunk
        if head != MAGIC_BYTES:
            raise damaged_archive(
                self.name,
                0,
                "it does not start with the mongodump archive magic number 0x8199e26d "
                f"(found {head.hex() or 'nothing'}); not a mongodump archive",
            )

    def _frame(self, what: str) -> tuple[int, bytes]:
        offset = self._reader.offset
        frame = self._reader.read_frame()
        if frame is None:
            raise damaged_archive(self.name, offset, f"the archive ends where the {what} should be")
        if frame is TERMINATOR:
            raise damaged_archive(
                self.name, offset, f"found a terminator where the {what} should be"
            )
        assert isinstance(frame, bytes)
        return offset, frame

    def _read_header(self) -> ArchiveHeader:
        offset, raw = self._frame("archive header")
        document = _decode(raw, self.name, offset, "archive header")
        fields = _Fields(document, self.name, offset, "archive header")
        return ArchiveHeader(
            concurrent_collections=fields.number("concurrent_collections"),
            version=fields.text("version"),
            server_version=fields.text("server_version"),
            tool_version=fields.text("tool_version"),
        )

    def _read_prelude(self) -> tuple[ArchiveCollection, ...]:
        collections = []
        seen = set()
        while True:
            offset = self._reader.offset
            frame = self._reader.read_frame()
            if frame is None:
                raise damaged_archive(
                    self.name, offset, "the archive ends inside its list of collections"
                )
            if frame is TERMINATOR:
                break
            assert isinstance(frame, bytes)
            document = _decode(frame, self.name, offset, "collection metadata")
            fields = _Fields(document, self.name, offset, "collection metadata")
            db = fields.text("db")
            collection = fields.text("collection")
            metadata_json = fields.text("metadata")
            size = fields.number("size")
            collection_type = fields.text("type")
            if not collection:
                raise damaged_archive(
                    self.name, offset, "a collection entry has no collection name"
                )
            if (db, collection) in seen:
                raise damaged_archive(
                    self.name, offset, f"the collection {db}.{collection} is listed twice"
                )
            seen.add((db, collection))
            metadata = None
            if metadata_json:
                metadata = parse_metadata_json(
                    metadata_json,
                    source=f"{self.name}: damaged archive at offset {offset}: {db}.{collection}",
                )
            collections.append(
                ArchiveCollection(
                    db, collection, metadata_json, size, collection_type, metadata, offset
                )
            )
        return tuple(collections)

    def _map_data_namespaces(self) -> dict[tuple[str, str], ArchiveCollection]:
        namespaces = {}
        for entry in self.collections:
            namespaces[(entry.db, entry.collection)] = entry
            if entry.collection_type == "timeseries":
                namespaces[(entry.db, BUCKETS_PREFIX + entry.collection)] = entry
        return namespaces

    def collection_for(self, db: str, collection: str) -> ArchiveCollection | None:
        """Return the prelude entry a data namespace belongs to (time series: its buckets)."""
        return self._data_namespaces.get((db, collection))

    def events(self, *, documents: bool = True) -> Iterator[ArchiveEvent]:
        """Yield every document and every end of collection, in archive order.

        An ``ArchiveCollectionEnd`` comes once a namespace's CRC has been
        checked. The documents of a namespace whose CRC turns out wrong have
        already been yielded: a consumer must treat that collection as
        failed when the error is raised. Raise BackupError for a damaged or
        truncated archive, a CRC mismatch, data for an undeclared namespace,
        or a collection never ended. Can be iterated once.

        With ``documents=False`` only the ends are yielded: every document is
        still framed, counted and checksummed, but none is copied out (what
        counting and verifying need, several times faster).
        """
        if self._consumed:
            raise RuntimeError("ArchiveReader.events() can be iterated only once")
        self._consumed = True
        reader = self._reader
        name = self.name
        new_tuple = tuple.__new__
        states: dict[tuple[str, str], _Namespace] = {}
        while True:
            offset = reader.offset
            frame = reader.read_frame()
            if frame is None:
                self._check_complete(states, offset)
                return
            if frame is TERMINATOR:
                raise damaged_archive(
                    name, offset, "a terminator without a namespace header before it"
                )
            assert isinstance(frame, bytes)
            document = _decode(frame, name, offset, "namespace header")
            fields = _Fields(document, name, offset, "namespace header")
            db = fields.text("db")
            collection = fields.text("collection")
            at_end = fields.flag("EOF")
            crc = fields.number("CRC")
            if not collection:
                raise damaged_archive(name, offset, "a namespace header has no collection name")
            key = (db, collection)
            namespace = f"{db}.{collection}"
            if key not in self._data_namespaces:
                raise damaged_archive(
                    name, offset, f"data for {namespace}, which the archive's prelude does not list"
                )
            state = states.get(key)
            if state is None:
                state = states[key] = _Namespace()
            if state.ended:
                raise damaged_archive(name, offset, f"{namespace} appears again after its end")
            if at_end:
                after = reader.offset
                closing = reader.read_frame()
                if closing is not TERMINATOR:
                    raise damaged_archive(
                        name,
                        after,
                        f"the end of {namespace} is not followed by a terminator",
                    )
                expected = crc_to_int64(state.crc)
                if crc != expected:
                    raise damaged_archive(
                        name,
                        offset,
                        f"CRC mismatch for {namespace}: the archive says {crc}, its "
                        f"{state.documents} documents ({state.bytes} bytes) give {expected}",
                    )
                state.ended = True
                yield ArchiveCollectionEnd(
                    db, collection, offset, state.documents, state.bytes, state.crc
                )
                continue
            count = 0
            size = 0
            if not documents:
                count, size = reader.skip_documents(until_terminator=True, crc=state.crc)
            else:
                for document_offset, raw in reader.documents(until_terminator=True, crc=state.crc):
                    count += 1
                    size += len(raw)
                    # tuple.__new__ skips NamedTuple's Python-level __new__: this runs per document.
                    yield new_tuple(ArchiveDocument, (db, collection, document_offset, raw))
            state.crc = reader.crc or 0
            state.documents += count
            state.bytes += size

    def _check_complete(self, states: dict[tuple[str, str], _Namespace], offset: int) -> None:
        unfinished = sorted(
            f"{db}.{collection}" for (db, collection), state in states.items() if not state.ended
        )
        if unfinished:
            raise damaged_archive(
                self.name,
                offset,
                "the archive ends before the end of " + ", ".join(unfinished) + " (truncated?)",
            )
        ended = {self._data_namespaces[key].namespace for key in states}
        missing = [entry.namespace for entry in self.collections if entry.namespace not in ended]
        if missing:
            raise damaged_archive(
                self.name,
                offset,
                "the archive ends without the data of " + ", ".join(missing) + " (truncated?)",
            )


def read_archive(stream: BinaryIO, name: str, *, validate: bool = False) -> ArchiveReader:
    """Open the archive in ``stream`` (decompressed): read its header and prelude.

    Return an ``ArchiveReader``; iterate ``events()`` for the documents.
    Raise BackupError naming ``name`` and the offset for a bad magic number,
    a damaged header or prelude, or metadata that is not valid JSON.
    """
    return ArchiveReader(stream, name, validate=validate)


def _encode_size(size: int) -> int | Int64:
    # Go encodes its int as int32 when the value fits, int64 otherwise.
    return size if -(2**31) <= size < 2**31 else Int64(size)


@dataclass
class _WriterState:
    documents: int = 0
    bytes: int = 0
    crc: int = 0
    segments: int = 0
    ended: bool = False


class ArchiveWriter:
    """Write a mongodump archive that mongorestore reads.

    Declare every collection with ``add_collection`` (and the oplog with
    ``add_oplog``), call ``begin()`` once to write the magic number, header
    and prelude, then ``write_documents`` for any declared collection in any
    interleaving, ``end_collection`` for each, and ``close()``.

    At most ``concurrent_collections`` collections may have data written and
    not yet ended at any time (mongorestore sizes its work from that header
    field). Documents are written straight through, so memory does not grow
    with the data; each ``write_documents`` call for a namespace other than
    the current one starts a new segment. ``stream`` is not closed.

    Misuse (writing before ``begin``, undeclared or ended collections, too
    many open collections) raises ValueError; a document that is not framed
    BSON raises BackupError.
    """

    def __init__(
        self,
        stream: BinaryIO,
        *,
        server_version: str,
        tool_version: str,
        concurrent_collections: int = 4,
    ) -> None:
        if concurrent_collections < 1:
            raise ValueError("concurrent_collections must be at least 1")
        self._stream = stream
        self.server_version = server_version
        self.tool_version = tool_version
        self.concurrent_collections = concurrent_collections
        self._entries: list[tuple[str, str, str, str, int]] = []
        self._states: dict[tuple[str, str], _WriterState] = {}
        self._data_names: dict[tuple[str, str], str] = {}
        self._current: tuple[str, str] | None = None
        self._open: set[tuple[str, str]] = set()
        self._begun = False
        self._closed = False
        self._broken = False
        self._written = 0

    def _write(self, data: bytes) -> None:
        self._stream.write(data)
        self._written += len(data)

    @property
    def bytes_written(self) -> int:
        """How many bytes of archive have been written to the stream so far."""
        return self._written

    def add_collection(
        self,
        db: str,
        collection: str,
        metadata_json: str,
        type: str = "collection",
        *,
        size: int = 0,
    ) -> None:
        """Declare a collection: its metadata (``.metadata.json`` text) and type.

        ``type`` is what listCollections says ("collection", "view",
        "timeseries"); a time series' documents are written to its
        ``system.buckets`` namespace (servers before 8.3), as mongodump does.
        """
        if self._begun:
            raise ValueError("add_collection must come before begin()")
        if not collection:
            raise ValueError("a collection needs a name")
        key = (db, collection)
        if key in self._states:
            raise ValueError(f"{db}.{collection} is already declared")
        self._entries.append((db, collection, metadata_json, type, size))
        self._states[key] = _WriterState()
        self._data_names[key] = data_collection(collection, type, self.server_version)

    def add_oplog(self) -> None:
        """Declare the oplog namespace (``db: "", collection: "oplog"``), as ``--oplog`` does."""
        if self._begun:
            raise ValueError("add_oplog must come before begin()")
        if OPLOG_NAMESPACE in self._states:
            raise ValueError("the oplog is already declared")
        self._entries.append(("", "oplog", "", "", 0))
        self._states[OPLOG_NAMESPACE] = _WriterState()
        self._data_names[OPLOG_NAMESPACE] = "oplog"

    def begin(self) -> None:
        """Write the magic number, the header, the collection metadata and a terminator.

        Call once, after every collection is declared.
        """
        if self._begun:
            raise ValueError("begin() was already called")
        self._begun = True
        parts = [
            MAGIC_BYTES,
            bson.encode(
                {
                    "concurrent_collections": self.concurrent_collections,
                    "version": FORMAT_VERSION,
                    "server_version": self.server_version,
                    "tool_version": self.tool_version,
                }
            ),
        ]
        for db, collection, metadata_json, collection_type, size in self._entries:
            parts.append(
                bson.encode(
                    {
                        "db": db,
                        "collection": collection,
                        "metadata": metadata_json,
                        "size": _encode_size(size),
                        "type": collection_type,
                    }
                )
            )
        parts.append(TERMINATOR_BYTES)
        self._write(b"".join(parts))

    def _state(self, db: str, collection: str) -> _WriterState:
        if not self._begun:
            raise ValueError("call begin() before writing data")
        if self._closed:
            raise ValueError("the archive is closed")
        if self._broken:
            raise ValueError("the archive holds a bad block: discard it")
        state = self._states.get((db, collection))
        if state is None:
            raise ValueError(f"{db}.{collection} was not declared with add_collection")
        if state.ended:
            raise ValueError(f"{db}.{collection} was already ended")
        return state

    def _header(self, key: tuple[str, str], *, at_end: bool, crc: int) -> bytes:
        return bson.encode(
            {
                "db": key[0],
                "collection": self._data_names[key],
                "EOF": at_end,
                "CRC": Int64(crc),
            }
        )

    def _start_segment(self, key: tuple[str, str], state: _WriterState) -> None:
        if self._current == key:
            return
        if key not in self._open and len(self._open) >= self.concurrent_collections:
            raise ValueError(
                f"{key[0]}.{key[1]} would be collection {len(self._open) + 1} open at once; "
                f"the archive allows {self.concurrent_collections}: end one first"
            )
        prefix = TERMINATOR_BYTES if self._current is not None else b""
        self._write(prefix + self._header(key, at_end=False, crc=0))
        self._current = key
        self._open.add(key)
        state.segments += 1

    def write_documents(self, db: str, collection: str, raw_documents: Iterable[bytes]) -> int:
        """Append raw BSON documents to ``db.collection``; return how many were written.

        Raise BackupError for a document that is not framed BSON (nothing of
        it is written), ValueError for misuse (see the class).
        """
        key = (db, collection)
        state = self._state(db, collection)
        batch: list[bytes] = []
        batch_size = 0
        written = 0
        for raw in raw_documents:
            problem = check_frame(raw)
            if problem is not None:
                raise BackupError(
                    f"refusing to write document {state.documents + written} of "
                    f"{db}.{collection} to the archive: {problem}"
                )
            batch.append(raw)
            batch_size += len(raw)
            written += 1
            if batch_size >= _WRITE_BATCH:
                self._write_batch(key, state, batch)
                batch = []
                batch_size = 0
        if batch:
            self._write_batch(key, state, batch)
        return written

    def write_block(
        self,
        db: str,
        collection: str,
        block: bytes | memoryview,
        *,
        check_first: bool = True,
        documents: int | None = None,
    ) -> int:
        """Append raw BSON documents laid end to end (a server's raw batch); return how many.

        The same as ``write_documents`` for the documents in ``block``, without
        splitting it into separate objects first: one segment, one write. Raise
        BackupError for a block that is not framed documents end to end,
        ValueError for misuse (see the class). With ``check_first`` (the
        default) nothing of a bad block is written; without it the block is
        written before it is checked (a compressor gets on with it sooner), and
        a bad one leaves the archive unusable: discard it.

        ``documents``, when the caller knows it, is how many documents the
        block holds, framing already checked (the driver checks every
        document of a raw batch as it unpacks the reply): the block is then
        written without a pass over its documents.
        """
        key = (db, collection)
        state = self._state(db, collection)
        if documents is not None:
            if documents:
                self._write_bytes(key, state, block, documents)
            return documents
        if not check_first:
            # The block goes to the stream first, and is counted while the compressor's
            # workers are already busy with it; a bad block then breaks the archive.
            if not block:
                return 0
            self._start_segment(key, state)
            self._write(block)
            try:
                count = count_documents(block, f"the block for {db}.{collection}")
            except BackupError:
                self._broken = True  # the stream holds a bad block: nothing more goes in
                raise
            state.crc = crc64.xz(block, state.crc)
            state.documents += count
            state.bytes += len(block)
            return count
        count = count_documents(block, f"the block for {db}.{collection}")
        if count:
            self._write_bytes(key, state, block, count)
        return count

    def _write_batch(self, key: tuple[str, str], state: _WriterState, batch: list[bytes]) -> None:
        self._write_bytes(key, state, b"".join(batch), len(batch))

    def _write_bytes(
        self, key: tuple[str, str], state: _WriterState, block: bytes, count: int
    ) -> None:
        self._start_segment(key, state)
        self._write(block)
        state.crc = crc64.xz(block, state.crc)
        state.documents += count
        state.bytes += len(block)

    def end_collection(self, db: str, collection: str) -> ArchiveCollectionEnd:
        """Write the end of ``db.collection`` with its CRC; return its totals.

        The result names the data namespace and the offset of the end block,
        as the reader reports them.

        A collection that never had a document gets an empty segment first,
        as mongodump writes for views and empty collections.
        """
        key = (db, collection)
        state = self._state(db, collection)
        if state.segments == 0:
            self._start_segment(key, state)
        if self._current is not None:
            self._write(TERMINATOR_BYTES)
        offset = self._written
        self._write(self._header(key, at_end=True, crc=crc_to_int64(state.crc)) + TERMINATOR_BYTES)
        self._current = None
        self._open.discard(key)
        state.ended = True
        return ArchiveCollectionEnd(
            db, self._data_names[key], offset, state.documents, state.bytes, state.crc
        )

    def close(self) -> None:
        """Check that every declared collection was ended and flush ``stream`` (left open).

        Raise ValueError naming the collections not ended: an archive
        without their ends is one mongorestore refuses.
        """
        if self._closed:
            return
        if not self._begun:
            raise ValueError("close() before begin(): nothing was written")
        if self._broken:
            raise ValueError("the archive holds a bad block: discard it")
        unfinished = [
            f"{db}.{collection}"
            for (db, collection), state in self._states.items()
            if not state.ended
        ]
        if unfinished:
            raise ValueError("collections not ended: " + ", ".join(unfinished))
        self._closed = True
        self._stream.flush()
