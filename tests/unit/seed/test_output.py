"""--out files: canonical Extended JSON exactly as json_util writes it, replaced atomically."""

import datetime as dt

import pytest
from bson import Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.binary import Binary
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.seed.output import LinesFile, canonical_json, write_documents

CANONICAL = json_util.CANONICAL_JSON_OPTIONS

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Int64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=20).map(lambda data: Binary(data, 0)),
    st.binary(min_size=16, max_size=16).map(lambda data: Binary(data, 4)),
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.integers(min_value=-(2**40), max_value=2**42).map(
        lambda ms: dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=ms)
    ),
    st.decimals(allow_nan=False, places=3, min_value=-(10**12), max_value=10**12).map(Decimal128),
    st.just(Regex("^ab", "i")),
    st.just(Timestamp(1_700_000_000, 3)),
    st.just(MinKey()),
    st.just(MaxKey()),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
).map(lambda value: {"_id": ObjectId(b"\x01" * 12), "value": value})


@settings(max_examples=300, deadline=None, database=None)
@given(documents)
def test_canonical_json_is_json_util_canonical(document):
    assert canonical_json(document) == json_util.dumps(document, json_options=CANONICAL)


def test_lines_are_written_and_readable_back(tmp_path):
    docs = [
        {"_id": ObjectId(b"\x02" * 12), "n": n, "big": 2**40, "d": Decimal128("1.50")}
        for n in range(25)
    ]
    path = tmp_path / "db.c.jsonl"
    batches = []
    assert write_documents(path, docs, batch_size=10, on_batch=batches.append) == 25
    assert batches == [10, 10, 5]
    lines = path.read_text().splitlines()
    assert [json_util.loads(line, json_options=CANONICAL) for line in lines] == docs
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "db.c.jsonl"
    path.write_text("old\n")

    def failing():
        yield {"a": 1}
        raise RuntimeError("generation failed")

    with pytest.raises(RuntimeError):
        write_documents(path, failing())
    assert path.read_text() == "old\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_lines_file_appears_only_on_commit(tmp_path):
    path = tmp_path / "sub" / "x.jsonl"
    lines = LinesFile(path, buffer_lines=1)
    lines.write("one")
    assert not path.exists()
    lines.commit()
    assert path.read_text() == "one\n"
