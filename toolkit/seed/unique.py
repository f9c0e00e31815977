"""Unique indexes, as the keys a document would add to them.

A seed run must not produce two documents with the same key in a unique
index: the server would reject the second. ``UniqueTracker`` remembers every
key handed out per unique index (``_id`` included, except ObjectIds the
generator drew itself from 64 random bits and a timestamp: a collision among
a million of them has a probability below 10^-7, so they are not stored and
memory stays flat). ObjectIds that come from elsewhere (a ``ref`` to a
parent, a ``choice``, a ``const``, an ``enum``) repeat easily and are tracked
like any other key.

Keys follow MongoDB's rules: a missing field is null in the key, a sparse
index skips documents that lack every indexed field (an explicit null is
still indexed), arrays index each element (multikey), numbers compare by
value and documents field by field in order. A collation of strength 1 or 2
compares strings without case. A partial index is treated as covering every
document, which is stricter than the server.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from toolkit.catalog.model import CollectionSpec
from toolkit.seed.bsonvalues import MISSING, bson_key
from toolkit.seed.validator import is_array, is_object

_EMPTY_ARRAY = ("empty array",)  # an empty array is indexed as undefined


@dataclass(frozen=True)
class UniqueIndex:
    """The fields of one unique index and how it compares them."""

    name: str
    fields: tuple[str, ...]
    sparse: bool = False
    case_insensitive: bool = False


def unique_indexes(collection: CollectionSpec) -> list[UniqueIndex]:
    """The unique indexes a collection's documents must respect, ``_id`` first."""
    indexes = [UniqueIndex("_id_", ("_id",))] if collection.kind != "timeseries" else []
    for index in collection.indexes:
        if not index.options.get("unique"):
            continue
        if not all(direction in (1, -1) for _, direction in index.keys):
            continue
        collation = index.options.get("collation") or collection.collation or {}
        case_insensitive = (
            bool(collation)
            and collation.get("locale") != "simple"
            and int(collation.get("strength", 3)) <= 2
        )
        indexes.append(
            UniqueIndex(
                index.name,
                tuple(name for name, _ in index.keys),
                sparse=bool(index.options.get("sparse")),
                case_insensitive=case_insensitive,
            )
        )
    return indexes


def values_at(document: Any, path: str) -> list[Any]:
    """The values an index on ``path`` sees in ``document`` (empty: the field is missing)."""
    found: list[Any] = []

    def walk(value: Any, parts: list[str]) -> None:
        if not parts:
            if is_array(value):
                found.extend(value if value else [_EMPTY_ARRAY])
            else:
                found.append(value)
            return
        if is_array(value):
            if parts[0].isdigit() and int(parts[0]) < len(value):
                walk(value[int(parts[0])], parts[1:])
            for item in value:
                if is_object(item) and parts[0] in item:
                    walk(item[parts[0]], parts[1:])
            return
        if is_object(value) and parts[0] in value:
            walk(value[parts[0]], parts[1:])

    walk(document, path.split("."))
    return found


def _key_part(value: Any, case_insensitive: bool) -> Any:
    if value is _EMPTY_ARRAY:
        return value
    if case_insensitive and isinstance(value, str):
        return value.casefold()
    return bson_key(value)


def index_keys(document: Any, index: UniqueIndex) -> set[tuple[Any, ...]]:
    """The keys ``document`` adds to ``index`` (none when a sparse index skips it)."""
    columns = []
    present = False
    for name in index.fields:
        values = values_at(document, name)
        if values:
            present = True
            columns.append({_key_part(value, index.case_insensitive) for value in values})
        else:
            columns.append({bson_key(None)})
    if index.sparse and not present:
        return set()
    return set(itertools.product(*columns))


class UniqueTracker:
    """The keys already used in each unique index of one collection.

    ``random_object_ids`` says that the ObjectIds in ``_id`` are drawn at random
    by the generator (not stored, see the module docstring); otherwise every
    ``_id`` is tracked.
    """

    def __init__(self, indexes: list[UniqueIndex], *, random_object_ids: bool = False) -> None:
        self.indexes = indexes
        self.random_object_ids = random_object_ids
        self._used: dict[str, set[tuple[Any, ...]]] = {index.name: set() for index in indexes}

    def _keys(self, document: Any, index: UniqueIndex) -> set[tuple[Any, ...]]:
        if self.random_object_ids and index.fields == ("_id",):
            value = document.get("_id", MISSING) if is_object(document) else MISSING
            if type(value) is ObjectId:
                return set()  # random ObjectIds are not stored (see the module docstring)
        return index_keys(document, index)

    @property
    def only_object_ids(self) -> bool:
        """True when nothing needs tracking for a generated ObjectId ``_id``: the only unique
        index is _id's and its ObjectIds are drawn at random."""
        return self.random_object_ids and [index.fields for index in self.indexes] in (
            [("_id",)],
            [],
        )

    def conflicts(self, document: Any) -> Iterator[UniqueIndex]:
        """The unique indexes in which ``document`` has a key already used."""
        for index in self.indexes:
            used = self._used[index.name]
            keys = self._keys(document, index)
            if keys and not keys.isdisjoint(used):
                yield index

    def first_conflict(self, document: Any) -> UniqueIndex | None:
        return next(self.conflicts(document), None)

    def add(self, document: Any) -> None:
        """Record the keys of a document that is going to be written."""
        for index in self.indexes:
            self._used[index.name].update(self._keys(document, index))

    def size(self) -> int:
        return sum(len(keys) for keys in self._used.values())


def existing_filter(document: Any, indexes: list[UniqueIndex]) -> dict[str, Any] | None:
    """The query that finds a stored document holding one of ``document``'s unique keys.

    One clause per unique index: equality on each field (null when the field is
    missing, as the index sees it; ``$in`` for the elements of an array). A sparse
    index that skips the document, or a field holding an empty array, adds no clause.
    None when no clause is left.
    """
    clauses: list[dict[str, Any]] = []
    for index in indexes:
        clause: dict[str, Any] = {}
        present = False
        for name in index.fields:
            values = values_at(document, name)
            if any(value is _EMPTY_ARRAY for value in values):
                break
            if not values:
                clause[name] = None
                continue
            present = True
            clause[name] = values[0] if len(values) == 1 else {"$in": values}
        else:
            if present or not index.sparse:
                clauses.append(clause)
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}
