"""The mongodump archive format: real archives read, ours byte-compatible, damage refused.

test.bar.archive and bad-format.archive come from mongo-tools' test data
(mongodb/mongo-tools, Apache-2.0), via ../shared/compat/mongodump.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import bson
import pytest
from bson.int64 import Int64
from fastcrc import crc64

from toolkit.backup.archive import (
    MAGIC_BYTES,
    TERMINATOR_BYTES,
    ArchiveCollectionEnd,
    ArchiveDocument,
    ArchiveWriter,
    crc_to_int64,
    data_collection,
    has_buckets_namespace,
    read_archive,
)
from toolkit.backup.compression import open_detected_reader, open_writer
from toolkit.errors import BackupError

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "mongodump"
TEST_BAR = COMPAT / "test.bar.archive"
BAD_FORMAT = COMPAT / "bad-format.archive"
needs_compat = pytest.mark.skipif(not COMPAT.is_dir(), reason=f"no compat corpus at {COMPAT}")


def read_events(data: bytes, name: str = "a.archive", **options):
    reader = read_archive(io.BytesIO(data), name, **options)
    return reader, list(reader.events())


def documents_of(events, db, collection):
    return [
        bson.decode(event.raw)
        for event in events
        if isinstance(event, ArchiveDocument) and (event.db, event.collection) == (db, collection)
    ]


def build(collections, writes, *, concurrent=4, server_version="7.0.16", oplog=False) -> bytes:
    """Write an archive with our writer.

    collections: [(db, coll, metadata_json, type)];
    writes: [(db, coll, [documents])] or [("end", db, coll)], in order.
    """
    sink = io.BytesIO()
    writer = ArchiveWriter(
        sink,
        server_version=server_version,
        tool_version="mongo-toolkit test",
        concurrent_collections=concurrent,
    )
    for db, collection, metadata_json, collection_type in collections:
        writer.add_collection(db, collection, metadata_json, collection_type)
    if oplog:
        writer.add_oplog()
    writer.begin()
    for write in writes:
        if write[0] == "end":
            writer.end_collection(write[1], write[2])
        else:
            db, collection, documents = write
            writer.write_documents(db, collection, [bson.encode(d) for d in documents])
    writer.close()
    return sink.getvalue()


# --- reading real mongodump archives ---------------------------------------------------------


@needs_compat
def test_reads_test_bar_archive():
    reader, events = read_events(TEST_BAR.read_bytes(), str(TEST_BAR))
    header = reader.header
    assert (header.concurrent_collections, header.version) == (4, "0.1")
    assert (header.server_version, header.tool_version) == ("3.4.3", "r3.4.3")
    assert [(c.db, c.collection, c.type, c.size) for c in reader.collections] == [
        ("test", "bar", "", 0),
        ("admin", "system.version", "", 0),
    ]
    bar, version = reader.collections
    assert bar.collection_type == "collection"
    assert [index["name"] for index in bar.metadata.indexes] == ["_id_"]
    assert [index["name"] for index in version.metadata.indexes] == [
        "_id_",
        "incompatible_with_version_32",
    ]
    assert bar.metadata.options == {}
    kinds = [(type(e).__name__, e.db, e.collection, e.offset) for e in events]
    assert kinds == [
        ("ArchiveDocument", "admin", "system.version", 603),
        ("ArchiveCollectionEnd", "admin", "system.version", 666),
        ("ArchiveDocument", "test", "bar", 796),
        ("ArchiveCollectionEnd", "test", "bar", 835),
    ]
    assert documents_of(events, "admin", "system.version") == [
        {"_id": "featureCompatibilityVersion", "version": "3.4"}
    ]
    assert documents_of(events, "test", "bar")[0]["foo"] == "bar"
    ends = [e for e in events if isinstance(e, ArchiveCollectionEnd)]
    assert [(e.documents, e.bytes) for e in ends] == [(1, 59), (1, 35)]
    # The CRCs mongodump stored (the int64 that ends each EOF header), as signed int64.
    data = TEST_BAR.read_bytes()
    for end in ends:
        size = struct.unpack("<i", data[end.offset : end.offset + 4])[0]
        stored = struct.unpack("<q", data[end.offset + size - 9 : end.offset + size - 1])[0]
        assert (
            stored
            == crc_to_int64(end.crc)
            == bson.decode(data[end.offset : end.offset + size])["CRC"]
        )


@needs_compat
def test_archive_crc_is_crc64_xz_of_the_document_bytes():
    data = TEST_BAR.read_bytes()
    document = data[603 : 603 + 59]
    assert struct.unpack("<q", data[0x2D6:0x2DE])[0] == crc_to_int64(crc64.xz(document))


@needs_compat
def test_refuses_bad_format_archive_cleanly():
    with pytest.raises(BackupError) as caught:
        read_archive(io.BytesIO(BAD_FORMAT.read_bytes()), str(BAD_FORMAT))
    message = str(caught.value)
    assert message.startswith(f"{BAD_FORMAT}: damaged archive at offset 106: test.ixtest:")
    assert "not valid Extended JSON" in message


@needs_compat
@pytest.mark.parametrize("keep", range(0, 896, 7))
def test_every_truncation_of_test_bar_is_refused(keep):
    # As mongo-tools' TestMongorestoreShortArchive, at every 7th byte.
    data = TEST_BAR.read_bytes()[:keep]
    with pytest.raises(BackupError, match=r"damaged archive at offset \d+|damaged BSON at offset"):
        read_events(data)


@needs_compat
def test_truncation_at_a_block_boundary_names_the_unfinished_collection():
    data = TEST_BAR.read_bytes()[:0x2E3]  # after admin.system.version's end
    with pytest.raises(BackupError, match=r"offset 739: .*without the data of test\.bar"):
        read_events(data)
    data = TEST_BAR.read_bytes()[: 603 + 59 + 4]  # after its only segment
    with pytest.raises(BackupError, match=r"ends before the end of admin\.system\.version"):
        read_events(data)


# --- our archives are mongodump's --------------------------------------------------------------


@needs_compat
def test_writer_reproduces_test_bar_byte_for_byte_apart_from_the_type_field():
    original = TEST_BAR.read_bytes()
    reader, events = read_events(original)
    sink = io.BytesIO()
    writer = ArchiveWriter(
        sink, server_version="3.4.3", tool_version="r3.4.3", concurrent_collections=4
    )
    for entry in reader.collections:
        writer.add_collection(entry.db, entry.collection, entry.metadata_json, entry.type)
    writer.begin()
    for event in events:
        if isinstance(event, ArchiveDocument):
            writer.write_documents(event.db, event.collection, [event.raw])
        else:
            writer.end_collection(event.db, event.collection)
    writer.close()
    ours = sink.getvalue()
    # Magic number and header: identical.
    assert ours[:105] == original[:105]
    # Prelude: the same documents, plus the "type" field mongodump 100.x writes.
    ours_reader, ours_events = read_events(ours)
    assert [(c.db, c.collection, c.metadata_json) for c in ours_reader.collections] == [
        (c.db, c.collection, c.metadata_json) for c in reader.collections
    ]
    # Namespace blocks, documents, terminators and CRCs: identical.
    original_data = original[original.index(TERMINATOR_BYTES, 105) + 4 :]
    ours_data = ours[ours.index(TERMINATOR_BYTES, 105) + 4 :]
    assert ours_data == original_data
    assert [(type(e), e.db, e.collection) for e in ours_events] == [
        (type(e), e.db, e.collection) for e in events
    ]


@needs_compat
def test_an_empty_collection_is_written_as_mongodump_does():
    # bad-format.archive ends with test.ixtest: an empty segment, then its end.
    original = BAD_FORMAT.read_bytes()
    expected = original[0x1BB:]
    ours = build([("test", "ixtest", "{}", "collection")], [("end", "test", "ixtest")])
    assert ours[ours.index(TERMINATOR_BYTES) + 4 :] == expected


def test_header_and_prelude_fields():
    data = build(
        [("shop", "orders", '{"indexes":[]}', "collection"), ("shop", "v", "{}", "view")],
        [("end", "shop", "orders"), ("end", "shop", "v")],
        concurrent=3,
    )
    assert data[:4] == MAGIC_BYTES == b"\x6d\xe2\x99\x81"
    header = bson.decode(data[4 : 4 + struct.unpack("<i", data[4:8])[0]])
    assert list(header.items()) == [
        ("concurrent_collections", 3),
        ("version", "0.1"),
        ("server_version", "7.0.16"),
        ("tool_version", "mongo-toolkit test"),
    ]
    reader, _events = read_events(data)
    entry = reader.collections[0]
    raw = data[
        entry.offset : entry.offset + struct.unpack("<i", data[entry.offset : entry.offset + 4])[0]
    ]
    assert list(bson.decode(raw).items()) == [
        ("db", "shop"),
        ("collection", "orders"),
        ("metadata", '{"indexes":[]}'),
        ("size", 0),
        ("type", "collection"),
    ]
    assert raw[raw.index(b"size") - 1] == 0x10  # int32, as Go writes its int


def test_round_trip_interleaved():
    data = build(
        [
            ("a", "one", "{}", "collection"),
            ("a", "two", "{}", "collection"),
            ("b", "three", "{}", "collection"),
        ],
        [
            ("a", "one", [{"i": i} for i in range(3)]),
            ("a", "two", [{"j": 1}]),
            ("a", "one", [{"i": 3}]),
            ("end", "a", "two"),
            ("b", "three", [{"k": "x" * 1000}] * 5),
            ("a", "one", []),
            ("end", "a", "one"),
            ("end", "b", "three"),
        ],
        concurrent=2,
    )
    _reader, events = read_events(data)
    assert documents_of(events, "a", "one") == [{"i": i} for i in range(4)]
    assert documents_of(events, "a", "two") == [{"j": 1}]
    assert len(documents_of(events, "b", "three")) == 5
    ends = {(e.db, e.collection): e for e in events if isinstance(e, ArchiveCollectionEnd)}
    assert ends["a", "one"].documents == 4
    one = b"".join(bson.encode({"i": i}) for i in range(4))
    assert ends["a", "one"].crc == crc64.xz(one)
    assert ends["a", "one"].bytes == len(one)


def test_big_collections_stream_through_in_batches():
    documents = [{"_id": i, "pad": "p" * 500} for i in range(5000)]
    data = build(
        [("db", "big", "{}", "collection")], [("db", "big", documents), ("end", "db", "big")]
    )
    _reader, events = read_events(data)
    assert documents_of(events, "db", "big") == documents


def test_concurrency_limit_is_enforced():
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, server_version="7.0", tool_version="t", concurrent_collections=1)
    writer.add_collection("d", "a", "{}")
    writer.add_collection("d", "b", "{}")
    writer.begin()
    writer.write_documents("d", "a", [bson.encode({"x": 1})])
    with pytest.raises(ValueError, match="allows 1"):
        writer.write_documents("d", "b", [bson.encode({"x": 1})])
    writer.end_collection("d", "a")
    writer.write_documents("d", "b", [bson.encode({"x": 1})])
    writer.end_collection("d", "b")
    writer.close()
    read_events(sink.getvalue())


def test_writer_misuse():
    writer = ArchiveWriter(io.BytesIO(), server_version="7.0", tool_version="t")
    writer.add_collection("d", "a", "{}")
    with pytest.raises(ValueError, match="already declared"):
        writer.add_collection("d", "a", "{}")
    with pytest.raises(ValueError, match="begin"):
        writer.write_documents("d", "a", [])
    writer.begin()
    with pytest.raises(ValueError, match="before begin"):
        writer.add_collection("d", "b", "{}")
    with pytest.raises(ValueError, match="not declared"):
        writer.write_documents("d", "zzz", [])
    with pytest.raises(ValueError, match="not ended: d.a"):
        writer.close()
    writer.end_collection("d", "a")
    with pytest.raises(ValueError, match="already ended"):
        writer.write_documents("d", "a", [bson.encode({})])
    writer.close()
    with pytest.raises(ValueError):
        ArchiveWriter(io.BytesIO(), server_version="7", tool_version="t", concurrent_collections=0)


def test_writer_refuses_bytes_that_are_not_a_document():
    writer = ArchiveWriter(io.BytesIO(), server_version="7.0", tool_version="t")
    writer.add_collection("d", "a", "{}")
    writer.begin()
    with pytest.raises(BackupError, match="refusing to write document 1 of d.a"):
        writer.write_documents("d", "a", [bson.encode({"a": 1}), b"\x06\x00\x00\x00\x00"])


def test_time_series_data_goes_to_the_buckets_namespace():
    assert has_buckets_namespace("7.0.16") and has_buckets_namespace("unknown")
    assert not has_buckets_namespace("8.3.0")
    assert data_collection("w", "timeseries", "7.0.2") == "system.buckets.w"
    assert data_collection("w", "timeseries", "8.3.1") == "w"
    assert data_collection("w", "collection", "7.0.2") == "w"
    data = build(
        [("db", "weather", '{"collectionName":"weather","type":"timeseries"}', "timeseries")],
        [("db", "weather", [{"bucket": 1}]), ("end", "db", "weather")],
    )
    assert b"system.buckets.weather" in data
    reader, events = read_events(data)
    assert reader.collections[0].collection_type == "timeseries"
    assert documents_of(events, "db", "system.buckets.weather") == [{"bucket": 1}]
    assert reader.collection_for("db", "system.buckets.weather") is reader.collections[0]


def test_oplog_namespace():
    data = build(
        [("db", "c", "{}", "collection")],
        [
            ("db", "c", [{"a": 1}]),
            ("", "oplog", [{"ts": bson.Timestamp(1, 2)}]),
            ("end", "db", "c"),
            ("end", "", "oplog"),
        ],
        oplog=True,
    )
    reader, events = read_events(data)
    oplog = [c for c in reader.collections if c.is_oplog]
    assert [(c.db, c.collection, c.metadata_json, c.type) for c in oplog] == [("", "oplog", "", "")]
    assert documents_of(events, "", "oplog") == [{"ts": bson.Timestamp(1, 2)}]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_compressed_archives(compression):
    sink = io.BytesIO()
    stream = open_writer(sink, compression)
    writer = ArchiveWriter(stream, server_version="7.0", tool_version="t")
    writer.add_collection("d", "a", "{}")
    writer.begin()
    writer.write_documents("d", "a", [bson.encode({"i": i}) for i in range(100)])
    writer.end_collection("d", "a")
    writer.close()
    stream.close()
    reader, detected = open_detected_reader(io.BytesIO(sink.getvalue()), name="a.gz")
    assert detected == compression
    archive = read_archive(reader, "a.gz")
    assert len([e for e in archive.events() if isinstance(e, ArchiveDocument)]) == 100


def test_events_can_be_read_once():
    reader = read_archive(io.BytesIO(build([("d", "a", "{}", "")], [("end", "d", "a")])), "x")
    list(reader.events())
    with pytest.raises(RuntimeError):
        list(reader.events())


# --- damage ------------------------------------------------------------------------------------


def simple_archive() -> bytes:
    return build(
        [("d", "a", "{}", "collection"), ("d", "b", "{}", "collection")],
        [
            ("d", "a", [{"x": "hello"}]),
            ("d", "b", [{"y": 1}]),
            ("end", "d", "a"),
            ("end", "d", "b"),
        ],
    )


def test_bad_magic_number():
    with pytest.raises(BackupError, match=r"^x: damaged archive at offset 0: .*magic number"):
        read_archive(io.BytesIO(b"\x00" * 64), "x")
    with pytest.raises(BackupError, match="found nothing"):
        read_archive(io.BytesIO(b""), "x")
    # A bare .bson file is not an archive.
    with pytest.raises(BackupError, match="not a mongodump archive"):
        read_archive(io.BytesIO(bson.encode({"a": 1})), "x")


def test_crc_mismatch_names_the_namespace_and_offset():
    data = bytearray(simple_archive())
    position = data.index(b"hello")
    data[position] = ord("j")
    with pytest.raises(BackupError) as caught:
        read_events(bytes(data), "x")
    message = str(caught.value)
    assert "CRC mismatch for d.a" in message
    end_offset = int(message.split("offset ")[1].split(":")[0])
    assert bytes(data[end_offset + 4 :]).startswith(b"\x02db\x00")


def header(db, collection, eof=False, crc=0) -> bytes:
    return bson.encode({"db": db, "collection": collection, "EOF": eof, "CRC": Int64(crc)})


def prelude(*names) -> bytes:
    parts = [
        MAGIC_BYTES,
        bson.encode(
            {
                "concurrent_collections": 1,
                "version": "0.1",
                "server_version": "7.0",
                "tool_version": "t",
            }
        ),
    ]
    for db, collection in names:
        parts.append(
            bson.encode({"db": db, "collection": collection, "metadata": "", "size": 0, "type": ""})
        )
    return b"".join(parts) + TERMINATOR_BYTES


DOC = bson.encode({"a": 1})
CRC = crc_to_int64(crc64.xz(DOC))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (header("d", "zz") + TERMINATOR_BYTES, "prelude does not list"),
        (TERMINATOR_BYTES, "terminator without a namespace header"),
        (
            header("d", "a", True, 0)
            + TERMINATOR_BYTES
            + header("d", "a")
            + DOC
            + TERMINATOR_BYTES,
            "appears again after its end",
        ),
        (header("d", "a", True, 0) + DOC + TERMINATOR_BYTES, "not followed by a terminator"),
        (header("d", "a") + DOC + TERMINATOR_BYTES, "ends before the end of d.a"),
        (
            header("d", "a")
            + DOC
            + TERMINATOR_BYTES
            + header("d", "a", True, 5)
            + TERMINATOR_BYTES,
            "CRC mismatch for d.a",
        ),
        (header("d", "") + TERMINATOR_BYTES, "no collection name"),
        (
            bson.encode({"db": "d", "collection": "a", "EOF": 1, "CRC": 0}) + TERMINATOR_BYTES,
            "'EOF' is not of the right type",
        ),
        (b"", "without the data of d.a"),
        (header("d", "a") + DOC, "before its terminator"),
        (
            header("d", "a")
            + DOC
            + TERMINATOR_BYTES
            + header("d", "a", True, CRC)
            + TERMINATOR_BYTES
            + b"\x00\x00",
            "truncated",
        ),
    ],
)
def test_garbled_archives(body, reason):
    with pytest.raises(BackupError, match=reason):
        read_events(prelude(("d", "a")) + body)


def test_a_minimal_hand_built_archive_reads():
    body = (
        header("d", "a") + DOC + TERMINATOR_BYTES + header("d", "a", True, CRC) + TERMINATOR_BYTES
    )
    _reader, events = read_events(prelude(("d", "a")) + body)
    assert [type(e) for e in events] == [ArchiveDocument, ArchiveCollectionEnd]


def test_garbled_prelude():
    with pytest.raises(BackupError, match="listed twice"):
        read_events(prelude(("d", "a"), ("d", "a")))
    with pytest.raises(BackupError, match="ends inside its list of collections"):
        read_events(prelude(("d", "a"))[:-4])
    bad_header = MAGIC_BYTES + bson.encode({"concurrent_collections": "four"}) + TERMINATOR_BYTES
    with pytest.raises(BackupError, match="'concurrent_collections' is not of the right type"):
        read_events(bad_header)
    with pytest.raises(BackupError, match="terminator where the archive header should be"):
        read_events(MAGIC_BYTES + TERMINATOR_BYTES)
    with pytest.raises(BackupError, match="does not decode"):
        read_events(MAGIC_BYTES + b"\x08\x00\x00\x00\x42a\x00\x00")


def test_validate_checks_document_structure_too():
    damaged_document = bytearray(bson.encode({"a": 1}))
    damaged_document[4] = 0x42
    body = (
        header("d", "a")
        + bytes(damaged_document)
        + TERMINATOR_BYTES
        + header("d", "a", True, crc_to_int64(crc64.xz(bytes(damaged_document))))
        + TERMINATOR_BYTES
    )
    read_events(prelude(("d", "a")) + body)
    with pytest.raises(BackupError, match="unknown element type 0x42"):
        read_events(prelude(("d", "a")) + body, validate=True)
