"""Compressed streams for backups: zstd, gzip (what ``mongodump --gzip`` writes) or none.

Writers wrap a binary stream the caller owns: closing the writer finishes the
compressed frame and flushes, but never closes the stream under it. Readers
decompress a stream and turn every decompression failure (corrupt data,
truncation, a bad checksum) into a BackupError naming the file.

- zstd (python-zstandard): level 3 by default, ``threads`` worker threads
  (-1: one per CPU, 0: compress in the calling thread), and a content
  checksum in every frame. Reading checks that the last frame is complete:
  python-zstandard's own ``stream_reader`` ends silently on a truncated frame.
- gzip: level 6 by default, which is what Go's ``gzip.NewWriter`` (so
  ``mongodump --gzip``) uses; no file name and a zero mtime in the header,
  like Go's writer.

``detect_compression`` tells the three apart from a stream's first bytes, for
reading files this toolkit did not write.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal, cast

import zstandard

from toolkit.errors import BackupError

Compression = Literal["zstd", "gzip", "none"]
COMPRESSIONS: Final[tuple[Compression, ...]] = ("zstd", "gzip", "none")
SUFFIXES: Final[dict[Compression, str]] = {"zstd": ".zst", "gzip": ".gz", "none": ""}
DEFAULT_LEVELS: Final[dict[Compression, int]] = {"zstd": 3, "gzip": 6}

GZIP_MAGIC: Final = b"\x1f\x8b"
ZSTD_MAGIC: Final = b"\x28\xb5\x2f\xfd"

# Compressed bytes handed to the zstd decompressor per call. Small enough that
# even a highly compressible block cannot balloon one call's output, large
# enough that the per-call cost is noise.
_ZSTD_INPUT_SIZE: Final = 64 * 1024
_READ_SIZE: Final = 1024 * 1024


def _check(compression: str) -> Compression:
    if compression not in COMPRESSIONS:
        raise ValueError(f"unknown compression {compression!r}; expected one of {COMPRESSIONS}")
    return cast(Compression, compression)


def suffix(compression: Compression) -> str:
    """Return the file suffix for ``compression``: ".zst", ".gz" or ""."""
    return SUFFIXES[_check(compression)]


def compression_from_name(name: str) -> Compression:
    """Return the compression a file name's suffix announces (".zst", ".gz", else none)."""
    if name.endswith(".zst"):
        return "zstd"
    if name.endswith(".gz"):
        return "gzip"
    return "none"


def detect_compression(head: bytes) -> Compression:
    """Return the compression whose magic bytes start ``head`` (at least 4 bytes of a stream)."""
    if head.startswith(ZSTD_MAGIC):
        return "zstd"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return "none"


class _PassThroughWriter(io.RawIOBase):
    """The "none" writer: writes go straight through; close flushes and leaves the stream open."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def writable(self) -> bool:
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        self._raw.write(data)
        return len(data)

    def flush(self) -> None:
        if not self.closed:
            self._raw.flush()

    def close(self) -> None:
        if not self.closed:
            self._raw.flush()
        super().close()


def open_writer(
    raw: BinaryIO,
    compression: Compression,
    *,
    level: int | None = None,
    threads: int = -1,
) -> BinaryIO:
    """Return a writer that compresses into ``raw``; its close() finishes the stream.

    ``level`` defaults to 3 for zstd and 6 for gzip. ``threads`` applies to
    zstd only (-1: one per CPU, 0: no worker threads). ``raw`` stays open.
    Raise ValueError for an unknown compression.
    """
    compression = _check(compression)
    if compression == "zstd":
        compressor = zstandard.ZstdCompressor(
            level=DEFAULT_LEVELS["zstd"] if level is None else level,
            threads=threads,
            write_checksum=True,
        )
        return cast(BinaryIO, compressor.stream_writer(raw, closefd=False))
    if compression == "gzip":
        return cast(
            BinaryIO,
            gzip.GzipFile(
                filename="",
                mode="wb",
                compresslevel=DEFAULT_LEVELS["gzip"] if level is None else level,
                fileobj=raw,
                mtime=0,
            ),
        )
    return cast(BinaryIO, _PassThroughWriter(raw))


class _CheckedReader(io.RawIOBase):
    """Base of the decompressing readers: counts output and names the file in errors."""

    label = "compressed"

    def __init__(self, raw: BinaryIO, name: str) -> None:
        self._raw = raw
        self.name = name
        self.position = 0

    def readable(self) -> bool:
        return True

    def _damaged(self, reason: object) -> BackupError:
        return BackupError(
            f"{self.name}: damaged {self.label} data at offset {self.position} "
            f"of the decompressed stream: {reason}"
        )

    def _read(self, size: int) -> bytes:
        raise NotImplementedError

    def read(self, size: int | None = -1) -> bytes:
        """Return up to ``size`` decompressed bytes (all that is left for -1); b"" at the end."""
        if size is None or size < 0:
            parts = []
            while chunk := self.read(_READ_SIZE):
                parts.append(chunk)
            return b"".join(parts)
        try:
            data = self._read(size)
        except BackupError:
            raise
        except (gzip.BadGzipFile, EOFError, zlib.error, zstandard.ZstdError) as error:
            raise self._damaged(error) from error
        except OSError as error:
            raise BackupError(f"cannot read {self.name}: {error.strerror or error}") from error
        self.position += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _PlainReader(_CheckedReader):
    label = "uncompressed"

    def _read(self, size: int) -> bytes:
        return self._raw.read(size)


class _GzipReader(_CheckedReader):
    label = "gzip"

    def __init__(self, raw: BinaryIO, name: str) -> None:
        super().__init__(raw, name)
        self._gzip = gzip.GzipFile(fileobj=raw, mode="rb")

    def _read(self, size: int) -> bytes:
        return self._gzip.read(size)

    def close(self) -> None:
        self._gzip.close()
        super().close()


class _ZstdReader(_CheckedReader):
    """Decompress zstd frames one after another; a frame cut short is an error."""

    label = "zstd"

    def __init__(self, raw: BinaryIO, name: str) -> None:
        super().__init__(raw, name)
        self._decompressor = zstandard.ZstdDecompressor()
        self._frame: Any = None  # the decompressor of the frame being read, None between frames
        self._pending = b""
        self._pending_position = 0
        self._leftover = b""
        self._seen_frame = False
        self._finished = False

    def _next_output(self) -> bytes:
        """Decompress the next piece of input; b"" only at a clean end of the stream."""
        while True:
            if self._leftover:
                data, self._leftover = self._leftover, b""
            else:
                data = self._raw.read(_ZSTD_INPUT_SIZE)
                if not data:
                    if self._frame is not None:
                        raise self._damaged("the last zstd frame is cut short (truncated file?)")
                    if not self._seen_frame:
                        raise self._damaged("no zstd frame at all")
                    return b""
            if self._frame is None:
                self._frame = self._decompressor.decompressobj()
                self._seen_frame = True
            output = self._frame.decompress(data[:_ZSTD_INPUT_SIZE])
            self._leftover = data[_ZSTD_INPUT_SIZE:]
            if self._frame.eof:
                self._leftover = self._frame.unused_data + self._leftover
                self._frame = None
            if output:
                return output

    def _read(self, size: int) -> bytes:
        if self._pending_position >= len(self._pending):
            if self._finished:
                return b""
            self._pending = self._next_output()
            self._pending_position = 0
            if not self._pending:
                self._finished = True
                return b""
        start = self._pending_position
        stop = min(len(self._pending), start + size)
        self._pending_position = stop
        if start == 0 and stop == len(self._pending):
            return self._pending
        return self._pending[start:stop]


def open_reader(raw: BinaryIO, compression: Compression, *, name: str) -> BinaryIO:
    """Return a reader of the decompressed bytes of ``raw``.

    ``name`` goes into errors. Reading raises BackupError for corrupt or
    truncated compressed data, with the offset reached in the decompressed
    stream. Raise ValueError for an unknown compression.
    """
    compression = _check(compression)
    if compression == "zstd":
        return cast(BinaryIO, _ZstdReader(raw, name))
    if compression == "gzip":
        return cast(BinaryIO, _GzipReader(raw, name))
    return cast(BinaryIO, _PlainReader(raw, name))


class _PrefixedReader(io.RawIOBase):
    """Give back the bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = prefix
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + self._raw.read(), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._raw.read(-1 if size is None else size)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_detected_reader(raw: BinaryIO, *, name: str) -> tuple[BinaryIO, Compression]:
    """Sniff the compression of ``raw`` from its first bytes; return (reader, compression).

    Works on any stream with ``read`` (no seeking or peeking needed).
    """
    head = b""
    while len(head) < 4:
        chunk = raw.read(4 - len(head))
        if not chunk:
            break
        head += chunk
    compression = detect_compression(head)
    stream = cast(BinaryIO, _PrefixedReader(head, raw))
    return open_reader(stream, compression, name=name), compression


@contextlib.contextmanager
def open_file(path: Path) -> Iterator[tuple[BinaryIO, Compression]]:
    """Open ``path`` and yield (decompressed reader, compression detected from its content).

    Raise BackupError when the file cannot be opened.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as error:
        raise BackupError(f"cannot read {path}: {error.strerror or error}") from error
    with handle:
        reader, compression = open_detected_reader(cast(BinaryIO, handle), name=str(path))
        yield reader, compression
