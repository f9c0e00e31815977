"""Reads and writes: find, getMore, killCursors, insert, update, delete, findAndModify,
count, distinct, aggregate (with $indexStats and $collStats), collStats, dbStats.

Index-use heuristic for $indexStats (documented for tests): a find, count,
distinct, update, delete, findAndModify or aggregate (its first ``$match``)
counts one access on the index it would most plausibly use on the member
that served it: the hinted index; otherwise the non-hidden index whose
leading key fields appear at the top level of the filter (or in a top-level
``$and``), preferring the longest such prefix and then the oldest index.
A filter that names no index's first field counts nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bson import Int64

from tests.support.catalog import CollectionInfo, IndexEntry, bson_number, utcnow
from tests.support.dispatch import Context, command
from tests.support.errors import CommandError, WriteError
from tests.support.state import check_writable_namespace, freeze

FIND_FIELDS = {
    "filter",
    "sort",
    "projection",
    "hint",
    "skip",
    "limit",
    "batchSize",
    "singleBatch",
    "max",
    "min",
    "returnKey",
    "showRecordId",
    "tailable",
    "oplogReplay",
    "noCursorTimeout",
    "awaitData",
    "allowPartialResults",
    "collation",
    "allowDiskUse",
    "let",
    "readOnce",
    "$readPreference",
}


# ------------------------------------------------------------------ index use


def _filter_fields(query: Any) -> list[str]:
    fields: list[str] = []
    if not isinstance(query, Mapping):
        return fields
    for key, value in query.items():
        if key == "$and" and isinstance(value, list):
            for clause in value:
                fields.extend(_filter_fields(clause))
        elif not key.startswith("$"):
            fields.append(key)
    return fields


def choose_index(info: CollectionInfo | None, query: Any, hint: Any = None) -> IndexEntry | None:
    """The index a query would use, by the heuristic in the module docstring."""
    if info is None:
        return None
    if isinstance(hint, str) and hint:
        return info.find_index(hint)
    if isinstance(hint, Mapping) and hint and "$natural" not in hint:
        matches = info.find_index_by_key(hint)
        return matches[0] if matches else None
    fields = set(_filter_fields(query))
    best: IndexEntry | None = None
    best_length = 0
    for index in info.indexes:
        if index.spec.get("hidden"):
            continue
        length = 0
        for key_field in index.key:
            if key_field in fields:
                length += 1
            else:
                break
        if length > best_length:
            best, best_length = index, length
    return best


def note_index_use(ctx: Context, info: CollectionInfo | None, query: Any, hint: Any = None) -> None:
    index = choose_index(info, query, hint)
    if index is not None:
        ctx.node.count_index_use(info.ns, index.name)


def check_hint(info: CollectionInfo | None, hint: Any) -> None:
    if hint is None or hint == {} or info is None:
        return
    if isinstance(hint, Mapping) and "$natural" in hint:
        return
    if choose_index(info, {}, hint) is None:
        raise CommandError(2, "hint provided does not correspond to an existing index")


# ------------------------------------------------------------------ find / cursors


@command("find", read=True, fields=FIND_FIELDS)
def find(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    state = ctx.state
    info = state.get(ctx.db, name)
    query = ctx.get("filter") or {}
    for field_name in ("filter", "sort", "projection"):
        value = ctx.get(field_name)
        if value is not None and not isinstance(value, Mapping):
            raise CommandError(
                14, f"BSON field 'find.{field_name}' is the wrong type, expected object"
            )
    check_hint(info, ctx.get("hint"))
    if ctx.get("collation") and info is not None and not info.is_view:
        _reject_collation()
    limit = int(ctx.get("limit") or 0)
    skip = int(ctx.get("skip") or 0)
    if skip < 0:
        raise CommandError(51024, "BSON field 'skip' value must be >= 0, actual value '-1'")
    documents = state.find(
        ctx.db,
        name,
        filter=query,
        sort=ctx.get("sort"),
        skip=skip,
        limit=limit,
        projection=ctx.get("projection"),
    )
    note_index_use(ctx, info, query, ctx.get("hint"))
    batch_size = ctx.get("batchSize")
    single = bool(ctx.get("singleBatch")) or limit < 0
    if limit and (batch_size is None or batch_size > abs(limit)):
        batch_size = abs(limit)
    return {
        "cursor": state.open_cursor(f"{ctx.db}.{name}", documents, batch_size, single_batch=single)
    }


def _reject_collation() -> None:
    raise CommandError(238, "collation on queries is not supported by the test server")


@command(
    "getMore",
    read=True,
    fields={"collection", "batchSize", "maxTimeMS", "term", "lastKnownCommittedOpTime"},
)
def get_more(ctx: Context) -> dict[str, Any]:
    cursor_id = ctx.value
    if not isinstance(cursor_id, int):
        raise CommandError(14, "BSON field 'getMore.getMore' is the wrong type, expected long")
    cursor = ctx.state.cursors.get(int(cursor_id))
    if cursor is None:
        raise CommandError(43, f"cursor id {int(cursor_id)} not found")
    ns = f"{ctx.db}.{ctx.get('collection')}"
    if cursor.ns != ns:
        raise CommandError(
            13,
            f"Requested getMore on namespace '{ns}', but cursor belongs to a different "
            f"namespace {cursor.ns}",
        )
    batch = cursor.take(ctx.get("batchSize") or None)
    if cursor.exhausted:
        del ctx.state.cursors[cursor.id]
        next_id = 0
    else:
        next_id = cursor.id
    return {"cursor": {"nextBatch": batch, "id": Int64(next_id), "ns": cursor.ns}}


@command("killCursors", fields={"cursors"})
def kill_cursors(ctx: Context) -> dict[str, Any]:
    killed, not_found = [], []
    for cursor_id in ctx.get("cursors") or []:
        if ctx.state.cursors.pop(int(cursor_id), None) is not None:
            killed.append(Int64(cursor_id))
        else:
            not_found.append(Int64(cursor_id))
    return {
        "cursorsKilled": killed,
        "cursorsNotFound": not_found,
        "cursorsAlive": [],
        "cursorsUnknown": [],
    }


# ------------------------------------------------------------------ writes


def _write_target(ctx: Context, *, create: bool = True) -> CollectionInfo | None:
    """The collection a write goes to. Inserts and upserts create it implicitly;
    updates and deletes that match nothing leave a missing collection missing."""
    name = ctx.collection_name()
    if not create and ctx.state.get(ctx.db, name) is None:
        check_writable_namespace(ctx.db, name)
        return None
    return ctx.state.require_writable(ctx.db, name)


def _write_reply(n: int, errors: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    reply: dict[str, Any] = {"n": n}
    reply.update(extra)
    if errors:
        reply["writeErrors"] = errors
    return reply


@command("insert", write=True, fields={"documents", "ordered", "bypassDocumentValidation", "let"})
def insert(ctx: Context) -> dict[str, Any]:
    documents = ctx.get("documents")
    if not isinstance(documents, list) or not documents:
        raise CommandError(
            40414 if documents is None else 14,
            "BSON field 'insert.documents' is missing but a required field"
            if documents is None
            else "Write batch sizes must be between 1 and 100000. Got 0 operations.",
        )
    info = _write_target(ctx)
    ordered = ctx.get("ordered", True)
    bypass = bool(ctx.get("bypassDocumentValidation"))
    inserted = 0
    errors: list[dict[str, Any]] = []
    for position, document in enumerate(documents):
        try:
            ctx.state.insert(info, document, bypass_validation=bypass)
            inserted += 1
        except (WriteError, CommandError) as error:
            errors.append(_as_write_error(error, position))
            if ordered:
                break
    return _write_reply(inserted, errors)


def _as_write_error(error: WriteError | CommandError, position: int) -> dict[str, Any]:
    if isinstance(error, WriteError):
        return error.to_write_error(position)
    write_error: dict[str, Any] = {"index": position, "code": error.code}
    write_error.update(error.extra)
    write_error["errmsg"] = error.errmsg
    return write_error


@command("update", write=True, fields={"updates", "ordered", "bypassDocumentValidation", "let"})
def update(ctx: Context) -> dict[str, Any]:
    statements = ctx.get("updates")
    if not isinstance(statements, list):
        raise CommandError(40414, "BSON field 'update.updates' is missing but a required field")
    upserts = any(isinstance(item, Mapping) and item.get("upsert") for item in statements)
    info = _write_target(ctx, create=upserts)
    ordered = ctx.get("ordered", True)
    bypass = bool(ctx.get("bypassDocumentValidation"))
    matched = modified = 0
    upserted: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for position, statement in enumerate(statements):
        try:
            _check_statement(
                statement,
                {"q", "u", "upsert", "multi", "arrayFilters", "hint", "collation", "c", "sort"},
                "update.updates",
            )
            query = statement.get("q") or {}
            check_hint(info, statement.get("hint"))
            if statement.get("collation"):
                _reject_collation()
            if info is None:  # no collection and no upsert: nothing matches
                continue
            n, n_modified, upserted_id, _ = ctx.state.update(
                info,
                query,
                statement.get("u", {}),
                multi=bool(statement.get("multi")),
                upsert=bool(statement.get("upsert")),
                array_filters=statement.get("arrayFilters"),
                bypass_validation=bypass,
            )
            note_index_use(ctx, info, query, statement.get("hint"))
            matched += n
            modified += n_modified
            if upserted_id is not None:
                upserted.append({"index": position, "_id": upserted_id})
        except (WriteError, CommandError) as error:
            errors.append(_as_write_error(error, position))
            if ordered:
                break
    reply: dict[str, Any] = {"n": matched + len(upserted), "nModified": modified}
    if upserted:
        reply["upserted"] = upserted
    if errors:
        reply["writeErrors"] = errors
    return reply


def _check_statement(statement: Any, allowed: set[str], where: str) -> None:
    if not isinstance(statement, Mapping):
        raise CommandError(14, f"BSON field '{where}' is the wrong type, expected object")
    for key in statement:
        if key not in allowed:
            raise CommandError(40415, f"BSON field '{where}.{key}' is an unknown field.")


@command("delete", write=True, fields={"deletes", "ordered", "let"})
def delete(ctx: Context) -> dict[str, Any]:
    statements = ctx.get("deletes")
    if not isinstance(statements, list):
        raise CommandError(40414, "BSON field 'delete.deletes' is missing but a required field")
    info = _write_target(ctx, create=False)
    ordered = ctx.get("ordered", True)
    removed = 0
    errors: list[dict[str, Any]] = []
    for position, statement in enumerate(statements):
        try:
            _check_statement(statement, {"q", "limit", "hint", "collation"}, "delete.deletes")
            if "limit" not in statement:
                raise CommandError(
                    40414, "BSON field 'delete.deletes.limit' is missing but a required field"
                )
            limit = int(statement["limit"])
            if limit not in (0, 1):
                raise CommandError(
                    9, f"The limit field in delete objects must be 0 or 1. Got {limit}"
                )
            check_hint(info, statement.get("hint"))
            if statement.get("collation"):
                _reject_collation()
            query = statement.get("q") or {}
            if info is None:
                continue
            removed += len(ctx.state.delete(info, query, limit=limit))
            note_index_use(ctx, info, query, statement.get("hint"))
        except (WriteError, CommandError) as error:
            errors.append(_as_write_error(error, position))
            if ordered:
                break
    return _write_reply(removed, errors)


@command(
    "findAndModify",
    "findandmodify",
    write=True,
    fields={
        "query",
        "sort",
        "remove",
        "update",
        "new",
        "fields",
        "upsert",
        "bypassDocumentValidation",
        "arrayFilters",
        "hint",
        "collation",
        "let",
    },
)
def find_and_modify(ctx: Context) -> dict[str, Any]:
    info = _write_target(ctx, create=bool(ctx.get("upsert")))
    state = ctx.state
    query = ctx.get("query") or {}
    sort = ctx.get("sort") or None
    remove = bool(ctx.get("remove"))
    if remove == ("update" in ctx.body):
        raise CommandError(9, "Either an update or remove=true must be specified")
    if remove and ctx.get("upsert"):
        raise CommandError(9, "Cannot specify both an upsert and remove=true")
    if ctx.get("collation"):
        _reject_collation()
    if info is None:
        if remove:
            return {"lastErrorObject": {"n": 0}, "value": None}
        return {"lastErrorObject": {"n": 0, "updatedExisting": False}, "value": None}
    try:
        if remove:
            deleted = state.delete(info, query, limit=1, sort=sort)
            note_index_use(ctx, info, query, ctx.get("hint"))
            value = _project(ctx, deleted[0]) if deleted else None
            return {"lastErrorObject": {"n": len(deleted)}, "value": value}
        matched, _, upserted_id, changes = state.update(
            info,
            query,
            ctx.get("update"),
            multi=False,
            upsert=bool(ctx.get("upsert")),
            array_filters=ctx.get("arrayFilters"),
            bypass_validation=bool(ctx.get("bypassDocumentValidation")),
            sort=sort,
        )
    except WriteError as error:
        raise CommandError(error.code, error.errmsg, **error.extra) from error
    note_index_use(ctx, info, query, ctx.get("hint"))
    last_error: dict[str, Any] = {
        "n": 1 if (matched or upserted_id is not None) else 0,
        "updatedExisting": bool(matched),
    }
    if upserted_id is not None:
        last_error["upserted"] = upserted_id
        value = _project(ctx, changes[0][1]) if ctx.get("new") else None
    elif matched:
        before_after = changes[0] if changes else None
        if before_after is None:  # matched but unchanged: read the document back
            current = state.find(info.db, info.name, filter=query, sort=sort, limit=1)
            document = current[0] if current else None
            value = _project(ctx, document) if document is not None else None
        else:
            value = _project(ctx, before_after[1] if ctx.get("new") else before_after[0])
    else:
        value = None
    return {"lastErrorObject": last_error, "value": value}


def _project(ctx: Context, document: dict[str, Any] | None) -> dict[str, Any] | None:
    projection = ctx.get("fields")
    if document is None or not projection:
        return document
    return ctx.state.run_pipeline(
        ctx.db, [copy.deepcopy(document)], [{"$project": dict(projection)}]
    )[0]


# ------------------------------------------------------------------ count / distinct


@command(
    "count",
    read=True,
    fields={"query", "limit", "skip", "hint", "collation", "fields", "readConcern"},
)
def count(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    info = ctx.state.get(ctx.db, name)
    query = ctx.get("query") or {}
    check_hint(info, ctx.get("hint"))
    documents = ctx.state.find(
        ctx.db,
        name,
        filter=query,
        skip=int(ctx.get("skip") or 0),
        limit=abs(int(ctx.get("limit") or 0)),
    )
    note_index_use(ctx, info, query, ctx.get("hint"))
    return {"n": len(documents)}


@command("distinct", read=True, fields={"key", "query", "collation", "hint"})
def distinct(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    key = ctx.get("key")
    if not isinstance(key, str):
        raise CommandError(40414, "BSON field 'distinct.key' is missing but a required field")
    info = ctx.state.get(ctx.db, name)
    query = ctx.get("query") or {}
    documents = ctx.state.find(ctx.db, name, filter=query)
    note_index_use(ctx, info, query, ctx.get("hint"))
    values: list[Any] = []
    seen: set[Any] = set()
    for document in documents:
        for value in _values_at(document, key.split(".")):
            frozen = freeze(value)
            if frozen not in seen:
                seen.add(frozen)
                values.append(value)
    return {"values": values}


def _values_at(value: Any, path: list[str]) -> list[Any]:
    if not path:
        return list(value) if isinstance(value, list) else [value]
    if isinstance(value, list):
        found: list[Any] = []
        for item in value:
            found.extend(_values_at(item, path))
        return found
    if isinstance(value, Mapping) and path[0] in value:
        return _values_at(value[path[0]], path[1:])
    return []


# ------------------------------------------------------------------ aggregate


@command(
    "aggregate",
    read=True,
    fields={
        "pipeline",
        "cursor",
        "explain",
        "allowDiskUse",
        "hint",
        "collation",
        "let",
        "bypassDocumentValidation",
        "$readPreference",
        "fromMongos",
        "needsMerge",
    },
)
def aggregate(ctx: Context) -> dict[str, Any]:
    pipeline = ctx.get("pipeline")
    if not isinstance(pipeline, list):
        raise CommandError(14, "'pipeline' option must be specified as an array")
    if ctx.get("explain"):
        raise CommandError(238, "explain is not supported by the test server")
    cursor_options = ctx.get("cursor")
    if not isinstance(cursor_options, Mapping):
        raise CommandError(
            9, "The 'cursor' option is required, except for aggregate with the explain argument"
        )
    if ctx.get("collation"):
        _reject_collation()
    state = ctx.state
    pipeline = [dict(stage) for stage in pipeline]
    for stage in pipeline:
        if len(stage) != 1:
            raise CommandError(
                40323, "A pipeline stage specification object must contain exactly one field."
            )
    out_target = None
    if pipeline and next(iter(pipeline[-1])) == "$out":
        out_target = pipeline.pop()["$out"]
    if any(next(iter(stage)) == "$merge" for stage in pipeline):
        raise CommandError(238, "$merge is not supported by the test server")

    if ctx.value == 1:
        name = None
        ns = f"{ctx.db}.$cmd.aggregate"
        first = next(iter(pipeline[0])) if pipeline else None
        if first == "$documents":
            documents = [dict(doc) for doc in pipeline.pop(0)["$documents"]]
        elif first in ("$currentOp", "$listLocalSessions", "$listSessions", "$changeStream"):
            raise CommandError(238, f"{first} is not supported by the test server")
        else:
            raise CommandError(
                73, f"{{aggregate: 1}} is not valid for '{first}'; a collection is required."
            )
        documents = state.run_pipeline(ctx.db, documents, pipeline)
    else:
        name = ctx.collection_name()
        ns = f"{ctx.db}.{name}"
        info = state.get(ctx.db, name)
        first = next(iter(pipeline[0])) if pipeline else None
        if first == "$indexStats":
            pipeline.pop(0)
            source = index_stats_documents(ctx, info)
            extra: list[dict[str, Any]] = []
        elif first == "$collStats":
            spec = pipeline.pop(0)["$collStats"]
            source = [coll_stats_document(ctx, ctx.db, name, spec)]
            extra = []
        else:
            source, extra = state.source(ctx.db, name)
            if first == "$match":
                note_index_use(ctx, info, pipeline[0]["$match"], ctx.get("hint"))
            elif ctx.get("hint") is not None:
                check_hint(info, ctx.get("hint"))
                note_index_use(ctx, info, {}, ctx.get("hint"))
        for stage in pipeline:
            if next(iter(stage)) in ("$indexStats", "$collStats", "$documents"):
                raise CommandError(
                    40602, f"{next(iter(stage))} is only valid as the first stage in a pipeline"
                )
        documents = state.run_pipeline(ctx.db, source, extra + pipeline)
    if out_target is not None:
        _write_out(ctx, out_target, documents)
        documents = []
    return {"cursor": state.open_cursor(ns, documents, cursor_options.get("batchSize"))}


def _write_out(ctx: Context, target: Any, documents: list[dict[str, Any]]) -> None:
    if isinstance(target, Mapping):
        db, name = target.get("db", ctx.db), target.get("coll")
    else:
        db, name = ctx.db, target
    info = ctx.state.require_writable(db, name)
    ctx.state.delete(info, {}, limit=0)
    for document in documents:
        try:
            ctx.state.insert(info, document, bypass_validation=True)
        except WriteError as error:
            raise CommandError(error.code, error.errmsg, **error.extra) from error


def index_stats_documents(ctx: Context, info: CollectionInfo | None) -> list[dict[str, Any]]:
    """$indexStats output on the member serving the command (FACTS section 6)."""
    if info is None:
        return []
    if info.is_view:
        raise CommandError(166, f"Namespace {info.ns} is a view, not a collection")
    node = ctx.node
    shard = _first_shard(ctx)
    documents = []
    for index in info.indexes:
        usage = node.index_usage(info.ns, index.name, index.created)
        document: dict[str, Any] = {
            "name": index.name,
            "key": dict(index.key),
            "host": node.me,
            "accesses": {"ops": Int64(usage["ops"]), "since": usage["since"]},
        }
        if shard is not None:
            document["shard"] = shard
        document["spec"] = dict(index.spec)
        if usage["building"]:
            document["building"] = True
        documents.append(document)
    return documents


def _first_shard(ctx: Context) -> str | None:
    if ctx.node.role != "mongos":
        return None
    shards = ctx.state.find("config", "shards", limit=1)
    return shards[0]["_id"] if shards else None


def storage_stats(ctx: Context, info: CollectionInfo, scale: int = 1) -> dict[str, Any]:
    """storageStats in mongod's field order (FACTS section 6); sizes are deterministic."""
    state = ctx.state
    count_docs = state.count_documents(info)
    size = state.data_size(info)
    storage_size = _pages(size)
    index_sizes = {index.name: _pages(count_docs * 32) for index in info.indexes}
    total_index = sum(index_sizes.values())
    stats: dict[str, Any] = {"size": bson_number(size // scale), "count": count_docs}
    if count_docs:
        stats["avgObjSize"] = size // count_docs
    stats["numOrphanDocs"] = 0
    stats["storageSize"] = bson_number(storage_size // scale)
    stats["freeStorageSize"] = 0
    stats["capped"] = info.is_capped
    if info.is_capped:
        if "max" in info.options:
            stats["max"] = info.options["max"]
        stats["maxSize"] = bson_number(int(info.options.get("size", 0)) // scale)
    stats["wiredTiger"] = {
        "metadata": {"formatVersion": 1},
        "creationString": "access_pattern_hint=none,allocation_size=4KB,block_compressor=snappy",
        "type": "file",
        "uri": f"statistics:table:collection-{abs(hash(info.ns)) % 10**6}-test",
    }
    stats["nindexes"] = len(info.indexes)
    stats["indexDetails"] = {
        index.name: {
            "metadata": {"formatVersion": 8},
            "type": "file",
            "uri": f"statistics:table:index-{abs(hash(info.ns + index.name)) % 10**6}",
        }
        for index in info.indexes
    }
    stats["indexBuilds"] = []
    stats["totalIndexSize"] = bson_number(total_index // scale)
    stats["indexSizes"] = {name: bson_number(value // scale) for name, value in index_sizes.items()}
    stats["totalSize"] = bson_number((storage_size + total_index) // scale)
    stats["scaleFactor"] = scale
    return stats


def _pages(size: int) -> int:
    return 4096 * (1 + size // 4096)


def coll_stats_document(ctx: Context, db: str, name: str, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, Mapping):
        raise CommandError(14, "$collStats must take a nested object but found: " + repr(spec))
    info = ctx.state.get(db, name)
    document: dict[str, Any] = {"ns": f"{db}.{name}"}
    shard = _first_shard(ctx)
    if shard is not None:
        document["shard"] = shard
    document["host"] = ctx.node.me
    document["localTime"] = utcnow()
    if "latencyStats" in spec:
        zero = {"latency": Int64(0), "ops": Int64(0)}
        document["latencyStats"] = {
            "reads": dict(zero),
            "writes": dict(zero),
            "commands": dict(zero),
            "transactions": dict(zero),
        }
    if "storageStats" in spec:
        if info is None or info.is_view:
            raise CommandError(
                26,
                "Unable to retrieve storageStats in $collStats stage :: "
                f"caused by :: Collection [{db}.{name}] not found.",
            )
        scale = int((spec.get("storageStats") or {}).get("scale", 1) or 1)
        document["storageStats"] = storage_stats(ctx, info, scale)
    if "count" in spec:
        if info is None:
            raise CommandError(
                26,
                f"Unable to retrieve count in $collStats stage :: caused by "
                f":: Collection [{db}.{name}] not found.",
            )
        document["count"] = ctx.state.count_documents(info)
    if "queryExecStats" in spec:
        document["queryExecStats"] = {
            "collectionScans": {"total": Int64(0), "nonTailable": Int64(0)}
        }
    return document


@command("collStats", read=True, fields={"scale", "verbose"})
def coll_stats(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    info = ctx.state.get(ctx.db, name)
    if info is None or info.is_view:
        raise CommandError(26, f"Collection [{ctx.db}.{name}] not found.")
    reply: dict[str, Any] = {"ns": info.ns}
    reply.update(storage_stats(ctx, info, int(ctx.get("scale") or 1)))
    return reply


@command("dbStats", "dbstats", read=True, fields={"scale", "freeStorage"})
def db_stats(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    scale = int(ctx.get("scale") or 1)
    infos = state.collections_in(ctx.db)
    collections = [info for info in infos if not info.is_view and info.kind != "timeseries"]
    views = [info for info in infos if info.kind in ("view", "timeseries")]
    objects = sum(state.count_documents(info) for info in collections)
    data_size = sum(state.data_size(info) for info in collections)
    storage = sum(_pages(state.data_size(info)) for info in collections)
    index_count = sum(len(info.indexes) for info in collections)
    index_size = sum(
        _pages(state.count_documents(info) * 32) * len(info.indexes) for info in collections
    )
    return {
        "db": ctx.db,
        "collections": len(collections),
        "views": len(views),
        "objects": objects,
        "avgObjSize": float(data_size / objects) if objects else 0.0,
        "dataSize": float(data_size / scale),
        "storageSize": float(storage / scale),
        "indexes": index_count,
        "indexSize": float(index_size / scale),
        "totalSize": float((storage + index_size) / scale),
        "scaleFactor": float(scale),
        "fsUsedSize": float(10 * 2**30 / scale),
        "fsTotalSize": float(100 * 2**30 / scale),
    }
