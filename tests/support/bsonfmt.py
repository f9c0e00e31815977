"""Render BSON values the way mongod writes them into error messages.

mongod builds messages such as ``dup key: { a: 1 }`` or ``already exists, but
with different options: { uuid: UUID("...") }`` with BSONObj::toString, which
is neither JSON nor shell syntax. Tests compare these messages, so the test
server renders values the same way.
"""

from __future__ import annotations

import datetime
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.code import Code

_EPOCH = datetime.datetime(1970, 1, 1)


def render(value: Any) -> str:
    """Return ``value`` as BSONObj::toString writes it (``{ a: 1, b: "x" }``)."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{key}: {render(item)}" for key, item in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[ " + ", ".join(render(item) for item in value) + " ]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Int64):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _render_double(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, ObjectId):
        return f"ObjectId('{value}')"
    if isinstance(value, uuid.UUID):
        return f'UUID("{value}")'
    if isinstance(value, Binary):
        if value.subtype == 4 and len(value) == 16:
            return f'UUID("{uuid.UUID(bytes=bytes(value))}")'
        return f"BinData({value.subtype}, {bytes(value).hex().upper()})"
    if isinstance(value, bytes):
        return f"BinData(0, {value.hex().upper()})"
    if isinstance(value, datetime.datetime):
        return f"new Date({to_millis(value)})"
    if isinstance(value, Timestamp):
        return f"Timestamp({value.time}, {value.inc})"
    if isinstance(value, Regex):
        return f"/{value.pattern}/{_regex_flags(value.flags)}"
    if hasattr(value, "pattern") and hasattr(value, "flags"):  # re.Pattern
        return f"/{value.pattern}/"
    if isinstance(value, Decimal128):
        return f"NumberDecimal({value})"
    if isinstance(value, MinKey):
        return "MinKey"
    if isinstance(value, MaxKey):
        return "MaxKey"
    if isinstance(value, Code):
        return str(value)
    return str(value)


def to_millis(value: datetime.datetime) -> int:
    """Milliseconds since the epoch for a naive-UTC or aware datetime."""
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _render_double(value: float) -> str:
    if math.isnan(value):
        return "nan.0"
    if math.isinf(value):
        return "inf.0" if value > 0 else "-inf.0"
    if value == int(value) and abs(value) < 1e16:
        return f"{int(value)}.0"
    return repr(value)


def _regex_flags(flags: Any) -> str:
    if isinstance(flags, str):
        return flags
    letters = ""
    for bit, letter in ((2, "i"), (4, "l"), (8, "m"), (16, "s"), (32, "u"), (64, "x")):
        if flags & bit:
            letters += letter
    return letters
