"""Teach mongomock 4.3 to compare the BSON types it leaves out.

mongomock's filtering raises NotImplementedError ("does not know how to sort")
for Timestamp, MinKey and MaxKey, and compares Decimal128 with Python's
operators (a TypeError against int). The oplog is queried by ``ts`` ranges
and zone ranges hold MinKey/MaxKey, so the test server installs this once:
types get their place in the BSON comparison order
(https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/)
and Decimal128 compares as a number.
"""

from __future__ import annotations

import decimal
from typing import Any

from bson import Decimal128, MaxKey, MinKey, Timestamp
from mongomock import filtering

_INSTALLED = False


def install() -> None:
    """Patch mongomock.filtering (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    original_type = filtering._get_compare_type
    original_compare = filtering.bson_compare

    def compare_type(value: Any) -> int:
        if isinstance(value, MinKey):
            return 1
        if isinstance(value, MaxKey):
            return 127
        if isinstance(value, Timestamp):
            return 47  # after Date (45), before Regex (50)
        if isinstance(value, Decimal128):
            return 10  # a number
        return original_type(value)

    def compare(op: Any, left: Any, right: Any, can_compare_types: bool = True) -> Any:
        if isinstance(left, (MinKey, MaxKey)) or isinstance(right, (MinKey, MaxKey)):
            return op(compare_type(left), compare_type(right))
        if isinstance(left, Decimal128):
            left = left.to_decimal()
        if isinstance(right, Decimal128):
            right = right.to_decimal()
        if isinstance(left, decimal.Decimal) and isinstance(right, float):
            right = decimal.Decimal(repr(right))
        if isinstance(right, decimal.Decimal) and isinstance(left, float):
            left = decimal.Decimal(repr(left))
        return original_compare(op, left, right, can_compare_types)

    filtering._get_compare_type = compare_type
    filtering.bson_compare = compare
    _INSTALLED = True
