"""The manifest written last beside a backup: what it holds and how to check it.

A backup is complete exactly when its ``manifest.json`` exists (storage writes
it last), so the manifest records everything a restore or a verify needs
without reading the dump: the server it came from, the layout and
compression, the oplog range, the size and SHA-256 of every file, and the
document count of every collection.

``Manifest.to_json()`` is deterministic (fixed key order, files and
collections sorted, 2-space indent, ASCII, trailing newline), so the same
backup always gives the same bytes. ``Manifest.from_json()`` reads only
format_version 1 and refuses anything else with a BackupError naming the file
and listing every problem found.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

from toolkit.errors import BackupError

FORMAT_VERSION = 1
CHUNK_SIZE = 1024 * 1024  # verify_files reads 1 MiB at a time: memory stays flat for any dump size
TOPOLOGIES = ("standalone", "replica set", "sharded")
LAYOUTS = ("archive", "directory")
COMPRESSIONS = ("zstd", "gzip", "none")
STATUSES = ("complete",)  # a manifest is written only when the backup completed

_LABEL = re.compile(r"[A-Za-z0-9_-]{1,40}")
_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_ID = re.compile(r"([0-9]{8}T[0-9]{6}Z)(?:-([A-Za-z0-9_-]{1,40}))?")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_UINT32_MAX = 2**32 - 1  # a BSON timestamp's seconds and increment are unsigned 32-bit
_MAX_LISTED_PROBLEMS = 20

FileProblemKind = Literal["missing", "unreadable", "size", "checksum"]


def new_backup_id(started_at: datetime, label: str | None = None) -> str:
    """Return the id of a backup started at ``started_at``: ``20261123T075541Z[-label]``.

    Ids sort in start order as plain strings. The time is taken in UTC to the
    second. Raise ValueError for a naive datetime or a label that is not 1 to
    40 of A-Z, a-z, 0-9, ``_`` and ``-``.
    """
    moment = _check_moment(started_at)
    if label is not None and not (isinstance(label, str) and _LABEL.fullmatch(label)):
        raise ValueError(f"a backup label is 1 to 40 of A-Z a-z 0-9 _ -, not {_show(label)}")
    stamp = moment.strftime(_ID_TIME_FORMAT)
    return stamp if label is None else f"{stamp}-{label}"


# -- field checks: each returns the normalised value or raises ValueError ------------------


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise ValueError(f"must be a non-negative integer, not {_show(value)}")
    return value


def _check_uint32(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= _UINT32_MAX:
        raise ValueError(f"must be an integer from 0 to {_UINT32_MAX}, not {_show(value)}")
    return value


def _check_text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, not {_show(value)}")
    return value


def _check_choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, not {_show(value)}")
        return value

    return check


def _check_moment(value: Any) -> datetime:
    """Accept an aware datetime or an ISO-8601 string with an offset; return it in UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO-8601 time: {_show(value)}") from None
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"must be a time with a UTC offset, not {_show(value)}")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 moved across midnight by its offset
        raise ValueError(f"out of range in UTC: {_show(value)}") from None


def _format_moment(moment: datetime) -> str:
    # isoformat pads the year to 4 digits (strftime's %Y does not on glibc) and keeps microseconds.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _check_id(value: Any) -> str:
    match = _ID.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(
            f"must look like 20261123T075541Z or 20261123T075541Z-label, not {_show(value)}"
        )
    try:
        datetime.strptime(match.group(1), _ID_TIME_FORMAT)
    except ValueError:
        raise ValueError(f"is not a valid time: {_show(value)}") from None
    return value


def _check_label(value: Any) -> str | None:
    if value is not None and not (isinstance(value, str) and _LABEL.fullmatch(value)):
        raise ValueError(f"must be null or 1 to 40 of A-Z a-z 0-9 _ -, not {_show(value)}")
    return value


def _check_sha256(value: Any) -> str:
    if not isinstance(value, str) or not _SHA256.fullmatch(value):
        raise ValueError(f"must be 64 lowercase hexadecimal digits, not {_show(value)}")
    return value


def _check_relative_path(value: Any) -> str:
    """A path inside the backup: '/'-separated, no empty, '.' or '..' part, no NUL or backslash.

    verify_files opens these paths, so a manifest must not be able to point outside its backup.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, not {_show(value)}")
    if (
        "\\" in value
        or "\x00" in value
        or any(part in ("", ".", "..") for part in value.split("/"))
    ):
        raise ValueError(f"must be a relative path inside the backup, not {_show(value)}")
    return value


def _check_format_version(value: Any) -> int:
    if type(value) is not int or value != FORMAT_VERSION:
        raise ValueError(
            f"unknown format_version {_show(value)} (this toolkit reads {FORMAT_VERSION})"
        )
    return value


def _check_items(kind: type, what: str) -> Callable[[Any], tuple[Any, ...]]:
    def check(value: Any) -> tuple[Any, ...]:
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            raise ValueError(f"must be a list of {what}, not {_show(value)}")
        for item in value:
            if not isinstance(item, kind):
                raise ValueError(f"must be a list of {what}, not one holding {_show(item)}")
        return tuple(value)

    return check


class FieldProblems(ValueError):
    """Raised by a manifest part's constructor: ``problems`` has one entry per bad field."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _normalise(instance: Any, checks: Mapping[str, Callable[[Any], Any]]) -> None:
    """Check each field of a frozen dataclass and store the normalised values.

    Raise ValueError listing every field's problem.
    """
    problems = []
    for name, check in checks.items():
        try:
            object.__setattr__(instance, name, check(getattr(instance, name)))
        except ValueError as error:
            problems.append(f"{name}: {error}")
    if problems:
        raise FieldProblems(problems)


# -- the manifest's parts ------------------------------------------------------------------


@dataclass(frozen=True)
class OplogPosition:
    """A BSON timestamp: seconds since the epoch (``t``) and increment in that second (``i``)."""

    t: int
    i: int

    def __post_init__(self) -> None:
        _normalise(self, {"t": _check_uint32, "i": _check_uint32})

    def to_document(self) -> dict[str, int]:
        return {"t": self.t, "i": self.i}


@dataclass(frozen=True)
class OplogRange:
    """The oplog entries captured with the dump: first, last and how many."""

    first: OplogPosition
    last: OplogPosition
    entries: int

    def __post_init__(self) -> None:
        position = _instance_of(OplogPosition, "an oplog position {t, i}")
        _normalise(self, {"first": position, "last": position, "entries": _check_count})
        if (self.last.t, self.last.i) < (self.first.t, self.first.i):
            raise ValueError("last: is before first")

    def to_document(self) -> dict[str, Any]:
        return {
            "first": self.first.to_document(),
            "last": self.last.to_document(),
            "entries": self.entries,
        }


@dataclass(frozen=True)
class ManifestFile:
    """One file of the backup: its path relative to the backup's root, size and SHA-256."""

    path: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        _normalise(
            self, {"path": _check_relative_path, "size": _check_count, "sha256": _check_sha256}
        )

    def to_document(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True)
class CollectionStats:
    """What the dump holds of one collection: documents and bytes written."""

    db: str
    collection: str
    documents: int
    bytes: int

    def __post_init__(self) -> None:
        _normalise(
            self,
            {
                "db": _check_text,
                "collection": _check_text,
                "documents": _check_count,
                "bytes": _check_count,
            },
        )

    def to_document(self) -> dict[str, Any]:
        return {
            "db": self.db,
            "collection": self.collection,
            "documents": self.documents,
            "bytes": self.bytes,
        }


def _instance_of(kind: type, what: str) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if not isinstance(value, kind):
            raise ValueError(f"must be {what}, not {_show(value)}")
        return value

    return check


def _check_oplog(value: Any) -> OplogRange | None:
    if value is not None and not isinstance(value, OplogRange):
        raise ValueError(f"must be null or an oplog range, not {_show(value)}")
    return value


def _check_databases(value: Any) -> tuple[str, ...]:
    names = _check_items(str, "database names")(value)
    for name in names:
        _check_text(name)
    if len(set(names)) != len(names):
        raise ValueError("lists a database twice")
    return tuple(sorted(names))


def _check_files(value: Any) -> tuple[ManifestFile, ...]:
    files = _check_items(ManifestFile, "files")(value)
    paths = [item.path for item in files]
    duplicates = sorted({path for path in paths if paths.count(path) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates[:5])} more than once")
    return tuple(sorted(files, key=lambda item: item.path))


def _check_collections(value: Any) -> tuple[CollectionStats, ...]:
    collections = _check_items(CollectionStats, "collection stats")(value)
    names = [(item.db, item.collection) for item in collections]
    duplicates = sorted({f"{db}.{name}" for db, name in names if names.count((db, name)) > 1})
    if duplicates:
        raise ValueError(f"lists {', '.join(duplicates[:5])} more than once")
    return tuple(sorted(collections, key=lambda item: (item.db, item.collection)))


# The manifest's keys in the order to_json writes them, each with its check.
_MANIFEST_CHECKS: dict[str, Callable[[Any], Any]] = {
    "format_version": _check_format_version,
    "id": _check_id,
    "label": _check_label,
    "status": _check_choice(STATUSES),
    "started_at": _check_moment,
    "finished_at": _check_moment,
    "toolkit_version": _check_text,
    "server_version": _check_text,
    "topology": _check_choice(TOPOLOGIES),
    "layout": _check_choice(LAYOUTS),
    "compression": _check_choice(COMPRESSIONS),
    "databases": _check_databases,
    "oplog": _check_oplog,
    "collections": _check_collections,
    "files": _check_files,
}


def _check_manifest_fields(values: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Check the manifest fields present in values, and the rules between them.

    Return the normalised values and every problem found, each led by its field.
    """
    normalised: dict[str, Any] = {}
    problems: list[str] = []
    for name, check in _MANIFEST_CHECKS.items():
        if name not in values:
            continue
        try:
            normalised[name] = check(values[name])
        except ValueError as error:
            problems.append(f"{name}: {error}")
    if "id" in normalised and "label" in normalised:
        label = normalised["label"]
        suffix = normalised["id"][len("20261123T075541Z") :]
        if suffix != ("" if label is None else f"-{label}"):
            problems.append(f"id: {normalised['id']} does not end with the label {label!r}")
    if (
        "started_at" in normalised
        and "finished_at" in normalised
        and normalised["finished_at"] < normalised["started_at"]
    ):
        problems.append("finished_at: is before started_at")
    return normalised, problems


@dataclass(frozen=True)
class Manifest:
    """The record of one complete backup. Times are UTC; files and collections are kept sorted.

    Construction checks every field and raises ValueError listing each problem.
    """

    id: str
    label: str | None
    started_at: datetime
    finished_at: datetime
    toolkit_version: str
    server_version: str
    topology: str
    layout: str
    compression: str
    databases: tuple[str, ...]
    oplog: OplogRange | None
    files: tuple[ManifestFile, ...]
    collections: tuple[CollectionStats, ...]
    status: str = "complete"
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        values = {name: getattr(self, name) for name in _MANIFEST_CHECKS}
        normalised, problems = _check_manifest_fields(values)
        if problems:
            raise FieldProblems(problems)
        for name, value in normalised.items():
            object.__setattr__(self, name, value)

    def to_document(self) -> dict[str, Any]:
        """Return the manifest as the JSON document to_json writes."""
        return {
            "format_version": self.format_version,
            "id": self.id,
            "label": self.label,
            "status": self.status,
            "started_at": _format_moment(self.started_at),
            "finished_at": _format_moment(self.finished_at),
            "toolkit_version": self.toolkit_version,
            "server_version": self.server_version,
            "topology": self.topology,
            "layout": self.layout,
            "compression": self.compression,
            "databases": list(self.databases),
            "oplog": None if self.oplog is None else self.oplog.to_document(),
            "collections": [item.to_document() for item in self.collections],
            "files": [item.to_document() for item in self.files],
        }

    def to_json(self) -> bytes:
        """Return the manifest file's bytes: 2-space indented ASCII JSON with a trailing newline."""
        return (json.dumps(self.to_document(), indent=2, ensure_ascii=True) + "\n").encode("ascii")

    @classmethod
    def from_json(cls, data: bytes, source: str) -> Manifest:
        """Read a manifest file's bytes; ``source`` names the file in errors.

        Raise BackupError naming ``source`` and listing every problem for
        anything that is not a format_version 1 manifest: bad UTF-8 or JSON,
        a duplicated, missing or unknown key, a wrong type or value.
        """
        try:
            document = json.loads(
                bytes(data).decode("utf-8"), object_pairs_hook=_reject_duplicate_keys
            )
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError too
            raise BackupError(
                f"{source} is not a valid backup manifest: cannot be read as UTF-8 JSON: {error}"
            ) from error
        problems: list[str] = []
        manifest = _read_manifest(document, problems)
        if manifest is None:
            shown = problems[:_MAX_LISTED_PROBLEMS]
            if len(problems) > len(shown):
                shown.append(f"and {len(problems) - len(shown)} more")
            raise BackupError(f"{source} is not a valid backup manifest: " + "; ".join(shown))
        return manifest


class _DuplicateKey(ValueError):
    pass


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads would keep the last of two equal keys; a manifest with both is ambiguous.
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            raise _DuplicateKey(f"key {key!r} appears twice")
        document[key] = value
    return document


def _has_exactly(value: Any, keys: Iterable[str], where: str, problems: list[str]) -> bool:
    """Is value a JSON object with exactly these keys? Record each missing and unknown key."""
    lead = f"{where}: " if where else ""
    if not isinstance(value, dict):
        problems.append(f"{lead}must be an object, not {_show(value)}")
        return False
    wanted = list(keys)
    missing = [key for key in wanted if key not in value]
    unknown = sorted(key for key in value if key not in wanted)
    problems.extend(f"{lead}missing key {key!r}" for key in missing)
    problems.extend(f"{lead}unknown key {_show(key)}" for key in unknown)
    return not missing and not unknown


def _read_list(
    document: dict[str, Any], key: str, read_item: Callable[[Any, str], Any], problems: list[str]
) -> list[Any] | None:
    """Read document[key] as a list of parts; None when it or any item is wrong."""
    value = document[key]
    if not isinstance(value, list):
        problems.append(f"{key}: must be a list, not {_show(value)}")
        return None
    before = len(problems)
    items = [read_item(item, f"{key}[{index}]") for index, item in enumerate(value)]
    return items if len(problems) == before else None


def _build(kind: Callable[..., Any], value: dict[str, Any], where: str, problems: list[str]) -> Any:
    try:
        return kind(**value)
    except FieldProblems as error:
        problems.extend(f"{where}: {problem}" for problem in error.problems)
    except ValueError as error:
        problems.append(f"{where}: {error}")
    return None


def _read_manifest(document: Any, problems: list[str]) -> Manifest | None:
    """Turn a parsed JSON document into a Manifest, or record every problem and return None."""
    if not isinstance(document, dict):
        problems.append(f"the document must be a JSON object, not {_show(document)}")
        return None
    if "format_version" not in document:
        problems.append("missing key 'format_version'")
        return None
    try:
        _check_format_version(document["format_version"])
    except ValueError as error:
        # A newer format may have other keys: say only what matters.
        problems.append(str(error))
        return None
    _has_exactly(document, _MANIFEST_CHECKS, "", problems)
    values = {key: document[key] for key in _MANIFEST_CHECKS if key in document}

    def read_file(item: Any, where: str) -> Any:
        if _has_exactly(item, ("path", "size", "sha256"), where, problems):
            return _build(ManifestFile, item, where, problems)
        return None

    def read_collection(item: Any, where: str) -> Any:
        if _has_exactly(item, ("db", "collection", "documents", "bytes"), where, problems):
            return _build(CollectionStats, item, where, problems)
        return None

    def read_position(item: Any, where: str) -> Any:
        if _has_exactly(item, ("t", "i"), where, problems):
            return _build(OplogPosition, item, where, problems)
        return None

    for key, read_item in (("files", read_file), ("collections", read_collection)):
        if key in values:
            items = _read_list(document, key, read_item, problems)
            if items is None:
                del values[key]
            else:
                values[key] = items
    if "oplog" in values and values["oplog"] is not None:
        oplog = values.pop("oplog")
        if _has_exactly(oplog, ("first", "last", "entries"), "oplog", problems):
            first = read_position(oplog["first"], "oplog.first")
            last = read_position(oplog["last"], "oplog.last")
            if first is not None and last is not None:
                built = _build(
                    OplogRange,
                    {"first": first, "last": last, "entries": oplog["entries"]},
                    "oplog",
                    problems,
                )
                if built is not None:
                    values["oplog"] = built

    _, field_problems = _check_manifest_fields(values)
    problems.extend(field_problems)
    if problems:
        return None
    return Manifest(**values)


# -- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class FileProblem:
    """A file of a backup that does not match its manifest. ``detail`` names the file."""

    path: str
    kind: FileProblemKind
    detail: str

    def __str__(self) -> str:
        return self.detail


def verify_files(
    manifest: Manifest, open_file: Callable[[str], AbstractContextManager[IO[bytes]]]
) -> list[FileProblem]:
    """Re-hash every file the manifest lists; return a FileProblem for each that differs.

    ``open_file(path)`` opens a file by its path relative to the backup's root
    and returns a binary file object or a context manager yielding one
    (``lambda path: storage.open_read(backup_id, path)`` fits). It raises
    FileNotFoundError, or a BackupError caused by one, for a missing file; any
    other OSError or BackupError is reported as ``unreadable``. Every file is
    checked, in path order, whatever the earlier ones gave; an empty list
    means all sizes and SHA-256 digests match.
    """
    problems = []
    for entry in manifest.files:
        digest = hashlib.sha256()
        size = 0
        try:
            with open_file(entry.path) as stream:
                while chunk := stream.read(CHUNK_SIZE):
                    digest.update(chunk)
                    size += len(chunk)
        except FileNotFoundError:
            problems.append(FileProblem(entry.path, "missing", f"{entry.path}: missing"))
            continue
        except BackupError as error:
            if isinstance(error.__cause__, FileNotFoundError):
                problems.append(FileProblem(entry.path, "missing", f"{entry.path}: missing"))
            else:
                problems.append(
                    FileProblem(entry.path, "unreadable", f"{entry.path}: cannot be read: {error}")
                )
            continue
        except OSError as error:
            problems.append(
                FileProblem(entry.path, "unreadable", f"{entry.path}: cannot be read: {error}")
            )
            continue
        if size != entry.size:
            problems.append(
                FileProblem(
                    entry.path,
                    "size",
                    f"{entry.path}: {size} bytes, the manifest says {entry.size}",
                )
            )
        elif digest.hexdigest() != entry.sha256:
            problems.append(
                FileProblem(
                    entry.path,
                    "checksum",
                    f"{entry.path}: SHA-256 {digest.hexdigest()}, the manifest says {entry.sha256}",
                )
            )
    return problems
