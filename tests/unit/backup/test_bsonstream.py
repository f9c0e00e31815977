"""Splitting streams into BSON documents, and refusing damaged ones with file and offset.

The corpus under ../shared/compat/mongodump/bsondump holds the BSON files the
real bsondump is tested with (mongodb/mongo-tools, Apache-2.0).
"""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import bson
import pytest
from bson import SON, Binary, Code, DBRef, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.int64 import Int64

from toolkit.backup.bsonstream import (
    MAX_DOCUMENT_SIZE,
    TERMINATOR,
    DocumentReader,
    check_frame,
    find_damage,
    iter_documents,
    validate_document,
)
from toolkit.errors import BackupError

COMPAT = Path(__file__).resolve().parents[3].parent / "shared" / "compat" / "mongodump"
BSONDUMP = COMPAT / "bsondump"
pytestmark = pytest.mark.skipif(not COMPAT.is_dir(), reason=f"no compat corpus at {COMPAT}")

VALID = ["all_types.bson", "sample.bson", "deep_nested.bson", "all_in_one_doc.bson"]
# file -> (offset of the damage, a word of the reason), found by reading each file.
BROKEN = {
    "bad_cstring.bson": (37, "string length"),  # a field name's NUL became 0x01
    "bad_type.bson": (21, "unknown element type 0xaa"),
    "broken_array.bson": (629, "array element 2 has the key '9'"),
    "partial_file.bson": (164, "truncated"),
    "random_bytes.bson": (0, "above the"),
    "invalid_field_name.bson": (283, "truncated"),  # one stray byte after the last document
}


def read_all(path: Path, **options) -> list[tuple[int, bytes]]:
    with open(path, "rb") as handle:
        return list(iter_documents(handle, str(path), **options))


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("validate", [False, True])
def test_valid_files_split_into_the_documents_pymongo_decodes(name, validate):
    path = BSONDUMP / name
    documents = read_all(path, validate=validate)
    with open(path, "rb") as handle:
        expected = list(bson.decode_file_iter(handle))
    assert [bson.decode(raw) for _offset, raw in documents] == expected
    offsets = [offset for offset, _raw in documents]
    assert offsets[0] == 0
    assert all(b == a + len(raw) for (a, raw), b in zip(documents, offsets[1:], strict=False))
    assert sum(len(raw) for _offset, raw in documents) == path.stat().st_size


def test_document_counts():
    counts = {name: len(read_all(BSONDUMP / name, validate=True)) for name in VALID}
    assert counts == {
        "all_types.bson": 20,
        "sample.bson": 4,
        "deep_nested.bson": 1,
        "all_in_one_doc.bson": 1,
    }


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_files_are_refused_with_file_and_offset(name):
    path = BSONDUMP / name
    offset, reason = BROKEN[name]
    with pytest.raises(BackupError) as caught:
        read_all(path, validate=True)
    message = str(caught.value)
    assert message.startswith(f"{path}: damaged BSON at offset {offset}: ")
    assert reason in message


def test_which_checks_each_broken_file_needs():
    # Framing alone (length prefix, trailing NUL, truncation) catches three of them...
    for name in ("partial_file.bson", "random_bytes.bson", "invalid_field_name.bson"):
        with pytest.raises(BackupError):
            read_all(BSONDUMP / name)
    # ...the other three frame correctly and need the structural walk.
    for name in ("bad_cstring.bson", "bad_type.bson", "broken_array.bson"):
        assert read_all(BSONDUMP / name)
        with pytest.raises(BackupError):
            read_all(BSONDUMP / name, validate=True)


def test_broken_array_is_a_key_order_problem_pymongo_does_not_see():
    # bsondump --objcheck accepts this file too; only the strict walk refuses it.
    with open(BSONDUMP / "broken_array.bson", "rb") as handle:
        assert len(list(bson.decode_file_iter(handle))) == 20


def test_dotted_field_names_are_not_damage():
    # invalid_field_name.bson's second document has a field "a.d": legal since MongoDB 5.0.
    data = (BSONDUMP / "invalid_field_name.bson").read_bytes()[:283]
    documents = list(iter_documents(io.BytesIO(data), "x", validate=True))
    assert "a.d" in bson.decode(documents[1][1])


@pytest.mark.parametrize("read_size", [1, 3, 4, 5, 7, 64, 1000])
def test_small_reads_give_the_same_documents(read_size):
    path = BSONDUMP / "all_types.bson"
    data = path.read_bytes()
    whole = list(iter_documents(io.BytesIO(data), "x"))
    pieces = list(iter_documents(io.BytesIO(data), "x", read_size=read_size, validate=True))
    assert pieces == whole


@pytest.mark.parametrize("cut", [1, 2, 3, 4, 5, 10, 82, 83, 100, 282])
def test_every_truncation_is_refused_at_a_document_boundary_offset(cut):
    data = (BSONDUMP / "sample.bson").read_bytes()[:cut]
    boundaries = [0, 82, 164, 212, 283]
    expected = max(b for b in boundaries if b <= cut)
    if cut in boundaries:
        assert len(list(iter_documents(io.BytesIO(data), "x"))) == boundaries.index(cut)
        return
    with pytest.raises(BackupError, match=rf"^x: damaged BSON at offset {expected}: .*truncated"):
        list(iter_documents(io.BytesIO(data), "x", read_size=7))


def test_an_empty_stream_has_no_documents():
    assert list(iter_documents(io.BytesIO(b""), "x")) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (struct.pack("<i", 4) + b"\x00" * 4, "below 5"),
        (struct.pack("<i", 0) + b"\x00", "below 5"),
        (struct.pack("<I", MAX_DOCUMENT_SIZE + 1) + b"\x00", "above the"),
        (struct.pack("<i", -1), "terminator"),
        (struct.pack("<i", 6) + b"\x00\x01", "does not end with a NUL"),
    ],
)
def test_bad_lengths_and_endings(data, reason):
    prefix = bson.encode({"a": 1})
    with pytest.raises(BackupError, match=rf"^f: damaged BSON at offset {len(prefix)}: .*{reason}"):
        list(iter_documents(io.BytesIO(prefix + data), "f"))


def test_documents_yielded_before_the_damage_are_good():
    good = bson.encode({"a": 1})
    iterator = iter_documents(io.BytesIO(good + b"\x05\x00\x00\x00\x01"), "f")
    assert next(iterator) == (0, good)
    with pytest.raises(BackupError, match="offset 12"):
        next(iterator)


def test_a_document_bigger_than_a_read_is_assembled():
    big = bson.encode({"blob": b"x" * 3_000_000})
    assert list(iter_documents(io.BytesIO(big * 2), "f", read_size=1024)) == [
        (0, big),
        (len(big), big),
    ]


def test_reader_frames_and_terminators():
    first, second = bson.encode({"a": 1}), bson.encode({"b": 2})
    stream = io.BytesIO(first + b"\xff\xff\xff\xff" + second + b"\xff\xff\xff\xff")
    reader = DocumentReader(stream, "f", offset=100, read_size=3)
    assert list(reader.documents(until_terminator=True)) == [(100, first)]
    assert reader.offset == 100 + len(first) + 4
    assert reader.read_frame() == second
    assert reader.read_frame() is TERMINATOR
    assert reader.read_frame() is None
    assert reader.at_end()


def test_reader_wants_a_terminator_before_the_end():
    stream = io.BytesIO(bson.encode({"a": 1}))
    with pytest.raises(BackupError, match="before its terminator"):
        list(DocumentReader(stream, "f").documents(until_terminator=True))


def test_a_terminator_is_not_a_document_outside_archives():
    reader = DocumentReader(io.BytesIO(b"\xff\xff\xff\xff"), "f")
    with pytest.raises(BackupError, match="terminator"):
        reader.read_frame(allow_terminator=False)


def test_reader_validates_when_asked():
    broken = (BSONDUMP / "bad_type.bson").read_bytes()
    assert DocumentReader(io.BytesIO(broken), "f").read_frame()
    with pytest.raises(BackupError, match="unknown element type"):
        DocumentReader(io.BytesIO(broken), "f", validate=True).read_frame()


# --- the structural walk ---------------------------------------------------------------


EVERY_TYPE = SON(
    [
        ("double", 1.5),
        ("string", "text"),
        ("document", {"a": {"b": [1, {"c": None}]}}),
        ("array", [1, "two", [3.0, [4]], {"five": 5}]),
        ("binary", Binary(b"\x00\x01", 0)),
        ("old_binary", Binary(b"abc", 2)),
        ("objectid", ObjectId("546651e74bf6e4cb017c5312")),
        ("bool", True),
        ("date", bson.DatetimeMS(0)),
        ("null", None),
        ("regex", Regex("^a.*", "im")),
        ("dbref", DBRef("c", 1, "db")),
        ("code", Code("function () {}")),
        ("code_with_scope", Code("f(x)", {"x": [1, 2]})),
        ("int32", 7),
        ("timestamp", Timestamp(1, 2)),
        ("int64", Int64(8)),
        ("decimal", Decimal128("1.5")),
        ("min", MinKey()),
        ("max", MaxKey()),
    ]
)


def test_every_type_walks_clean():
    raw = bson.encode(EVERY_TYPE)
    assert find_damage(raw) is None
    assert check_frame(raw) is None


def test_deprecated_types_walk_clean():
    # undefined (0x06), DBPointer (0x0c) and symbol (0x0e) are in all_types.bson.
    raw = (BSONDUMP / "all_types.bson").read_bytes()
    types = {byte for byte in raw}
    assert {0x06, 0x0C, 0x0E} <= types
    assert all(find_damage(d) is None for _o, d in iter_documents(io.BytesIO(raw), "x"))


def test_deep_nesting_does_not_recurse():
    raw = _encode_deep(5000)
    assert find_damage(raw) is None
    # Level k's type byte sits at 4 + 7k.
    assert find_damage(corrupt(raw, 4 + 7 * 2500, 0x42)) == (
        4 + 7 * 2500,
        "unknown element type 0x42",
    )


def _encode_deep(depth: int) -> bytes:
    # bson.encode recurses in C with a limit; build the bytes by hand instead.
    raw = b"\x05\x00\x00\x00\x00"
    for _ in range(depth):
        body = b"\x03d\x00" + raw + b"\x00"
        raw = struct.pack("<i", len(body) + 4) + body
    return raw


def corrupt(raw: bytes, position: int, value: int) -> bytes:
    data = bytearray(raw)
    data[position] = value
    return bytes(data)


@pytest.mark.parametrize(
    ("document", "change", "reason"),
    [
        ({"a": 1}, lambda r: corrupt(r, 4, 0x42), "unknown element type 0x42"),
        ({"a": True}, lambda r: corrupt(r, 7, 2), "a boolean holds 2"),
        ({"a": "xy"}, lambda r: corrupt(r, 7, 9), "string length of 9"),
        ({"a": "xy"}, lambda r: corrupt(r, 13, 0x41), "not NUL-terminated"),
        ({"a": [1, 2]}, lambda r: corrupt(r, 19, ord("7")), "array element 1 has the key '7'"),
        ({"a": {"b": 1}}, lambda r: corrupt(r, 7, 40), "nested document length of 40"),
        ({"a": Binary(b"ab", 0)}, lambda r: corrupt(r, 7, 50), "binary length of 50"),
        ({"a": Binary(b"abcdef", 2)}, lambda r: corrupt(r, 12, 9), "subtype 2"),
        ({"a": Code("f", {"x": 1})}, lambda r: corrupt(r, 7, 200), "code-with-scope length"),
        ({"a": Code("f", {"x": 1})}, lambda r: corrupt(r, 17, 99), "scope"),
        ({"ab": 1}, lambda r: r[:5] + b"a" * (len(r) - 6) + b"\x00", "field name"),
        ({"a": 1.5}, lambda r: r[:11] + b"\x00", "runs past its document"),
    ],
)
def test_structural_damage(document, change, reason):
    raw = change(bson.encode(document))
    raw = struct.pack("<i", len(raw)) + raw[4:]
    damage = find_damage(raw)
    assert damage is not None, raw
    assert reason in damage[1]


def test_validate_document_names_the_absolute_offset():
    raw = corrupt(bson.encode({"a": 1}), 4, 0x42)
    with pytest.raises(BackupError, match=r"^f\.bson: damaged BSON at offset 104: unknown"):
        validate_document(raw, "f.bson", 100)


def test_check_frame():
    assert check_frame(b"\x05\x00\x00\x00\x00") is None
    assert "shorter" in check_frame(b"\x05\x00")
    assert "length prefix says 6" in check_frame(b"\x06\x00\x00\x00\x00")
    assert "NUL" in check_frame(b"\x05\x00\x00\x00\x01")


def test_error_messages_have_one_shape():
    for name in BROKEN:
        path = BSONDUMP / name
        with pytest.raises(BackupError) as caught:
            read_all(path, validate=True)
        assert re.match(
            rf"^{re.escape(str(path))}: damaged BSON at offset \d+: .+", str(caught.value)
        )
