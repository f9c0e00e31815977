"""Collection metadata the test server keeps exactly: options, UUIDs, index specs.

mongomock holds the documents; everything a tool compares field by field
(listCollections options, listIndexes specs, $indexStats since) lives here, in
the stored forms MongoDB 7.0 returns (../shared/MONGODB-FACTS.md sections 1-2).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bson import Binary, Int64

from tests.support.errors import CommandError

# CollectionOptions::appendBSON order (mongo:src/mongo/db/catalog/collection_options.cpp).
OPTION_ORDER = (
    "capped",
    "size",
    "max",
    "storageEngine",
    "indexOptionDefaults",
    "validator",
    "validationLevel",
    "validationAction",
    "collation",
    "viewOn",
    "pipeline",
    "changeStreamPreAndPostImages",
    "timeseries",
    "expireAfterSeconds",
)

VALIDATION_LEVELS = ("off", "strict", "moderate")
VALIDATION_ACTIONS = ("error", "warn")

# Granularity defaults (mongo: timeseries_options.cpp): bucketMaxSpanSeconds and
# bucketRoundingSeconds for each granularity.
TIMESERIES_GRANULARITY = {
    "seconds": (3600, 60),
    "minutes": (86400, 3600),
    "hours": (2592000, 86400),
}

CREATE_FIELDS = frozenset(
    {
        "capped",
        "size",
        "max",
        "autoIndexId",
        "idIndex",
        "storageEngine",
        "indexOptionDefaults",
        "validator",
        "validationLevel",
        "validationAction",
        "collation",
        "viewOn",
        "pipeline",
        "changeStreamPreAndPostImages",
        "timeseries",
        "expireAfterSeconds",
        "clusteredIndex",
        "encryptedFields",
        "temp",
        "flags",
    }
)


def new_uuid() -> Binary:
    """A fresh collection UUID as BSON binary subtype 4 (what mongod stores)."""
    return Binary.from_uuid(uuid.uuid4())


def utcnow() -> datetime.datetime:
    """Naive UTC now, truncated to milliseconds as BSON dates are."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def bson_number(value: Any) -> Any:
    """appendNumber(long long): int32 when it fits, Int64 otherwise."""
    value = int(value)
    if -(2**31) <= value < 2**31:
        return value
    return Int64(value)


@dataclass
class IndexEntry:
    """One index: its stored spec and what the server needs to enforce it."""

    spec: dict[str, Any]
    created: datetime.datetime = field(default_factory=utcnow)
    # frozen key -> set of frozen _ids holding it (unique and _id indexes only)
    keymap: dict[Any, set[Any]] | None = None

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def key(self) -> dict[str, Any]:
        return self.spec["key"]

    @property
    def is_unique(self) -> bool:
        return self.name == "_id_" or bool(self.spec.get("unique"))


@dataclass
class CollectionInfo:
    """A namespace known to the catalog: a collection, a view or a time-series view."""

    db: str
    name: str
    kind: str = "collection"  # "collection" | "view" | "timeseries"
    options: dict[str, Any] = field(default_factory=dict)
    uuid: Binary | None = field(default_factory=new_uuid)
    indexes: list[IndexEntry] = field(default_factory=list)
    created: datetime.datetime = field(default_factory=utcnow)
    has_id_index: bool = True

    @property
    def ns(self) -> str:
        return f"{self.db}.{self.name}"

    @property
    def is_view(self) -> bool:
        return self.kind == "view"

    @property
    def is_capped(self) -> bool:
        return bool(self.options.get("capped"))

    def find_index(self, name: str) -> IndexEntry | None:
        for index in self.indexes:
            if index.name == name:
                return index
        return None

    def find_index_by_key(self, key: Mapping[str, Any]) -> list[IndexEntry]:
        wanted = list(key.items())
        return [index for index in self.indexes if _same_key(list(index.key.items()), wanted)]

    def list_collections_entry(self) -> dict[str, Any]:
        """The listCollections item (FACTS section 2)."""
        if self.kind == "view":
            return {
                "name": self.name,
                "type": "view",
                "options": dict(self.options),
                "info": {"readOnly": True},
            }
        if self.kind == "timeseries":
            return {
                "name": self.name,
                "type": "timeseries",
                "options": dict(self.options),
                "info": {"readOnly": False},
            }
        entry: dict[str, Any] = {
            "name": self.name,
            "type": "collection",
            "options": dict(self.options),
            "info": {"readOnly": False, "uuid": self.uuid},
        }
        if self.has_id_index:
            id_index = self.find_index("_id_")
            entry["idIndex"] = dict(id_index.spec) if id_index else id_index_spec()
        return entry


def _same_key(left: list[tuple[str, Any]], right: list[tuple[str, Any]]) -> bool:
    if len(left) != len(right):
        return False
    for (left_field, left_value), (right_field, right_value) in zip(left, right, strict=True):
        if left_field != right_field:
            return False
        if isinstance(left_value, str) or isinstance(right_value, str):
            if left_value != right_value:
                return False
        elif float(left_value) != float(right_value):
            return False
    return True


def id_index_spec(collation: dict[str, Any] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"v": 2, "key": {"_id": 1}, "name": "_id_"}
    if collation:
        spec["collation"] = collation
    return spec


def order_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``options`` in the order mongod stores them."""
    ordered = {name: options[name] for name in OPTION_ORDER if name in options}
    for name, value in options.items():
        ordered.setdefault(name, value)
    return ordered


def parse_create_options(
    command: Mapping[str, Any], *, check_validator, normalize_collation
) -> tuple[str, dict[str, Any]]:
    """Turn a ``create`` command into (kind, stored options).

    ``check_validator(validator)`` raises CommandError for a validator mongod
    would refuse; ``normalize_collation(doc)`` returns the filled-in collation
    (or None for the simple collation). Raise CommandError for invalid options.
    """
    name = next(iter(command))
    options: dict[str, Any] = {}
    for field_name in command:
        if field_name == name or field_name.startswith("$") or field_name in _GENERIC:
            continue
        if field_name not in CREATE_FIELDS:
            raise CommandError(40415, f"BSON field 'create.{field_name}' is an unknown field.")
    if command.get("clusteredIndex") is not None:
        raise CommandError(238, "clustered collections are not supported by the test server")
    if command.get("encryptedFields") is not None:
        raise CommandError(238, "encrypted collections are not supported by the test server")

    kind = "collection"
    if command.get("capped"):
        if "size" not in command:
            raise CommandError(72, "the 'size' field is required when 'capped' is true")
        size = command["size"]
        if not isinstance(size, (int, float)) or isinstance(size, bool) or size <= 0:
            raise CommandError(72, "the 'size' field must be a positive number")
        options["capped"] = True
        options["size"] = bson_number(size)
        if command.get("max"):
            options["max"] = bson_number(command["max"])
    for passthrough in ("storageEngine", "indexOptionDefaults"):
        if command.get(passthrough):
            options[passthrough] = command[passthrough]

    validator = command.get("validator")
    if validator is not None:
        if not isinstance(validator, Mapping):
            raise CommandError(
                14, "BSON field 'create.validator' is the wrong type, expected object"
            )
        if validator:
            check_validator(validator)
            options["validator"] = validator
    if "validationLevel" in command:
        options["validationLevel"] = check_enum(
            "create.validationLevel", command["validationLevel"], VALIDATION_LEVELS
        )
    if "validationAction" in command:
        options["validationAction"] = check_enum(
            "create.validationAction", command["validationAction"], VALIDATION_ACTIONS
        )
    collation = command.get("collation")
    if collation is not None:
        filled = normalize_collation(collation)
        if filled:
            options["collation"] = filled

    if command.get("viewOn") is not None:
        view_on = command["viewOn"]
        if not isinstance(view_on, str) or not view_on:
            raise CommandError(2, "'viewOn' must be a non-empty string")
        pipeline = command.get("pipeline", [])
        if not isinstance(pipeline, list):
            raise CommandError(14, "BSON field 'create.pipeline' is the wrong type, expected array")
        if options.get("capped") or "validator" in options or command.get("timeseries"):
            raise CommandError(
                72, "Invalid option for a view: only viewOn, pipeline and collation are allowed"
            )
        kind = "view"
        options["viewOn"] = view_on
        options["pipeline"] = list(pipeline)
    elif command.get("pipeline") is not None:
        raise CommandError(9, "'pipeline' requires 'viewOn' to also be specified")

    change_stream = command.get("changeStreamPreAndPostImages")
    if change_stream is not None:
        if not isinstance(change_stream, Mapping) or "enabled" not in change_stream:
            raise CommandError(
                40414,
                "BSON field 'create.changeStreamPreAndPostImages.enabled' is missing but a "
                "required field",
            )
        if change_stream["enabled"]:
            options["changeStreamPreAndPostImages"] = {"enabled": True}

    timeseries = command.get("timeseries")
    if timeseries is not None:
        kind = "timeseries"
        options["timeseries"] = timeseries_options(timeseries)
    if command.get("expireAfterSeconds") is not None:
        if kind != "timeseries":
            raise CommandError(
                72,
                "'expireAfterSeconds' option is only supported on time-series collections or "
                "when combined with clusteredIndex",
            )
        seconds = command["expireAfterSeconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
            raise CommandError(2, "'expireAfterSeconds' must be a non-negative number")
        options["expireAfterSeconds"] = Int64(int(seconds))
    return kind, order_options(options)


def timeseries_options(requested: Any) -> dict[str, Any]:
    """Fill in the time-series defaults MongoDB 7.0 stores (FACTS section 2)."""
    if not isinstance(requested, Mapping):
        raise CommandError(14, "BSON field 'create.timeseries' is the wrong type, expected object")
    for field_name in requested:
        if field_name not in (
            "timeField",
            "metaField",
            "granularity",
            "bucketMaxSpanSeconds",
            "bucketRoundingSeconds",
        ):
            raise CommandError(
                40415, f"BSON field 'create.timeseries.{field_name}' is an unknown field."
            )
    time_field = requested.get("timeField")
    if not isinstance(time_field, str) or not time_field:
        raise CommandError(
            40414, "BSON field 'create.timeseries.timeField' is missing but a required field"
        )
    result: dict[str, Any] = {"timeField": time_field}
    if requested.get("metaField") is not None:
        if requested["metaField"] == time_field:
            raise CommandError(
                2, "The 'metaField' and 'timeField' options in the 'timeseries' option must differ"
            )
        result["metaField"] = requested["metaField"]
    has_custom = "bucketMaxSpanSeconds" in requested or "bucketRoundingSeconds" in requested
    if has_custom and "granularity" in requested:
        raise CommandError(
            72,
            "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' cannot be set "
            "together with 'granularity'",
        )
    if has_custom:
        span = requested.get("bucketMaxSpanSeconds")
        rounding = requested.get("bucketRoundingSeconds")
        if span is None or rounding is None or span != rounding:
            raise CommandError(
                72,
                "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' fields must be "
                "present together and must be equal",
            )
        result["bucketMaxSpanSeconds"] = int(span)
        result["bucketRoundingSeconds"] = int(rounding)
        return result
    granularity = requested.get("granularity", "seconds")
    if granularity not in TIMESERIES_GRANULARITY:
        raise CommandError(
            2,
            f"Enumeration value '{granularity}' for field 'create.timeseries.granularity' is not "
            "a valid value.",
        )
    span, rounding = TIMESERIES_GRANULARITY[granularity]
    result["granularity"] = granularity
    result["bucketMaxSpanSeconds"] = span
    result["bucketRoundingSeconds"] = rounding
    return result


def buckets_options(info: CollectionInfo) -> dict[str, Any]:
    """Options of ``system.buckets.<name>`` as listCollections shows them (simplified validator)."""
    time_field = info.options["timeseries"]["timeField"]
    options: dict[str, Any] = {
        "validator": {
            "$jsonSchema": {
                "bsonType": "object",
                "required": ["_id", "control", "data"],
                "properties": {
                    "_id": {"bsonType": "objectId"},
                    "control": {
                        "bsonType": "object",
                        "required": ["version", "min", "max"],
                        "properties": {
                            "version": {"bsonType": "number"},
                            "min": {
                                "bsonType": "object",
                                "required": [time_field],
                                "properties": {time_field: {"bsonType": "date"}},
                            },
                            "max": {
                                "bsonType": "object",
                                "required": [time_field],
                                "properties": {time_field: {"bsonType": "date"}},
                            },
                            "closed": {"bsonType": "bool"},
                            "count": {"bsonType": "number", "minimum": 1},
                        },
                        "additionalProperties": False,
                    },
                    "data": {"bsonType": "object"},
                    "meta": {},
                },
                "additionalProperties": False,
            }
        },
        "clusteredIndex": True,
        "timeseries": dict(info.options["timeseries"]),
    }
    if "expireAfterSeconds" in info.options:
        options["expireAfterSeconds"] = info.options["expireAfterSeconds"]
    return options


def check_enum(field_name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise CommandError(
            2, f"Enumeration value '{value}' for field '{field_name}' is not a valid value."
        )
    return value


# Fields every command may carry; never "unknown".
_GENERIC = frozenset(
    {
        "lsid",
        "txnNumber",
        "autocommit",
        "startTransaction",
        "readConcern",
        "writeConcern",
        "comment",
        "maxTimeMS",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
        "mayBypassWriteBlocking",
        "stmtId",
        "stmtIds",
    }
)
GENERIC_FIELDS = _GENERIC
