"""Counting a raw batch's documents from the sizes of the reply's array (no pass over them)."""

from __future__ import annotations

import bson
from hypothesis import given
from hypothesis import strategies as st

from toolkit.backup.bsonstream import count_documents, documents_in_array


def array_of(documents: list[bytes]) -> bytes:
    """The BSON array a server sends as ``nextBatch``: keys "0", "1", ... then each document."""
    body = b"".join(b"\x03" + str(i).encode() + b"\x00" + raw for i, raw in enumerate(documents))
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"


def documents(count: int, size_of=lambda i: i % 7) -> list[bytes]:
    return [bson.encode({"i": i, "pad": "x" * size_of(i)}) for i in range(count)]


def test_the_array_bytes_are_what_bson_encodes_for_a_list():
    docs = [{"a": i} for i in range(12)]
    assert array_of([bson.encode(d) for d in docs]) == bson.encode({"b": docs})[7:-1]


@given(st.integers(min_value=1, max_value=2100), st.integers(min_value=0, max_value=40))
def test_the_count_is_exact_across_key_widths(count, spread):
    raws = documents(count, lambda i: (i * 7919) % (spread + 1))
    stream = b"".join(raws)
    assert documents_in_array(len(array_of(raws)), len(stream)) == count


def test_boundaries_of_the_key_widths():
    for count in (1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 10000, 10001):
        raws = documents(count)
        stream = b"".join(raws)
        assert documents_in_array(len(array_of(raws)), len(stream)) == count
        assert count_documents(stream, "x") == count


def test_sizes_no_array_can_have_are_refused():
    raws = documents(3)
    stream_size = sum(len(raw) for raw in raws)
    array_size = len(array_of(raws))
    assert documents_in_array(array_size + 1, stream_size) is None  # 10 bytes: not 3 per key
    assert documents_in_array(stream_size, stream_size) is None  # smaller than any array
    # 30 bytes of framing is ten elements, which cannot fit in 12 bytes of documents
    assert documents_in_array(12 + 5 + 30, 12) is None
