"""Compressed streams: round trips, what mongodump's gzip looks like, and damage refused."""

from __future__ import annotations

import gzip
import io
import os
from pathlib import Path

import pytest
import zstandard

from toolkit.backup.compression import (
    COMPRESSIONS,
    compression_from_name,
    detect_compression,
    open_detected_reader,
    open_file,
    open_reader,
    open_writer,
    suffix,
)
from toolkit.errors import BackupError

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "mongodump"

DATA = b"".join(os.urandom(64) + b"repetitive text " * 50 for _ in range(200))


class Sink(io.BytesIO):
    """A stream that records whether someone closed it."""

    closed_by_writer = False

    def close(self) -> None:
        self.closed_by_writer = True
        super().close()


def compress(data: bytes, compression: str, **options) -> bytes:
    sink = Sink()
    writer = open_writer(sink, compression, **options)
    for start in range(0, len(data), 7000):
        writer.write(data[start : start + 7000])
    writer.close()
    assert not sink.closed_by_writer
    return sink.getvalue()


def decompress(blob: bytes, compression: str, size: int = 65536) -> bytes:
    reader = open_reader(io.BytesIO(blob), compression, name="f")
    parts = []
    while chunk := reader.read(size):
        parts.append(chunk)
    return b"".join(parts)


@pytest.mark.parametrize("compression", COMPRESSIONS)
@pytest.mark.parametrize("size", [1, 1000, 1 << 20])
def test_round_trip(compression, size):
    blob = compress(DATA, compression)
    assert decompress(blob, compression, size) == DATA
    assert detect_compression(blob[:4]) == compression


@pytest.mark.parametrize("threads", [0, 2])
def test_zstd_is_plain_zstd_with_a_checksum(threads):
    blob = compress(DATA, "zstd", threads=threads)
    assert zstandard.ZstdDecompressor().decompressobj().decompress(blob) == DATA
    assert zstandard.get_frame_parameters(blob).has_checksum


def test_gzip_is_what_go_writes_at_level_6():
    blob = compress(DATA, "gzip")
    assert gzip.decompress(blob) == DATA
    assert blob[:4] == b"\x1f\x8b\x08\x00"  # deflate, no flags (so no file name)
    assert blob[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    assert blob[9] == 255  # OS unknown
    level_6 = gzip.compress(DATA, compresslevel=6, mtime=0)
    assert len(blob) == len(level_6)


def test_levels_change_the_output():
    assert compress(DATA, "zstd", level=1) != compress(DATA, "zstd", level=19)
    assert compress(DATA, "gzip", level=1) != compress(DATA, "gzip", level=9)


def test_suffixes():
    assert [suffix(c) for c in COMPRESSIONS] == [".zst", ".gz", ""]
    assert compression_from_name("foo.bson.gz") == "gzip"
    assert compression_from_name("archive.zst") == "zstd"
    assert compression_from_name("foo.bson") == "none"
    with pytest.raises(ValueError, match="unknown compression"):
        suffix("lz4")  # type: ignore[arg-type]


def test_detect_compression():
    assert detect_compression(b"\x28\xb5\x2f\xfd") == "zstd"
    assert detect_compression(b"\x1f\x8b\x08\x00") == "gzip"
    assert detect_compression(b"\x6d\xe2\x99\x81") == "none"
    assert detect_compression(b"") == "none"


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_detected_reader_gives_back_the_sniffed_bytes(compression):
    blob = compress(DATA, compression)
    reader, detected = open_detected_reader(io.BytesIO(blob), name="f")
    assert detected == compression
    assert reader.read(1) == DATA[:1]
    assert reader.read() == DATA[1:]


def test_detected_reader_on_tiny_streams():
    for data in (b"", b"a", b"abc"):
        reader, detected = open_detected_reader(io.BytesIO(data), name="f")
        assert detected == "none"
        assert reader.read() == data


def test_zstd_frames_one_after_another():
    blob = compress(DATA[:1000], "zstd") + compress(DATA[1000:], "zstd")
    assert decompress(blob, "zstd") == DATA


@pytest.mark.parametrize("cut", [1, 3, 4, 10, 100, -20, -4, -1])
def test_truncated_zstd_is_refused(cut):
    # python-zstandard's own stream_reader ends silently here; ours must not.
    blob = compress(DATA, "zstd")
    with pytest.raises(
        BackupError, match=r"^f: damaged zstd data at offset \d+ of the decompressed"
    ):
        decompress(blob[:cut], "zstd")


def test_empty_zstd_stream_is_refused():
    with pytest.raises(BackupError, match="no zstd frame"):
        decompress(b"", "zstd")


def test_corrupt_zstd_is_refused():
    blob = bytearray(compress(DATA, "zstd"))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(BackupError, match="damaged zstd data"):
        decompress(bytes(blob), "zstd")


def test_trailing_garbage_after_zstd_is_refused():
    with pytest.raises(BackupError, match="damaged zstd data"):
        decompress(compress(DATA, "zstd") + b"garbage!", "zstd")


@pytest.mark.parametrize("cut", [5, 30, 1000, -8, -1])
def test_truncated_gzip_is_refused(cut):
    blob = compress(DATA, "gzip")
    with pytest.raises(BackupError, match=r"^f: damaged gzip data at offset \d+"):
        decompress(blob[:cut], "gzip")


def test_corrupt_gzip_is_refused():
    blob = bytearray(compress(DATA, "gzip"))
    blob[len(blob) // 2] ^= 0xFF
    with pytest.raises(BackupError, match="damaged gzip data"):
        decompress(bytes(blob), "gzip")


def test_gzip_checksum_mismatch_is_refused():
    blob = bytearray(compress(DATA, "gzip"))
    blob[-6] ^= 0x01  # inside the CRC-32 trailer
    with pytest.raises(BackupError, match="CRC check failed"):
        decompress(bytes(blob), "gzip")


def test_offsets_count_decompressed_bytes():
    blob = compress(DATA, "gzip")
    reader = open_reader(io.BytesIO(blob[:-8]), "gzip", name="f")
    with pytest.raises(BackupError) as caught:
        while reader.read(1000):
            pass
    # The offset is where the failing read started in the decompressed data.
    offset = int(str(caught.value).split("offset ")[1].split()[0])
    assert len(DATA) - 1000 <= offset <= len(DATA)


def test_open_file_detects_from_content(tmp_path):
    path = tmp_path / "misnamed.bson"
    path.write_bytes(compress(DATA, "zstd"))
    with open_file(path) as (reader, compression):
        assert compression == "zstd"
        assert reader.read() == DATA


def test_open_file_reports_a_missing_file(tmp_path):
    with pytest.raises(BackupError, match="cannot read"), open_file(tmp_path / "nope"):
        pass


@pytest.mark.skipif(not COMPAT.is_dir(), reason="no compat corpus")
def test_reads_mongodump_gzip_files():
    path = COMPAT / "prelude_test" / "prelude_gzip" / "prelude.json.gz"
    with open_file(path) as (reader, compression):
        assert compression == "gzip"
        assert reader.read() == b'{"ServerVersion":"7.0.16","ToolVersion":""}'
