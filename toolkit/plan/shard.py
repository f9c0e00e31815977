"""Plan the commands that make a sharded cluster match the catalog's sharding.

``plan_sharding(catalog, observed)`` is pure. It compares each collection's
``shard`` (key, unique, presplit_hashed_zones, zones) and the catalog's
``sharding`` (zones to shards, balancer window) with what a mongos reported
(listShards, config.collections, config.tags, config.settings, and the
collections' indexes) and returns ShardOperations, each carrying the exact
command it sends, where it runs and why. What no command can fix safely (a
shard key that differs, a shard that does not exist) is returned as a
conflict, for a person to resolve.

Order matters and is fixed here:

1. zone ranges the catalog no longer has are removed (destructive),
2. shards join zones (addShardToZone),
3. per collection: the collection and the index supporting the shard key
   (the schema plan's own create operations), its zone ranges, then
   shardCollection. Ranges go first so that shardCollection creates initial
   chunks along them (presplitHashedZones requires it). A range the catalog
   writes on a prefix of the key is sent with every key field: mongod fills
   the missing trailing fields with MinKey on both bounds (includeFullShardKey)
   once the collection is sharded, but stores a range on an unsharded
   collection as given; sending the full key stores the same range either way,
   so a second plan finds it,
4. shards leave zones the catalog no longer has (destructive),
5. the balancer window in config.settings.

The lint helpers at the end (``lint_shard``) are used by ``catalog check``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec, IndexSpec, default_index_name
from toolkit.errors import CatalogError
from toolkit.plan.schema import (
    ObservedSchema,
    canonical,
    create_collection,
    create_index,
    full_collation,
    ordered_key,
)

KeyPattern = tuple[tuple[str, Any], ...]
MIN_KEY = {"$minKey": 1}
MAX_KEY = {"$maxKey": 1}
# HH 00-23, MM 00-59: the balancer compares these strings with the config server's clock.
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_WINDOW = re.compile(rf"^({_TIME})-({_TIME})$")


# --------------------------------------------------------------------------- observed state


@dataclass(frozen=True)
class ObservedShard:
    """One listShards entry: its name, host string and zones (``tags``)."""

    name: str
    host: str = ""
    zones: tuple[str, ...] = ()


@dataclass(frozen=True)
class ObservedShardedCollection:
    """One config.collections entry, with time-series buckets translated back to the
    collection's own namespace and field names."""

    namespace: str
    key: KeyPattern
    unique: bool = False


@dataclass(frozen=True)
class ObservedZoneRange:
    """One config.tags entry. Bounds use Extended JSON for MinKey/MaxKey
    ({"$minKey": 1}), as the catalog writes them."""

    namespace: str
    min: Mapping[str, Any] = field(hash=False)
    max: Mapping[str, Any] = field(hash=False)
    zone: str = ""


@dataclass(frozen=True)
class ObservedSharding:
    """What a mongos said about the cluster's sharding, and the catalog databases' schema."""

    shards: tuple[ObservedShard, ...] = ()
    collections: tuple[ObservedShardedCollection, ...] = ()
    ranges: tuple[ObservedZoneRange, ...] = ()
    balancer_window: tuple[str, str] | None = None
    schema: ObservedSchema = field(default_factory=ObservedSchema)

    def sharded(self, namespace: str) -> ObservedShardedCollection | None:
        for collection in self.collections:
            if collection.namespace == namespace:
                return collection
        return None


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class ShardOperation:
    """One command, the database it runs on, what it is about and why."""

    kind: str  # "shard-collection", "add-shard-to-zone", "update-zone-range", ...
    target: str  # a namespace, "shard X" or "balancer"
    database: str  # where the command runs: "admin", "config", or the collection's db
    reason: str
    command: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    destructive: bool = False
    #: runs only after a destructive operation of this plan (a range replacing another)
    needs_drop: bool = False

    def describe(self) -> str:
        return f"{self.kind} {self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target": self.target,
            "database": self.database,
            "reason": self.reason,
            "destructive": self.destructive,
            "needs_drop": self.needs_drop,
            "command": self.command,
        }


@dataclass(frozen=True)
class ShardPlan:
    operations: tuple[ShardOperation, ...] = ()
    #: differences no command of this plan fixes; a person must act
    conflicts: tuple[str, ...] = ()

    def runnable(self, allow_drop: bool) -> list[ShardOperation]:
        return [op for op in self.operations if allow_drop or not (op.destructive or op.needs_drop)]


# --------------------------------------------------------------------------- shard keys


def shard_key(spec: CollectionSpec) -> KeyPattern:
    """The declared shard key of ``spec``, in order (empty when it declares none)."""
    if not spec.shard or not isinstance(spec.shard.get("key"), Mapping):
        return ()
    return ordered_key(spec.shard["key"].items())


def hashed_fields(key: KeyPattern) -> list[str]:
    return [name for name, value in key if value == "hashed"]


def supports_key(
    index_keys: Iterable[tuple[str, Any]], options: Mapping[str, Any], key: KeyPattern
) -> bool:
    """True when an index can support shard key ``key``: its key starts with the
    shard key's fields and values, and it is not sparse, partial, hidden or
    under a non-simple collation (manual: "Shard Key Indexes")."""
    index_key = ordered_key(index_keys)
    if not key or index_key[: len(key)] != key:
        return False
    if options.get("sparse") or options.get("partialFilterExpression") or options.get("hidden"):
        return False
    return full_collation(options.get("collation")) is None


def supporting_index(spec: CollectionSpec) -> IndexSpec | None:
    """The first declared index that supports the declared shard key, if any."""
    key = shard_key(spec)
    for index in spec.indexes:
        options = dict(index.options)
        if spec.collation and "collation" not in options:
            # An index without a collation inherits the collection's default one.
            options["collation"] = spec.collation
        if supports_key(index.keys, options, key):
            return index
    return None


def implied_shard_index(spec: CollectionSpec) -> IndexSpec | None:
    """The index `shard apply` creates when the catalog declares none that supports
    the shard key: the key itself under MongoDB's default name (unique with
    ``shard.unique``), which is also what shardCollection builds on an empty
    collection. None when a declared index supports the key or none is declared."""
    key = shard_key(spec)
    if not key or supporting_index(spec) is not None:
        return None
    options: dict[str, Any] = {"unique": True} if spec.shard and spec.shard.get("unique") else {}
    if spec.collation:
        options["collation"] = {"locale": "simple"}
    return IndexSpec(keys=key, name=default_index_name(key), options=options)


def shard_collection_command(spec: CollectionSpec) -> dict[str, Any]:
    """The shardCollection command for ``spec``."""
    assert spec.shard is not None
    command: dict[str, Any] = {"shardCollection": spec.namespace, "key": dict(shard_key(spec))}
    if spec.shard.get("unique"):
        command["unique"] = True
    if spec.shard.get("presplit_hashed_zones"):
        command["presplitHashedZones"] = True
    if spec.collation:
        # A collection with a default collation is sharded with the simple one
        # (manual: shardCollection "collation").
        command["collation"] = {"locale": "simple"}
    return command


def parse_window(text: str) -> tuple[str, str]:
    """Split "01:00-05:00" into ("01:00", "05:00"); raise ValueError unless both times
    are HH:MM with HH 00-23 and MM 00-59."""
    match = _WINDOW.match(text.strip())
    if not match:
        raise ValueError(
            f"sharding.balancer_window {text!r} is not a balancer window: write "
            "HH:MM-HH:MM with hours 00-23 and minutes 00-59, e.g. 01:00-05:00"
        )
    return match.group(1), match.group(2)


# --------------------------------------------------------------------------- planning


def plan_sharding(catalog: Catalog, observed: ObservedSharding) -> ShardPlan:
    """Given the catalog and what a mongos reported, return the operations (in the
    order they must run) and the conflicts that no operation can fix.

    Raise CatalogError (exit 2) when the catalog's balancer window is no HH:MM-HH:MM
    (the loader's schema refuses it first; a catalog built in code may not).
    """
    conflicts: list[str] = []
    shard_names = {shard.name for shard in observed.shards}
    desired_zones = _desired_zones(catalog)

    range_removals: list[ShardOperation] = []
    per_collection: list[ShardOperation] = []
    for spec in sorted(catalog.collections, key=lambda c: c.namespace):
        if not shard_key(spec):
            continue
        removals, operations = _plan_collection(spec, observed, conflicts)
        range_removals.extend(removals)
        per_collection.extend(operations)

    zone_additions: list[ShardOperation] = []
    zone_removals: list[ShardOperation] = []
    current = {(shard.name, zone) for shard in observed.shards for zone in shard.zones}
    for zone, shards in sorted(desired_zones.items()):
        for shard in shards:
            if shard not in shard_names:
                known = ", ".join(sorted(shard_names)) or "none"
                conflicts.append(
                    f"zone {zone} names shard {shard}, which is not in the cluster "
                    f"(listShards: {known})"
                )
                continue
            if (shard, zone) not in current:
                zone_additions.append(
                    ShardOperation(
                        "add-shard-to-zone",
                        f"shard {shard}",
                        "admin",
                        f"the catalog puts shard {shard} in zone {zone}",
                        {"addShardToZone": shard, "zone": zone},
                    )
                )
    for shard, zone in sorted(current):
        if shard not in desired_zones.get(zone, ()):
            zone_removals.append(
                ShardOperation(
                    "remove-shard-from-zone",
                    f"shard {shard}",
                    "admin",
                    f"shard {shard} is in zone {zone} on the server, not in the catalog",
                    {"removeShardFromZone": shard, "zone": zone},
                    destructive=True,
                )
            )

    balancer = _plan_balancer(catalog, observed)
    ordered = (*range_removals, *zone_additions, *per_collection, *zone_removals, *balancer)
    return ShardPlan(ordered, tuple(conflicts))


def _desired_zones(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    zones = (catalog.sharding or {}).get("zones") or {}
    return {str(zone): tuple(str(shard) for shard in shards) for zone, shards in zones.items()}


def _plan_collection(
    spec: CollectionSpec, observed: ObservedSharding, conflicts: list[str]
) -> tuple[list[ShardOperation], list[ShardOperation]]:
    key = shard_key(spec)
    namespace = spec.namespace
    sharded = observed.sharded(namespace)
    removals: list[ShardOperation] = []
    operations: list[ShardOperation] = []

    if sharded is not None:
        if sharded.key != key:
            conflicts.append(
                f"{namespace} is sharded on {_key_text(sharded.key)}, the catalog says "
                f"{_key_text(key)}: a shard key changes only with refineCollectionShardKey "
                "(adding suffix fields) or reshardCollection (rewriting the collection); "
                "run one by hand, then re-plan"
            )
        if sharded.unique != bool((spec.shard or {}).get("unique")):
            conflicts.append(
                f"{namespace}: shard key unique is {sharded.unique} on the server and "
                f"{bool((spec.shard or {}).get('unique'))} in the catalog; it cannot change "
                "once a collection is sharded"
            )

    desired_ranges = _desired_ranges(spec)
    current_ranges = [r for r in observed.ranges if r.namespace == namespace]
    wanted = {_range_identity(key, r["min"], r["max"], r["zone"]) for r in desired_ranges}
    removed: list[ObservedZoneRange] = []
    for existing in current_ranges:
        if _range_identity(key, existing.min, existing.max, existing.zone) in wanted:
            continue
        removed.append(existing)
        removals.append(
            ShardOperation(
                "remove-zone-range",
                namespace,
                "admin",
                f"range {_bounds_text(existing.min, existing.max)} in zone {existing.zone} "
                "is on the server, not in the catalog",
                {
                    "updateZoneKeyRange": namespace,
                    "min": dict(existing.min),
                    "max": dict(existing.max),
                    "zone": None,
                },
                destructive=True,
            )
        )
    present = {_range_identity(key, r.min, r.max, r.zone) for r in current_ranges}
    ranges: list[ShardOperation] = []
    for declared in desired_ranges:
        if _range_identity(key, declared["min"], declared["max"], declared["zone"]) in present:
            continue
        overlaps = any(
            _overlap(key, declared["min"], declared["max"], r.min, r.max) for r in removed
        )
        minimum, maximum = full_bound(key, declared["min"]), full_bound(key, declared["max"])
        ranges.append(
            ShardOperation(
                "update-zone-range",
                namespace,
                "admin",
                f"the catalog pins {_bounds_text(minimum, maximum)} to zone "
                f"{declared['zone']}" + ("; replaces a range removed above" if overlaps else ""),
                {
                    "updateZoneKeyRange": namespace,
                    "min": minimum,
                    "max": maximum,
                    "zone": declared["zone"],
                },
                needs_drop=overlaps,
            )
        )

    if sharded is not None:
        operations.extend(ranges)
    else:
        operations.extend(_supporting_operations(spec, observed))
        operations.extend(ranges)
        operations.append(
            ShardOperation(
                "shard-collection",
                namespace,
                "admin",
                f"the catalog shards {namespace} on {_key_text(key)}",
                shard_collection_command(spec),
            )
        )
    return removals, operations


def _supporting_operations(
    spec: CollectionSpec, observed: ObservedSharding
) -> list[ShardOperation]:
    """The schema plan's operations that must come before shardCollection: create the
    collection (with its validator and options) and the index supporting the key."""
    operations: list[ShardOperation] = []
    found = observed.schema.find(spec.db, spec.name)
    if found is None:
        create = create_collection(spec, "not on the server; shardCollection would create it bare")
        operations.append(_from_schema(create))
    key = shard_key(spec)
    existing = found.indexes if found is not None else ()
    if any(supports_key(index["key"].items(), index, key) for index in existing):
        return operations
    declared = supporting_index(spec) or implied_shard_index(spec)
    if declared is None:
        return operations
    reason = (
        f"supports the shard key {_key_text(key)}; shardCollection needs it first"
        if supporting_index(spec) is not None
        else f"supports the shard key {_key_text(key)}, and the catalog declares no index "
        "that starts with it"
    )
    operations.append(_from_schema(create_index(spec.db, spec.name, declared, reason)))
    return operations


def _from_schema(operation: Any) -> ShardOperation:
    return ShardOperation(
        operation.kind,
        operation.namespace + (f" index {operation.index}" if operation.index else ""),
        operation.db,
        operation.reason,
        operation.command,
    )


def _plan_balancer(catalog: Catalog, observed: ObservedSharding) -> list[ShardOperation]:
    declared = (catalog.sharding or {}).get("balancer_window")
    if declared is None:
        if observed.balancer_window is None:
            return []
        start, stop = observed.balancer_window
        return [
            ShardOperation(
                "unset-balancer-window",
                "balancer",
                "config",
                f"the balancer window {start}-{stop} is on the server, not in the catalog",
                {
                    "update": "settings",
                    "updates": [
                        {"q": {"_id": "balancer"}, "u": {"$unset": {"activeWindow": True}}}
                    ],
                },
                destructive=True,
            )
        ]
    try:
        start, stop = parse_window(str(declared))
    except ValueError as error:
        # The catalog is wrong, not the cluster: a usage error, never a conflict to resolve.
        raise CatalogError(
            "the catalog's sharding is invalid",
            problems=[str(error)],
            hint="fix it and rerun `mongo-toolkit catalog check`",
        ) from error
    if observed.balancer_window == (start, stop):
        return []
    before = "-".join(observed.balancer_window) if observed.balancer_window else "none"
    return [
        ShardOperation(
            "set-balancer-window",
            "balancer",
            "config",
            f"balancer window {before} -> {start}-{stop}",
            {
                "update": "settings",
                "updates": [
                    {
                        "q": {"_id": "balancer"},
                        "u": {"$set": {"activeWindow": {"start": start, "stop": stop}}},
                        "upsert": True,
                    }
                ],
            },
        )
    ]


def _desired_ranges(spec: CollectionSpec) -> list[dict[str, Any]]:
    return [
        {"min": dict(zone["min"]), "max": dict(zone["max"]), "zone": str(zone["zone"])}
        for zone in (spec.shard or {}).get("zones") or []
    ]


def _range_identity(
    key: KeyPattern, minimum: Mapping[str, Any], maximum: Mapping[str, Any], zone: str
) -> Any:
    # Bounds are compared field by field in key order and by value; a bound on a
    # prefix of the key equals the same bound filled up with MinKey.
    def extended(bound: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(canonical(bound.get(name, MIN_KEY)) for name, _ in key)

    return extended(minimum), extended(maximum), zone


def full_bound(key: KeyPattern, bound: Mapping[str, Any]) -> dict[str, Any]:
    """``bound`` with every field of ``key``, in key order: the fields a bound on a
    prefix of the key leaves out get MinKey, as mongod's extendRangeBound fills them
    (for an ascending or hashed field, on the lower and the upper bound alike).
    A bound that is no prefix of the key is returned as it is, for mongod to refuse."""
    names = [name for name, _ in key]
    if list(bound) != names[: len(bound)]:
        return dict(bound)
    return {name: bound.get(name, MIN_KEY) for name in names}


def _key_text(key: KeyPattern) -> str:
    return "{" + ", ".join(f"{name}: {value}" for name, value in key) + "}"


def _bounds_text(minimum: Mapping[str, Any], maximum: Mapping[str, Any]) -> str:
    def one(bound: Mapping[str, Any]) -> str:
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in bound.items()) + "}"

    return f"[{one(minimum)}, {one(maximum)})"


def _value_text(value: Any) -> str:
    if _is_marker(value, "$minKey"):
        return "MinKey"
    if _is_marker(value, "$maxKey"):
        return "MaxKey"
    return repr(value) if isinstance(value, str) else str(value)


# --------------------------------------------------------------------------- bound ordering

# BSON comparison order of types (manual: "Comparison/Sort Order").
_TYPE_RANK = {
    "minKey": 0,
    "null": 1,
    "number": 2,
    "string": 3,
    "object": 4,
    "array": 5,
    "binData": 6,
    "objectId": 7,
    "bool": 8,
    "date": 9,
    "timestamp": 10,
    "regex": 11,
    "maxKey": 12,
}


def _is_marker(value: Any, name: str) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and name in value


def bound_order(value: Any) -> tuple[Any, ...]:
    """A sort key that orders catalog bound values as MongoDB orders BSON values.

    Catalog bounds are YAML: numbers, strings, booleans, null, dates, and
    Extended JSON markers {"$minKey": 1}, {"$maxKey": 1}, {"$date": ...},
    {"$oid": ...}.
    """
    if _is_marker(value, "$minKey"):
        return (_TYPE_RANK["minKey"],)
    if _is_marker(value, "$maxKey"):
        return (_TYPE_RANK["maxKey"],)
    if value is None:
        return (_TYPE_RANK["null"],)
    if isinstance(value, bool):
        return (_TYPE_RANK["bool"], value)
    if isinstance(value, int | float):
        number = float(value)
        return (_TYPE_RANK["number"], -math.inf if math.isnan(number) else number)
    if isinstance(value, str):
        return (_TYPE_RANK["string"], value.encode("utf-8"))
    if isinstance(value, dt.datetime | dt.date):
        moment = (
            value
            if isinstance(value, dt.datetime)
            else dt.datetime(value.year, value.month, value.day)
        )
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return (_TYPE_RANK["date"], moment.timestamp())
    if _is_marker(value, "$date"):
        return (_TYPE_RANK["date"], str(value["$date"]))
    if _is_marker(value, "$oid"):
        return (_TYPE_RANK["objectId"], str(value["$oid"]))
    if isinstance(value, Mapping):
        return (_TYPE_RANK["object"], repr(canonical(value)))
    if isinstance(value, list | tuple):
        return (_TYPE_RANK["array"], repr(canonical(list(value))))
    return (_TYPE_RANK["binData"], repr(value))


def _bound_tuple(key: KeyPattern, bound: Mapping[str, Any]) -> tuple[Any, ...]:
    # A bound on a prefix of the key covers every value of the other fields:
    # MongoDB fills them with MinKey on both ends.
    return tuple(bound_order(bound.get(name, MIN_KEY)) for name, _ in key)


def _overlap(
    key: KeyPattern,
    min_a: Mapping[str, Any],
    max_a: Mapping[str, Any],
    min_b: Mapping[str, Any],
    max_b: Mapping[str, Any],
) -> bool:
    """Whether [min_a, max_a) and [min_b, max_b) share a shard key value."""
    return _bound_tuple(key, min_a) < _bound_tuple(key, max_b) and _bound_tuple(
        key, min_b
    ) < _bound_tuple(key, max_a)


# --------------------------------------------------------------------------- lint


def lint_shard(
    spec: CollectionSpec, catalog: Catalog, schema: Mapping[str, Any] | None = None
) -> list[str]:
    """Return the problems of ``spec``'s ``shard`` that MongoDB would refuse or that
    would distribute badly: unique with a hashed key, key fields the validator
    does not require, zone ranges that overlap, name unknown zones, do not follow
    the key, or are empty. ``schema`` is the validator's $jsonSchema, if any."""
    key = shard_key(spec)
    if not key:
        return []
    shard = spec.shard or {}
    messages: list[str] = []
    hashed = hashed_fields(key)
    if len(hashed) > 1:
        messages.append(
            f"shard key {_key_text(key)} has {len(hashed)} hashed fields; MongoDB allows one"
        )
    if hashed and shard.get("unique"):
        messages.append(
            f"shard key {_key_text(key)} is hashed and unique; MongoDB cannot enforce "
            "uniqueness on a hashed shard key (shardCollection refuses it)"
        )
    if shard.get("unique"):
        declared = supporting_index(spec)
        if declared is not None and not declared.options.get("unique"):
            messages.append(
                f"shard.unique needs a unique index on the key; {declared.name} supports the "
                "key but is not unique, so shardCollection refuses"
            )
    if schema is not None:
        for name, _ in key:
            if name != "_id" and not field_required(schema, name):
                messages.append(
                    f"shard key field {name} is not required by the validator: documents "
                    "without it are stored with a null shard key value, all in one range"
                )
    if shard.get("presplit_hashed_zones"):
        if not hashed:
            messages.append("presplit_hashed_zones needs a hashed field in the shard key")
        if not shard.get("zones"):
            messages.append("presplit_hashed_zones needs zones: it pre-splits chunks along them")
    zones = shard.get("zones") or []
    known_zones = set(_desired_zones(catalog))
    key_fields = [name for name, _ in key]
    valid: list[tuple[int, dict[str, Any]]] = []
    for position, zone in enumerate(zones):
        label = f"shard.zones[{position}] ({zone.get('zone')})"
        if zone.get("zone") not in known_zones:
            messages.append(
                f"{label}: zone {zone.get('zone')} is not defined in sharding.zones, so no "
                "shard serves it"
            )
        bad_bounds = False
        for bound_name in ("min", "max"):
            fields = list(zone.get(bound_name) or {})
            if not fields or fields != key_fields[: len(fields)]:
                messages.append(
                    f"{label}: {bound_name} names {fields}; a bound names the shard key's "
                    f"fields ({', '.join(key_fields)}) or a prefix of them, in order"
                )
                bad_bounds = True
            for field_name in hashed:
                value = (zone.get(bound_name) or {}).get(field_name)
                if field_name in fields and not (
                    _is_marker(value, "$minKey")
                    or _is_marker(value, "$maxKey")
                    or (isinstance(value, int) and not isinstance(value, bool))
                ):
                    messages.append(
                        f"{label}: {bound_name}.{field_name} is hashed, so the bound is a hash "
                        "value: an integer (sent as NumberLong), {$minKey: 1} or {$maxKey: 1}"
                    )
                    bad_bounds = True
        if bad_bounds:
            continue
        if not _bound_tuple(key, zone["min"]) < _bound_tuple(key, zone["max"]):
            messages.append(f"{label}: min is not below max; the range is empty")
            continue
        valid.append((position, zone))
    for index, (position_a, a) in enumerate(valid):
        for position_b, b in valid[index + 1 :]:
            if _overlap(key, a["min"], a["max"], b["min"], b["max"]):
                messages.append(
                    f"shard.zones[{position_a}] ({a['zone']}) and shard.zones[{position_b}] "
                    f"({b['zone']}) overlap; MongoDB refuses overlapping zone ranges"
                )
    return messages


def field_required(schema: Mapping[str, Any], dotted: str) -> bool:
    """True when a $jsonSchema requires every level of ``dotted`` (a.b: a and a.b)."""
    node: Mapping[str, Any] | None = schema
    for part in dotted.split("."):
        if not isinstance(node, Mapping):
            return False
        if part not in (node.get("required") or []):
            return False
        properties = node.get("properties") or {}
        node = properties.get(part) if isinstance(properties, Mapping) else None
    return True
