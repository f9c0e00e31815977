"""The directory dump format: mongodump's files read, ours written the way mongodump writes them.

The dumps under ../shared/compat/mongodump were written by the real mongodump
(mongodb/mongo-tools test data, Apache-2.0).
"""

from __future__ import annotations

import datetime
import gzip
import shutil
from pathlib import Path

import bson
import pytest
from bson import SON, Binary, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.int64 import Int64
from fastcrc import crc64

from toolkit.backup.directory import (
    BSONFileWriter,
    CollectionMetadata,
    collection_file_stem,
    data_file_path,
    escape_collection_name,
    format_double,
    is_shortened_stem,
    iter_file_documents,
    metadata_file_path,
    open_oplog_writer,
    parse_metadata_json,
    read_bson_file,
    read_directory,
    render_metadata_json,
    render_prelude_json,
    stem_limit,
    to_canonical_extended_json,
    unescape_collection_name,
    write_collection,
    write_metadata,
    write_prelude,
)
from toolkit.errors import BackupError

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "mongodump"
needs_compat = pytest.mark.skipif(not COMPAT.is_dir(), reason=f"no compat corpus at {COMPAT}")

# mongorestore/testdata/longcollectionname in mongo-tools: a 247-character name and the
# file name mongodump gave it.
LONG_NAME = (
    "aVery" + "Very" * 43 + "LongCollectionNameConsistingOfExactlyTwoHundredAndFortySevenCharacters"
)
LONG_STEM = "aVery" + "Very" * 43 + "LongCollectionNameConsistingOfE%24xFO0VquRn7cg3QooSZD5sglTddU"


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("foo", "foo"),
        ("cafés", "caf%C3%A9s"),  # mongorestore/testdata/specialcharacter/db1/caf%C3%A9s.bson
        ("a/b", "a%2Fb"),
        ("a b", "a%20b"),
        ("a?b;c,d", "a%3Fb%3Bc%2Cd"),
        ("$&+:=@-_.~", "$&+:=@-_.~"),
        ("100%", "100%25"),
        ('a\\b*c!d"e<f>', "a%5Cb%2Ac%21d%22e%3Cf%3E"),
        ("system.buckets.weather", "system.buckets.weather"),
        ("$admin.system.users", "$admin.system.users"),
        ("日本", "%E6%97%A5%E6%9C%AC"),
    ],
)
def test_escape_like_go_path_escape(name, escaped):
    assert escape_collection_name(name) == escaped
    assert unescape_collection_name(escaped) == name


def test_unescape_keeps_plus_and_refuses_bad_escapes():
    assert unescape_collection_name("a+b") == "a+b"
    assert unescape_collection_name("a%2fb") == "a/b"
    for bad in ("%", "%2", "%zz", "a%g1"):
        with pytest.raises(ValueError, match="invalid escape"):
            unescape_collection_name(bad)


def test_long_names_are_shortened_exactly_as_mongodump_does():
    assert len(LONG_NAME) == 247
    assert collection_file_stem(LONG_NAME) == LONG_STEM
    assert len(LONG_STEM) == 238
    assert is_shortened_stem(LONG_STEM)


def test_stem_limits():
    assert [stem_limit(c) for c in ("none", "gzip", "zstd")] == [238, 238, 237]
    assert len(collection_file_stem(LONG_NAME, max_length=237)) == 237


def test_the_shortening_threshold_is_238_escaped_bytes():
    assert collection_file_stem("x" * 238) == "x" * 238
    stem = collection_file_stem("x" * 239)
    assert stem.startswith("x" * 208 + "%24") and len(stem) == 238
    # Escaping counts: 80 "é" are 160 bytes, 480 escaped characters.
    assert len(collection_file_stem("é" * 80)) == 238


def test_paths(tmp_path):
    assert data_file_path(tmp_path, "db", "c") == tmp_path / "db" / "c.bson"
    assert data_file_path(tmp_path, "db", "w", type="timeseries", compression="gzip") == (
        tmp_path / "db" / "system.buckets.w.bson.gz"
    )
    assert metadata_file_path(tmp_path, "db", "w", compression="zstd") == (
        tmp_path / "db" / "w.metadata.json.zst"
    )
    with pytest.raises(ValueError):
        data_file_path(tmp_path, "a/b", "c")


# --- metadata JSON -----------------------------------------------------------------------


@needs_compat
@pytest.mark.parametrize("dump", ["coll_with_index", "coll_without_index"])
def test_metadata_is_rendered_byte_for_byte_as_mongodump_wrote_it(dump):
    path = COMPAT / dump / "test" / "foo.metadata.json"
    text = path.read_text()
    metadata = parse_metadata_json(text, source=str(path))
    assert metadata.collection_name == "foo"
    assert metadata.to_json() == text


@needs_compat
def test_a_hand_edited_relaxed_number_is_read_and_written_canonical():
    # coll_with_ttl_index has "expireAfterSeconds":1000 in relaxed form amid canonical
    # numbers (hand-edited test data): read it, write it back canonical.
    path = COMPAT / "coll_with_ttl_index" / "test" / "foo.metadata.json"
    metadata = parse_metadata_json(path.read_text(), source=str(path))
    assert metadata.indexes[1]["expireAfterSeconds"] == 1000
    assert '"expireAfterSeconds":{"$numberInt":"1000"}' in metadata.to_json()


def test_long_name_metadata_renders_as_mongodump_wrote_it():
    expected = (
        '{"indexes":[{"v":{"$numberInt":"2"},"key":{"_id":{"$numberInt":"1"}},"name":"_id_"}],'
        f'"uuid":"ee3534fe9545406f90406b246dde420d","collectionName":"{LONG_NAME}"}}'
    )
    metadata = parse_metadata_json(expected, source="x")
    assert metadata.to_json() == expected


def test_render_metadata_field_order_and_omissions():
    text = render_metadata_json(
        options=SON(
            [
                (
                    "timeseries",
                    SON(
                        [
                            ("timeField", "ts"),
                            ("granularity", "seconds"),
                            ("bucketMaxSpanSeconds", 3600),
                        ]
                    ),
                ),
                ("expireAfterSeconds", Int64(100)),
            ]
        ),
        indexes=[SON([("v", 2), ("key", SON([("ts", 1), ("meta.device", -1.0)])), ("name", "i")])],
        uuid=None,
        collection_name="weather",
        type="timeseries",
    )
    assert text == (
        '{"options":{"timeseries":{"timeField":"ts","granularity":"seconds",'
        '"bucketMaxSpanSeconds":{"$numberInt":"3600"}},"expireAfterSeconds":{"$numberLong":"100"}},'
        '"indexes":[{"v":{"$numberInt":"2"},"key":{"ts":{"$numberInt":"1"},'
        '"meta.device":{"$numberDouble":"-1.0"}},"name":"i"}],'
        '"collectionName":"weather","type":"timeseries"}'
    )
    assert render_metadata_json(options={}, indexes=[], uuid="", collection_name="v") == (
        '{"indexes":[],"collectionName":"v"}'
    )


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (2.5, "2.5"),
        (-1.0, "-1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (100.0, "100.0"),
        (3600.0, "3600.0"),
        (123456.0, "123456.0"),
        (1e6, "1E+06"),
        (1234567.0, "1.234567E+06"),
        (1e21, "1E+21"),
        (0.0001, "0.0001"),
        (0.000123, "0.000123"),
        (1e-5, "1E-05"),
        (5e-324, "5E-324"),
        (1.7976931348623157e308, "1.7976931348623157E+308"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_doubles_are_formatted_like_go(value, text):
    assert format_double(value) == text
    if text not in ("NaN",):
        assert float(text.replace("Infinity", "inf")) == value


def test_canonical_extended_json_of_every_type():
    value = SON(
        [
            ("int32", 1),
            ("int64", Int64(2)),
            ("big", 2**40),
            ("double", 1.0),
            ("decimal", Decimal128("0")),
            ("oid", ObjectId("546651e74bf6e4cb017c5312")),
            ("date", datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)),
            ("binary", Binary(b"TEST", 0)),
            ("regex", Regex("^a", "i")),
            ("ts", Timestamp(1415991783, 1)),
            ("min", MinKey()),
            ("max", MaxKey()),
            ("flags", [True, False, None]),
        ]
    )
    assert to_canonical_extended_json(value) == (
        '{"int32":{"$numberInt":"1"},"int64":{"$numberLong":"2"},'
        '"big":{"$numberLong":"1099511627776"},"double":{"$numberDouble":"1.0"},'
        '"decimal":{"$numberDecimal":"0"},"oid":{"$oid":"546651e74bf6e4cb017c5312"},'
        '"date":{"$date":{"$numberLong":"1577836800000"}},'
        '"binary":{"$binary":{"base64":"VEVTVA==","subType":"00"}},'
        '"regex":{"$regularExpression":{"pattern":"^a","options":"i"}},'
        '"ts":{"$timestamp":{"t":1415991783,"i":1}},"min":{"$minKey":1},"max":{"$maxKey":1},'
        '"flags":[true,false,null]}'
    )
    assert bson.encode(bson.json_util.loads(to_canonical_extended_json(value))) == bson.encode(
        value
    )


def test_strings_are_escaped_like_the_go_driver():
    text = to_canonical_extended_json({'q"\\': "a\nb\tc\x01\b\f\x7f<>&é\u2028"})
    assert text == '{"q\\"\\\\":"a\\nb\\tc\\u0001\\b\\f\x7f<>&é\\u2028"}'


def test_parse_relaxed_metadata():
    metadata = parse_metadata_json(
        '{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_","ns":"db1.c1"}],'
        '"uuid":"699f503df64b4aa8a484a8052046fa3a"}',
        source="x",
    )
    assert metadata == CollectionMetadata(
        options={},
        indexes=[{"v": 2, "key": {"_id": 1}, "name": "_id_", "ns": "db1.c1"}],
        uuid="699f503df64b4aa8a484a8052046fa3a",
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{", "not valid Extended JSON"),
        ('{"key":{"{"a":"b"}":1}}', "not valid Extended JSON"),
        ("[]", "not a JSON object"),
        ('{"options":[]}', "'options' is not an object"),
        ('{"indexes":{}}', "'indexes' is not a list"),
        ('{"indexes":[1]}', "'indexes' is not a list of objects"),
        ('{"uuid":5}', "'uuid' is not a string"),
        ('{"options":{"a":{"$oid":"nothex"}}}', "not valid Extended JSON"),
        (b"\xff", "not valid Extended JSON"),
    ],
)
def test_parse_refuses_bad_metadata(text, reason):
    with pytest.raises(BackupError, match=f"^src: .*{reason}"):
        parse_metadata_json(text, source="src")


# --- reading mongodump's dumps -----------------------------------------------------------


def summary(dump):
    return [
        (c.db, c.collection, c.type, len(list(c.documents(validate=True))))
        for c in dump.collections
    ]


@needs_compat
@pytest.mark.parametrize(
    ("dump", "expected"),
    [
        ("coll_with_index", [("test", "foo", "collection", 1)]),
        ("coll_with_ttl_index", [("test", "foo", "collection", 1)]),
        ("coll_without_index", [("test", "foo", "collection", 1)]),
        ("foodump", [("test", "foo", "collection", 1)]),
        ("indextestdump", [("indextest", "test_collection", "collection", 100)]),
        (
            "oplogdump",
            [("admin", "system.version", "collection", 1), ("db1", "c1", "collection", 5)],
        ),
    ],
)
def test_reads_mongodump_directories(dump, expected):
    result = read_directory(COMPAT / dump)
    assert summary(result) == expected


@needs_compat
def test_reads_the_oplog():
    dump = read_directory(COMPAT / "oplogdump")
    assert dump.oplog_path == COMPAT / "oplogdump" / "oplog.bson"
    entries = [bson.decode(raw) for _offset, raw in dump.oplog_entries()]
    assert len(entries) == 3 and all(isinstance(e["ts"], Timestamp) for e in entries)
    assert dump.server_version is None


@needs_compat
@pytest.mark.parametrize(
    ("target", "version"),
    [
        ("prelude_top_level", "7.0.16"),
        ("prelude_top_level/test", "7.0.16"),  # a database directory: prelude in the parent
        ("prelude_db_target", "7.0.16"),  # mongodump --db: prelude in the database directory
        ("prelude_db_target/test", "7.0.16"),
        ("prelude_gzip", "7.0.16"),
        ("prelude_gzip/test", "7.0.16"),
        ("server_version_unknown", "unknown"),
    ],
)
def test_prelude_is_found_where_mongorestore_looks(target, version):
    dump = read_directory(COMPAT / "prelude_test" / target)
    assert dump.server_version == version
    assert dump.tool_version == ""
    assert summary(dump) == [("test", "foo", "collection", 1)]


@needs_compat
def test_reads_gzip_dumps():
    dump = read_directory(COMPAT / "prelude_test" / "prelude_gzip")
    (collection,) = dump.collections
    assert collection.data_path.name == "foo.bson.gz"
    assert collection.metadata_path.name == "foo.metadata.json.gz"
    assert collection.metadata.indexes[0]["name"] == "_id_"
    plain = read_directory(COMPAT / "prelude_test" / "prelude_top_level").collections[0]
    assert list(collection.documents()) == list(plain.documents())


@needs_compat
def test_reads_a_lone_bson_file_as_mongorestore_does():
    for path in (COMPAT / "hashedIndexes.bson", COMPAT / "hashedIndexes.metadata.json"):
        dump = read_bson_file(path)
        (collection,) = dump.collections
        # mongorestore takes the database from the directory the file is in.
        assert (collection.db, collection.collection) == (COMPAT.name, "hashedIndexes")
        assert [i["name"] for i in collection.metadata.indexes] == [
            "_id_",
            "a.a_1",
            "a.b_hashed",
            "b_hashed",
        ]
        assert len(list(collection.documents())) == 2


@needs_compat
def test_a_lone_oplog_bson_is_an_oplog():
    dump = read_bson_file(COMPAT / "oplogdump" / "oplog.bson")
    assert dump.collections == ()
    assert len(list(dump.oplog_entries())) == 3


def test_lone_file_errors(tmp_path):
    with pytest.raises(BackupError, match="not a .bson or .metadata.json file"):
        read_bson_file(tmp_path / "x.txt")
    with pytest.raises(BackupError, match="no such file"):
        read_bson_file(tmp_path / "x.bson")


# --- writing, and reading our own ----------------------------------------------------------


def metadata_for(name, type="collection", options=None):
    return render_metadata_json(
        options=options or {},
        indexes=[] if type == "view" else [SON([("v", 2), ("key", {"_id": 1}), ("name", "_id_")])],
        uuid=None if type == "view" else "0679db720f4944de90ae27472664e94a",
        collection_name=name,
        type=type,
    )


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_write_then_read_a_dump(tmp_path, compression):
    documents = [bson.encode({"_id": i, "text": "x" * i}) for i in range(300)]
    names = ["orders", "cafés", "a/b c", LONG_NAME]
    for name in names:
        written = write_collection(
            tmp_path,
            "shop",
            name,
            metadata_json=metadata_for(name),
            documents=iter(documents),
            compression=compression,
        )
        assert written.documents == 300
        assert written.bytes == sum(map(len, documents))
        assert written.crc64 == crc64.xz(b"".join(documents))
    write_collection(
        tmp_path,
        "shop",
        "recent",
        documents=[],
        compression=compression,
        type="view",
        metadata_json=metadata_for("recent", "view", SON([("viewOn", "orders"), ("pipeline", [])])),
    )
    write_collection(
        tmp_path,
        "shop",
        "weather",
        documents=documents[:2],
        compression=compression,
        type="timeseries",
        metadata_json=metadata_for("weather", "timeseries"),
    )
    write_prelude(tmp_path, server_version="7.0.16", tool_version="t", compression=compression)
    with open_oplog_writer(tmp_path, compression=compression) as oplog:
        oplog.write(bson.encode({"ts": Timestamp(5, 1), "op": "n"}))

    files = sorted(p.name for p in (tmp_path / "shop").iterdir())
    suffix = {"none": "", "gzip": ".gz", "zstd": ".zst"}[compression]
    assert f"caf%C3%A9s.bson{suffix}" in files
    assert f"a%2Fb%20c.metadata.json{suffix}" in files
    if compression == "zstd":
        # ".metadata.json.zst" is one byte longer than ".gz": one byte less of name.
        assert f"{LONG_STEM[:207]}{LONG_STEM[208:]}.bson.zst" in files
    else:
        assert f"{LONG_STEM}.bson{suffix}" in files
    assert all(len(name) <= 255 for name in files)
    assert f"system.buckets.weather.bson{suffix}" in files
    assert f"recent.metadata.json{suffix}" in files and f"recent.bson{suffix}" not in files

    dump = read_directory(tmp_path)
    assert dump.server_version == "7.0.16"
    assert len(list(dump.oplog_entries())) == 1
    by_name = {c.collection: c for c in dump.collections}
    assert sorted(by_name) == sorted([*names, "recent", "weather"])
    for name in names:
        assert [raw for _o, raw in by_name[name].documents(validate=True)] == documents
        assert by_name[name].metadata.collection_name == name
    assert by_name["recent"].type == "view" and by_name["recent"].data_path is None
    assert list(by_name["recent"].documents()) == []
    assert by_name["weather"].type == "timeseries"
    assert by_name["weather"].data_path.name == f"system.buckets.weather.bson{suffix}"


def test_gzip_files_are_what_mongorestore_gzip_reads(tmp_path):
    write_collection(
        tmp_path,
        "db",
        "c",
        metadata_json=metadata_for("c"),
        documents=[bson.encode({"a": 1})],
        compression="gzip",
    )
    path = write_prelude(tmp_path, server_version="7.0.16", tool_version="", compression="gzip")
    assert path.name == "prelude.json.gz"
    assert gzip.decompress(path.read_bytes()) == b'{"ServerVersion":"7.0.16","ToolVersion":""}'
    assert gzip.decompress((tmp_path / "db" / "c.bson.gz").read_bytes()) == bson.encode({"a": 1})
    assert gzip.decompress((tmp_path / "db" / "c.metadata.json.gz").read_bytes()).decode() == (
        metadata_for("c")
    )


@needs_compat
def test_prelude_matches_mongodumps(tmp_path):
    ours = write_prelude(tmp_path, server_version="7.0.16", tool_version="")
    theirs = COMPAT / "prelude_test" / "prelude_top_level" / "prelude.json"
    assert ours.read_bytes() == theirs.read_bytes()
    assert render_prelude_json(server_version="8.0.1", tool_version="100.9") == (
        '{"ServerVersion":"8.0.1","ToolVersion":"100.9"}'
    )


@needs_compat
def test_a_copied_mongodump_dump_reads_the_same_after_our_rewrite(tmp_path):
    source = read_directory(COMPAT / "indextestdump")
    (collection,) = source.collections
    write_collection(
        tmp_path,
        collection.db,
        collection.collection,
        metadata_json=collection.metadata.to_json(),
        documents=(raw for _o, raw in collection.documents()),
    )
    (copy,) = read_directory(tmp_path).collections
    assert copy.metadata.indexes == collection.metadata.indexes
    assert list(copy.documents()) == list(collection.documents())


def test_bson_file_writer(tmp_path):
    with BSONFileWriter(tmp_path / "d" / "x.bson") as writer:
        writer.write_documents(bson.encode({"i": i}) for i in range(10))
        with pytest.raises(BackupError, match="refusing to write document 10"):
            writer.write(b"\x05\x00\x00\x00\x01")
    assert writer.documents == 10
    assert [bson.decode(raw)["i"] for _o, raw in iter_file_documents(writer.path)] == list(
        range(10)
    )


def test_unreadable_metadata_is_reported_with_its_file(tmp_path):
    write_collection(tmp_path, "db", "c", metadata_json="{not json", documents=[])
    with pytest.raises(
        BackupError, match=r"c\.metadata\.json: the collection metadata is not valid"
    ):
        read_directory(tmp_path)


@pytest.mark.parametrize("compression", ["none", "zstd"])
def test_a_long_time_series_name(tmp_path, compression):
    # Its buckets file and its metadata file are shortened with different hashes.
    name = "w" * 250
    write_collection(
        tmp_path,
        "db",
        name,
        type="timeseries",
        documents=[bson.encode({"b": 1})],
        metadata_json=metadata_for(name, "timeseries"),
        compression=compression,
    )
    (collection,) = read_directory(tmp_path).collections
    assert (collection.collection, collection.type) == (name, "timeseries")
    assert len(list(collection.documents())) == 1


def test_the_same_collection_twice(tmp_path):
    write_collection(tmp_path, "db", "c", metadata_json=metadata_for("c"), documents=[])
    write_collection(
        tmp_path, "db", "c", metadata_json=metadata_for("c"), documents=[], compression="gzip"
    )
    with pytest.raises(BackupError, match="the same collection is also in"):
        read_directory(tmp_path)


def test_a_shortened_name_needs_its_metadata(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / f"{LONG_STEM}.bson").write_bytes(bson.encode({"a": 1}))
    with pytest.raises(BackupError, match="shortened"):
        read_directory(tmp_path)


def test_a_bad_escape_in_a_file_name_is_reported(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "bad%zz.bson").write_bytes(bson.encode({"a": 1}))
    with pytest.raises(BackupError, match=r"bad%zz\.bson: cannot read a collection name"):
        read_directory(tmp_path)


def test_bson_without_metadata_and_unknown_files(tmp_path):
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "c.bson").write_bytes(bson.encode({"a": 1}))
    (tmp_path / "db" / "notes.txt").write_text("ignored")
    (collection,) = read_directory(tmp_path).collections
    assert (collection.collection, collection.type, collection.metadata) == (
        "c",
        "collection",
        None,
    )


def test_damaged_documents_are_reported_with_file_and_offset(tmp_path):
    (tmp_path / "db").mkdir()
    good = bson.encode({"a": 1})
    (tmp_path / "db" / "c.bson").write_bytes(good + good[:-3])
    (collection,) = read_directory(tmp_path).collections
    with pytest.raises(BackupError, match=rf"c\.bson: damaged BSON at offset {len(good)}: "):
        list(collection.documents())


def test_not_a_directory(tmp_path):
    with pytest.raises(BackupError, match="not a directory"):
        read_directory(tmp_path / "nope")


def test_metadata_writer_round_trip(tmp_path):
    path = write_metadata(tmp_path, "db", "c", metadata_for("c"), compression="zstd")
    assert path.name == "c.metadata.json.zst"
    (collection,) = read_directory(tmp_path).collections
    assert collection.metadata.to_json() == metadata_for("c")
    shutil.rmtree(tmp_path / "db")
