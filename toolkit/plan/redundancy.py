"""Is one index covered by another? Shared by catalog lint and `indexes report`.

The rules (stricter than pt-mongodb-index-check, which compares keys as joined
strings so that {f1: 1} looks like a prefix of {f10: 1}):

- ``duplicate``: the key patterns are equal.
- ``redundant``: A's key is an ordered prefix of B's, or of B's with every
  direction flipped, comparing whole field names; A uses only 1/-1.
- Either verdict needs: A is not unique, not TTL and not ``_id_``; B is not
  hidden; B is not sparse unless A is; B is not partial unless A's filter is
  the same; both have equal collations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KeyPattern = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class IndexShape:
    """What the coverage rules need to know about an index."""

    name: str
    keys: KeyPattern
    unique: bool = False
    sparse: bool = False
    hidden: bool = False
    ttl: bool = False
    partial: Any = None
    collation: Any = None

    @classmethod
    def from_options(cls, name: str, keys: KeyPattern, options: dict[str, Any]) -> IndexShape:
        return cls(
            name=name,
            keys=tuple(keys),
            unique=bool(options.get("unique")),
            sparse=bool(options.get("sparse")),
            hidden=bool(options.get("hidden")),
            ttl="expireAfterSeconds" in options,
            partial=options.get("partialFilterExpression"),
            collation=options.get("collation"),
        )


def _direction(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value in (1, -1):
        return int(value)
    return None


def _same_value(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def coverage(a: IndexShape, b: IndexShape) -> str | None:
    """Return "duplicate" or "redundant" when index ``a`` is covered by ``b``, else None."""
    if a.name == b.name:
        return None
    if a.unique or a.ttl or a.name == "_id_":
        return None
    if b.hidden:
        return None
    if b.sparse and not a.sparse:
        return None
    if b.partial is not None and b.partial != a.partial:
        return None
    if a.partial is not None and b.partial is None:
        # b indexes more documents than a; a query on a's filter can still use b,
        # but a is only redundant when the filters are the same: be conservative.
        return None
    if (a.collation or None) != (b.collation or None):
        return None
    if len(a.keys) == len(b.keys) and all(
        name_a == name_b and _same_value(value_a, value_b)
        for (name_a, value_a), (name_b, value_b) in zip(a.keys, b.keys, strict=True)
    ):
        return "duplicate"
    if len(a.keys) >= len(b.keys):
        return None
    directions_a = [_direction(value) for _, value in a.keys]
    if any(direction is None for direction in directions_a):
        return None
    prefix = b.keys[: len(a.keys)]
    if [name for name, _ in a.keys] != [name for name, _ in prefix]:
        return None
    directions_b = [_direction(value) for _, value in prefix]
    if directions_a == directions_b:
        return "redundant"
    if all(d is not None for d in directions_b) and directions_a == [-d for d in directions_b]:  # type: ignore[operator]
        return "redundant"
    return None
