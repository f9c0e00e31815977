"""Which namespaces a dump or a restore takes, what they are renamed to, and oplog entries.

Pure functions on names and decoded oplog entries; nothing here talks to a
server or touches a file.

Patterns follow mongorestore's ``--nsInclude``/``--nsExclude``: a pattern is
matched against the whole ``db.collection``; ``*`` matches any run of
characters (dots included) and ``\\`` escapes the next character, so
``shop.*`` is every collection of ``shop`` and ``*.orders`` every ``orders``.

Renames follow ``--nsFrom``/``--nsTo``: ``$name$`` in the source pattern
captures part of the namespace and the same ``$name$`` in the target puts it
back (``--ns-from 'shop.$coll$' --ns-to 'shop_copy.$coll$'``); a ``*`` in both
works the same way, positionally.

``oplog_entry_namespaces`` says which namespaces an oplog entry touches, so a
dump of some databases keeps only their entries and a restore with
``--ns-include``/``--ns-exclude`` replays only those.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from toolkit.errors import UsageError

# Databases mongodump never dumps whole: local holds the oplog and replica-set state,
# config the sessions and (through a mongos) the cluster's metadata.
SKIPPED_DATABASES: Final = frozenset({"local", "config"})
# Collections of admin that restore treats specially (users and roles are merged
# the way mongorestore does; the version document belongs to the server).
USERS_NAMESPACE: Final = "admin.system.users"
ROLES_NAMESPACE: Final = "admin.system.roles"
VERSION_NAMESPACE: Final = "admin.system.version"
# system collections mongodump dumps like ordinary ones.
DUMPED_SYSTEM_COLLECTIONS: Final = frozenset({"system.js"})
ADMIN_SYSTEM_COLLECTIONS: Final = frozenset({"system.users", "system.roles", "system.version"})


def split_namespace(namespace: str) -> tuple[str, str]:
    """Return (db, collection) of ``db.collection``; raise ValueError without a dot."""
    db, dot, collection = namespace.partition(".")
    if not dot or not db:
        raise ValueError(f"{namespace!r} is not a namespace (db.collection)")
    return db, collection


def is_dumped_collection(db: str, collection: str) -> bool:
    """Return True for collections a dump takes: every one but server-internal system ones.

    As mongodump: ``system.*`` collections are skipped except ``system.js``
    and, in admin, ``system.users``, ``system.roles`` and ``system.version``;
    views' definitions (``system.views``) and time-series buckets travel with
    their collections' metadata instead.
    """
    if not collection.startswith("system."):
        return True
    if collection in DUMPED_SYSTEM_COLLECTIONS:
        return True
    return db == "admin" and collection in ADMIN_SYSTEM_COLLECTIONS


def _pattern_parts(pattern: str) -> list[tuple[str, str]]:
    """Split a pattern into ("text", literal), ("star", "*") and ("var", name) parts."""
    parts: list[tuple[str, str]] = []
    text: list[str] = []
    position = 0
    while position < len(pattern):
        character = pattern[position]
        if character == "\\" and position + 1 < len(pattern):
            text.append(pattern[position + 1])
            position += 2
            continue
        if character == "*":
            parts.append(("text", "".join(text)))
            text = []
            parts.append(("star", "*"))
            position += 1
            continue
        if character == "$":
            end = pattern.find("$", position + 1)
            name = pattern[position + 1 : end] if end > position else ""
            if end > position and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                parts.append(("text", "".join(text)))
                text = []
                parts.append(("var", name))
                position = end + 1
                continue
        text.append(character)
        position += 1
    parts.append(("text", "".join(text)))
    return [part for part in parts if part != ("text", "")]


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Return the regular expression for a namespace pattern (``*`` wildcards, ``\\`` escapes).

    Raise UsageError for an empty pattern.
    """
    if not pattern:
        raise UsageError("an empty namespace pattern matches nothing", hint="use e.g. 'shop.*'")
    regex = []
    for kind, value in _pattern_parts(pattern):
        if kind == "text":
            regex.append(re.escape(value))
        elif kind == "star":
            regex.append(".*")
        else:
            regex.append(re.escape(f"${value}$"))
    return re.compile("".join(regex), re.DOTALL)


@dataclass(frozen=True)
class NamespaceFilter:
    """``--db``, ``--ns-include`` and ``--ns-exclude`` together.

    A namespace is selected when its database is one of ``databases`` (all
    when empty), it matches one of ``include`` (all when empty) and none of
    ``exclude``.
    """

    databases: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    _include: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)
    _exclude: tuple[re.Pattern[str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_include", tuple(compile_pattern(p) for p in self.include))
        object.__setattr__(self, "_exclude", tuple(compile_pattern(p) for p in self.exclude))

    @property
    def everything(self) -> bool:
        """True when nothing is filtered out."""
        return not (self.databases or self.include or self.exclude)

    def accepts_database(self, db: str) -> bool:
        """Return False when no namespace of ``db`` can be selected (``--db`` leaves it out)."""
        return not self.databases or db in self.databases

    def accepts(self, namespace: str) -> bool:
        """Return True when ``namespace`` (``db.collection``) is selected."""
        db = namespace.partition(".")[0]
        if not self.accepts_database(db):
            return False
        if self._include and not any(p.fullmatch(namespace) for p in self._include):
            return False
        return not any(p.fullmatch(namespace) for p in self._exclude)


@dataclass(frozen=True)
class _Rename:
    source: str
    target: str
    regex: re.Pattern[str]
    target_parts: tuple[tuple[str, str], ...]


class NamespaceRenamer:
    """``--ns-from``/``--ns-to`` pairs: the first pair whose source matches renames.

    Raise UsageError when the lists differ in length, or a target uses a
    ``$name$`` (or more ``*``) than its source captures.
    """

    def __init__(self, sources: Sequence[str], targets: Sequence[str]) -> None:
        if len(sources) != len(targets):
            raise UsageError(
                f"{len(sources)} --ns-from but {len(targets)} --ns-to",
                hint="give them in pairs: --ns-from 'shop.$coll$' --ns-to 'copy.$coll$'",
            )
        self._renames: list[_Rename] = []
        for source, target in zip(sources, targets, strict=True):
            self._renames.append(self._compile(source, target))

    @staticmethod
    def _compile(source: str, target: str) -> _Rename:
        if not source or not target:
            raise UsageError("--ns-from and --ns-to need a namespace pattern")
        regex: list[str] = []
        names: list[str] = []
        stars = 0
        for kind, value in _pattern_parts(source):
            if kind == "text":
                regex.append(re.escape(value))
            elif kind == "star":
                regex.append(f"(?P<_star{stars}>.*?)")
                stars += 1
            else:
                if value in names:
                    raise UsageError(f"--ns-from {source!r} uses ${value}$ twice")
                names.append(value)
                regex.append(f"(?P<{value}>.*?)")
        target_parts = []
        target_stars = 0
        for kind, value in _pattern_parts(target):
            if kind == "star":
                if target_stars >= stars:
                    raise UsageError(f"--ns-to {target!r} has more * than --ns-from {source!r}")
                target_parts.append(("var", f"_star{target_stars}"))
                target_stars += 1
            elif kind == "var":
                if value not in names:
                    raise UsageError(f"--ns-to {target!r} uses ${value}$, which {source!r} lacks")
                target_parts.append(("var", value))
            else:
                target_parts.append(("text", value))
        return _Rename(source, target, re.compile("".join(regex), re.DOTALL), tuple(target_parts))

    @property
    def empty(self) -> bool:
        """True when there is no rename at all."""
        return not self._renames

    def rename(self, namespace: str) -> str:
        """Return the namespace ``namespace`` is restored as (itself when no pair matches)."""
        for rename in self._renames:
            match = rename.regex.fullmatch(namespace)
            if match is None:
                continue
            values = match.groupdict()
            return "".join(
                value if kind == "text" else values[value] for kind, value in rename.target_parts
            )
        return namespace


# -- oplog entries -----------------------------------------------------------------------------

# c entries whose first field names the collection (in the entry's database).
_COLLECTION_COMMANDS: Final = frozenset(
    {
        "create",
        "drop",
        "collMod",
        "createIndexes",
        "dropIndexes",
        "deleteIndexes",
        "startIndexBuild",
        "commitIndexBuild",
        "abortIndexBuild",
        "emptycapped",
        "convertToCapped",
    }
)


def oplog_entry_namespaces(entry: Mapping[str, Any]) -> list[str]:
    """Return the namespaces an oplog entry writes to (decoded entry in, ``db.coll`` list out).

    ``db.*`` stands for a whole database (``dropDatabase``); a no-op (``n``)
    touches nothing; a nested ``applyOps`` touches what its entries do.
    """
    op = entry.get("op")
    ns = entry.get("ns")
    if op == "n" or not isinstance(ns, str):
        return []
    if op != "c":
        return [ns]
    body = entry.get("o")
    if not isinstance(body, Mapping) or not body:
        return []
    db = ns.partition(".")[0]
    name, value = next(iter(body.items()))
    if name in _COLLECTION_COMMANDS and isinstance(value, str):
        return [f"{db}.{value}"]
    if name == "renameCollection":
        return [str(value), str(body.get("to", ""))]
    if name == "dropDatabase":
        return [f"{db}.*"]
    if name == "applyOps" and isinstance(value, list):
        found: list[str] = []
        for nested in value:
            if isinstance(nested, Mapping):
                found.extend(oplog_entry_namespaces(nested))
        return found
    return [f"{db}.*"]


def select_oplog_entry(
    entry: Mapping[str, Any],
    accepts: Callable[[str], bool],
    accepts_database: Callable[[str], bool],
) -> dict[str, Any] | None:
    """Return the part of ``entry`` that touches selected namespaces, or None.

    ``accepts(namespace)`` decides for a collection, ``accepts_database(db)``
    for an entry on a whole database. A nested ``applyOps`` keeps only its
    selected entries (None when none is left); a rename is kept when either
    side is selected. No-ops are dropped.
    """
    op = entry.get("op")
    body = entry.get("o")
    if op == "c" and isinstance(body, Mapping) and isinstance(body.get("applyOps"), list):
        nested = [
            kept
            for item in body["applyOps"]
            if isinstance(item, Mapping)
            and (kept := select_oplog_entry(item, accepts, accepts_database)) is not None
        ]
        if not nested:
            return None
        return {**entry, "o": {**body, "applyOps": nested}}
    namespaces = oplog_entry_namespaces(entry)
    for namespace in namespaces:
        db, _, collection = namespace.partition(".")
        if (collection == "*" and accepts_database(db)) or (
            collection != "*" and accepts(namespace)
        ):
            return dict(entry)
    return None


@dataclass(frozen=True, order=True)
class OplogTimestamp:
    """A BSON timestamp as (seconds, increment); ordered as the server orders them."""

    t: int
    i: int

    def __str__(self) -> str:
        return f"{self.t}:{self.i}"


def parse_oplog_limit(text: str) -> OplogTimestamp:
    """Parse ``--oplog-limit`` as mongorestore does: ``<seconds>[:<increment>]``.

    Raise UsageError for anything else.
    """
    match = re.fullmatch(r"\s*(\d{1,10})(?::(\d{1,10}))?\s*", text or "")
    if match is None:
        raise UsageError(
            f"--oplog-limit {text!r} is not a timestamp",
            hint="give <seconds>[:<increment>], e.g. 1700000000:5 "
            "(`backup show` prints the oplog's range)",
        )
    seconds, increment = int(match.group(1)), int(match.group(2) or 0)
    if seconds > 2**32 - 1 or increment > 2**32 - 1:
        raise UsageError(f"--oplog-limit {text!r} is out of range (32-bit seconds and increment)")
    return OplogTimestamp(seconds, increment)


def names_in(namespaces: Iterable[str]) -> list[str]:
    """Return the databases of ``namespaces``, sorted and without repeats."""
    return sorted({namespace.partition(".")[0] for namespace in namespaces})
