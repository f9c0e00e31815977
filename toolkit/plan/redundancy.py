"""Is one index covered by another? Shared by catalog lint and `indexes report`.

The rules (stricter than pt-mongodb-index-check, which compares keys as joined
strings so that {f1: 1} looks like a prefix of {f10: 1}):

- ``duplicate``: the key patterns are equal. Whatever else holds, two indexes
  whose key, unique, sparse, partial filter, collation and wildcard projection
  are all equal are duplicates, unique and TTL ones included: MongoDB counts
  them as one index and refuses the second name (code 85).
- ``redundant``: A's key is an ordered prefix of B's, or of B's with every
  direction flipped, comparing whole field names; A uses only 1/-1. An equal
  key with every direction flipped ({a: 1, b: -1} and {a: -1, b: 1}) is a
  whole-key prefix: the two serve the same queries.
- Either verdict needs: A is not unique, not TTL and not ``_id_``; B is not
  hidden; B is not sparse unless A is; B is not partial unless A's filter is
  the same; both have equal collations.
- B cannot cover A through a text, 2d, 2dsphere or wildcard index: those leave
  documents out or answer other queries, so a plain prefix query cannot rely
  on them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from toolkit.plan.schema import canonical, full_collation

KeyPattern = tuple[tuple[str, Any], ...]

# Key values whose index holds only some documents or answers other queries.
SPECIAL_KEY_VALUES = frozenset({"text", "2d", "2dsphere", "geoHaystack"})


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
    wildcard_projection: Any = None

    @classmethod
    def from_options(cls, name: str, keys: KeyPattern, options: Mapping[str, Any]) -> IndexShape:
        """Build a shape from createIndexes options or a listIndexes/$indexStats spec."""
        return cls(
            name=name,
            keys=tuple(keys),
            unique=bool(options.get("unique")),
            sparse=bool(options.get("sparse")),
            hidden=bool(options.get("hidden")),
            ttl="expireAfterSeconds" in options,
            partial=options.get("partialFilterExpression"),
            collation=options.get("collation"),
            wildcard_projection=options.get("wildcardProjection"),
        )

    @property
    def is_constraint(self) -> bool:
        """True for indexes that enforce something: _id_, unique, TTL."""
        return self.name == "_id_" or self.unique or self.ttl


def _is_wildcard(field_name: str) -> bool:
    return field_name == "$**" or field_name.endswith(".$**")


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


def _can_cover(keys: KeyPattern) -> bool:
    """False for text, geo and wildcard indexes: they cannot stand in for a plain index."""
    for name, value in keys:
        if name == "_fts" or _is_wildcard(name):
            return False
        if isinstance(value, str) and value in SPECIAL_KEY_VALUES:
            return False
    return True


def _same_collation(a: Any, b: Any) -> bool:
    return canonical(full_collation(a)) == canonical(full_collation(b))


def _same_filter(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


def _same_key(a: KeyPattern, b: KeyPattern) -> bool:
    return len(a) == len(b) and all(
        name_a == name_b and _same_value(value_a, value_b)
        for (name_a, value_a), (name_b, value_b) in zip(a, b, strict=True)
    )


def same_identity(a: IndexShape, b: IndexShape) -> bool:
    """True when MongoDB sees one index in both: equal key, unique, sparse, partial
    filter, collation and wildcard projection (IndexDescriptor::compareIndexOptions).
    createIndexes refuses the second under another name (code 85)."""
    return (
        _same_key(a.keys, b.keys)
        and a.unique == b.unique
        and a.sparse == b.sparse
        and _same_filter(a.partial, b.partial)
        and _same_collation(a.collation, b.collation)
        and canonical(a.wildcard_projection) == canonical(b.wildcard_projection)
    )


def coverage(a: IndexShape, b: IndexShape) -> str | None:
    """Return "duplicate" or "redundant" when index ``a`` is covered by ``b``, else None."""
    if a.name == b.name or a.name == "_id_":
        return None
    if same_identity(a, b):
        return "duplicate"
    if a.is_constraint:
        return None
    if b.hidden:
        return None
    if b.sparse and not a.sparse:
        return None
    if b.partial is not None and (a.partial is None or not _same_filter(a.partial, b.partial)):
        return None
    if a.partial is not None and b.partial is None:
        # b indexes more documents than a; a query on a's filter can still use b,
        # but a is only redundant when the filters are the same: be conservative.
        return None
    if not _same_collation(a.collation, b.collation):
        return None
    if _same_key(a.keys, b.keys):
        return "duplicate"
    if len(a.keys) > len(b.keys) or not _can_cover(b.keys):
        return None
    if any(_is_wildcard(name) for name, _ in a.keys):
        return None
    directions_a = [_direction(value) for _, value in a.keys]
    if any(direction is None for direction in directions_a):
        return None
    prefix = b.keys[: len(a.keys)]
    if [name for name, _ in a.keys] != [name for name, _ in prefix]:
        return None
    directions_b = [_direction(value) for _, value in prefix]
    if any(direction is None for direction in directions_b):
        return None
    if directions_a == directions_b:
        return "redundant"
    if directions_a == [-d for d in directions_b if d is not None]:
        return "redundant"
    return None
