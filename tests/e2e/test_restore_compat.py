"""Acceptance: every valid dump in ../shared/compat/mongodump/ (written by the real mongodump)
shows and restores into the test server with the right documents, indexes and options; every
damaged one is refused cleanly (exit 1, file and offset, no traceback, nothing restored)."""

from __future__ import annotations

import json
import re
import sys

import bson
import pytest
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

from tests.e2e.backup_support import COMPAT, invoke
from toolkit.backup.contents import read_contents
from toolkit.backup.namespaces import VERSION_NAMESPACE
from toolkit.plan.restore import convert_index_spec

pytestmark = pytest.mark.skipif(not COMPAT.is_dir(), reason=f"no compat corpus at {COMPAT}")

_RAW = CodecOptions(document_class=RawBSONDocument)
VALID = [
    "coll_with_index",
    "coll_with_ttl_index",
    "coll_without_index",
    "foodump",
    "indextestdump",
    "oplogdump",
    "prelude_test/prelude_top_level",
    "prelude_test/prelude_db_target",
    "prelude_test/prelude_gzip",
    "prelude_test/server_version_unknown",
    "test.bar.archive",
    "hashedIndexes.bson",
    "bsondump/all_types.bson",
    "bsondump/sample.bson",
    "bsondump/deep_nested.bson",
    "bsondump/all_in_one_doc.bson",
]
DAMAGED = [
    ("bad-format.archive", 106),
    ("bsondump/bad_cstring.bson", 37),
    ("bsondump/bad_type.bson", 21),
    ("bsondump/broken_array.bson", 629),
    ("bsondump/partial_file.bson", 164),
    ("bsondump/random_bytes.bson", 0),
    ("bsondump/invalid_field_name.bson", 283),
]


# Files whose documents hold deprecated BSON types (symbol, undefined, DBPointer) or no _id:
# the test server stores documents as pymongo decodes them (symbol -> string, undefined ->
# null, DBPointer -> DBRef) and adds an _id, so they come back equal in value, not in bytes.
LOSSY = {"bsondump/all_types.bson", "bsondump/all_in_one_doc.bson"}


def _decoded(documents, *, ids):
    decoded = []
    for raw in documents:
        document = bson.decode(raw)
        if not ids:
            document.pop("_id", None)
        decoded.append(json_util.dumps(document, json_options=json_util.CANONICAL_JSON_OPTIONS))
    return sorted(decoded)


def _canonical(value):
    return json.loads(json_util.dumps(value, json_options=json_util.CANONICAL_JSON_OPTIONS))


def _dumped(source):
    """(namespace -> (options, converted index specs, raw documents)) read from the dump itself."""
    contents = read_contents(source)
    found = {}
    if contents.kind == "archive":
        documents: dict[str, list[bytes]] = {}
        with contents.archive() as archive:
            for event in archive.events():
                if getattr(event, "raw", None) is not None and event.db:
                    documents.setdefault(f"{event.db}.{event.collection}", []).append(event.raw)
    for item in contents.collections:
        metadata = item.metadata
        options = dict(metadata.options) if metadata else {}
        indexes = [convert_index_spec(spec) for spec in (metadata.indexes if metadata else [])]
        if contents.kind == "archive":
            raw = documents.get(item.namespace, [])
        else:
            raw = [doc for _offset, doc in contents.collection_documents(item.db, item.collection)]
        found[item.namespace] = (options, indexes, raw)
    return found


@pytest.fixture
def deep_recursion():
    """deep_nested.bson nests 501 levels; the test server's document store recurses per level."""
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))
    yield
    sys.setrecursionlimit(limit)


@pytest.mark.parametrize("name", VALID)
def test_valid_dump_shows_and_restores(name, mongo_server, tmp_path, deep_recursion):
    source = COMPAT / name
    shown = invoke("--json", "backup", "show", str(source), cwd=tmp_path)
    assert shown.returncode == 0, shown.output
    inventory = shown.json()
    assert set(inventory) == {"collections", "oplog", "server_version"}

    extra = ["--oplog-replay"] if name == "oplogdump" else []
    restored = invoke("--json", "restore", str(source), *extra, uri=mongo_server.uri, cwd=tmp_path)
    assert restored.returncode == 0, restored.output
    assert restored.json()["duplicates"] == 0

    client = mongo_server.client()
    for namespace, (options, indexes, raw) in _dumped(source).items():
        if namespace == VERSION_NAMESPACE:
            continue  # the server's own document: never restored
        db, collection = namespace.split(".", 1)
        (entry,) = client[db].list_collections(filter={"name": collection})
        assert _canonical(entry.get("options", {})) == _canonical(options), namespace
        restored_indexes = sorted(
            (_canonical(dict(spec)) for spec in client[db][collection].list_indexes()),
            key=lambda spec: spec["name"],
        )
        wanted = sorted((_canonical(spec) for spec in indexes), key=lambda spec: spec["name"])
        if not wanted:  # a lone .bson without metadata: just the _id index
            wanted = [
                {"v": {"$numberInt": "2"}, "key": {"_id": {"$numberInt": "1"}}, "name": "_id_"}
            ]
        for spec in (*restored_indexes, *wanted):
            if spec["name"] == "_id_":
                # The test server builds every _id index at v 2 whatever idIndex says
                # (mongod keeps the dumped version, which restore passes as idIndex).
                spec.pop("v", None)
        assert restored_indexes == wanted, namespace
        back = sorted(
            bytes(document.raw)
            for document in client[db].get_collection(collection, codec_options=_RAW).find({})
        )
        if name == "oplogdump":  # the replayed oplog changed these documents on purpose
            assert len(back) >= 1
        elif name in LOSSY:
            assert _decoded(back, ids=False) == _decoded(raw, ids=False), namespace
        else:
            assert back == sorted(raw), namespace
    assert mongo_server.errors == []


def test_oplog_of_the_real_dump_is_replayed(mongo_server, tmp_path):
    restored = invoke(
        "--json", "restore", str(COMPAT / "oplogdump"), "--oplog-replay",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert restored.returncode == 0, restored.output
    oplog = restored.json()["oplog"]
    assert oplog["applied"] + oplog["skipped"] == 3


def test_a_dry_run_of_a_real_dump_plans_what_the_run_does(mongo_server, tmp_path):
    planned = invoke(
        "--json", "restore", str(COMPAT / "oplogdump"), "--oplog-replay", "--dry-run",
        uri=mongo_server.uri, cwd=tmp_path,
    )  # fmt: skip
    assert planned.returncode == 0, planned.output
    steps = {step["kind"]: step for step in planned.json()["steps"]}
    assert steps["oplog"]["documents"] == 3
    assert steps["insert"]["documents"] == 5
    assert mongo_server.client().list_database_names() == ["admin", "config", "local"]


@pytest.mark.parametrize(("name", "offset"), DAMAGED)
def test_damaged_dump_is_refused_cleanly(name, offset, mongo_server, tmp_path):
    source = COMPAT / name
    before = set(mongo_server.client().list_database_names())
    for command in (["backup", "show"], ["restore"]):
        result = invoke(*command, str(source), uri=mongo_server.uri, cwd=tmp_path)
        assert result.returncode == 1, result.output
        assert "Traceback" not in result.output
        assert re.search(
            rf"{re.escape(str(source))}: damaged \w+ at offset {offset}\b", result.stderr
        ), result.stderr
    assert set(mongo_server.client().list_database_names()) == before
