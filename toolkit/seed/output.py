"""`seed --out DIR`: one canonical Extended JSON lines file per collection, written atomically.

``canonical_json(document)`` writes a document exactly as
``bson.json_util.dumps(document, json_options=CANONICAL_JSON_OPTIONS)``
does (the tests compare the two), but several times faster for the types a
seed run produces; other types go through json_util itself. Canonical mode
keeps every BSON type (int32, int64, double, decimal, dates in milliseconds),
so ``mongoimport`` reads the files back as the same documents.

``LinesFile`` streams lines into a temporary file next to the target, then
fsyncs it and renames it over the target: a reader sees the old file or the
whole new one, never a part, and memory does not grow with the file.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from bson import Decimal128, Int64, ObjectId, json_util
from bson.binary import Binary

from toolkit.fsutil import fsync_directory
from toolkit.seed.bsonvalues import INT32_MAX, INT32_MIN, datetime_to_millis

_escape: Callable[[str], str] = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _json_text(value: Any) -> str:
    """A value json_util's fallback returned as plain JSON, written as json.dumps does."""
    return json.dumps(value)


def _int(value: int) -> str:
    if INT32_MIN <= value <= INT32_MAX:
        return '{"$numberInt": "' + str(value) + '"}'
    return '{"$numberLong": "' + str(value) + '"}'


def _float(value: float) -> str:
    if math.isnan(value):
        text = "NaN"
    elif math.isinf(value):
        text = "Infinity" if value > 0 else "-Infinity"
    else:
        text = repr(value)
    return '{"$numberDouble": "' + text + '"}'


def _date(value: dt.datetime) -> str:
    return '{"$date": {"$numberLong": "' + str(datetime_to_millis(value)) + '"}}'


def _binary(value: bytes, subtype: int) -> str:
    data = base64.b64encode(value).decode()
    return '{"$binary": {"base64": "' + data + '", "subType": "' + f"{subtype:02x}" + '"}}'


def _document(value: Any) -> str:
    if not value:
        return "{}"
    return (
        "{"
        + ", ".join(_escape(str(key)) + ": " + _encode(item) for key, item in value.items())
        + "}"
    )


def _array(value: Any) -> str:
    if not value:
        return "[]"
    return "[" + ", ".join(_encode(item) for item in value) + "]"


_ENCODERS: dict[type, Callable[[Any], str]] = {
    str: _escape,
    bool: lambda value: "true" if value else "false",
    int: _int,
    Int64: lambda value: '{"$numberLong": "' + str(int(value)) + '"}',
    float: _float,
    type(None): lambda value: "null",
    dict: _document,
    list: _array,
    tuple: _array,
    ObjectId: lambda value: '{"$oid": "' + str(value) + '"}',
    dt.datetime: _date,
    Decimal128: lambda value: '{"$numberDecimal": "' + str(value) + '"}',
    Binary: lambda value: _binary(bytes(value), value.subtype),
    bytes: lambda value: _binary(value, 0),
}


def _encode(value: Any) -> str:
    encoder = _ENCODERS.get(type(value))
    if encoder is not None:
        return encoder(value)
    if hasattr(value, "items"):
        return _document(value)
    return _json_text(json_util._json_convert(value, json_options=json_util.CANONICAL_JSON_OPTIONS))


def canonical_json(document: Any) -> str:
    """One document as canonical Extended JSON on one line."""
    return _encode(document)


def output_path(out_dir: Path, namespace: str) -> Path:
    """The file of a collection under ``--out``: DIR/<db>.<collection>.jsonl."""
    return Path(out_dir) / f"{namespace}.jsonl"


class LinesFile:
    """A text file written line by line through a temporary file, renamed into place on commit."""

    def __init__(self, path: Path, *, buffer_lines: int = 1000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        self._temporary = temporary
        self._handle = os.fdopen(descriptor, "w", encoding="utf-8", newline="\n")
        self._buffer: list[str] = []
        self._buffer_lines = buffer_lines
        self.lines = 0

    def write(self, line: str) -> None:
        self._buffer.append(line)
        self.lines += 1
        if len(self._buffer) >= self._buffer_lines:
            self._flush_buffer()

    def _flush_buffer(self) -> None:
        if self._buffer:
            self._handle.write("\n".join(self._buffer) + "\n")
            self._buffer.clear()

    def commit(self) -> None:
        """Flush, fsync and rename over the target; then make the rename durable."""
        self._flush_buffer()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.chmod(self._temporary, 0o644)
        os.replace(self._temporary, self.path)
        fsync_directory(self.path.parent)

    def abort(self) -> None:
        """Drop the temporary file; the target stays as it was."""
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temporary)

    def __enter__(self) -> LinesFile:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()


def write_documents(
    path: Path,
    documents: Iterable[Any],
    *,
    batch_size: int = 1000,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Write ``documents`` to ``path`` as canonical Extended JSON lines; return how many.

    ``on_batch(n)`` is called after every ``batch_size`` documents (and for
    the last, shorter batch). The file appears only once every line is written.
    """
    written = 0
    pending = 0
    with LinesFile(path, buffer_lines=max(1, batch_size)) as lines:
        for document in documents:
            lines.write(_encode(document))
            written += 1
            pending += 1
            if pending >= batch_size:
                if on_batch is not None:
                    on_batch(pending)
                pending = 0
    if pending and on_batch is not None:
        on_batch(pending)
    return written
