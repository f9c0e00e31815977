"""BSON facts about Python values: type aliases, comparison keys, millisecond dates.

The generator and the validator agree on these, and so does MongoDB: a plain
``int`` is an ``int`` (int32) when it fits in 32 bits and a ``long``
otherwise, ``Int64`` is always a ``long``, ``bool`` is never a number, and
numbers of different types compare by value (1 == 1.0 == Int64(1)).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.binary import Binary
from bson.datetime_ms import DatetimeMS
from bson.dbref import DBRef

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

NUMBER_TYPES = frozenset({"int", "long", "double", "decimal"})

# Every alias $jsonSchema's bsonType accepts ($type's string aliases), plus "number".
BSON_TYPE_ALIASES = frozenset(
    {
        "double",
        "string",
        "object",
        "array",
        "binData",
        "undefined",
        "objectId",
        "bool",
        "date",
        "null",
        "regex",
        "dbPointer",
        "javascript",
        "symbol",
        "javascriptWithScope",
        "int",
        "timestamp",
        "long",
        "decimal",
        "minKey",
        "maxKey",
    }
)
# JSON Schema's `type` names, in BSON terms ("integer" is not supported by MongoDB).
JSON_TYPE_ALIASES = {
    "array": "array",
    "boolean": "bool",
    "null": "null",
    "object": "object",
    "string": "string",
}

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_NAIVE = dt.datetime(1970, 1, 1)
_RE_PATTERN = type(re.compile(""))


class _Missing:
    """A field that is not in the document (unlike null, which is)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

# Exact Python type -> alias, for the common cases (one dict lookup).
_ALIAS_BY_TYPE: dict[type, str] = {
    str: "string",
    bool: "bool",
    float: "double",
    Int64: "long",
    dict: "object",
    list: "array",
    tuple: "array",
    type(None): "null",
    ObjectId: "objectId",
    dt.datetime: "date",
    DatetimeMS: "date",
    Decimal128: "decimal",
    Binary: "binData",
    bytes: "binData",
    uuid.UUID: "binData",
    Regex: "regex",
    _RE_PATTERN: "regex",
    Timestamp: "timestamp",
    MinKey: "minKey",
    MaxKey: "maxKey",
}


def bson_type_name(value: Any) -> str:
    """Return the BSON type alias of ``value`` ("int", "long", "string", "objectId", ...).

    Raise TypeError for a value BSON cannot hold.
    """
    value_type = type(value)
    alias = _ALIAS_BY_TYPE.get(value_type)
    if alias is not None:
        return alias
    if value_type is int:
        return "int" if INT32_MIN <= value <= INT32_MAX else "long"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if INT32_MIN <= value <= INT32_MAX else "long"
    if isinstance(value, Code):  # a str subclass: test before str
        return "javascript" if value.scope is None else "javascriptWithScope"
    if isinstance(value, str):
        return "string"
    if isinstance(value, float):
        return "double"
    if isinstance(value, DBRef | Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dt.datetime):
        return "date"
    if isinstance(value, bytes | Binary):
        return "binData"
    raise TypeError(f"no BSON type for {value_type.__name__}")


def is_number(value: Any) -> bool:
    """True for int, long, double and decimal values (never for bool)."""
    value_type = type(value)
    if value_type is int or value_type is float or value_type is Int64:
        return True
    return isinstance(value, int | float | Decimal128) and not isinstance(value, bool)


def number_value(value: Any) -> int | float | Decimal:
    """A Python number that compares exactly with other numbers (Decimal128 -> Decimal)."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return value


def datetime_to_millis(value: dt.datetime | DatetimeMS) -> int:
    """Milliseconds since the epoch of a date (a naive datetime is UTC, as in BSON)."""
    if isinstance(value, DatetimeMS):
        return int(value)
    if value.tzinfo is not None:
        delta = value - EPOCH
    else:
        delta = value - _EPOCH_NAIVE
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def millis_to_datetime(millis: int) -> dt.datetime:
    """The UTC datetime of ``millis`` since the epoch (BSON dates hold milliseconds)."""
    return EPOCH + dt.timedelta(milliseconds=millis)


def bson_key(value: Any, *, ordered: bool = True) -> Any:
    """A hashable key under which values MongoDB deems equal collide.

    Numbers compare by value across int, long, double and decimal (Python's
    numeric hash already agrees: hash(1) == hash(1.0) == hash(Decimal(1))),
    bool is not a number, dates compare by millisecond, documents field by
    field: in order when ``ordered`` (index keys), in any order otherwise
    (enum and uniqueItems, which MongoDB compares without field order).
    """
    value_type = type(value)
    if value_type is str:
        return value
    if value_type is int or value_type is Int64:
        return value
    if value_type is float:
        return ("nan",) if math.isnan(value) else value
    if value_type is bool:
        return ("bool", value)
    if value is None:
        return ("null",)
    if value_type is ObjectId:
        return ("oid", value.binary)
    if value_type is dict or isinstance(value, Mapping | DBRef):
        if isinstance(value, DBRef):
            value = value.as_doc()
        items = tuple((str(k), bson_key(v, ordered=ordered)) for k, v in value.items())
        return ("object", items if ordered else frozenset(items))
    if value_type is list or value_type is tuple:
        return ("array", tuple(bson_key(item, ordered=ordered) for item in value))
    if isinstance(value, dt.datetime | DatetimeMS):
        return ("date", datetime_to_millis(value))
    if isinstance(value, Decimal128):
        number = value.to_decimal()
        return ("nan",) if number.is_nan() else number
    if isinstance(value, Code):
        scope = None if value.scope is None else bson_key(value.scope, ordered=ordered)
        return ("code", str(value), scope)
    if isinstance(value, bool):
        return ("bool", bool(value))
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return bson_key(float(value), ordered=ordered)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Binary):
        return ("bin", value.subtype, bytes(value))
    if isinstance(value, bytes):
        return ("bin", 0, value)
    if isinstance(value, uuid.UUID):
        return ("bin", 4, value.bytes)
    if isinstance(value, Regex):
        return ("regex", str(value.pattern), str(value.flags))
    if isinstance(value, _RE_PATTERN):
        return ("regex", value.pattern, str(value.flags))
    if isinstance(value, Timestamp):
        return ("timestamp", value.time, value.inc)
    if isinstance(value, MinKey):
        return ("minKey",)
    if isinstance(value, MaxKey):
        return ("maxKey",)
    if value is MISSING:
        return ("missing",)
    raise TypeError(f"no BSON type for {value_type.__name__}")
