"""Catalog commands: listDatabases, listCollections, create, collMod, drop,
dropDatabase, renameCollection, createIndexes, listIndexes, dropIndexes."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bson import Int64

from tests.support import indexes as index_rules
from tests.support import validation
from tests.support.bsonfmt import render
from tests.support.catalog import (
    TIMESERIES_GRANULARITY,
    VALIDATION_ACTIONS,
    VALIDATION_LEVELS,
    CollectionInfo,
    IndexEntry,
    buckets_options,
    check_enum,
    order_options,
    parse_create_options,
    utcnow,
)
from tests.support.dispatch import Context, command
from tests.support.errors import CommandError
from tests.support.state import same_bson

_DB_NAME_FORBIDDEN = set('/\\. "$\x00')


def check_db_name(db: str) -> None:
    if not db or any(char in _DB_NAME_FORBIDDEN for char in db) or len(db) >= 64:
        raise CommandError(73, f"Invalid database name: '{db}'")


def check_collection_name(db: str, name: str) -> None:
    if not name or name.startswith(".") or "$" in name or "\x00" in name:
        raise CommandError(73, f"Invalid collection name: {name}")
    if len(db) + 1 + len(name) > 255:
        raise CommandError(73, f"Fully qualified namespace is too long: {db}.{name}")


def normalize_collation(collation: Any) -> dict[str, Any] | None:
    """The filled-in collation document mongod stores (None for the simple collation)."""
    return index_rules.normalize_collation(collation)


# ------------------------------------------------------------------ databases


@command(
    "listDatabases",
    admin_only=True,
    read=True,
    fields={"filter", "nameOnly", "authorizedDatabases"},
)
def list_databases(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    entries = []
    total = 0
    for db in state.database_names():
        infos = [info for info in state.collections_in(db) if not info.is_view]
        size = sum(4096 * (2 + len(info.indexes)) + state.data_size(info) for info in infos)
        size = 4096 * ((size + 4095) // 4096) if infos else 8192
        total += size
        empty = not any(state.count_documents(info) for info in infos if info.kind != "timeseries")
        entries.append(
            {
                "name": db,
                "sizeOnDisk": Int64(size),
                "empty": empty and db != "admin" and db != "local" and db != "config",
            }
        )
    query = ctx.get("filter")
    if query:
        entries = state.run_pipeline("admin", entries, [{"$match": dict(query)}])
    if ctx.get("nameOnly"):
        return {"databases": [{"name": entry["name"]} for entry in entries]}
    return {
        "databases": entries,
        "totalSize": Int64(total),
        "totalSizeMb": Int64(total // (1024 * 1024)),
    }


@command("dropDatabase", write=True, fields=set())
def drop_database(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    infos = state.collections_in(ctx.db)
    if ctx.db == "local" and infos and ctx.node.role == "replset":
        raise CommandError(20, "Cannot drop 'local' database while replication is active")
    if not infos:
        return {}
    for info in infos:
        state.drop_collection(info)
    state.log_op("c", f"{ctx.db}.$cmd", {"dropDatabase": 1})
    if ctx.node.role == "mongos":
        _forget_sharded(ctx, ctx.db, None)
    return {"dropped": ctx.db}


# ------------------------------------------------------------------ collections


@command(
    "listCollections",
    read=True,
    fields={"filter", "nameOnly", "authorizedCollections", "cursor", "includePendingDrops"},
)
def list_collections(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    entries = []
    for info in state.collections_in(ctx.db):
        entries.append(info.list_collections_entry())
        if info.kind == "timeseries":
            entries.append(
                {
                    "name": f"system.buckets.{info.name}",
                    "type": "collection",
                    "options": buckets_options(info),
                    "info": {
                        "readOnly": False,
                        "uuid": state.system_uuid(f"{info.db}.system.buckets.{info.name}"),
                    },
                }
            )
    if state.has_views(ctx.db):
        entries.append(
            {
                "name": "system.views",
                "type": "collection",
                "options": {},
                "info": {"readOnly": False, "uuid": state.system_uuid(f"{ctx.db}.system.views")},
                "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            }
        )
    entries.sort(key=lambda entry: entry["name"])
    query = ctx.get("filter")
    if query:
        entries = state.run_pipeline(ctx.db, copy.deepcopy(entries), [{"$match": dict(query)}])
    if ctx.get("nameOnly"):
        entries = [{"name": entry["name"], "type": entry["type"]} for entry in entries]
    batch_size = (ctx.get("cursor") or {}).get("batchSize")
    cursor = state.open_cursor(f"{ctx.db}.$cmd.listCollections", entries, batch_size)
    return {"cursor": {"id": cursor["id"], "ns": cursor["ns"], "firstBatch": cursor["firstBatch"]}}


@command("create", write=True)
def create(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    check_db_name(ctx.db)
    check_collection_name(ctx.db, name)
    kind, options = parse_create_options(
        ctx.body,
        check_validator=validation.check_validator,
        normalize_collation=normalize_collation,
    )
    if kind == "view":
        for stage in options["pipeline"]:
            if isinstance(stage, Mapping) and ("$out" in stage or "$merge" in stage):
                raise CommandError(2, f"{next(iter(stage))} cannot be used in a view definition")
    existing = ctx.state.get(ctx.db, name)
    if existing is not None:
        if existing.kind == kind and same_bson(order_options(existing.options), options):
            return {}
        shown: dict[str, Any] = {}
        if existing.uuid is not None:
            shown["uuid"] = existing.uuid
        shown.update(existing.options)
        raise CommandError(
            48,
            f"namespace {existing.ns} already exists, but with different options: {render(shown)}",
        )
    ctx.state.create_collection(ctx.db, name, kind=kind, options=options)
    return {}


@command("drop", write=True, fields=set())
def drop(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    info = ctx.state.get(ctx.db, name)
    if info is None:
        return {}  # idempotent since 7.0
    if (info.db, info.name) in (("admin", "system.version"), ("local", "oplog.rs")):
        raise CommandError(20, f"can't drop system collection {info.ns}")
    count = ctx.state.drop_collection(info)
    if ctx.node.role == "mongos":
        _forget_sharded(ctx, ctx.db, name)
    if info.is_view:
        return {"ns": info.ns}
    return {"nIndexesWas": count, "ns": info.ns}


def _forget_sharded(ctx: Context, db: str, name: str | None) -> None:
    state = ctx.state
    collections = state.get("config", "collections")
    for document in state.stored(collections):
        ns = document["_id"]
        if ns.split(".", 1)[0] == db and (name is None or ns == f"{db}.{name}"):
            state.delete(collections, {"_id": ns}, limit=1)
            chunks = state.get("config", "chunks")
            state.delete(chunks, {"uuid": document.get("uuid")}, limit=0)
    if name is None:
        databases = state.get("config", "databases")
        state.delete(databases, {"_id": db}, limit=1)


@command("renameCollection", admin_only=True, write=True, fields={"to", "dropTarget", "stayTemp"})
def rename_collection(ctx: Context) -> dict[str, Any]:
    source, target = ctx.value, ctx.get("to")
    if not isinstance(source, str) or "." not in source:
        raise CommandError(73, f"Invalid source namespace: {source}")
    if not isinstance(target, str) or "." not in target:
        raise CommandError(73, f"Invalid target namespace: {target}")
    source_db, source_name = source.split(".", 1)
    target_db, target_name = target.split(".", 1)
    check_collection_name(target_db, target_name)
    state = ctx.state
    info = state.get(source_db, source_name)
    if info is None:
        raise CommandError(26, f"Source collection {source} does not exist")
    if info.is_view:
        raise CommandError(166, f"cannot rename view: {source}")
    if source == target:
        raise CommandError(20, "Can't rename a collection to itself")
    if state.get(target_db, target_name) is not None and not ctx.get("dropTarget"):
        raise CommandError(48, "target namespace exists")
    state.rename_collection(info, target_db, target_name, drop_target=bool(ctx.get("dropTarget")))
    return {}


# ------------------------------------------------------------------ collMod


@command(
    "collMod",
    write=True,
    fields={
        "validator",
        "validationLevel",
        "validationAction",
        "index",
        "expireAfterSeconds",
        "timeseries",
        "changeStreamPreAndPostImages",
        "viewOn",
        "pipeline",
        "cappedSize",
        "cappedMax",
        "dryRun",
        "recordIdsReplicated",
    },
)
def coll_mod(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    state = ctx.state
    info = state.get(ctx.db, name)
    if info is None:
        raise CommandError(26, "ns does not exist")
    body = ctx.body
    options = dict(info.options)
    reply: dict[str, Any] = {}
    changes: dict[str, Any] = {}

    if info.is_view:
        for key in body:
            if key in (
                "validator",
                "validationLevel",
                "validationAction",
                "index",
                "expireAfterSeconds",
                "timeseries",
                "changeStreamPreAndPostImages",
            ):
                raise CommandError(72, f"option not supported on a view: {key}")
    elif "viewOn" in body or "pipeline" in body:
        raise CommandError(
            72,
            f"option not supported on a collection: {'viewOn' if 'viewOn' in body else 'pipeline'}",
        )

    if "viewOn" in body or "pipeline" in body:
        if "viewOn" not in body or "pipeline" not in body:
            raise CommandError(
                72, "must specify both 'viewOn' and 'pipeline' when modifying a view"
            )
        options["viewOn"] = body["viewOn"]
        options["pipeline"] = list(body["pipeline"])
        changes.update(viewOn=body["viewOn"], pipeline=list(body["pipeline"]))

    if "validator" in body:
        validator = body["validator"]
        if not isinstance(validator, Mapping):
            raise CommandError(
                14, "BSON field 'collMod.validator' is the wrong type, expected object"
            )
        if validator:
            validation.check_validator(validator, command="collMod")
            options["validator"] = validator
            # Set through collMod, the defaults are written out (SERVER-53575).
            options.setdefault("validationLevel", "strict")
            options.setdefault("validationAction", "error")
        else:
            options.pop("validator", None)
        changes["validator"] = validator
    if "validationLevel" in body:
        options["validationLevel"] = check_enum(
            "collMod.validationLevel", body["validationLevel"], VALIDATION_LEVELS
        )
        changes["validationLevel"] = body["validationLevel"]
    if "validationAction" in body:
        options["validationAction"] = check_enum(
            "collMod.validationAction", body["validationAction"], VALIDATION_ACTIONS
        )
        changes["validationAction"] = body["validationAction"]

    if "changeStreamPreAndPostImages" in body:
        setting = body["changeStreamPreAndPostImages"]
        if not isinstance(setting, Mapping) or "enabled" not in setting:
            raise CommandError(
                40414,
                "BSON field 'collMod.changeStreamPreAndPostImages.enabled' "
                "is missing but a required field",
            )
        if info.kind == "timeseries" and setting["enabled"]:
            raise CommandError(
                72, "changeStreamPreAndPostImages not supported on time-series collections"
            )
        if setting["enabled"]:
            options["changeStreamPreAndPostImages"] = {"enabled": True}
        else:
            options.pop("changeStreamPreAndPostImages", None)
        changes["changeStreamPreAndPostImages"] = dict(setting)

    if "expireAfterSeconds" in body:
        if info.kind != "timeseries":
            raise CommandError(
                72, "'expireAfterSeconds' option is only supported on collections clustered by _id"
            )
        seconds = body["expireAfterSeconds"]
        if seconds == "off":
            options.pop("expireAfterSeconds", None)
        elif isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
            options["expireAfterSeconds"] = Int64(int(seconds))
        else:
            raise CommandError(2, "expireAfterSeconds must be a number or the string 'off'")
        changes["expireAfterSeconds"] = seconds

    if "timeseries" in body:
        if info.kind != "timeseries":
            raise CommandError(72, "option only supported on a time-series collection: timeseries")
        options["timeseries"] = _modify_granularity(options["timeseries"], body["timeseries"])
        changes["timeseries"] = dict(body["timeseries"])

    for capped_field, option in (("cappedSize", "size"), ("cappedMax", "max")):
        if capped_field in body:
            if not info.is_capped:
                raise CommandError(72, f"Unable to set {capped_field} on a uncapped collection")
            options[option] = body[capped_field]
            changes[capped_field] = body[capped_field]

    if "index" in body:
        reply.update(_modify_index(ctx, info, body["index"]))
        changes["index"] = dict(body["index"])

    info.options = order_options(options)
    state.log_op("c", f"{ctx.db}.$cmd", {"collMod": name, **changes}, ui=info.uuid)
    return reply


def _modify_granularity(current: dict[str, Any], requested: Any) -> dict[str, Any]:
    if not isinstance(requested, Mapping):
        raise CommandError(14, "BSON field 'collMod.timeseries' is the wrong type, expected object")
    result = dict(current)
    granularity = requested.get("granularity")
    if granularity is not None:
        order = list(TIMESERIES_GRANULARITY)
        if granularity not in order:
            raise CommandError(
                2,
                f"Enumeration value '{granularity}' for field "
                "'collMod.timeseries.granularity' is not a valid value.",
            )
        old = current.get("granularity", "seconds")
        if order.index(granularity) < order.index(old):
            raise CommandError(
                72,
                "Invalid transition for timeseries.granularity. Can only "
                "transition from 'seconds' to 'minutes' or 'minutes' to 'hours'.",
            )
        span, rounding = TIMESERIES_GRANULARITY[granularity]
        result["granularity"] = granularity
        result["bucketMaxSpanSeconds"] = span
        result["bucketRoundingSeconds"] = rounding
    return result


def _modify_index(ctx: Context, info: CollectionInfo, request: Any) -> dict[str, Any]:
    """collMod {index: {...}}: change TTL, hidden, unique; reply the old/new values."""
    if not isinstance(request, Mapping):
        raise CommandError(14, "BSON field 'collMod.index' is the wrong type, expected object")
    for key in request:
        if key not in (
            "name",
            "keyPattern",
            "expireAfterSeconds",
            "hidden",
            "unique",
            "prepareUnique",
            "forceNonUnique",
        ):
            raise CommandError(40415, f"BSON field 'collMod.index.{key}' is an unknown field.")
    if ("name" in request) == ("keyPattern" in request):
        raise CommandError(72, "must specify either index name or key pattern")
    if "name" in request:
        index = info.find_index(request["name"])
        if index is None:
            raise CommandError(27, f"cannot find index {request['name']} for ns {info.ns}")
    else:
        matches = info.find_index_by_key(request["keyPattern"])
        if not matches:
            raise CommandError(
                27, f"cannot find index {render(request['keyPattern'])} for ns {info.ns}"
            )
        index = matches[0]
    if not any(
        key in request for key in ("expireAfterSeconds", "hidden", "unique", "prepareUnique")
    ):
        raise CommandError(72, "no expireAfterSeconds, hidden, unique, or prepareUnique field")
    spec = dict(index.spec)
    reply: dict[str, Any] = {}
    if "expireAfterSeconds" in request:
        seconds = request["expireAfterSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise CommandError(2, "expireAfterSeconds must be a non-negative number")
        if len(index.key) != 1 or index.name == "_id_":
            raise CommandError(
                72, "TTL indexes are single-field indexes, compound indexes do not support TTL"
            )
        if "expireAfterSeconds" in spec:
            reply["expireAfterSeconds_old"] = int(spec["expireAfterSeconds"])
        spec["expireAfterSeconds"] = int(seconds)
        reply["expireAfterSeconds_new"] = int(seconds)
    if "hidden" in request:
        if index.name == "_id_":
            raise CommandError(72, "can't hide _id index")
        old_hidden = bool(spec.get("hidden", False))
        if request["hidden"]:
            spec["hidden"] = True
        else:
            spec.pop("hidden", None)
        reply["hidden_old"] = old_hidden
        reply["hidden_new"] = bool(request["hidden"])
    if request.get("unique") and not spec.get("unique"):
        if not spec.get("prepareUnique"):
            raise CommandError(72, "Cannot make index unique with 'prepareUnique' not set")
        spec["unique"] = True
        spec.pop("prepareUnique", None)
        probe = CollectionInfo(info.db, info.name, uuid=info.uuid)
        ctx.state.build_index(probe, spec)  # raises 11000 on duplicates
        index.keymap = probe.indexes[-1].keymap
        reply["unique_new"] = True
    if "prepareUnique" in request:
        old_prepare = bool(spec.get("prepareUnique", False))
        if request["prepareUnique"]:
            spec["prepareUnique"] = True
        else:
            spec.pop("prepareUnique", None)
        reply["prepareUnique_old"] = old_prepare
        reply["prepareUnique_new"] = bool(request["prepareUnique"])
    index.spec = _ordered_index_spec(spec, info)
    # Modifying an index resets its usage statistics.
    index.created = utcnow()
    for node in ctx.state.nodes:
        node.forget_index_stats(info.ns, index.name)
    return reply


def _ordered_index_spec(spec: dict[str, Any], info: CollectionInfo) -> dict[str, Any]:
    try:
        return index_rules.normalize_index_spec(
            spec, collection_collation=info.options.get("collation")
        )
    except CommandError:
        return spec


# ------------------------------------------------------------------ indexes


@command(
    "createIndexes",
    write=True,
    fields={"indexes", "commitQuorum", "ignoreUnknownIndexOptions", "isTimeseriesNamespace"},
)
def create_indexes(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    check_db_name(ctx.db)
    check_collection_name(ctx.db, name)
    requested = ctx.get("indexes")
    if not isinstance(requested, list) or not requested:
        raise CommandError(2, "Must specify at least one index to create")
    state = ctx.state
    info = state.get(ctx.db, name)
    if info is not None and info.is_view:
        raise CommandError(166, f"Namespace {info.ns} is a view, not a collection")
    if (ctx.db, name) == ("local", "oplog.rs"):
        raise CommandError(20, "cannot create indexes on local.oplog.rs")
    collation = info.options.get("collation") if info is not None else None
    specs = []
    for spec in requested:
        if not isinstance(spec, Mapping):
            raise CommandError(
                14, "BSON field 'createIndexes.indexes' is the wrong type, expected object"
            )
        specs.append(
            index_rules.normalize_index_spec(
                dict(spec),
                collection_collation=collation,
                strict=not ctx.get("ignoreUnknownIndexOptions"),
            )
        )
    created_automatically = info is None
    if info is None:
        info = state.create_collection(ctx.db, name)
    before = len(info.indexes)
    to_build: list[dict[str, Any]] = []
    for spec in specs:
        existing = [index.spec for index in info.indexes] + to_build
        if index_rules.check_new_index(existing, spec, namespace=info.ns):
            continue
        to_build.append(spec)
    if before + len(to_build) > 64:
        raise CommandError(
            67, f"add index fails, too many indexes for {info.ns} key:{render(to_build[-1]['key'])}"
        )
    built: list[IndexEntry] = []
    try:
        for spec in to_build:
            built.append(state.build_index(info, spec))
    except CommandError:
        for entry in built:
            info.indexes.remove(entry)
        raise
    for entry in built:
        state.log_op("c", f"{ctx.db}.$cmd", {"createIndexes": name, **entry.spec}, ui=info.uuid)
    after = len(info.indexes)
    reply: dict[str, Any] = {"numIndexesBefore": before, "numIndexesAfter": after}
    if built:
        reply["createdCollectionAutomatically"] = created_automatically
        if ctx.node.role == "replset":
            reply["commitQuorum"] = ctx.get("commitQuorum", "votingMembers")
    if after == before:
        reply["note"] = "all indexes already exist"
    elif len(built) < len(specs):
        reply["note"] = "index already exists"
    return reply


@command("listIndexes", read=True, fields={"cursor", "includeBuildUUIDs", "includeIndexBuildInfo"})
def list_indexes(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    info = ctx.state.get(ctx.db, name)
    if info is None:
        raise CommandError(26, f"ns does not exist: {ctx.db}.{name}")
    if info.is_view:
        raise CommandError(166, f"Namespace {info.ns} is a view, not a collection")
    specs = [dict(index.spec) for index in info.indexes]
    batch_size = (ctx.get("cursor") or {}).get("batchSize")
    cursor = ctx.state.open_cursor(f"{ctx.db}.$cmd.listIndexes.{name}", specs, batch_size)
    return {"cursor": {"id": cursor["id"], "ns": cursor["ns"], "firstBatch": cursor["firstBatch"]}}


@command("dropIndexes", "deleteIndexes", write=True, fields={"index"})
def drop_indexes(ctx: Context) -> dict[str, Any]:
    name = ctx.collection_name()
    state = ctx.state
    info = state.get(ctx.db, name)
    if info is None:
        raise CommandError(26, f"ns not found {ctx.db}.{name}")
    if info.is_view:
        raise CommandError(166, f"Namespace {info.ns} is a view, not a collection")
    selector = ctx.get("index")
    count_before = len(info.indexes)
    if selector == "*":
        targets = [index for index in info.indexes if index.name != "_id_"]
    elif isinstance(selector, str):
        targets = [_index_named(info, selector)]
    elif isinstance(selector, list):
        targets = [_index_named(info, item) for item in selector]
    elif isinstance(selector, Mapping):
        matches = info.find_index_by_key(selector)
        if not matches:
            raise CommandError(27, f"can't find index with key: {render(selector)}")
        if len(matches) > 1:
            raise CommandError(
                181,
                f"{len(matches)} indexes found for key: {render(selector)}, "
                "identify by name instead. Conflicting indexes: "
                + ", ".join(render(index.spec) for index in matches),
            )
        targets = matches
    else:
        raise CommandError(40414, "BSON field 'dropIndexes.index' is missing but a required field")
    for index in targets:
        if index.name == "_id_":
            raise CommandError(72, "cannot drop _id index")
    for index in targets:
        info.indexes.remove(index)
        for node in state.nodes:
            node.forget_index_stats(info.ns, index.name)
        state.log_op(
            "c",
            f"{ctx.db}.$cmd",
            {"dropIndexes": name, "index": index.name},
            o2=dict(index.spec),
            ui=info.uuid,
        )
    reply: dict[str, Any] = {"nIndexesWas": count_before}
    if selector == "*":
        reply["msg"] = "non-_id indexes dropped for collection"
    return reply


def _index_named(info: CollectionInfo, name: Any) -> IndexEntry:
    index = info.find_index(name) if isinstance(name, str) else None
    if index is None:
        raise CommandError(27, f"index not found with name [{name}]")
    return index
