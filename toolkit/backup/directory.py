"""The directory dump format of mongodump/mongorestore: write it, read it back.

Layout (mongo-tools ``mongodump/prepare.go`` and ``mongorestore/filepath.go``)::

    <root>/prelude.json                 {"ServerVersion": ..., "ToolVersion": ...}
    <root>/oplog.bson                   with --oplog: the oplog entries, verbatim
    <root>/<db>/<name>.bson             the collection's documents, end to end
    <root>/<db>/<name>.metadata.json    canonical Extended JSON: options, indexes, uuid,
                                        collectionName, type

- ``--gzip`` compresses every one of those files and adds ``.gz``; this
  toolkit can also write zstd (``.zst``), which only this toolkit reads.
- ``<name>`` is the collection name escaped like Go's ``url.PathEscape``; a
  name whose escaped form is longer than 238 bytes becomes its first 208
  escaped bytes, ``%24`` and the unpadded URL-safe base64 of the SHA-1 of the
  unescaped name (238 bytes at most, so that ``.metadata.json.gz`` still fits
  in 255). A reader recognises such a name (238 long, containing ``%24``) and
  takes the real name from the metadata's ``collectionName``. Our ``.zst``
  files shorten at 237 bytes, since ".zst" is one byte longer than ".gz".
- A time-series collection ``x`` stores its buckets as ``system.buckets.x.bson``
  beside ``x.metadata.json`` (``"type":"timeseries"``); a view has only its
  metadata file (``"type":"view"``, ``options.viewOn``/``pipeline``).
- With ``--db``, mongodump writes ``prelude.json`` into the database directory.

Metadata is written exactly as mongodump's ``bson.MarshalExtJSON(meta, true,
false)`` writes it: no whitespace, keys in the order options (left out when
empty), indexes, uuid (left out when empty), collectionName, type (left out
when empty); ``{"$numberInt": "2"}``, ``{"$numberDouble": "1.0"}`` (Go's
shortest %G form), ``{"$numberLong": ...}``; no HTML escaping.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from bson import json_util
from bson.code import Code
from bson.dbref import DBRef
from bson.int64 import Int64
from fastcrc import crc64

from toolkit.backup import compression as compress
from toolkit.backup.bsonstream import DocumentReader, check_frame
from toolkit.errors import BackupError

MAX_ESCAPED_NAME: Final = 238
MAX_FILE_NAME: Final = 255
BUCKETS_PREFIX: Final = "system.buckets."
PRELUDE_NAME: Final = "prelude.json"
OPLOG_NAME: Final = "oplog.bson"
_WRITE_BATCH: Final = 1024 * 1024

# Go's url.PathEscape leaves letters, digits, "-_.~" and "$&+:=@" alone.
_PATH_SAFE: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~$&+:=@"
)


# --- collection names in file names ------------------------------------------------------


def escape_collection_name(name: str) -> str:
    """Escape ``name`` for a file name as mongodump does (Go's ``url.PathEscape``).

    Every UTF-8 byte outside letters, digits and ``-_.~$&+:=@`` becomes ``%XX``
    (upper-case hex), so "/" is "%2F", " " is "%20" and "é" is "%C3%A9".
    """
    return "".join(
        chr(byte) if byte in _PATH_SAFE else f"%{byte:02X}"
        for byte in name.encode("utf-8", "surrogatepass")
    )


def unescape_collection_name(escaped: str) -> str:
    """Undo ``escape_collection_name`` (Go's ``url.PathUnescape``: "+" stays "+").

    Raise ValueError for a "%" not followed by two hexadecimal digits.
    """
    raw = escaped.encode("utf-8", "surrogateescape")
    out = bytearray()
    position = 0
    while position < len(raw):
        byte = raw[position]
        if byte == 0x25:  # "%"
            digits = raw[position + 1 : position + 3]
            if len(digits) != 2 or not all(d in b"0123456789abcdefABCDEF" for d in digits):
                raise ValueError(f"invalid escape {escaped[position : position + 3]!r}")
            out.append(int(digits, 16))
            position += 3
        else:
            out.append(byte)
            position += 1
    return out.decode("utf-8", "surrogateescape")


def collection_file_stem(name: str, *, max_length: int = MAX_ESCAPED_NAME) -> str:
    """Return the file name (without suffix) mongodump uses for collection ``name``.

    The escaped name, or for one longer than ``max_length`` (238) bytes its
    first ``max_length - 30`` bytes, "%24" and the base64url (unpadded)
    SHA-1 of ``name`` (mongodump ``outputPath`` in prepare.go).
    """
    escaped = escape_collection_name(name)
    if len(escaped) > max_length:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).digest()  # noqa: S324 - a name, not security
        hashed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
        escaped = escaped[: max_length - 3 - len(hashed)] + "%24" + hashed
    return escaped


def stem_limit(compression: compress.Compression) -> int:
    """Return the longest stem that keeps ``<stem>.metadata.json<suffix>`` within 255 bytes.

    238 for plain and gzip files, as mongodump; 237 for zstd, whose ".zst"
    is one byte longer than ".gz".
    """
    return min(
        MAX_ESCAPED_NAME, MAX_FILE_NAME - len(".metadata.json" + compress.suffix(compression))
    )


def is_shortened_stem(stem: str) -> bool:
    """Return True when ``stem`` is a shortened name rather than an escaped one.

    Escaping never produces "%24" ("$" is left as it is), so "%24" marks the
    hash delimiter. (mongorestore also checks for a length of 238; zstd
    files of this toolkit use 237.)
    """
    return "%24" in stem


def data_collection_name(collection: str, type: str) -> str:
    """Return the collection whose documents mongodump writes for ``collection`` of ``type``.

    A time-series collection's data is its buckets collection.
    """
    return BUCKETS_PREFIX + collection if type == "timeseries" else collection


# --- metadata: canonical Extended JSON -----------------------------------------------------


@dataclass(frozen=True)
class CollectionMetadata:
    """What a ``.metadata.json`` file says about one collection.

    ``options`` and ``indexes`` hold BSON-typed values (int for int32,
    ``Int64``, float, ``ObjectId``...), in file order. ``uuid`` is the
    collection UUID as 32 hex digits; ``collection_name`` and ``type`` are
    None when the file does not give them (older mongodump).
    """

    options: dict[str, Any] = field(default_factory=dict)
    indexes: list[dict[str, Any]] = field(default_factory=list)
    uuid: str | None = None
    collection_name: str | None = None
    type: str | None = None

    def to_json(self, collection_name: str | None = None) -> str:
        """Return the metadata as mongodump writes it (see ``render_metadata_json``).

        ``collection_name`` replaces the stored one; mongodump always writes
        one, so give it for metadata read from a file of an older mongodump.
        """
        return render_metadata_json(
            options=self.options,
            indexes=self.indexes,
            uuid=self.uuid,
            collection_name=collection_name or self.collection_name or "",
            type=self.type,
        )


def format_double(value: float) -> str:
    """Format ``value`` as Go's canonical Extended JSON writer does ("1.0", "2.5", "1E+06").

    Go prints the shortest digits that round-trip with %G (exponent form when
    the decimal exponent is below -4 or at least 6, two-digit exponent), then
    adds ".0" when there is neither a point nor an exponent.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    exponent = int(exponent) + len(digit_tuple) - len(digits)
    count = len(digits)
    point = exponent + count  # the decimal point sits after this many digits
    decimal_exponent = point - 1
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if count > 1 else "")
        text = f"{mantissa}E{'+' if decimal_exponent >= 0 else '-'}{abs(decimal_exponent):02d}"
    elif point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= count:
        text = digits + "0" * (point - count)
    else:
        text = digits[:point] + "." + digits[point:]
    if "E" not in text and "." not in text:
        text += ".0"
    return sign + text


_CANONICAL = json_util.CANONICAL_JSON_OPTIONS
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1


def _to_canonical(value: Any) -> Any:
    """Turn a BSON-typed value into plain JSON data in canonical Extended JSON form."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Int64):
        return {"$numberLong": str(int(value))}
    if isinstance(value, int):
        if _INT32_MIN <= value <= _INT32_MAX:
            return {"$numberInt": str(value)}
        return {"$numberLong": str(value)}
    if isinstance(value, float):
        return {"$numberDouble": format_double(value)}
    if isinstance(value, Mapping):
        return {str(key): _to_canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_canonical(item) for item in value]
    if isinstance(value, Code):
        if value.scope is None:
            return {"$code": str(value)}
        return {"$code": str(value), "$scope": _to_canonical(value.scope)}
    if isinstance(value, DBRef):
        return _to_canonical(value.as_doc())
    # ObjectId, datetime, Binary, bytes, UUID, Regex, Timestamp, Decimal128, Min/MaxKey:
    # leaves whose canonical form has no nested BSON values.
    return json_util.default(value, _CANONICAL)


_ESCAPED = re.compile('[\x00-\x1f"\\\\\u2028\u2029]')
_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}


def _escape_character(match: re.Match[str]) -> str:
    character = match.group()
    return _ESCAPES.get(character) or f"\\u{ord(character):04x}"


def _json_string(text: str) -> str:
    # The Go driver's writeStringWithEscapes with escapeHTML=false.
    return '"' + _ESCAPED.sub(_escape_character, text) + '"'


def _write_json(value: Any, parts: list[str]) -> None:
    if isinstance(value, str):
        parts.append(_json_string(value))
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif value is None:
        parts.append("null")
    elif isinstance(value, int):
        parts.append(str(value))
    elif isinstance(value, Mapping):
        parts.append("{")
        for number, (key, item) in enumerate(value.items()):
            if number:
                parts.append(",")
            parts.append(_json_string(key))
            parts.append(":")
            _write_json(item, parts)
        parts.append("}")
    elif isinstance(value, list):
        parts.append("[")
        for number, item in enumerate(value):
            if number:
                parts.append(",")
            _write_json(item, parts)
        parts.append("]")
    else:
        raise TypeError(f"cannot write {type(value).__name__} as JSON")


def to_canonical_extended_json(value: Any) -> str:
    """Return ``value`` (BSON-typed data) as compact canonical Extended JSON, as Go writes it."""
    parts: list[str] = []
    _write_json(_to_canonical(value), parts)
    return "".join(parts)


def render_metadata_json(
    *,
    options: Mapping[str, Any] | None,
    indexes: Iterable[Mapping[str, Any]],
    uuid: str | None,
    collection_name: str,
    type: str | None = None,
) -> str:
    """Return the ``.metadata.json`` text mongodump writes for one collection.

    ``options`` are the collection options from listCollections, ``indexes``
    the index specs from listIndexes (BSON-typed, in server order), ``uuid``
    the collection UUID as 32 hex digits, ``type`` the listCollections type
    ("collection", "view", "timeseries"). Empty options, uuid and type are
    left out, as mongodump's ``omitempty`` does; indexes are always there.
    """
    document: dict[str, Any] = {}
    if options:
        document["options"] = dict(options)
    document["indexes"] = [dict(index) for index in indexes]
    if uuid:
        document["uuid"] = uuid
    document["collectionName"] = collection_name
    if type:
        document["type"] = type
    return to_canonical_extended_json(document)


def parse_metadata_json(text: str | bytes, *, source: str) -> CollectionMetadata:
    """Parse a ``.metadata.json`` text (canonical or relaxed Extended JSON).

    ``source`` names where it came from in errors. Raise BackupError when it
    is not JSON, not an object, or its fields have the wrong types.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        document = json_util.loads(text)
    except Exception as error:  # json, base64, ObjectId, date parsing: all mean a bad file
        raise BackupError(
            f"{source}: the collection metadata is not valid Extended JSON: {error}"
        ) from error
    if not isinstance(document, dict):
        raise BackupError(f"{source}: the collection metadata is not a JSON object")
    options = document.get("options", {})
    indexes = document.get("indexes", [])
    uuid = document.get("uuid")
    collection_name = document.get("collectionName")
    collection_type = document.get("type")
    if options is None:
        options = {}
    if indexes is None:
        indexes = []
    if not isinstance(options, dict):
        raise BackupError(f"{source}: the metadata field 'options' is not an object")
    if not isinstance(indexes, list) or not all(isinstance(index, dict) for index in indexes):
        raise BackupError(f"{source}: the metadata field 'indexes' is not a list of objects")
    for key, value in (
        ("uuid", uuid),
        ("collectionName", collection_name),
        ("type", collection_type),
    ):
        if value is not None and not isinstance(value, str):
            raise BackupError(f"{source}: the metadata field {key!r} is not a string")
    return CollectionMetadata(
        options=options,
        indexes=indexes,
        uuid=uuid or None,
        collection_name=collection_name,
        type=collection_type or None,
    )


# --- writing -------------------------------------------------------------------------------


def database_directory(root: Path, db: str) -> Path:
    """Return the directory of database ``db`` under dump root ``root``."""
    if not db or "/" in db or "\x00" in db or db in (".", ".."):
        raise ValueError(f"{db!r} cannot be a database directory name")
    return Path(root) / db


def data_file_path(
    root: Path,
    db: str,
    collection: str,
    *,
    type: str = "collection",
    compression: compress.Compression = "none",
) -> Path:
    """Return where mongodump puts the documents of ``db.collection`` (buckets for time series)."""
    stem = collection_file_stem(
        data_collection_name(collection, type), max_length=stem_limit(compression)
    )
    return database_directory(root, db) / (stem + ".bson" + compress.suffix(compression))


def metadata_file_path(
    root: Path, db: str, collection: str, *, compression: compress.Compression = "none"
) -> Path:
    """Return where mongodump puts the metadata of ``db.collection``."""
    stem = collection_file_stem(collection, max_length=stem_limit(compression))
    return database_directory(root, db) / (stem + ".metadata.json" + compress.suffix(compression))


def _write_small_file(path: Path, data: bytes, compression: compress.Compression) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        writer = compress.open_writer(handle, compression, threads=0)
        writer.write(data)
        writer.close()
    return path


def write_metadata(
    root: Path,
    db: str,
    collection: str,
    metadata_json: str,
    *,
    compression: compress.Compression = "none",
) -> Path:
    """Write ``metadata_json`` as ``<root>/<db>/<name>.metadata.json[.gz|.zst]``.

    Return the path written.
    """
    path = metadata_file_path(root, db, collection, compression=compression)
    return _write_small_file(path, metadata_json.encode("utf-8"), compression)


def render_prelude_json(*, server_version: str, tool_version: str) -> str:
    """Return the ``prelude.json`` text mongodump writes."""
    return json.dumps(
        {"ServerVersion": server_version, "ToolVersion": tool_version},
        separators=(",", ":"),
        ensure_ascii=False,
    )


def write_prelude(
    directory: Path,
    *,
    server_version: str,
    tool_version: str,
    compression: compress.Compression = "none",
) -> Path:
    """Write ``prelude.json[.gz|.zst]`` into ``directory`` (the dump root); return the path."""
    path = Path(directory) / (PRELUDE_NAME + compress.suffix(compression))
    text = render_prelude_json(server_version=server_version, tool_version=tool_version)
    return _write_small_file(path, text.encode("utf-8"), compression)


class BSONFileWriter:
    """Write raw BSON documents to one ``.bson`` file, compressed as asked.

    Use as a context manager; ``documents``, ``bytes`` (uncompressed) and
    ``crc64`` (CRC-64/XZ of those bytes) describe what was written. The file
    is complete only after ``close()``.
    """

    def __init__(
        self,
        path: Path,
        *,
        compression: compress.Compression = "none",
        level: int | None = None,
        threads: int = -1,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self._writer = compress.open_writer(self._handle, compression, level=level, threads=threads)
        self.documents = 0
        self.bytes = 0
        self.crc64 = 0
        self._batch: list[bytes] = []
        self._batch_size = 0
        self._closed = False

    def write(self, raw: bytes) -> None:
        """Append one raw BSON document; raise BackupError if it is not framed as one."""
        problem = check_frame(raw)
        if problem is not None:
            raise BackupError(
                f"{self.path}: refusing to write document {self.documents}: {problem}"
            )
        self._batch.append(raw)
        self._batch_size += len(raw)
        self.documents += 1
        if self._batch_size >= _WRITE_BATCH:
            self._flush_batch()

    def write_documents(self, raw_documents: Iterable[bytes]) -> None:
        """Append every document of ``raw_documents``."""
        for raw in raw_documents:
            self.write(raw)

    def _flush_batch(self) -> None:
        if self._batch:
            block = b"".join(self._batch)
            self._writer.write(block)
            self.crc64 = crc64.xz(block, self.crc64)
            self.bytes += len(block)
            self._batch = []
            self._batch_size = 0

    def close(self) -> None:
        """Finish the compressed stream and close the file."""
        if self._closed:
            return
        self._closed = True
        try:
            self._flush_batch()
            self._writer.close()
        finally:
            self._handle.close()

    def __enter__(self) -> BSONFileWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True)
class WrittenCollection:
    """The files written for one collection and what they hold."""

    db: str
    collection: str
    data_path: Path | None
    metadata_path: Path
    documents: int
    bytes: int
    crc64: int


def write_collection(
    root: Path,
    db: str,
    collection: str,
    *,
    metadata_json: str,
    documents: Iterable[bytes],
    type: str = "collection",
    compression: compress.Compression = "none",
    level: int | None = None,
    threads: int = -1,
) -> WrittenCollection:
    """Write one collection of a directory dump: its ``.bson`` (buckets for a time series,
    nothing for a view) and its ``.metadata.json``.

    ``documents`` are raw BSON documents, streamed to the file as they come.
    Raise BackupError for a document that is not framed BSON.
    """
    metadata_path = write_metadata(root, db, collection, metadata_json, compression=compression)
    if type == "view":
        return WrittenCollection(db, collection, None, metadata_path, 0, 0, 0)
    path = data_file_path(root, db, collection, type=type, compression=compression)
    with BSONFileWriter(path, compression=compression, level=level, threads=threads) as writer:
        writer.write_documents(documents)
    return WrittenCollection(
        db, collection, path, metadata_path, writer.documents, writer.bytes, writer.crc64
    )


def open_oplog_writer(
    root: Path,
    *,
    compression: compress.Compression = "none",
    level: int | None = None,
    threads: int = -1,
) -> BSONFileWriter:
    """Return a writer for ``<root>/oplog.bson[.gz|.zst]``."""
    return BSONFileWriter(
        Path(root) / (OPLOG_NAME + compress.suffix(compression)),
        compression=compression,
        level=level,
        threads=threads,
    )


# --- reading -------------------------------------------------------------------------------


def iter_file_documents(path: Path, *, validate: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield (offset, raw document) from a ``.bson`` file, plain or compressed.

    The compression is recognised from the content. Offsets are in the
    decompressed data. Raise BackupError naming the file for damaged data.
    """
    with compress.open_file(path) as (reader, _compression):
        yield from DocumentReader(reader, str(path), validate=validate).documents()


def read_small_file(path: Path) -> bytes:
    """Return the decompressed content of a small file (metadata, prelude)."""
    with compress.open_file(path) as (reader, _compression):
        return reader.read()


def _split_suffix(name: str) -> tuple[str, str] | None:
    """Split a dump file name into (stem, kind) with kind "data" or "metadata", or None."""
    base = name
    for ending in (".gz", ".zst"):
        if base.endswith(ending):
            base = base[: -len(ending)]
            break
    if base.endswith(".metadata.json"):
        return base[: -len(".metadata.json")], "metadata"
    if base.endswith(".bson"):
        return base[: -len(".bson")], "data"
    return None


@dataclass(frozen=True)
class DumpCollection:
    """One collection found in a directory dump.

    ``data_path`` is None for a view; ``metadata_path`` and ``metadata`` are
    None for a ``.bson`` file without a metadata file. ``type`` is
    "collection", "view" or "timeseries" (from the metadata, else "collection").
    For a time series, ``data_path`` is its ``system.buckets`` file.
    """

    db: str
    collection: str
    type: str
    metadata: CollectionMetadata | None
    data_path: Path | None
    metadata_path: Path | None

    def documents(self, *, validate: bool = False) -> Iterator[tuple[int, bytes]]:
        """Return an iterator of (offset, raw document) over the collection's data file.

        Empty for a view. The file is opened on the first ``next()``.
        """
        if self.data_path is None:
            return iter(())
        return iter_file_documents(self.data_path, validate=validate)


@dataclass(frozen=True)
class DirectoryDump:
    """What a directory dump holds: its collections, oplog file and prelude."""

    root: Path
    collections: tuple[DumpCollection, ...]
    oplog_path: Path | None
    server_version: str | None
    tool_version: str | None

    def oplog_entries(self, *, validate: bool = False) -> Iterator[tuple[int, bytes]]:
        """Return an iterator of (offset, raw entry) over ``oplog.bson`` (empty without one)."""
        if self.oplog_path is None:
            return iter(())
        return iter_file_documents(self.oplog_path, validate=validate)


def _find_file(directory: Path, name: str) -> Path | None:
    for candidate in (name, name + ".gz", name + ".zst"):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def read_prelude(path: Path) -> tuple[str | None, str | None]:
    """Return (server version, tool version) from a ``prelude.json[.gz]``; raise BackupError."""
    try:
        document = json.loads(read_small_file(path).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BackupError(f"{path}: the prelude is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise BackupError(f"{path}: the prelude is not a JSON object")
    versions = []
    for key in ("ServerVersion", "ToolVersion"):
        value = document.get(key)
        if value is not None and not isinstance(value, str):
            raise BackupError(f"{path}: the prelude field {key!r} is not a string")
        versions.append(value)
    return versions[0], versions[1]


def _dump_files(directory: Path) -> list[tuple[Path, str, str]]:
    """Return (path, stem, kind) for every collection file directly in ``directory``."""
    found = []
    for path in sorted(directory.iterdir()):
        if not path.is_file():
            continue
        split = _split_suffix(path.name)
        if split is not None:
            found.append((path, split[0], split[1]))
    return found


def is_database_directory(directory: Path) -> bool:
    """Return True when ``directory`` directly holds collection files other than ``oplog.bson``.

    (``oplog.bson`` sits at the top of a dump root, beside the database directories.)
    """
    return any(
        not (stem == "oplog" and kind == "data") for _path, stem, kind in _dump_files(directory)
    )


def looks_like_dump(directory: Path) -> bool:
    """Return True when ``directory`` is a dump root or a database directory of a dump."""
    directory = Path(directory)
    if not directory.is_dir():
        return False
    if _find_file(directory, OPLOG_NAME) or _find_file(directory, PRELUDE_NAME):
        return True
    if is_database_directory(directory):
        return True
    return any(entry.is_dir() and is_database_directory(entry) for entry in directory.iterdir())


def _read_database(directory: Path, db: str) -> list[DumpCollection]:
    metadata_files: dict[str, tuple[Path, CollectionMetadata]] = {}
    data_files: dict[str, Path] = {}
    for path, stem, kind in _dump_files(directory):
        files: dict[str, Any] = metadata_files if kind == "metadata" else data_files
        if stem in files:
            other = files[stem][0] if kind == "metadata" else files[stem]
            raise BackupError(f"{path}: the same collection is also in {other.name}")
        if kind == "metadata":
            metadata = parse_metadata_json(read_small_file(path), source=str(path))
            metadata_files[stem] = (path, metadata)
        else:
            data_files[stem] = path

    def resolve(stem: str, path: Path) -> str:
        if is_shortened_stem(stem):
            entry = metadata_files.get(stem)
            if entry is not None and entry[1].collection_name:
                return entry[1].collection_name
            # A long time series' buckets file has a hash of its own.
            for _path, metadata in metadata_files.values():
                name = metadata.collection_name
                if name and metadata.type == "timeseries":
                    buckets = data_collection_name(name, "timeseries")
                    if collection_file_stem(buckets, max_length=len(stem)) == stem:
                        return buckets
            raise BackupError(
                f"{path}: the file name is shortened and no metadata file with the same name "
                "gives the collection's full name (collectionName)"
            )
        try:
            return unescape_collection_name(stem)
        except ValueError as error:
            raise BackupError(
                f"{path}: cannot read a collection name from the file name: {error}"
            ) from error

    metadata_by_name = {
        resolve(stem, path): (path, metadata) for stem, (path, metadata) in metadata_files.items()
    }
    data_by_name = {resolve(stem, path): path for stem, path in data_files.items()}
    collections = []
    for name, (path, metadata) in metadata_by_name.items():
        collection_type = metadata.type or "collection"
        data_path = data_by_name.pop(data_collection_name(name, collection_type), None)
        if data_path is None and collection_type == "timeseries":
            # Viewless time series (8.3+) keep their data under their own name.
            data_path = data_by_name.pop(name, None)
        collections.append(DumpCollection(db, name, collection_type, metadata, data_path, path))
    for name, data_path in data_by_name.items():
        collections.append(DumpCollection(db, name, "collection", None, data_path, None))
    return sorted(collections, key=lambda collection: collection.collection)


def read_directory(path: Path) -> DirectoryDump:
    """Read a directory dump (mongodump's or this toolkit's, plain, gzip or zstd).

    ``path`` is the dump root, or one database directory of a dump (as
    mongorestore accepts; the prelude is then looked for there and in its
    parent). Metadata files are parsed now; documents are read only when
    asked. Raise BackupError for unreadable metadata, prelude or names.
    """
    root = Path(path)
    if not root.is_dir():
        raise BackupError(f"{root}: not a directory")
    collections: list[DumpCollection] = []
    oplog_path = None
    if is_database_directory(root):
        collections.extend(_read_database(root, root.name))
        prelude = _find_file(root, PRELUDE_NAME) or _find_file(root.parent, PRELUDE_NAME)
    else:
        for entry in sorted(root.iterdir()):
            if entry.is_dir():
                collections.extend(_read_database(entry, entry.name))
        oplog_path = _find_file(root, OPLOG_NAME)
        prelude = _find_file(root, PRELUDE_NAME)
        if prelude is None:
            # mongodump --db writes the prelude into the database directory.
            databases = {collection.db for collection in collections}
            if len(databases) == 1:
                prelude = _find_file(root / databases.pop(), PRELUDE_NAME)
    server_version = tool_version = None
    if prelude is not None:
        server_version, tool_version = read_prelude(prelude)
    return DirectoryDump(root, tuple(collections), oplog_path, server_version, tool_version)


def read_bson_file(path: Path) -> DirectoryDump:
    """Read a lone ``.bson`` file (and the ``.metadata.json`` beside it, if any).

    As mongorestore does for a file argument: the collection name comes from
    the file name and the database from the directory it sits in ("test"
    where there is none). ``path`` may name the ``.metadata.json`` instead. A
    file named ``oplog.bson`` is read as an oplog. Raise BackupError when the
    name is not a collection file's.
    """
    path = Path(path)
    split = _split_suffix(path.name)
    if split is None:
        raise BackupError(f"{path}: not a .bson or .metadata.json file")
    stem, kind = split
    directory = path.parent
    prelude = _find_file(directory, PRELUDE_NAME) or _find_file(directory.parent, PRELUDE_NAME)
    server_version = tool_version = None
    if prelude is not None:
        server_version, tool_version = read_prelude(prelude)
    if stem == "oplog" and kind == "data":
        return DirectoryDump(directory, (), path, server_version, tool_version)
    if not path.is_file():
        raise BackupError(f"{path}: no such file")
    data_path = path if kind == "data" else _find_file(directory, stem + ".bson")
    metadata_path = path if kind == "metadata" else _find_file(directory, stem + ".metadata.json")
    if data_path is None and metadata_path is None:
        raise BackupError(f"{path}: no such file")
    metadata = None
    if metadata_path is not None:
        metadata = parse_metadata_json(read_small_file(metadata_path), source=str(metadata_path))
    if is_shortened_stem(stem) and metadata is not None and metadata.collection_name:
        name = metadata.collection_name
    else:
        try:
            name = unescape_collection_name(stem)
        except ValueError as error:
            raise BackupError(
                f"{path}: cannot read a collection name from the file name: {error}"
            ) from error
    db = directory.resolve().name or "test"
    collection_type = (metadata.type if metadata else None) or "collection"
    collection = DumpCollection(db, name, collection_type, metadata, data_path, metadata_path)
    return DirectoryDump(directory, (collection,), None, server_version, tool_version)
