"""mongos sharding commands. They record their effects in the config database
(config.shards, config.databases, config.collections, config.chunks,
config.tags, config.settings) as ordinary documents, so tools read them back
with find and change config.settings with update, as on a real cluster. No
data moves: the mongos holds every document itself.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from typing import Any

from bson import Int64, MaxKey, MinKey, ObjectId, Timestamp
from mongomock import filtering

from tests.support import indexes as index_rules
from tests.support.bsonfmt import render
from tests.support.catalog import CollectionInfo, new_uuid, utcnow
from tests.support.dispatch import MONGOS, Context, command
from tests.support.errors import CommandError
from tests.support.state import ServerState, same_bson


def _config(state: ServerState, name: str) -> CollectionInfo:
    info = state.get("config", name)
    if info is None:
        info = state.create_collection("config", name)
    return info


def _shards(state: ServerState) -> list[dict[str, Any]]:
    return state.find("config", "shards")


def _find_shard(state: ServerState, name: str) -> dict[str, Any] | None:
    found = state.find("config", "shards", filter={"_id": name})
    return found[0] if found else None


def _upsert(state: ServerState, name: str, document: dict[str, Any]) -> None:
    state.update(
        _config(state, name),
        {"_id": document["_id"]},
        document,
        multi=False,
        upsert=True,
        bypass_validation=True,
    )


def _split_ns(value: Any) -> tuple[str, str]:
    if (
        not isinstance(value, str)
        or "." not in value
        or value.startswith(".")
        or value.endswith(".")
    ):
        raise CommandError(73, f"Invalid namespace specified '{value}'")
    db, name = value.split(".", 1)
    return db, name


# ------------------------------------------------------------------ shards


@command("listShards", roles=MONGOS, admin_only=True, read=True, fields={"filter"})
def list_shards(ctx: Context) -> dict[str, Any]:
    return {"shards": ctx.state.find("config", "shards", filter=ctx.get("filter") or {})}


@command("addShard", roles=MONGOS, admin_only=True, write=True, fields={"name", "maxSize"})
def add_shard(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    connection = ctx.value
    if not isinstance(connection, str) or not connection:
        raise CommandError(2, "Invalid connection string")
    requested = ctx.get("name")
    if "/" in connection:
        set_name, hosts = connection.split("/", 1)
        if not set_name or not hosts:
            raise CommandError(2, f"Invalid connection string {connection}")
        name = requested or set_name
    else:
        name = requested or f"shard{len(_shards(state)):04d}"
    for shard in _shards(state):
        if shard["host"] == connection:
            if requested and requested != shard["_id"]:
                raise CommandError(
                    96, f"A shard already exists containing the replica set '{connection}'"
                )
            return {"shardAdded": shard["_id"]}
        if shard["_id"] == name:
            raise CommandError(96, f"A shard named {name} already exists")
    document = {
        "_id": name,
        "host": connection,
        "state": 1,
        "topologyTime": state.next_timestamp(),
        "replSetConfigVersion": Int64(-1),
    }
    state.insert(_config(state, "shards"), document, bypass_validation=True)
    return {"shardAdded": name}


@command(
    "enableSharding",
    "enablesharding",
    roles=MONGOS,
    admin_only=True,
    write=True,
    fields={"primaryShard"},
)
def enable_sharding(ctx: Context) -> dict[str, Any]:
    db = ctx.value
    if not isinstance(db, str) or not db or "." in db:
        raise CommandError(73, f"Invalid db name specified: {db}")
    _ensure_database(ctx.state, db, ctx.get("primaryShard"))
    return {}


def _ensure_database(state: ServerState, db: str, primary: str | None = None) -> dict[str, Any]:
    found = state.find("config", "databases", filter={"_id": db})
    if found:
        if primary and found[0]["primary"] != primary:
            raise CommandError(
                117, f"Database {db} already exists with primary shard {found[0]['primary']}"
            )
        return found[0]
    shards = _shards(state)
    if not shards:
        raise CommandError(
            70, f"Database {db} could not be created :: caused by :: No shards found"
        )
    if primary is not None and _find_shard(state, primary) is None:
        raise CommandError(70, f"Shard {primary} not found")
    document = {
        "_id": db,
        "primary": primary or shards[0]["_id"],
        "version": {"uuid": new_uuid(), "timestamp": state.next_timestamp(), "lastMod": 1},
    }
    state.insert(_config(state, "databases"), document, bypass_validation=True)
    return document


# ------------------------------------------------------------------ shardCollection


def _check_shard_key(key: Any) -> None:
    if not isinstance(key, Mapping) or not key:
        raise CommandError(2, "Shard key pattern must be a non-empty object")
    hashed = [field for field, value in key.items() if value == "hashed"]
    if len(hashed) > 1:
        raise CommandError(2, "Shard key pattern can contain at most one 'hashed' field")
    for field, value in key.items():
        if value != "hashed" and value != 1:
            raise CommandError(
                2,
                f"Unsupported shard key pattern {render(key)}. Pattern must "
                "either be a single hashed field, or a list of ascending fields",
            )
        if field.startswith("$"):
            raise CommandError(2, f"Shard key field name cannot start with '$': {field}")


def _supports(index_key: Mapping[str, Any], shard_key: Mapping[str, Any]) -> bool:
    """True when the index key starts with the shard key (same fields, same kinds)."""
    index_items = list(index_key.items())
    if len(index_items) < len(shard_key):
        return False
    for (index_field, index_value), (key_field, key_value) in zip(
        index_items, shard_key.items(), strict=False
    ):
        if index_field != key_field:
            return False
        if key_value == "hashed":
            if index_value != "hashed":
                return False
        elif isinstance(index_value, str) or float(index_value) != 1:
            return False
    return True


@command(
    "shardCollection",
    "shardcollection",
    roles=MONGOS,
    admin_only=True,
    write=True,
    fields={
        "key",
        "unique",
        "numInitialChunks",
        "presplitHashedZones",
        "collation",
        "timeseries",
        "implicitlyCreateIndex",
        "enforceUniquenessCheck",
    },
)
def shard_collection(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    db, name = _split_ns(ctx.value)
    ns = f"{db}.{name}"
    key = ctx.get("key")
    _check_shard_key(key)
    unique = bool(ctx.get("unique"))
    if unique and "hashed" in key.values():
        raise CommandError(
            2,
            "Hashed shard keys cannot be declared unique. It's possible to "
            "ensure uniqueness on the hashed field by declaring an additional "
            "(non-hashed) unique index on the field.",
        )
    if ctx.get("collation") and ctx.get("collation") != {"locale": "simple"}:
        raise CommandError(2, "The collation for shardCollection must be {locale: 'simple'}")
    existing = state.find("config", "collections", filter={"_id": ns})
    if existing:
        document = existing[0]
        if same_bson(dict(document["key"]), dict(key)) and bool(document.get("unique")) == unique:
            return {"collectionsharded": ns}
        raise CommandError(
            20,
            f"sharding already enabled for collection {ns} with options "
            f"{render({'_id': ns, 'key': document['key'], 'unique': document.get('unique')})}",
        )
    database = _ensure_database(state, db)
    info = state.get(db, name)
    if info is not None and info.is_view:
        raise CommandError(166, f"Namespace {ns} is a view, not a collection")
    if info is not None:
        for index in info.indexes:
            if index.name == "_id_" or not index.spec.get("unique"):
                continue
            if not _supports(index.key, key):
                raise CommandError(
                    72,
                    f"can't shard collection '{ns}' with unique index on "
                    f"{render(index.key)} and proposed shard key {render(key)}. Uniqueness can't "
                    "be maintained unless shard key is a prefix",
                )
    supporting = [
        index
        for index in (info.indexes if info else [])
        if _supports(index.key, key)
        and not index.spec.get("sparse")
        and not index.spec.get("partialFilterExpression")
        and not index.spec.get("hidden")
        and not index.spec.get("collation")
    ]
    if unique:
        supporting = [index for index in supporting if index.is_unique]
    if not supporting:
        if info is not None and state.count_documents(info) > 0:
            raise CommandError(
                72,
                "Please create an index that starts with the proposed shard "
                "key before sharding the collection.",
            )
        if ctx.get("implicitlyCreateIndex") is False:
            raise CommandError(
                72,
                "Please create an index that starts with the proposed shard "
                "key before sharding the collection.",
            )
        if info is None:
            info = state.create_collection(db, name)
        spec = {"key": dict(key), "name": index_rules.default_index_name(key)}
        if unique:
            spec["unique"] = True
        normalized = index_rules.normalize_index_spec(spec)
        if not index_rules.check_new_index(
            [index.spec for index in info.indexes], normalized, namespace=ns
        ):
            entry = state.build_index(info, normalized)
            state.log_op("c", f"{db}.$cmd", {"createIndexes": name, **entry.spec}, ui=info.uuid)
    epoch = ObjectId()
    timestamp = state.next_timestamp()
    collection_document = {
        "_id": ns,
        "lastmodEpoch": epoch,
        "lastmod": utcnow(),
        "timestamp": timestamp,
        "uuid": info.uuid,
        "key": dict(key),
        "unique": unique,
        "noBalance": False,
    }
    state.insert(_config(state, "collections"), collection_document, bypass_validation=True)
    state.insert(
        _config(state, "chunks"),
        {
            "_id": ObjectId(),
            "uuid": info.uuid,
            "min": {field: MinKey() for field in key},
            "max": {field: MaxKey() for field in key},
            "shard": database["primary"],
            "lastmod": Timestamp(1, 0),
            "onCurrentShardSince": timestamp,
            "history": [{"validAfter": timestamp, "shard": database["primary"]}],
        },
        bypass_validation=True,
    )
    return {"collectionsharded": ns}


# ------------------------------------------------------------------ zones


def _require_shard(state: ServerState, name: Any) -> dict[str, Any]:
    shard = _find_shard(state, name) if isinstance(name, str) else None
    if shard is None:
        raise CommandError(70, f"Shard {name} does not exist")
    return shard


@command(
    "addShardToZone", "addshardtozone", roles=MONGOS, admin_only=True, write=True, fields={"zone"}
)
def add_shard_to_zone(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    shard = _require_shard(state, ctx.value)
    zone = ctx.get("zone")
    if not isinstance(zone, str) or not zone:
        raise CommandError(2, "zone must be a non-empty string")
    tags = list(shard.get("tags", []))
    if zone not in tags:
        tags.append(zone)
        shard["tags"] = tags
        _upsert(state, "shards", shard)
    return {}


@command(
    "removeShardFromZone",
    "removeshardfromzone",
    roles=MONGOS,
    admin_only=True,
    write=True,
    fields={"zone"},
)
def remove_shard_from_zone(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    shard = _require_shard(state, ctx.value)
    zone = ctx.get("zone")
    tags = list(shard.get("tags", []))
    if zone not in tags:
        return {}
    others = [
        other
        for other in _shards(state)
        if other["_id"] != shard["_id"] and zone in other.get("tags", [])
    ]
    if not others and state.find("config", "tags", filter={"tag": zone}, limit=1):
        raise CommandError(
            163, f"Zone {zone} cannot be removed because it is still assigned to ranges"
        )
    shard["tags"] = [tag for tag in tags if tag != zone]
    _upsert(state, "shards", shard)
    return {}


def _shard_key_not_found(errmsg: str) -> CommandError:
    # errors.CODE_NAMES lacks 61; the reply must still name it as mongod does.
    return CommandError(61, errmsg)


def _compare_bounds(left: Mapping[str, Any], right: Mapping[str, Any]) -> int:
    """BSONObj::woCompare of two bounds: element by element, the type's place in the
    BSON order first, then the field name, then the value; a prefix sorts first."""
    for (left_name, left_value), (right_name, right_value) in zip(
        left.items(), right.items(), strict=False
    ):
        left_type = filtering._get_compare_type(left_value)
        right_type = filtering._get_compare_type(right_value)
        if left_type != right_type:
            return -1 if left_type < right_type else 1
        if left_name != right_name:
            return -1 if left_name < right_name else 1
        if filtering.bson_compare(operator.lt, left_value, right_value):
            return -1
        if filtering.bson_compare(operator.lt, right_value, left_value):
            return 1
    return (len(left) > len(right)) - (len(left) < len(right))


def _is_field_prefix(bound: Mapping[str, Any], key: Mapping[str, Any]) -> bool:
    """BSONObj::isFieldNamePrefixOf: the bound's fields are the key's first fields."""
    return list(bound) == list(key)[: len(bound)]


def _extend_bound(bound: Mapping[str, Any], key: Mapping[str, Any]) -> dict[str, Any]:
    """ShardKeyPattern::extendRangeBound(bound, false): the missing trailing fields of an
    ascending or hashed key are filled with MinKey."""
    extended = dict(bound)
    for name, direction in key.items():
        if name not in extended:
            descending = isinstance(direction, int | float) and direction < 0
            extended[name] = MaxKey() if descending else MinKey()
    return extended


def _range_text(minimum: Mapping[str, Any], maximum: Mapping[str, Any], zone: str) -> str:
    # ZoneRange::toString
    return f"{render(minimum)} -->> {render(maximum)}  on  {zone}"


def _full_range(
    state: ServerState, ns: str, minimum: Mapping[str, Any], maximum: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """includeFullShardKey: on a sharded collection, bounds naming a prefix of the shard
    key are extended to the whole key; on an unsharded one they stay as given and
    their own fields are the key. Return (min, max, key pattern)."""
    sharded = state.find("config", "collections", filter={"_id": ns})
    if not sharded:
        if list(minimum) != list(maximum):
            raise _shard_key_not_found(
                f"the shard key of min {render(minimum)} doesn't match with the shard key "
                f"of max {render(maximum)}",
            )
        return dict(minimum), dict(maximum), {name: 1 for name in minimum}
    key = dict(sharded[0]["key"])
    for name, bound in (("min", minimum), ("max", maximum)):
        if not _is_field_prefix(bound, key):
            raise _shard_key_not_found(
                f"{name}: {render(bound)} is not a prefix of the shard key {render(key)} "
                f"of ns: {ns}",
            )
    return _extend_bound(minimum, key), _extend_bound(maximum, key), key


@command(
    "updateZoneKeyRange",
    "updatezonekeyrange",
    roles=MONGOS,
    admin_only=True,
    write=True,
    fields={"min", "max", "zone"},
)
def update_zone_key_range(ctx: Context) -> dict[str, Any]:
    """As mongos and the config server run it (ShardingCatalogManager::assignKeyRangeToZone
    and removeKeyRangeFromZone): bounds on a prefix of the shard key are filled up with
    MinKey before they are checked and stored; a range may not overlap another one of
    the collection (RangeOverlapConflict, 178) unless it is the same range and zone."""
    state = ctx.state
    db, name = _split_ns(ctx.value)
    ns = f"{db}.{name}"
    minimum, maximum = ctx.get("min"), ctx.get("max")
    if not isinstance(minimum, Mapping) or not isinstance(maximum, Mapping):
        raise CommandError(2, "min and max must be objects")
    if "zone" not in ctx.body:
        raise CommandError(
            40414, "BSON field 'updateZoneKeyRange.zone' is missing but a required field"
        )
    # ChunkRange::fromBSON, while the request is parsed
    if _compare_bounds(minimum, maximum) >= 0:
        raise CommandError(9, f"min: {render(minimum)} should be less than max: {render(maximum)}")
    zone = ctx.get("zone")
    if zone is not None and (not isinstance(zone, str) or not zone):
        raise CommandError(2, "zone must be a string or null")
    tags = _config(state, "tags")
    if zone is None:
        low, high, _ = _full_range(state, ns, minimum, maximum)
        for document in state.find("config", "tags", filter={"ns": ns}):
            if same_bson(document["min"], low) and same_bson(document["max"], high):
                state.delete(tags, {"_id": document["_id"]}, limit=1)
        return {}
    if not any(zone in shard.get("tags", []) for shard in _shards(state)):
        raise CommandError(177, f"zone {zone} does not exist")
    low, high, key = _full_range(state, ns, minimum, maximum)
    hashed = [field for field, value in key.items() if value == "hashed"]
    for field in hashed:
        for value in (low.get(field), high.get(field)):
            if not isinstance(value, Int64 | MinKey | MaxKey):
                raise CommandError(
                    72,
                    f"there exists a field in the range {render(low)} -->> {render(high)} not "
                    "of type NumberLong, MinKey, or MaxKey which corresponds to a hashed field "
                    f"in the shard key pattern {render(key)}",
                )
    existing = []
    for document in state.find("config", "tags", filter={"ns": ns}):
        stored_min, stored_max = dict(document["min"]), dict(document["max"])
        if _is_field_prefix(stored_min, key) and _is_field_prefix(stored_max, key):
            # Ranges stored before the collection was sharded are compared extended.
            stored_min, stored_max = _extend_bound(stored_min, key), _extend_bound(stored_max, key)
        existing.append((stored_min, stored_max, str(document.get("tag"))))
    # ZoneInfo keeps the ranges ordered by their max; the first one reaching past the
    # new range's min and starting before its max is the one reported.
    existing.sort(key=functools.cmp_to_key(lambda a, b: _compare_bounds(a[1], b[1])))
    for stored_min, stored_max, stored_zone in existing:
        if _compare_bounds(stored_max, low) <= 0 or _compare_bounds(stored_min, high) >= 0:
            continue
        if same_bson(stored_min, low) and same_bson(stored_max, high) and stored_zone == zone:
            return {}
        raise CommandError(
            178,
            f"Zone range: {_range_text(low, high, zone)} is overlapping with existing: "
            f"{_range_text(stored_min, stored_max, stored_zone)}",
        )
    state.insert(
        tags,
        {"_id": ObjectId(), "ns": ns, "min": low, "max": high, "tag": zone},
        bypass_validation=True,
    )
    return {}


# ------------------------------------------------------------------ balancer


def _balancer_document(state: ServerState) -> dict[str, Any] | None:
    found = state.find("config", "settings", filter={"_id": "balancer"})
    return found[0] if found else None


@command("balancerStart", roles=MONGOS, admin_only=True, write=True, fields=set())
def balancer_start(ctx: Context) -> dict[str, Any]:
    document = _balancer_document(ctx.state) or {"_id": "balancer"}
    document["mode"] = "full"
    document["stopped"] = False
    _upsert(ctx.state, "settings", document)
    return {}


@command("balancerStop", roles=MONGOS, admin_only=True, write=True, fields=set())
def balancer_stop(ctx: Context) -> dict[str, Any]:
    document = _balancer_document(ctx.state) or {"_id": "balancer"}
    document["mode"] = "off"
    document["stopped"] = True
    _upsert(ctx.state, "settings", document)
    return {}


@command("balancerStatus", roles=MONGOS, admin_only=True, fields=set())
def balancer_status(ctx: Context) -> dict[str, Any]:
    document = _balancer_document(ctx.state) or {}
    mode = document.get("mode")
    if mode not in ("full", "off"):
        mode = "off" if document.get("stopped") else "full"
    return {"mode": mode, "inBalancerRound": False, "numBalancerRounds": Int64(0), "term": Int64(1)}
