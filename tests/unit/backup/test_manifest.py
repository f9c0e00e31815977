"""The backup manifest: ids, a byte-exact JSON format, strict reading, file verification."""

from __future__ import annotations

import copy
import hashlib
import io
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toolkit.backup.manifest import (
    CHUNK_SIZE,
    CollectionStats,
    Manifest,
    ManifestFile,
    OplogPosition,
    OplogRange,
    new_backup_id,
    verify_files,
)
from toolkit.errors import BackupError

SOURCE = "s3://backups/shop/20261123T075541Z-nightly/manifest.json"
STARTED = datetime(2026, 11, 23, 7, 55, 41, tzinfo=UTC)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_manifest(contents: dict[str, bytes] | None = None, **overrides) -> Manifest:
    contents = {"dump.archive.zst": b"archive bytes"} if contents is None else contents
    values = {
        "id": "20261123T075541Z-nightly",
        "label": "nightly",
        "started_at": STARTED,
        "finished_at": STARTED + timedelta(minutes=3, seconds=2),
        "toolkit_version": "0.1.0",
        "server_version": "7.0.14",
        "topology": "replica set",
        "layout": "archive",
        "compression": "zstd",
        "databases": ("shop",),
        "oplog": OplogRange(OplogPosition(1795420541, 1), OplogPosition(1795420723, 4), 17),
        "files": tuple(
            ManifestFile(path, len(data), sha256(data)) for path, data in contents.items()
        ),
        "collections": (CollectionStats("shop", "orders", 1200, 345678),),
    }
    values.update(overrides)
    return Manifest(**values)


def valid_document() -> dict:
    return json.loads(make_manifest().to_json())


def read(document) -> Manifest:
    return Manifest.from_json(json.dumps(document).encode(), SOURCE)


# -- ids ----------------------------------------------------------------------------------------


def test_backup_ids_are_utc_seconds_with_an_optional_label():
    assert new_backup_id(STARTED.replace(microsecond=999_999)) == "20261123T075541Z"
    assert new_backup_id(STARTED, "nightly") == "20261123T075541Z-nightly"
    paris = timezone(timedelta(hours=1))
    assert new_backup_id(datetime(2026, 11, 23, 8, 55, 41, tzinfo=paris), "a_B-9") == (
        "20261123T075541Z-a_B-9"
    )
    assert new_backup_id(STARTED, "x" * 40).endswith("-" + "x" * 40)


@pytest.mark.parametrize("label", ["", "x" * 41, "night ly", "nächtlich", "a/b", "a.b", "../x", 7])
def test_backup_id_labels_are_restricted(label):
    with pytest.raises(ValueError, match="label"):
        new_backup_id(STARTED, label)


def test_backup_id_needs_an_aware_time():
    with pytest.raises(ValueError):
        new_backup_id(datetime(2026, 11, 23, 7, 55, 41))


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
    ),
)
def test_backup_ids_sort_in_start_order(first, second):
    assume(first.replace(microsecond=0) != second.replace(microsecond=0))
    assert (new_backup_id(first) < new_backup_id(second)) == (first < second)


# -- writing ------------------------------------------------------------------------------------


def test_to_json_is_this_exact_text():
    manifest = make_manifest({"b.bson": b"b", "a.bson": b""}, databases=("shop", "admin"))
    assert manifest.to_json().decode() == (
        """{
  "format_version": 1,
  "id": "20261123T075541Z-nightly",
  "label": "nightly",
  "status": "complete",
  "started_at": "2026-11-23T07:55:41Z",
  "finished_at": "2026-11-23T07:58:43Z",
  "toolkit_version": "0.1.0",
  "server_version": "7.0.14",
  "topology": "replica set",
  "layout": "archive",
  "compression": "zstd",
  "databases": [
    "admin",
    "shop"
  ],
  "oplog": {
    "first": {
      "t": 1795420541,
      "i": 1
    },
    "last": {
      "t": 1795420723,
      "i": 4
    },
    "entries": 17
  },
  "collections": [
    {
      "db": "shop",
      "collection": "orders",
      "documents": 1200,
      "bytes": 345678
    }
  ],
  "files": [
    {
      "path": "a.bson",
      "size": 0,
      "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    },
    {
      "path": "b.bson",
      "size": 1,
      "sha256": "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"
    }
  ]
}
"""
    )


def test_to_json_does_not_depend_on_the_order_files_were_listed_in():
    contents = {f"dump/shop/c{index}.bson.zst": bytes([index]) for index in range(5)}
    reordered = dict(reversed(list(contents.items())))
    assert make_manifest(contents).to_json() == make_manifest(reordered).to_json()
    assert make_manifest(contents) == make_manifest(reordered)


def test_times_are_kept_in_utc_and_microseconds_survive():
    paris = timezone(timedelta(hours=1))
    manifest = make_manifest(
        started_at=datetime(2026, 11, 23, 8, 55, 41, 250, tzinfo=paris),
        finished_at=datetime(2026, 11, 23, 9, 0, 0, tzinfo=paris),
    )
    assert manifest.started_at == STARTED.replace(microsecond=250)
    assert manifest.started_at.tzinfo is UTC
    assert b'"started_at": "2026-11-23T07:55:41.000250Z"' in manifest.to_json()
    assert Manifest.from_json(manifest.to_json(), SOURCE) == manifest


def test_a_standalone_directory_dump_without_oplog_round_trips():
    manifest = make_manifest(
        {"shop/orders.bson.gz": b"x", "shop/orders.metadata.json.gz": b"y"},
        id="20261123T075541Z",
        label=None,
        topology="standalone",
        layout="directory",
        compression="gzip",
        oplog=None,
        databases=(),
        collections=(),
    )
    assert Manifest.from_json(manifest.to_json(), SOURCE) == manifest


# -- round trip ---------------------------------------------------------------------------------

PATH_PART = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789._-é", min_size=1, max_size=8
).filter(lambda part: part not in (".", ".."))
PATHS = st.lists(PATH_PART, min_size=1, max_size=4).map("/".join)
TEXT = st.text(min_size=1, max_size=20)
COUNT = st.integers(0, 2**53)


@st.composite
def manifests(draw) -> Manifest:
    started = draw(
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
    )
    label = draw(st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9_-]{1,40}", fullmatch=True)))
    first = draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
    last = draw(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)))
    first, last = sorted([first, last])
    paths = draw(st.lists(PATHS, unique=True, max_size=6))
    names = draw(st.lists(st.tuples(TEXT, TEXT), unique=True, max_size=5))
    return Manifest(
        id=new_backup_id(started, label),
        label=label,
        started_at=started,
        finished_at=started
        + draw(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2))),
        toolkit_version=draw(TEXT),
        server_version=draw(TEXT),
        topology=draw(st.sampled_from(["standalone", "replica set", "sharded"])),
        layout=draw(st.sampled_from(["archive", "directory"])),
        compression=draw(st.sampled_from(["zstd", "gzip", "none"])),
        databases=tuple(draw(st.lists(TEXT, unique=True, max_size=4))),
        oplog=draw(
            st.one_of(
                st.none(),
                st.builds(
                    OplogRange, st.just(OplogPosition(*first)), st.just(OplogPosition(*last)), COUNT
                ),
            )
        ),
        files=tuple(
            ManifestFile(path, draw(COUNT), draw(st.from_regex(r"[0-9a-f]{64}", fullmatch=True)))
            for path in paths
        ),
        collections=tuple(
            CollectionStats(db, name, draw(COUNT), draw(COUNT)) for db, name in names
        ),
    )


@settings(max_examples=200, deadline=None)
@given(manifests())
def test_round_trip(manifest):
    data = manifest.to_json()
    assert data.endswith(b"}\n")
    assert data.isascii()
    again = Manifest.from_json(data, SOURCE)
    assert again == manifest
    assert again.to_json() == data
    assert [f.path for f in again.files] == sorted(f.path for f in manifest.files)


# -- reading refuses anything malformed -----------------------------------------------------------


def test_from_json_reads_what_to_json_wrote():
    assert read(valid_document()) == make_manifest()


@pytest.mark.parametrize("key", list(valid_document()))
def test_a_missing_key_is_refused(key):
    document = valid_document()
    del document[key]
    with pytest.raises(BackupError, match=f"missing key '{key}'") as caught:
        read(document)
    assert SOURCE in str(caught.value)


def set_path(document, path, value):
    target = document
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value


DELETE = object()
SHA = "0" * 64
FILE = {"path": "dump.archive.zst", "size": 13, "sha256": sha256(b"archive bytes")}
COLLECTION = {"db": "shop", "collection": "orders", "documents": 1200, "bytes": 345678}

MALFORMED = [
    (("format_version",), 2, "unknown format_version 2"),
    (("format_version",), "1", "unknown format_version '1'"),
    (("format_version",), True, "unknown format_version True"),
    (("surprise",), 1, "unknown key 'surprise'"),
    (("id",), "2026-11-23-nightly", "id: must look like"),
    (("id",), "20261399T075541Z-nightly", "id: is not a valid time"),
    (("id",), "20261123T075541Z-weekly", "does not end with the label"),
    (("label",), 5, "label: must be null or"),
    (("label",), "night ly", "label: must be null or"),
    (("status",), "incomplete", "status: must be one of complete"),
    (("started_at",), "2026-11-23T07:55:41", "started_at: must be a time with a UTC offset"),
    (("started_at",), "yesterday", "started_at: not an ISO-8601 time"),
    (("started_at",), 1795420541, "started_at: must be a time with a UTC offset"),
    (("started_at",), "0001-01-01T00:00:00+05:00", "started_at: out of range in UTC"),
    (("finished_at",), "2026-11-23T07:00:00Z", "finished_at: is before started_at"),
    (("toolkit_version",), "", "toolkit_version: must be a non-empty string"),
    (("server_version",), None, "server_version: must be a non-empty string"),
    (("topology",), "cluster", "topology: must be one of standalone, replica set, sharded"),
    (("layout",), "tar", "layout: must be one of archive, directory"),
    (("compression",), "lz4", "compression: must be one of zstd, gzip, none"),
    (("databases",), "shop", "databases: must be a list"),
    (("databases",), ["shop", 1], "databases: must be a list of database names"),
    (("databases",), ["shop", "shop"], "databases: lists a database twice"),
    (("oplog",), [], "oplog: must be an object"),
    (("oplog", "first"), {"t": 1}, "oplog.first: missing key 'i'"),
    (("oplog", "first", "t"), -1, "oplog.first: t: must be an integer from 0 to 4294967295"),
    (("oplog", "last", "i"), 2**32, "oplog.last: i: must be an integer from 0 to 4294967295"),
    (("oplog", "last"), {"t": 1, "i": 0}, "oplog: last: is before first"),
    (("oplog", "entries"), 1.5, "oplog: entries: must be a non-negative integer"),
    (("oplog", "extra"), 1, "oplog: unknown key 'extra'"),
    (("files",), {}, "files: must be a list"),
    (("files", 0), "dump.archive.zst", "files[0]: must be an object"),
    (("files", 0, "path"), "../../etc/passwd", "files[0]: path: must be a relative path inside"),
    (("files", 0, "path"), "/etc/passwd", "files[0]: path: must be a relative path inside"),
    (("files", 0, "path"), "a//b", "files[0]: path: must be a relative path inside"),
    (("files", 0, "path"), "a\\b", "files[0]: path: must be a relative path inside"),
    (("files", 0, "size"), -1, "files[0]: size: must be a non-negative integer"),
    (("files", 0, "size"), True, "files[0]: size: must be a non-negative integer"),
    (("files", 0, "size"), "13", "files[0]: size: must be a non-negative integer"),
    (("files", 0, "sha256"), "A" * 64, "files[0]: sha256: must be 64 lowercase"),
    (("files", 0, "sha256"), SHA[:-1], "files[0]: sha256: must be 64 lowercase"),
    (("files", 0, "md5"), SHA, "files[0]: unknown key 'md5'"),
    (("files", 0, "sha256"), DELETE, "files[0]: missing key 'sha256'"),
    (("files",), [FILE, {**FILE, "size": 1}], "files: lists dump.archive.zst more than once"),
    (("collections", 0, "documents"), None, "collections[0]: documents: must be a non-negative"),
    (("collections", 0, "db"), "", "collections[0]: db: must be a non-empty string"),
    (("collections",), [COLLECTION, {**COLLECTION, "bytes": 0}], "lists shop.orders more than"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "value", "message"), MALFORMED)
def test_a_malformed_manifest_is_refused_naming_the_source_and_the_problem(path, value, message):
    document = valid_document()
    set_path(document, path, value)
    with pytest.raises(BackupError) as caught:
        read(document)
    assert str(caught.value).startswith(f"{SOURCE} is not a valid backup manifest: ")
    assert message in str(caught.value)


def test_every_problem_is_listed_at_once():
    document = valid_document()
    document["topology"] = "cluster"
    document["files"][0]["size"] = -1
    document["files"][0]["path"] = "/etc/passwd"
    document["collections"][0]["bytes"] = "many"
    del document["layout"]
    document["extra"] = True
    with pytest.raises(BackupError) as caught:
        read(document)
    message = str(caught.value)
    for text in (
        "topology:",
        "files[0]: size:",
        "files[0]: path:",
        "collections[0]: bytes:",
        "'layout'",
        "'extra'",
    ):
        assert text in message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "cannot be read as UTF-8 JSON"),
        (b"{", "cannot be read as UTF-8 JSON"),
        (b"\xff\xfe{}", "cannot be read as UTF-8 JSON"),
        (b'{"format_version": 1, "format_version": 1}', "key 'format_version' appears twice"),
        (b"[" * 100_000 + b"]" * 100_000, "cannot be read as UTF-8 JSON"),
        (b"1" * 5000, "cannot be read as UTF-8 JSON"),
        (b"[]", "the document must be a JSON object"),
        (b"null", "the document must be a JSON object"),
        (b"{}", "missing key 'format_version'"),
        (b'{"format_version": NaN}', "unknown format_version nan"),
    ],
)
def test_what_is_not_a_manifest_at_all_is_refused(data, message):
    with pytest.raises(BackupError, match="not a valid backup manifest") as caught:
        Manifest.from_json(data, SOURCE)
    assert SOURCE in str(caught.value)
    assert message in str(caught.value)


def test_a_newer_format_is_refused_without_complaining_about_its_keys():
    with pytest.raises(BackupError) as caught:
        Manifest.from_json(b'{"format_version": 2, "chunks": []}', SOURCE)
    assert str(caught.value) == (
        f"{SOURCE} is not a valid backup manifest: unknown format_version 2 (this toolkit reads 1)"
    )


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_fuzzed_bytes_give_a_manifest_or_a_backup_error(data):
    try:
        Manifest.from_json(data, SOURCE)
    except BackupError as error:
        assert SOURCE in str(error)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=30)
    | st.sampled_from(["2026-11-23T07:55:41Z", "../x", SHA, "zstd", "shop", "-1"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def all_paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, child in value.items():
            yield from all_paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from all_paths(child, (*prefix, index))


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_mutated_manifests_give_a_manifest_or_a_backup_error(data):
    document = valid_document()
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [path for path in all_paths(document) if path]
        path = data.draw(st.sampled_from(paths))
        mutated = copy.deepcopy(document)
        set_path(mutated, path, data.draw(st.one_of(st.just(DELETE), JSON_VALUES)))
        document = mutated
    try:
        manifest = read(document)
    except BackupError as error:
        assert SOURCE in str(error)
    else:
        # whatever was accepted writes back and reads again as itself
        assert Manifest.from_json(manifest.to_json(), SOURCE) == manifest


def test_constructing_an_invalid_manifest_raises_value_error_listing_each_field():
    with pytest.raises(ValueError) as caught:
        make_manifest(topology="cluster", layout="zip", databases="shop")
    message = str(caught.value)
    assert "topology:" in message
    assert "layout:" in message
    assert "databases:" in message


# -- verify_files -------------------------------------------------------------------------------


class Store:
    """Backup files in memory; open() behaves like a storage's open_read."""

    def __init__(self, contents: dict[str, bytes]) -> None:
        self.contents = dict(contents)
        self.reads: list[int] = []

    def open(self, path: str) -> io.BytesIO:
        if path not in self.contents:
            raise FileNotFoundError(path)
        store = self

        class Reader(io.BytesIO):
            def read(self, size=-1):
                store.reads.append(size)
                return super().read(size)

        return Reader(self.contents[path])


CONTENTS = {
    "dump/admin/system.version.bson.zst": b"version",
    "dump/shop/orders.bson.zst": bytes(range(256)) * 40,
    "dump/shop/orders.metadata.json.zst": b'{"indexes": []}',
    "oplog.bson.zst": b"",
}


def test_intact_files_verify_clean_and_are_read_in_chunks():
    store = Store(CONTENTS)
    assert verify_files(make_manifest(CONTENTS), store.open) == []
    assert set(store.reads) == {CHUNK_SIZE}


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_flipped_byte_in_any_file_is_reported_naming_that_file(data):
    manifest = make_manifest(CONTENTS)
    path = data.draw(st.sampled_from([p for p, content in CONTENTS.items() if content]))
    content = bytearray(CONTENTS[path])
    index = data.draw(st.integers(0, len(content) - 1))
    content[index] ^= 1 << data.draw(st.integers(0, 7))
    store = Store({**CONTENTS, path: bytes(content)})

    problems = verify_files(manifest, store.open)

    assert [(p.path, p.kind) for p in problems] == [(path, "checksum")]
    assert path in str(problems[0])


def test_a_flipped_byte_past_the_first_chunk_of_a_large_file_is_found():
    large = bytes(range(256)) * (CHUNK_SIZE // 256 * 2 + 3)
    manifest = make_manifest({"big.bson": large})
    corrupted = bytearray(large)
    corrupted[CHUNK_SIZE + 12345] ^= 0x80
    problems = verify_files(manifest, Store({"big.bson": bytes(corrupted)}).open)
    assert [(p.path, p.kind) for p in problems] == [("big.bson", "checksum")]


def test_every_problem_is_reported_not_just_the_first():
    manifest = make_manifest(CONTENTS)
    damaged = dict(CONTENTS)
    del damaged["dump/admin/system.version.bson.zst"]
    damaged["dump/shop/orders.bson.zst"] = CONTENTS["dump/shop/orders.bson.zst"][:-1]
    damaged["oplog.bson.zst"] = b"\x00"
    damaged["dump/shop/orders.metadata.json.zst"] = b'{"indexes": [1]'[:15]
    problems = verify_files(manifest, Store(damaged).open)
    assert [(p.path, p.kind) for p in problems] == [
        ("dump/admin/system.version.bson.zst", "missing"),
        ("dump/shop/orders.bson.zst", "size"),
        ("dump/shop/orders.metadata.json.zst", "checksum"),
        ("oplog.bson.zst", "size"),
    ]
    assert str(problems[0]) == "dump/admin/system.version.bson.zst: missing"
    assert str(problems[1]) == "dump/shop/orders.bson.zst: 10239 bytes, the manifest says 10240"
    for problem in problems:
        assert problem.path in problem.detail


def test_storage_errors_are_reported_per_file():
    manifest = make_manifest({"a": b"1", "b": b"2", "c": b"3"})

    def open_file(path: str):
        if path == "a":
            try:
                raise FileNotFoundError(2, "No such file or directory")
            except FileNotFoundError as error:
                raise BackupError("cannot read /backups/x/a: No such file or directory") from error
        if path == "b":
            raise BackupError("S3 reading x/b in s3://bucket failed: AccessDenied")
        raise PermissionError(13, "Permission denied")

    problems = verify_files(manifest, open_file)
    assert [(p.path, p.kind) for p in problems] == [
        ("a", "missing"),
        ("b", "unreadable"),
        ("c", "unreadable"),
    ]
    assert "AccessDenied" in str(problems[1])
    assert "Permission denied" in str(problems[2])


def test_a_manifest_without_files_verifies_clean():
    assert verify_files(make_manifest({}), Store({}).open) == []
