"""``backup show``: what every real mongodump dump holds, and damage refused cleanly."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import bson
import pytest
from bson import SON, Timestamp
from bson.int64 import Int64
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.backup.archive import ArchiveWriter
from toolkit.backup.compression import open_writer
from toolkit.backup.directory import (
    open_oplog_writer,
    render_metadata_json,
    write_collection,
    write_prelude,
)
from toolkit.backup.inventory import Inventory, inventory, locate_dump
from toolkit.errors import BackupError

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "mongodump"
needs_compat = pytest.mark.skipif(not COMPAT.is_dir(), reason=f"no compat corpus at {COMPAT}")

ID_INDEX = {"v": 2, "key": {"_id": 1}, "name": "_id_"}


def rows(result: Inventory):
    return [
        (c["db"], c["collection"], c["type"], c["documents"], c["bytes"], len(c["indexes"]))
        for c in result.as_json()["collections"]
    ]


@needs_compat
@pytest.mark.parametrize(
    ("source", "expected", "server_version"),
    [
        ("coll_with_index", [("test", "foo", "collection", 1, 33, 2)], None),
        ("coll_with_ttl_index", [("test", "foo", "collection", 1, 33, 2)], None),
        ("coll_without_index", [("test", "foo", "collection", 1, 33, 1)], None),
        ("foodump", [("test", "foo", "collection", 1, 35, 1)], None),
        ("indextestdump", [("indextest", "test_collection", "collection", 100, 3300, 2)], None),
        (
            "oplogdump",
            [
                ("admin", "system.version", "collection", 1, 59, 1),
                ("db1", "c1", "collection", 5, 145, 1),
            ],
            None,
        ),
        ("prelude_test/prelude_top_level", [("test", "foo", "collection", 1, 35, 1)], "7.0.16"),
        ("prelude_test/prelude_db_target", [("test", "foo", "collection", 1, 35, 1)], "7.0.16"),
        ("prelude_test/prelude_gzip", [("test", "foo", "collection", 1, 35, 1)], "7.0.16"),
        (
            "prelude_test/server_version_unknown",
            [("test", "foo", "collection", 1, 35, 1)],
            "unknown",
        ),
        (
            "test.bar.archive",
            [
                ("admin", "system.version", "collection", 1, 59, 2),
                ("test", "bar", "collection", 1, 35, 1),
            ],
            "3.4.3",
        ),
        ("hashedIndexes.bson", [("mongodump", "hashedIndexes", "collection", 2, 104, 4)], None),
        (
            "hashedIndexes.metadata.json",
            [("mongodump", "hashedIndexes", "collection", 2, 104, 4)],
            None,
        ),
    ],
)
def test_every_valid_compat_dump(source, expected, server_version):
    result = inventory(COMPAT / source)
    assert rows(result) == expected
    assert result.server_version == server_version
    if source != "oplogdump":
        assert result.oplog is None


@needs_compat
def test_the_oplog_of_a_dump():
    result = inventory(COMPAT / "oplogdump")
    assert result.as_json()["oplog"] == {
        "entries": 3,
        "first": {"t": 1511064038, "i": 28},
        "last": {"t": 1511064038, "i": 32},
    }
    assert inventory(COMPAT / "oplogdump" / "oplog.bson").oplog == result.oplog


@needs_compat
def test_as_json_shape_is_plain_json():
    result = inventory(COMPAT / "indextestdump").as_json()
    assert set(result) == {"collections", "oplog", "server_version"}
    (collection,) = result["collections"]
    assert set(collection) == {
        "db",
        "collection",
        "type",
        "documents",
        "bytes",
        "indexes",
        "options",
    }
    assert collection["indexes"][1] == {
        "v": 1,
        "key": {"a": 1.0, "b": True, "c": {"$numberDecimal": "0"}, "d": ""},
        "name": "a_1_b_true",
        "ns": "indextest.test_collection",
        "safe": True,
    }
    assert collection["options"] == {}
    json.dumps(result)


@needs_compat
def test_bad_format_archive_is_refused_with_file_and_offset():
    path = COMPAT / "bad-format.archive"
    with pytest.raises(BackupError, match=rf"^{path}: damaged archive at offset 106: test\.ixtest"):
        inventory(path)


@needs_compat
@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("bad_cstring.bson", 37),
        ("bad_type.bson", 21),
        ("broken_array.bson", 629),
        ("partial_file.bson", 164),
        ("random_bytes.bson", 0),
        ("invalid_field_name.bson", 283),
    ],
)
def test_damaged_bson_files_are_refused_with_file_and_offset(name, offset):
    path = COMPAT / "bsondump" / name
    with pytest.raises(BackupError, match=rf"^{path}: damaged BSON at offset {offset}: "):
        inventory(path)


@needs_compat
@pytest.mark.parametrize(
    "name", ["all_types.bson", "sample.bson", "deep_nested.bson", "all_in_one_doc.bson"]
)
def test_valid_bsondump_files(name):
    (collection,) = inventory(COMPAT / "bsondump" / name).collections
    assert collection.db == "bsondump"
    assert collection.documents == {"all_types.bson": 20, "sample.bson": 4}.get(name, 1)


# --- dumps of ours, and finding the dump in a backup directory -------------------------------


def write_dump(root: Path, compression: str = "none") -> None:
    for name, count in (("orders", 3), ("users", 2)):
        write_collection(
            root,
            "shop",
            name,
            metadata_json=render_metadata_json(
                options=SON([("validator", {"a": {"$exists": True}})]),
                indexes=[
                    ID_INDEX,
                    {"v": 2, "key": {"at": 1}, "name": "at_1", "expireAfterSeconds": Int64(60)},
                ],
                uuid="0679db720f4944de90ae27472664e94a",
                collection_name=name,
                type="collection",
            ),
            documents=[bson.encode({"_id": i}) for i in range(count)],
            compression=compression,
        )
    write_collection(
        root,
        "shop",
        "recent",
        documents=[],
        type="view",
        compression=compression,
        metadata_json=render_metadata_json(
            options={"viewOn": "orders", "pipeline": []},
            indexes=[],
            uuid=None,
            collection_name="recent",
            type="view",
        ),
    )
    write_collection(
        root,
        "shop",
        "weather",
        type="timeseries",
        compression=compression,
        documents=[bson.encode({"bucket": 1})],
        metadata_json=render_metadata_json(
            options={"timeseries": {"timeField": "t"}},
            indexes=[],
            uuid=None,
            collection_name="weather",
            type="timeseries",
        ),
    )
    write_prelude(root, server_version="7.0.16", tool_version="toolkit", compression=compression)
    with open_oplog_writer(root, compression=compression) as oplog:
        for i in range(1, 4):
            oplog.write(bson.encode({"ts": Timestamp(100 + i, i), "op": "n"}))


def write_archive(path: Path, compression: str = "none") -> None:
    with open(path, "wb") as handle:
        stream = open_writer(handle, compression)
        writer = ArchiveWriter(stream, server_version="7.0.16", tool_version="toolkit")
        for name in ("orders", "users"):
            writer.add_collection(
                "shop",
                name,
                render_metadata_json(
                    options={},
                    indexes=[ID_INDEX],
                    uuid=None,
                    collection_name=name,
                    type="collection",
                ),
                "collection",
            )
        writer.add_collection(
            "shop",
            "weather",
            render_metadata_json(
                options={}, indexes=[], uuid=None, collection_name="weather", type="timeseries"
            ),
            "timeseries",
        )
        writer.add_oplog()
        writer.begin()
        writer.write_documents("shop", "orders", [bson.encode({"_id": i}) for i in range(3)])
        writer.write_documents("shop", "users", [bson.encode({"_id": 1})])
        writer.write_documents("shop", "orders", [bson.encode({"_id": 9})])
        writer.end_collection("shop", "orders")
        writer.end_collection("shop", "users")
        writer.write_documents("shop", "weather", [bson.encode({"bucket": 1})] * 2)
        writer.end_collection("shop", "weather")
        writer.write_documents(
            "",
            "oplog",
            [bson.encode({"ts": Timestamp(7, 1)}), bson.encode({"ts": Timestamp(8, 2)})],
        )
        writer.end_collection("", "oplog")
        writer.close()
        stream.close()


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_our_directory_dumps(tmp_path, compression):
    write_dump(tmp_path / "dump", compression)
    result = inventory(tmp_path / "dump")
    assert [(c.collection, c.type, c.documents) for c in result.collections] == [
        ("orders", "collection", 3),
        ("recent", "view", 0),
        ("users", "collection", 2),
        ("weather", "timeseries", 1),
    ]
    orders = result.as_json()["collections"][0]
    assert orders["indexes"][1]["expireAfterSeconds"] == 60
    assert orders["options"] == {"validator": {"a": {"$exists": True}}}
    assert result.as_json()["collections"][1]["options"] == {"viewOn": "orders", "pipeline": []}
    assert result.as_json()["oplog"] == {
        "entries": 3,
        "first": {"t": 101, "i": 1},
        "last": {"t": 103, "i": 3},
    }
    assert result.server_version == "7.0.16"


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_our_archives(tmp_path, compression):
    path = tmp_path / "backup.archive"
    write_archive(path, compression)
    result = inventory(path)
    assert [(c.collection, c.type, c.documents) for c in result.collections] == [
        ("orders", "collection", 4),
        ("users", "collection", 1),
        ("weather", "timeseries", 2),
    ]
    assert result.as_json()["oplog"] == {
        "entries": 2,
        "first": {"t": 7, "i": 1},
        "last": {"t": 8, "i": 2},
    }
    assert result.server_version == "7.0.16"


def test_a_backup_directory_with_a_manifest_and_an_archive(tmp_path):
    write_archive(tmp_path / "dump.archive.zst", "zstd")
    (tmp_path / "manifest.json").write_text("{}")
    assert locate_dump(tmp_path) == ("archive", tmp_path / "dump.archive.zst")
    assert len(inventory(tmp_path).collections) == 3


def test_a_backup_directory_with_a_manifest_and_a_dump_directory(tmp_path):
    write_dump(tmp_path / "dump", "gzip")
    (tmp_path / "manifest.json").write_text("{}")
    assert locate_dump(tmp_path) == ("directory", tmp_path / "dump")
    assert len(inventory(tmp_path).collections) == 4


def test_a_backup_directory_whose_one_file_is_not_an_archive(tmp_path):
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "data.bin").write_bytes(b"not an archive at all")
    with pytest.raises(BackupError, match=r"data\.bin: damaged archive at offset 0: .*magic"):
        inventory(tmp_path)


def test_nothing_to_show(tmp_path):
    with pytest.raises(BackupError, match="no such file or directory"):
        inventory(tmp_path / "missing")
    (tmp_path / "manifest.json").write_text("{}")
    with pytest.raises(BackupError, match="no MongoDB dump here"):
        inventory(tmp_path)


def test_two_dumps_in_one_directory(tmp_path):
    write_archive(tmp_path / "a.archive")
    write_archive(tmp_path / "b.archive")
    with pytest.raises(BackupError, match=r"more than one dump here \(a\.archive, b\.archive\)"):
        inventory(tmp_path)


def test_a_database_directory_alone(tmp_path):
    write_dump(tmp_path)
    result = inventory(tmp_path / "shop")
    assert len(result.collections) == 4
    assert result.oplog is None
    assert result.server_version == "7.0.16"


def test_an_oplog_entry_without_a_timestamp(tmp_path):
    with open_oplog_writer(tmp_path) as oplog:
        oplog.write(bson.encode({"op": "n"}))
    with pytest.raises(BackupError, match=r"oplog\.bson: the oplog entry at offset 0 has no"):
        inventory(tmp_path)


def test_validation_can_be_skipped_for_speed(tmp_path):
    (tmp_path / "db").mkdir()
    document = bytearray(bson.encode({"a": 1}))
    document[4] = 0x42  # an unknown type: framing is fine, structure is not
    (tmp_path / "db" / "c.bson").write_bytes(bytes(document))
    assert inventory(tmp_path, validate=False).collections[0].documents == 1
    with pytest.raises(BackupError, match=r"c\.bson: damaged BSON at offset 4: unknown"):
        inventory(tmp_path)


# --- fuzzing: nothing but BackupError escapes ------------------------------------------------


def archive_bytes() -> bytes:
    sink = io.BytesIO()
    writer = ArchiveWriter(sink, server_version="7.0.16", tool_version="t")
    writer.add_collection(
        "db",
        "c",
        render_metadata_json(
            options={"capped": True, "size": 4096},
            indexes=[ID_INDEX],
            uuid="0679db720f4944de90ae27472664e94a",
            collection_name="c",
        ),
    )
    writer.add_collection(
        "db", "v", '{"options":{"viewOn":"c"},"indexes":[],"type":"view"}', "view"
    )
    writer.add_oplog()
    writer.begin()
    writer.write_documents("db", "c", [bson.encode({"_id": i, "s": "x" * i}) for i in range(6)])
    writer.write_documents("", "oplog", [bson.encode({"ts": Timestamp(1, 1)})])
    writer.end_collection("db", "c")
    writer.end_collection("db", "v")
    writer.end_collection("", "oplog")
    writer.close()
    return sink.getvalue()


ARCHIVE = archive_bytes()
BSON_FILE = b"".join(
    bson.encode(SON([("_id", i), ("a", [1, "two", {"three": 3.0}]), ("t", Timestamp(i, 1))]))
    for i in range(8)
)


def damage(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    changed = bytearray(data)
    for position, value in flips:
        changed[position % len(changed)] = value
    return bytes(changed[:cut] if cut is not None else changed)


flips = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3)
cuts = st.one_of(st.none(), st.integers(0, len(ARCHIVE)))


def show_or_refuse(path: Path) -> None:
    try:
        result = inventory(path)
    except BackupError as error:
        assert str(path) in str(error)
        return
    json.dumps(result.as_json())


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=flips, cut=cuts)
def test_fuzzed_archives_raise_only_backup_errors(tmp_path, flips, cut):
    path = tmp_path / "fuzz.archive"
    path.write_bytes(damage(ARCHIVE, flips, cut))
    show_or_refuse(path)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=flips, cut=st.one_of(st.none(), st.integers(0, len(BSON_FILE))))
def test_fuzzed_bson_files_raise_only_backup_errors(tmp_path, flips, cut):
    path = tmp_path / "db" / "fuzz.bson"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(damage(BSON_FILE, flips, cut))
    show_or_refuse(path)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=flips, cut=st.one_of(st.none(), st.integers(0, 400)))
def test_fuzzed_compressed_archives_raise_only_backup_errors(tmp_path, flips, cut):
    sink = io.BytesIO()
    writer = open_writer(sink, "zstd", threads=0)
    writer.write(ARCHIVE)
    writer.close()
    path = tmp_path / "fuzz.archive.zst"
    path.write_bytes(damage(sink.getvalue(), flips, cut))
    show_or_refuse(path)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(flips=flips)
def test_fuzzed_metadata_raises_only_backup_errors(tmp_path, flips):
    root = tmp_path / "dump"
    shutil.rmtree(root, ignore_errors=True)
    write_dump(root)
    path = root / "shop" / "orders.metadata.json"
    path.write_bytes(damage(path.read_bytes(), flips, None))
    show_or_refuse(root)
