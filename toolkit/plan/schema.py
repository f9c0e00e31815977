"""Plan the commands that make a server's collections and indexes match the catalog.

``plan_schema(catalog, observed)`` is pure: it compares the catalog with what
listCollections and listIndexes returned and yields Operations, each carrying
the exact command document it sends, its reason, and whether it destroys
something. ``schema apply`` sends those commands (toolkit.mongo.apply) and
``schema render`` writes the same commands as mongosh JavaScript, so the three
can never disagree.

Normalisation follows ../shared/MONGODB-FACTS.md: the server fills in index
``v``, text-index weights and versions, full collation documents, and omits
validationLevel/validationAction when a validator was set at create time; an
unchanged catalog must plan nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec, IndexSpec

DEFAULT_VALIDATION_LEVEL = "strict"
DEFAULT_VALIDATION_ACTION = "error"
GRANULARITY_ORDER = ("seconds", "minutes", "hours")
# bucketMaxSpanSeconds / bucketRoundingSeconds the server fills in per granularity
GRANULARITY_BUCKETS = {"seconds": (3600, 60), "minutes": (86400, 3600), "hours": (2592000, 86400)}
COLLATION_DEFAULTS: dict[str, Any] = {
    "caseLevel": False,
    "caseFirst": "off",
    "strength": 3,
    "numericOrdering": False,
    "alternate": "non-ignorable",
    "maxVariable": "punct",
    "normalization": False,
    "backwards": False,
}
# Locales whose ICU defaults differ from COLLATION_DEFAULTS (mongo jstests/core/collation.js).
LOCALE_COLLATION_DEFAULTS: dict[str, dict[str, Any]] = {"fr_CA": {"backwards": True}}
# Index options that collMod changes in place (manual: collMod "index" option).
IN_PLACE_INDEX_OPTIONS = ("expireAfterSeconds", "hidden")
IGNORED_INDEX_FIELDS = {"v", "ns", "background", "textIndexVersion", "2dsphereIndexVersion"}
INDEX_OPTION_DEFAULTS: dict[str, Any] = {"unique": False, "sparse": False, "hidden": False}
_EPOCH = dt.datetime(1970, 1, 1)


# --------------------------------------------------------------------------- observed state


@dataclass(frozen=True)
class ObservedCollection:
    """One listCollections entry and its listIndexes result (empty for views)."""

    db: str
    name: str
    type: str  # "collection", "timeseries" or "view"
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)
    indexes: tuple[Mapping[str, Any], ...] = field(default=(), hash=False)

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.name}"


@dataclass(frozen=True)
class ObservedSchema:
    """The collections of the databases a catalog names, as the server reported them."""

    collections: tuple[ObservedCollection, ...] = ()

    def find(self, db: str, name: str) -> ObservedCollection | None:
        for collection in self.collections:
            if collection.db == db and collection.name == name:
                return collection
        return None


# --------------------------------------------------------------------------- operations


@dataclass(frozen=True)
class Operation:
    """One command against one namespace, with the reason it is needed."""

    db: str
    collection: str
    reason: str
    destructive: bool = False
    #: "create-collection", "modify-collection", "drop-collection", "create-index", ...
    kind: str = ""
    index: str | None = None
    command: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    #: a later operation that only makes sense after this one (a rebuild's create)
    needs_drop: bool = False

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"

    @property
    def target(self) -> str:
        return self.namespace + (f" index {self.index}" if self.index else "")

    def describe(self) -> str:
        return f"{self.kind} {self.target}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "index": self.index,
            "reason": self.reason,
            "destructive": self.destructive,
            "needs_drop": self.needs_drop,
            "command": self.command,
        }


def create_collection(spec: CollectionSpec, reason: str) -> Operation:
    command: dict[str, Any] = {"create": spec.name}
    if spec.kind == "view":
        command["viewOn"] = spec.view_on
        command["pipeline"] = list(spec.pipeline or ())
    if spec.timeseries:
        command["timeseries"] = dict(spec.timeseries)
        if spec.expire_after_seconds is not None:
            command["expireAfterSeconds"] = spec.expire_after_seconds
    if spec.capped:
        command["capped"] = True
        command["size"] = spec.capped["size"]
        if "max" in spec.capped:
            command["max"] = spec.capped["max"]
    if spec.collation:
        command["collation"] = dict(spec.collation)
    if spec.validator:
        command["validator"] = spec.validator
        command["validationLevel"] = spec.validation_level or DEFAULT_VALIDATION_LEVEL
        command["validationAction"] = spec.validation_action or DEFAULT_VALIDATION_ACTION
    elif spec.kind != "view":
        # create takes the level and action without a validator (they apply to one
        # added later); leaving them out would plan a collMod right after apply.
        if spec.validation_level:
            command["validationLevel"] = spec.validation_level
        if spec.validation_action:
            command["validationAction"] = spec.validation_action
    if spec.change_stream_pre_and_post_images:
        command["changeStreamPreAndPostImages"] = {"enabled": True}
    return Operation(spec.db, spec.name, reason, kind="create-collection", command=command)


def create_index(
    db: str, collection: str, index: IndexSpec, reason: str, **flags: Any
) -> Operation:
    command = {"createIndexes": collection, "indexes": [index.create_spec()]}
    return Operation(
        db, collection, reason, kind="create-index", index=index.name, command=command, **flags
    )


def drop_index(db: str, collection: str, name: str, reason: str) -> Operation:
    command = {"dropIndexes": collection, "index": name}
    return Operation(
        db, collection, reason, destructive=True, kind="drop-index", index=name, command=command
    )


# --------------------------------------------------------------------------- normalisation


def canonical(value: Any) -> Any:
    """A comparable form of a document: numbers by value, mapping key order ignored,
    dates as UTC milliseconds.

    A YAML timestamp is timezone-aware (or naive, meaning UTC) and has
    microseconds; pymongo returns a naive UTC datetime cut to the millisecond
    BSON stores. Both reduce to the same milliseconds since the epoch.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, dt.datetime):
        return ("date", utc_milliseconds(value))
    if isinstance(value, int | float):
        number = float(value)
        return ("number", number if not math.isnan(number) else "nan")
    if isinstance(value, Mapping):
        return ("doc", tuple(sorted((str(k), canonical(v)) for k, v in value.items())))
    if isinstance(value, list | tuple):
        return ("list", tuple(canonical(item) for item in value))
    return ("other", repr(value))


def utc_milliseconds(value: dt.datetime) -> int:
    """Milliseconds since the epoch of a datetime, naive meaning UTC (as BSON stores it)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def ordered_key(key: Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    """An index key pattern in order, numbers by value (1 == 1.0 == Int64(1))."""
    result = []
    for name, value in key:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = int(value) if float(value).is_integer() else float(value)
        result.append((str(name), value))
    return tuple(result)


def full_collation(collation: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Fill a collation with the locale's defaults; None for no collation or "simple"."""
    if not collation or collation.get("locale") == "simple":
        return None
    locale = str(collation["locale"])
    filled: dict[str, Any] = {"locale": locale, **COLLATION_DEFAULTS}
    filled.update(LOCALE_COLLATION_DEFAULTS.get(locale, {}))
    filled.update({k: v for k, v in collation.items() if k != "version"})
    return filled


def text_index_form(
    keys: tuple[tuple[str, Any], ...], options: Mapping[str, Any]
) -> tuple[tuple[tuple[str, Any], ...], dict[str, int]]:
    """Return a text index's key and weights as the server stores them.

    The text fields collapse into ``_fts: "text", _ftsx: 1`` where the first
    text field was; every text field gets a weight (default 1), and "$**"
    gives ``{"$**": 1}`` (mongo: fts_spec.cpp fixSpec).
    """
    weights = {str(k): int(v) for k, v in (options.get("weights") or {}).items()}
    stored: list[tuple[str, Any]] = []
    placed = False
    for name, value in keys:
        if value == "text":
            weights.setdefault(name, 1)
            if not placed:
                stored.extend([("_fts", "text"), ("_ftsx", 1)])
                placed = True
        else:
            stored.append((name, value))
    return tuple(stored), dict(sorted(weights.items()))


def _normal_index(
    key: tuple[tuple[str, Any], ...],
    options: Mapping[str, Any],
    collection_collation: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """Reduce an index (declared or observed) to the fields that matter, with defaults removed."""
    normal: dict[str, Any] = {}
    key = ordered_key(key)
    is_stored_text = any(name == "_fts" for name, _ in key)
    if is_stored_text or any(value == "text" for _, value in key):
        if is_stored_text:  # already in the server's form
            weights = {str(k): int(v) for k, v in (options.get("weights") or {}).items()}
        else:
            key, weights = text_index_form(key, options)
        normal["weights"] = dict(sorted(weights.items()))
        normal["default_language"] = options.get("default_language", "english")
        normal["language_override"] = options.get("language_override", "language")
    normal["key"] = key
    for name, value in options.items():
        if name in IGNORED_INDEX_FIELDS or name in ("key", "name", "weights", "collation"):
            continue
        if name in ("default_language", "language_override"):
            continue
        if name in INDEX_OPTION_DEFAULTS and value is INDEX_OPTION_DEFAULTS[name]:
            continue  # unique/sparse/hidden: false is the default the server omits
        if name == "expireAfterSeconds":
            value = int(value)
        normal[name] = value
    collation = full_collation(options.get("collation") or collection_collation)
    if collation:
        normal["collation"] = collation
    return normal


def desired_index(index: IndexSpec, collection: CollectionSpec) -> dict[str, Any]:
    return _normal_index(index.keys, index.options, collection.collation)


def observed_index(spec: Mapping[str, Any]) -> dict[str, Any]:
    # The server already applied the collection's default collation to the index.
    return _normal_index(tuple(spec["key"].items()), spec, None)


def index_differences(desired: dict[str, Any], observed: dict[str, Any]) -> list[str]:
    """Return the names of the fields that differ between two normal indexes."""
    names = sorted(set(desired) | set(observed), key=lambda n: (n != "key", n))
    return [n for n in names if canonical(desired.get(n)) != canonical(observed.get(n))]


# --------------------------------------------------------------------------- planning


def plan_schema(catalog: Catalog, observed: ObservedSchema) -> list[Operation]:
    """Given the catalog and the server's collections, return the operations that make
    the server match, in the order they must run.

    Creations come first and drops last, so that where a new index can coexist
    with the one it replaces it is built before the old one goes. Operations
    that destroy data or indexes are marked ``destructive``; creates that can
    only run after such a drop are marked ``needs_drop``.
    """
    operations: list[Operation] = []
    desired_names = {(c.db, c.name) for c in catalog.collections}
    # Views go last: a view may be defined on a collection created in this plan.
    ordered = sorted(catalog.collections, key=lambda c: (c.db, c.kind == "view"))
    for spec in ordered:
        found = observed.find(spec.db, spec.name)
        if found is None:
            operations.append(create_collection(spec, "not on the server"))
            operations.extend(
                create_index(spec.db, spec.name, index, "not on the server")
                for index in spec.indexes
            )
            continue
        operations.extend(_plan_collection(spec, found))
    for found in observed.collections:
        if found.db in catalog.databases and (found.db, found.name) not in desired_names:
            operations.append(
                Operation(
                    found.db,
                    found.name,
                    "on the server but not in the catalog",
                    destructive=True,
                    kind="drop-collection",
                    command={"drop": found.name},
                )
            )
    return operations


def _plan_collection(spec: CollectionSpec, found: ObservedCollection) -> list[Operation]:
    recreate_reason = _recreate_reason(spec, found)
    if recreate_reason:
        drop = Operation(
            spec.db,
            spec.name,
            f"{recreate_reason}; MongoDB cannot change this in place, so the collection "
            "is dropped (with its data) and created again",
            destructive=True,
            kind="drop-collection",
            command={"drop": spec.name},
        )
        create = create_collection(spec, recreate_reason)
        indexes = [
            create_index(spec.db, spec.name, index, "collection recreated", needs_drop=True)
            for index in spec.indexes
        ]
        return [drop, _needing_drop(create), *indexes]

    operations = _modify_collection(spec, found)
    if spec.kind != "view":
        operations.extend(_plan_indexes(spec, found))
    return operations


def _needing_drop(operation: Operation) -> Operation:
    return Operation(**{**operation.__dict__, "needs_drop": True})


def _recreate_reason(spec: CollectionSpec, found: ObservedCollection) -> str | None:
    options = found.options
    if spec.kind != found.type:
        return f"is a {found.type} on the server, a {spec.kind} in the catalog"
    if canonical(full_collation(spec.collation)) != canonical(
        full_collation(options.get("collation"))
    ):
        return "default collation differs"
    if bool(spec.capped) != bool(options.get("capped")):
        return "capped in one and not the other"
    if spec.timeseries:
        server = options.get("timeseries") or {}
        for name in ("timeField", "metaField"):
            if spec.timeseries.get(name) != server.get(name):
                return f"time-series {name} differs"
        wanted = spec.timeseries.get("granularity")
        current = server.get("granularity")
        if (
            wanted
            and current
            and GRANULARITY_ORDER.index(wanted) < GRANULARITY_ORDER.index(current)
        ):
            return f"time-series granularity can only increase ({current} to {wanted})"
        if "bucketMaxSpanSeconds" in spec.timeseries:
            for name in ("bucketMaxSpanSeconds", "bucketRoundingSeconds"):
                if int(server.get(name, -1)) > int(spec.timeseries[name]):
                    return f"time-series {name} can only increase"
    return None


def _modify_collection(spec: CollectionSpec, found: ObservedCollection) -> list[Operation]:
    options = found.options
    command: dict[str, Any] = {"collMod": spec.name}
    reasons: list[str] = []
    if spec.kind == "view":
        if spec.view_on != options.get("viewOn") or canonical(
            list(spec.pipeline or ())
        ) != canonical(list(options.get("pipeline") or [])):
            command["viewOn"] = spec.view_on
            command["pipeline"] = list(spec.pipeline or ())
            reasons.append("view definition differs")
    else:
        wanted_validator = spec.validator or {}
        current_validator = options.get("validator") or {}
        wanted_level = spec.validation_level or DEFAULT_VALIDATION_LEVEL
        wanted_action = spec.validation_action or DEFAULT_VALIDATION_ACTION
        current_level = options.get("validationLevel", DEFAULT_VALIDATION_LEVEL)
        current_action = options.get("validationAction", DEFAULT_VALIDATION_ACTION)
        if canonical(wanted_validator) != canonical(current_validator):
            reasons.append("validator differs" if wanted_validator else "validator removed")
        if wanted_level != current_level:
            reasons.append(f"validation level {current_level} -> {wanted_level}")
        if wanted_action != current_action:
            reasons.append(f"validation action {current_action} -> {wanted_action}")
        if reasons:
            command["validator"] = wanted_validator
            command["validationLevel"] = wanted_level
            command["validationAction"] = wanted_action
        if spec.capped:
            size, maximum = spec.capped["size"], spec.capped.get("max")
            current_size = int(options.get("size", 0))
            # the server rounds a capped size up to a multiple of 256 bytes
            if current_size not in (size, -(-size // 256) * 256):
                command["cappedSize"] = size
                reasons.append(f"capped size {current_size} -> {size}")
            if maximum is not None and int(options.get("max", 0) or 0) != maximum:
                command["cappedMax"] = maximum
                reasons.append(f"capped max {options.get('max')} -> {maximum}")
        if spec.timeseries:
            server = options.get("timeseries") or {}
            wanted = spec.timeseries.get("granularity")
            if wanted and wanted != server.get("granularity"):
                command["timeseries"] = {"granularity": wanted}
                reasons.append(f"time-series granularity {server.get('granularity')} -> {wanted}")
            elif "bucketMaxSpanSeconds" in spec.timeseries and any(
                int(server.get(n, -1)) != int(spec.timeseries[n])
                for n in ("bucketMaxSpanSeconds", "bucketRoundingSeconds")
            ):
                command["timeseries"] = {
                    "bucketMaxSpanSeconds": spec.timeseries["bucketMaxSpanSeconds"],
                    "bucketRoundingSeconds": spec.timeseries["bucketRoundingSeconds"],
                }
                reasons.append("time-series bucketing differs")
            raw_expiry = options.get("expireAfterSeconds")
            current_expiry = None if raw_expiry is None or raw_expiry == "off" else int(raw_expiry)
            if current_expiry != spec.expire_after_seconds:
                command["expireAfterSeconds"] = (
                    "off" if spec.expire_after_seconds is None else spec.expire_after_seconds
                )
                reasons.append(
                    f"expireAfterSeconds {current_expiry} -> {spec.expire_after_seconds}"
                )
    wanted_images = bool(spec.change_stream_pre_and_post_images)
    current_images = bool((options.get("changeStreamPreAndPostImages") or {}).get("enabled"))
    if wanted_images != current_images:
        command["changeStreamPreAndPostImages"] = {"enabled": wanted_images}
        reasons.append(f"changeStreamPreAndPostImages {current_images} -> {wanted_images}")
    if not reasons:
        return []
    return [
        Operation(spec.db, spec.name, "; ".join(reasons), kind="modify-collection", command=command)
    ]


def _default_timeseries_index(spec: CollectionSpec, index: Mapping[str, Any]) -> bool:
    """The {meta: 1, time: 1} index MongoDB 6.3+ creates for a time-series collection."""
    if not spec.timeseries or "metaField" not in spec.timeseries:
        return False
    expected = ((spec.timeseries["metaField"], 1), (spec.timeseries["timeField"], 1))
    return ordered_key(index["key"].items()) == expected


def _plan_indexes(spec: CollectionSpec, found: ObservedCollection) -> list[Operation]:
    observed = {str(index["name"]): index for index in found.indexes if index.get("name") != "_id_"}
    declared_names = {index.name for index in spec.indexes}
    modify: list[Operation] = []
    create_first: list[Operation] = []
    drops: list[Operation] = []
    create_after: list[Operation] = []

    # The index `shard apply` builds to support a shard key is the catalog's too.
    from toolkit.plan.shard import implied_shard_index  # plan.shard builds on this module

    implied = implied_shard_index(spec)
    if implied is not None:
        declared_names = declared_names | {implied.name}
    extras = {
        name: index
        for name, index in observed.items()
        if name not in declared_names and not _default_timeseries_index(spec, index)
    }
    extra_shapes = {name: observed_index(index) for name, index in extras.items()}

    for index in spec.indexes:
        wanted = desired_index(index, spec)
        current = observed.get(index.name)
        if current is None:
            # Same key and identifying options under another name: MongoDB refuses a
            # second one (code 85), so the old one has to go first.
            clash = next(
                (name for name, shape in extra_shapes.items() if _same_identity(wanted, shape)),
                None,
            )
            if clash:
                create_after.append(
                    create_index(
                        spec.db, spec.name, index, f"replaces {clash} (renamed)", needs_drop=True
                    )
                )
            else:
                create_first.append(create_index(spec.db, spec.name, index, "not on the server"))
            continue
        differences = index_differences(wanted, observed_index(current))
        if not differences:
            continue
        in_place = [d for d in differences if d in IN_PLACE_INDEX_OPTIONS]
        rebuild = [d for d in differences if d not in IN_PLACE_INDEX_OPTIONS]
        if "expireAfterSeconds" in in_place and "expireAfterSeconds" not in wanted:
            rebuild.append("expireAfterSeconds removed")  # collMod cannot remove a TTL
        if not rebuild:
            modify.append(_modify_index(spec, index, wanted, observed_index(current)))
            continue
        reason = "options differ: " + ", ".join(differences) + "; an index is rebuilt"
        drops.append(drop_index(spec.db, spec.name, index.name, reason))
        create_after.append(create_index(spec.db, spec.name, index, reason, needs_drop=True))

    for name in extras:
        drops.append(drop_index(spec.db, spec.name, name, "on the server but not in the catalog"))
    return [*modify, *create_first, *drops, *create_after]


def _same_identity(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    identifying = (
        "key",
        "unique",
        "sparse",
        "partialFilterExpression",
        "collation",
        "wildcardProjection",
    )
    return all(canonical(a.get(n)) == canonical(b.get(n)) for n in identifying)


def _modify_index(
    spec: CollectionSpec, index: IndexSpec, wanted: Mapping[str, Any], current: Mapping[str, Any]
) -> Operation:
    change: dict[str, Any] = {"name": index.name}
    reasons = []
    if canonical(wanted.get("expireAfterSeconds")) != canonical(current.get("expireAfterSeconds")):
        change["expireAfterSeconds"] = wanted["expireAfterSeconds"]
        before, after = current.get("expireAfterSeconds"), wanted["expireAfterSeconds"]
        reasons.append(f"expireAfterSeconds {before} -> {after}")
    if bool(wanted.get("hidden")) != bool(current.get("hidden")):
        change["hidden"] = bool(wanted.get("hidden"))
        reasons.append("hidden" if change["hidden"] else "unhidden")
    return Operation(
        spec.db,
        spec.name,
        "; ".join(reasons),
        kind="modify-index",
        index=index.name,
        command={"collMod": spec.name, "index": change},
    )


def pending(operations: Iterable[Operation], allow_drop: bool) -> list[Operation]:
    """The operations ``apply`` will run: all with ``allow_drop``, else none that
    destroys something or that must wait for such a drop."""
    return [op for op in operations if allow_drop or not (op.destructive or op.needs_drop)]
