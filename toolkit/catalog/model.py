"""The catalog as frozen dataclasses: what the planners read.

Values are already in MongoDB's terms (seconds for durations, server option
names for index options) so a planner compares them with what the server
reports without knowing YAML spellings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# expireAfterSeconds of a TTL index is an int32 on the server (index_key_validate.cpp).
MAX_TTL_SECONDS = 2**31 - 1
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_DURATION = re.compile(r"^([0-9]+)(s|m|h|d|w|y)$")

# catalog spelling -> createIndexes option name
INDEX_OPTION_NAMES = {
    "unique": "unique",
    "sparse": "sparse",
    "partial": "partialFilterExpression",
    "expire_after": "expireAfterSeconds",
    "hidden": "hidden",
    "collation": "collation",
    "weights": "weights",
    "default_language": "default_language",
    "language_override": "language_override",
    "wildcard_projection": "wildcardProjection",
    "bits": "bits",
    "min": "min",
    "max": "max",
}


def parse_duration(value: int | float | str) -> int:
    """Return the seconds in a catalog duration (3600, "90m", "7d", "1y" = 365 days).

    Raise ValueError for anything else (the schema has already refused it).
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    # JSON Schema counts 3600.0 as an integer, so the schema lets it through.
    if isinstance(value, float) and value.is_integer() and value >= 0:
        return int(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return int(match.group(1)) * DURATION_UNITS[match.group(2)]


def format_duration(seconds: int) -> str:
    """Render seconds in the largest exact unit ("7d", "365d" is "1y", "0s")."""
    for unit in ("y", "w", "d", "h", "m"):
        size = DURATION_UNITS[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def default_index_name(keys: tuple[tuple[str, Any], ...]) -> str:
    """MongoDB's default index name: field_value joined by underscores (a_1_b_-1, t_text)."""
    return "_".join(f"{field_name}_{value}" for field_name, value in keys)


@dataclass(frozen=True)
class IndexSpec:
    """One declared index: key pattern in order, name, and createIndexes options."""

    keys: tuple[tuple[str, Any], ...]
    name: str
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=True)
    location: str = field(default="", compare=False)

    @property
    def key_document(self) -> dict[str, Any]:
        return dict(self.keys)

    @property
    def is_text(self) -> bool:
        return any(value == "text" for _, value in self.keys)

    @property
    def ttl_seconds(self) -> int | None:
        return self.options.get("expireAfterSeconds")

    def create_spec(self) -> dict[str, Any]:
        """The document createIndexes takes for this index."""
        spec: dict[str, Any] = {"key": self.key_document, "name": self.name}
        spec.update(self.options)
        return spec


@dataclass(frozen=True)
class CollectionSpec:
    """One declared collection, time-series collection or view."""

    db: str
    name: str
    kind: str = "collection"  # "collection", "timeseries" or "view"
    validator: dict[str, Any] | None = field(default=None, hash=False)
    validation_level: str | None = None
    validation_action: str | None = None
    capped: dict[str, int] | None = field(default=None, hash=False)
    timeseries: dict[str, Any] | None = field(default=None, hash=False)  # server spelling
    expire_after_seconds: int | None = None
    collation: dict[str, Any] | None = field(default=None, hash=False)
    view_on: str | None = None
    pipeline: tuple[dict[str, Any], ...] | None = field(default=None, hash=False)
    change_stream_pre_and_post_images: bool | None = None
    indexes: tuple[IndexSpec, ...] = ()
    shard: dict[str, Any] | None = field(default=None, hash=False)
    seed: dict[str, Any] | None = field(default=None, hash=False)
    description: str | None = None
    location: str = field(default="", compare=False)

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.name}"


@dataclass(frozen=True)
class Catalog:
    """A whole catalog, merged from its files."""

    collections: tuple[CollectionSpec, ...] = ()
    roles: tuple[dict[str, Any], ...] = ()
    users: tuple[dict[str, Any], ...] = ()
    sharding: dict[str, Any] | None = None
    backup: dict[str, Any] | None = None
    files: tuple[str, ...] = ()

    @property
    def databases(self) -> list[str]:
        return sorted({collection.db for collection in self.collections})

    def collection(self, namespace: str) -> CollectionSpec:
        for collection in self.collections:
            if collection.namespace == namespace:
                return collection
        raise KeyError(namespace)

    def select(self, databases: list[str] | tuple[str, ...] = ()) -> Catalog:
        """Return this catalog restricted to ``databases`` (all when empty)."""
        if not databases:
            return self
        wanted = set(databases)
        return Catalog(
            collections=tuple(c for c in self.collections if c.db in wanted),
            roles=self.roles,
            users=self.users,
            sharding=self.sharding,
            backup=self.backup,
            files=self.files,
        )
