"""Dump writers into storage, the block paths of the format modules, and reading back."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

import bson
import pytest

from toolkit.backup import compression as compress
from toolkit.backup.archive import ArchiveCollectionEnd, ArchiveWriter, read_archive
from toolkit.backup.bsonstream import DocumentReader, count_documents
from toolkit.backup.contents import read_contents
from toolkit.backup.inventory import inventory
from toolkit.backup.manifest import CollectionStats, Manifest
from toolkit.backup.reader import check_backup
from toolkit.backup.source import BackupLocation
from toolkit.backup.storage import LocalStorage
from toolkit.backup.writer import (
    ArchiveDumpWriter,
    CollectionToWrite,
    DirectoryDumpWriter,
    archive_file_name,
)
from toolkit.errors import BackupError

ID = "20260101T000000Z"


def _block(start: int, count: int) -> bytes:
    return b"".join(
        bson.encode({"_id": n, "pad": "x" * (n % 50)}) for n in range(start, start + count)
    )


def test_count_documents():
    block = _block(0, 100)
    assert count_documents(block, "b") == 100
    assert count_documents(b"", "b") == 0
    assert count_documents(memoryview(block), "b") == 100
    for damaged, reason in (
        (block[:-1], "runs past"),
        (block + b"\x01\x00", "inside a length prefix"),
        (b"\x03\x00\x00\x00" + block, "below 5"),
        (block[:-1] + b"\x01", "NUL"),
    ):
        with pytest.raises(BackupError, match=reason):
            count_documents(damaged, "b")


def test_skip_documents_counts_as_documents_does():
    import io

    data = _block(0, 300)
    reader = DocumentReader(io.BytesIO(data), "f", read_size=1000)
    assert reader.skip_documents(crc=0) == (300, len(data))
    again = DocumentReader(io.BytesIO(data), "f", read_size=1000)
    assert sum(1 for _ in again.documents(crc=0)) == 300
    assert again.crc == reader.crc
    with pytest.raises(BackupError, match="truncated"):
        DocumentReader(io.BytesIO(data[:-3]), "f").skip_documents()


def test_archive_write_block_and_fast_events():
    import io

    stream = io.BytesIO()
    writer = ArchiveWriter(stream, server_version="7.0.14", tool_version="t")
    writer.add_collection("d", "c", "{}")
    writer.begin()
    assert writer.write_block("d", "c", _block(0, 50)) == 50
    assert writer.write_block("d", "c", _block(50, 25)) == 25
    end = writer.end_collection("d", "c")
    writer.close()
    fast = [e for e in read_archive(io.BytesIO(stream.getvalue()), "a").events(documents=False)]
    assert fast == [ArchiveCollectionEnd("d", "c", end.offset, 75, end.bytes, end.crc)]
    slow = list(read_archive(io.BytesIO(stream.getvalue()), "a").events())
    assert len(slow) == 76 and slow[-1] == fast[0]


def _manifest(layout, compression, files, collections):
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return Manifest(
        id=ID, label=None, started_at=now, finished_at=now, toolkit_version="t",
        server_version="7.0.14", topology="standalone", layout=layout, compression=compression,
        databases=("d",), oplog=None, files=tuple(files),
        collections=tuple(CollectionStats("d", name, count, size) for name, count, size in collections),
    )  # fmt: skip


COLLECTIONS = [
    CollectionToWrite("d", "a", "collection", '{"indexes":[],"collectionName":"a"}'),
    CollectionToWrite("d", "b/slash", "collection", '{"indexes":[],"collectionName":"b/slash"}'),
    CollectionToWrite("d", "v", "view", '{"options":{"viewOn":"a","pipeline":[]},"indexes":[],"collectionName":"v","type":"view"}'),
    CollectionToWrite("d", "empty", "collection", '{"indexes":[],"collectionName":"empty"}'),
]  # fmt: skip


@pytest.mark.parametrize("layout", ["archive", "directory"])
@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
def test_writers_write_what_the_readers_read(tmp_path, layout, compression):
    storage = LocalStorage(tmp_path)
    options = dict(
        compression=compression, level=None, threads=0, server_version="7.0.14", tool_version="t"
    )
    writer = (
        ArchiveDumpWriter(storage, ID, concurrent_collections=2, **options)
        if layout == "archive"
        else DirectoryDumpWriter(storage, ID, **options)
    )
    writer.start(COLLECTIONS, oplog=True)

    def feed(name, start):
        for offset in range(start, start + 400, 100):
            writer.write_block("d", name, _block(offset, 100))
        writer.end_collection("d", name)

    threads = [
        threading.Thread(target=feed, args=(name, n * 1000))
        for n, name in enumerate(("a", "b/slash"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.end_collection("d", "v")
    writer.end_collection("d", "empty")
    writer.write_oplog_block(
        bson.encode({"ts": bson.Timestamp(1, 1), "op": "n", "ns": "", "o": {}})
    )
    writer.end_oplog()
    files = writer.finish()

    root = tmp_path / ID
    for entry in files:
        data = (root / entry.path).read_bytes()
        assert entry.size == len(data) and entry.sha256 == hashlib.sha256(data).hexdigest()
    suffix = compress.suffix(compression)
    paths = {entry.path for entry in files}
    if layout == "archive":
        assert paths == {archive_file_name(compression)}
    else:
        assert f"dump/d/b%2Fslash.bson{suffix}" in paths and f"dump/oplog.bson{suffix}" in paths
        assert f"dump/d/v.bson{suffix}" not in paths and f"dump/d/empty.bson{suffix}" in paths
    found = inventory(root)
    counts = {c.collection: c.documents for c in found.collections}
    assert counts == {"a": 400, "b/slash": 400, "v": 0, "empty": 0}
    assert found.oplog is not None and found.oplog.entries == 1
    assert read_contents(root).has_oplog

    sizes = {c.collection: c.bytes for c in found.collections}
    manifest = _manifest(layout, compression, files, [(n, counts[n], sizes[n]) for n in counts])
    location = BackupLocation(storage, ID)
    assert check_backup(location, manifest).problems == []
    wrong = _manifest(layout, compression, files, [(n, counts[n] + (n == "a"), 0) for n in counts])
    assert check_backup(location, wrong).problems == [
        "d.a: 400 documents in the dump, the manifest says 401"
    ]
    target = root / sorted(paths)[-1]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x10
    target.write_bytes(bytes(data))
    problems = check_backup(location, manifest).problems
    assert problems and all(sorted(paths)[-1] in problem for problem in problems)
    target.unlink()
    assert check_backup(location, manifest).problems[0] == f"{sorted(paths)[-1]}: missing"


def test_abort_leaves_nothing_visible(tmp_path):
    storage = LocalStorage(tmp_path)
    writer = ArchiveDumpWriter(
        storage, ID, compression="zstd", level=None, threads=0, server_version="7", tool_version="t"
    )
    writer.start(COLLECTIONS[:1], oplog=False)
    writer.write_block("d", "a", _block(0, 10))
    writer.abort(RuntimeError("boom"))
    assert storage.files(ID) == []
    directory = DirectoryDumpWriter(
        storage, ID, compression="none", level=None, threads=0, server_version="7", tool_version="t"
    )
    directory.start(COLLECTIONS[:1], oplog=False)
    with pytest.raises(BackupError):
        directory.write_block("d", "a", b"\x01")
    directory.abort(RuntimeError("bad block"))
    assert [f.path for f in storage.files(ID)] == ["dump/d/a.metadata.json", "dump/prelude.json"]
    with pytest.raises(ValueError, match="not declared"):
        directory.write_block("d", "zzz", _block(0, 1))


def test_a_bad_block_written_first_breaks_the_archive():
    import io

    writer = ArchiveWriter(io.BytesIO(), server_version="7", tool_version="t")
    writer.add_collection("d", "c", "{}")
    writer.begin()
    with pytest.raises(BackupError, match="the block for d.c"):
        writer.write_block("d", "c", _block(0, 3)[:-2], check_first=False)
    with pytest.raises(ValueError, match="bad block"):
        writer.write_block("d", "c", _block(0, 3))
    with pytest.raises(ValueError, match="bad block"):
        writer.close()


def test_hashing_in_the_background_gives_the_same_digest(tmp_path):
    import io

    from toolkit.backup.writer import HashingStream

    chunks = [bytes([n]) * (1000 + n) for n in range(200)]
    for background in (False, True):
        sink = io.BytesIO()
        stream = HashingStream(sink, background=background)
        for chunk in chunks:
            stream.write(memoryview(chunk))
        stream.finish()
        assert sink.getvalue() == b"".join(chunks)
        assert stream.hexdigest() == hashlib.sha256(b"".join(chunks)).hexdigest()
        assert stream.size == len(sink.getvalue())
