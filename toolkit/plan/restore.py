"""Plan `restore`: what a dump's collections become on the target, in mongorestore's order.

``plan_restore(collections, existing, options)`` is pure: it takes what the
dump holds (names, types, options, indexes, document counts), the namespaces
that already exist on the target, and the restore options, and returns the
steps `restore` runs, in order; ``restore --dry-run`` prints exactly them.

The order is mongorestore's:

1. ``drop`` (with ``--drop``) the collections and views about to be restored;
2. ``create`` each collection with its dumped options (and ``_id`` index
   spec), and each view, unless it exists and is kept;
3. ``insert`` each collection's documents (into an existing collection its
   documents stay; duplicate keys are counted and reported);
4. ``users`` and ``roles`` from ``admin.system.users``/``system.roles``;
5. ``oplog``: replay the captured oplog (``--oplog-replay``, up to ``--oplog-limit``);
6. ``create-indexes``: every index but ``_id``.

Index specs are cleaned as ``mongorestore --convertLegacyIndexes`` does
(``convert_index_spec``): ``ns`` is dropped, legacy key values (0, "", true)
become 1 and options the server no longer accepts are left out. A spec
written by a current server passes unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

from toolkit.backup.namespaces import (
    ROLES_NAMESPACE,
    USERS_NAMESPACE,
    VERSION_NAMESPACE,
    NamespaceFilter,
    NamespaceRenamer,
    OplogTimestamp,
)

StepKind = Literal[
    "drop", "create", "create-view", "insert", "users", "roles", "oplog", "create-indexes"
]

# mongo-tools' validIndexOptions, plus what servers since added (hidden, prepareUnique).
VALID_INDEX_OPTIONS: Final = frozenset(
    {
        "2dsphereIndexVersion",
        "background",
        "bits",
        "bucketSize",
        "coarsestIndexedLevel",
        "collation",
        "default_language",
        "expireAfterSeconds",
        "finestIndexedLevel",
        "hidden",
        "key",
        "language_override",
        "max",
        "min",
        "name",
        "partialFilterExpression",
        "prepareUnique",
        "sparse",
        "storageEngine",
        "textIndexVersion",
        "unique",
        "v",
        "weights",
        "wildcardProjection",
        "columnstoreProjection",
        "clustered",
    }
)
INDEX_TYPES: Final = frozenset({"text", "2d", "2dsphere", "geoHaystack", "hashed", "columnstore"})


@dataclass(frozen=True)
class DumpedCollection:
    """One collection of the dump as a restore sees it.

    ``documents`` is known for our backups (the manifest's count), else None
    until read. ``indexes`` are the dumped specs, ``options`` the dumped
    collection options (BSON-typed).
    """

    db: str
    collection: str
    type: str = "collection"
    options: Mapping[str, Any] = field(default_factory=dict)
    indexes: Sequence[Mapping[str, Any]] = ()
    documents: int | None = None

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"


@dataclass(frozen=True)
class OplogSummary:
    """The dump's captured oplog: how many entries, first and last timestamps."""

    entries: int
    first: OplogTimestamp | None
    last: OplogTimestamp | None


@dataclass(frozen=True)
class RestoreOptions:
    """What the command line asked for (the selection, renames, drop, oplog replay)."""

    drop: bool = False
    selection: NamespaceFilter = field(default_factory=NamespaceFilter)
    renamer: NamespaceRenamer = field(default_factory=lambda: NamespaceRenamer([], []))
    oplog_replay: bool = False
    oplog_limit: OplogTimestamp | None = None
    users_and_roles: bool = True


@dataclass(frozen=True)
class RestoreStep:
    """One thing restore does. ``source`` is the dump's namespace, ``namespace`` the target's."""

    kind: StepKind
    namespace: str
    source: str
    reason: str
    options: Mapping[str, Any] | None = None
    indexes: tuple[Mapping[str, Any], ...] = ()
    documents: int | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "kind": self.kind,
            "namespace": self.namespace,
            "source": self.source,
            "reason": self.reason,
        }
        if self.options is not None:
            result["options"] = dict(self.options)
        if self.indexes:
            result["indexes"] = [dict(index) for index in self.indexes]
        if self.documents is not None:
            result["documents"] = self.documents
        return result

    def describe(self) -> str:
        what = {
            "drop": "drop",
            "create": "create collection",
            "create-view": "create view",
            "insert": "insert documents into",
            "users": "restore users from",
            "roles": "restore roles from",
            "oplog": "replay the oplog",
            "create-indexes": "create indexes on",
        }[self.kind]
        if self.kind == "oplog":
            return what
        return f"{what} {self.namespace}"


def _is_zero(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return value == 0
    to_decimal = getattr(value, "to_decimal", None)
    if to_decimal is not None:
        try:
            number = to_decimal()
        except (ArithmeticError, ValueError):
            return False
        return isinstance(number, Decimal) and number.is_finite() and number == 0
    return False


def convert_index_key(key: Mapping[str, Any]) -> dict[str, Any]:
    """Rewrite legacy key values as mongorestore's ConvertLegacyIndexKeys does.

    Numbers other than 0 and index type names stay; 0 (any numeric type),
    "" and every other value become 1.
    """
    converted: dict[str, Any] = {}
    for name, value in key.items():
        if isinstance(value, bool):
            converted[name] = 1
        elif isinstance(value, int | float) or hasattr(value, "to_decimal"):
            converted[name] = 1 if _is_zero(value) else value
        elif isinstance(value, str):
            converted[name] = 1 if value == "" else value
        else:
            converted[name] = 1
    return converted


def convert_index_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``spec`` as createIndexes takes it today (see the module docstring)."""
    converted: dict[str, Any] = {}
    for name, value in spec.items():
        if name == "key" and isinstance(value, Mapping):
            converted[name] = convert_index_key(value)
        elif name in VALID_INDEX_OPTIONS:
            converted[name] = value
    return converted


def create_options(collection: DumpedCollection) -> dict[str, Any]:
    """Return the options for ``create``: the dumped ones, plus the ``_id`` index spec.

    The ``_id`` index travels as ``idIndex`` (a collation on it must be the
    collection's); views and time series have none.
    """
    options = dict(collection.options)
    if collection.type == "collection":
        for spec in collection.indexes:
            if spec.get("name") == "_id_":
                id_index = convert_index_spec(spec)
                options["idIndex"] = id_index
                break
    return options


def secondary_indexes(collection: DumpedCollection) -> tuple[dict[str, Any], ...]:
    """Return the dumped indexes other than ``_id``, converted for createIndexes."""
    return tuple(
        convert_index_spec(spec) for spec in collection.indexes if spec.get("name") != "_id_"
    )


def plan_restore(
    collections: Sequence[DumpedCollection],
    existing: Mapping[str, str],
    options: RestoreOptions,
    *,
    oplog: OplogSummary | None = None,
) -> list[RestoreStep]:
    """Given the dump's collections, the target's namespaces ({ns: type}) and the options,
    return the restore's steps in order (see the module docstring).

    Collections the selection leaves out get no step; admin's version
    document is never restored. Raise ValueError when two dumped namespaces
    would be restored to the same target.
    """
    drops: list[RestoreStep] = []
    creates: list[RestoreStep] = []
    views: list[RestoreStep] = []
    inserts: list[RestoreStep] = []
    authz: list[RestoreStep] = []
    indexes: list[RestoreStep] = []
    targets: dict[str, str] = {}
    for collection in sorted(collections, key=lambda item: (item.db, item.collection)):
        source = collection.namespace
        if not options.selection.accepts(source) or source == VERSION_NAMESPACE:
            continue
        if source in (USERS_NAMESPACE, ROLES_NAMESPACE):
            if options.users_and_roles:
                kind: StepKind = "users" if source == USERS_NAMESPACE else "roles"
                authz.append(
                    RestoreStep(
                        kind,
                        source,
                        source,
                        "merged into the server's users and roles, as mongorestore does"
                        + (" (others dropped)" if options.drop else ""),
                        documents=collection.documents,
                    )
                )
            continue
        target = options.renamer.rename(source)
        if target in targets:
            raise ValueError(f"{source} and {targets[target]} would both be restored to {target}")
        targets[target] = source
        present = existing.get(target)
        if present is not None and options.drop:
            drops.append(RestoreStep("drop", target, source, "--drop: replaced by the dump's"))
        keep_existing = present is not None and not options.drop
        if collection.type == "view":
            if keep_existing:
                continue  # an existing view is left as it is, as mongorestore does
            views.append(
                RestoreStep(
                    "create-view",
                    target,
                    source,
                    "a view in the dump",
                    options=dict(collection.options),
                )
            )
            continue
        if keep_existing:
            reason = "into the existing collection: its documents stay, duplicate keys are counted"
        else:
            creates.append(
                RestoreStep(
                    "create",
                    target,
                    source,
                    f"a {collection.type} in the dump",
                    options=create_options(collection),
                )
            )
            reason = "the dump's documents"
        inserts.append(
            RestoreStep("insert", target, source, reason, documents=collection.documents)
        )
        specs = secondary_indexes(collection)
        if specs:
            indexes.append(
                RestoreStep(
                    "create-indexes",
                    target,
                    source,
                    f"{len(specs)} index(es) from the dump, after the data",
                    indexes=specs,
                )
            )
    replay: list[RestoreStep] = []
    if options.oplog_replay and oplog is not None:
        limit = options.oplog_limit
        reason = f"{oplog.entries} captured entries"
        if oplog.first is not None and oplog.last is not None:
            reason += f" from {oplog.first} to {oplog.last}"
        reason += f", those before {limit}" if limit is not None else ", all of them"
        replay.append(RestoreStep("oplog", "", "oplog", reason, documents=oplog.entries))
    return drops + creates + views + inserts + authz + replay + indexes
