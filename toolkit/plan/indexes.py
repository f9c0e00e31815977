"""Assess every index of a deployment: is it used, covered by another, in the catalog?

``assess_indexes(observed, catalog, now, min_age_seconds)`` is pure. It takes
what ``toolkit.mongo.indexes`` read (listIndexes specs, $indexStats counters
from *every* data-bearing member, $collStats index sizes) and returns one
IndexAssessment per index with its verdicts and the reason for each:

- ``unused``: zero operations on every member, and every member's counters
  are older than ``min_age_seconds``. Counters live in memory: they start at
  zero when a mongod restarts and when collMod changes the index, so younger
  counters give ``warming-up`` instead. Each member counts only the queries it
  served, so an index used only by analytics reads on a secondary is used.
- ``usage-unknown``: through a mongos, zero operations on the node each shard
  answered from. A mongos routes $indexStats to one node per shard, so the
  shards' secondaries were not read and an index used only there would look
  unused: such an index is never called ``unused`` nor proposed for dropping.
  The reason says to run the report against each shard's replica set.
- ``redundant`` / ``duplicate``: covered by another index of the collection
  (toolkit.plan.redundancy has the rules).
- ``hidden``, ``building``: as the server reports them.
- ``missing``, ``extra``, ``options-differ``: drift against the catalog, by
  index name, with the same normalisation as ``schema plan``.

``_id_``, unique and TTL indexes are never proposed for dropping
(``keep: "constraint"``). The assessment also picks the indexes a cleanup
would drop, so that two indexes covering each other are never both dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec
from toolkit.plan.redundancy import IndexShape, KeyPattern, coverage
from toolkit.plan.schema import desired_index, index_differences, observed_index, ordered_key
from toolkit.plan.shard import implied_shard_index

DEFAULT_MIN_AGE_DAYS = 7
VERDICT_KINDS = (
    "unused",
    "warming-up",
    "usage-unknown",
    "redundant",
    "duplicate",
    "hidden",
    "building",
    "missing",
    "extra",
    "options-differ",
)
# Verdicts that make an index a candidate for dropping.
DROPPABLE = frozenset({"unused", "redundant", "duplicate"})


# --------------------------------------------------------------------------- observed state


@dataclass(frozen=True)
class MemberUsage:
    """One member's $indexStats counters for one index."""

    member: str  # "host:port", or "shard/host:port" through a mongos
    ops: int
    since: dt.datetime | None
    building: bool = False


@dataclass(frozen=True)
class ObservedIndex:
    """One index as the server reported it, with every member's counters and its size."""

    db: str
    collection: str
    name: str
    key: KeyPattern
    spec: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    usage: tuple[MemberUsage, ...] = ()
    size: int | None = None


@dataclass(frozen=True)
class ObservedCollectionName:
    db: str
    name: str
    type: str = "collection"


@dataclass(frozen=True)
class IndexObservation:
    """Everything the report reads from a deployment.

    ``members`` are the members whose counters were read; ``unreachable`` are
    data-bearing members that could not be read, so an index that looks
    unused may be used there.
    """

    databases: tuple[str, ...] = ()
    collections: tuple[ObservedCollectionName, ...] = ()
    indexes: tuple[ObservedIndex, ...] = ()
    members: tuple[str, ...] = ()
    unreachable: tuple[str, ...] = ()
    topology: str = "standalone"  # "standalone", "replica set" or "sharded"


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class Verdict:
    kind: str
    reason: str


@dataclass(frozen=True)
class IndexAssessment:
    """One index (or one declared index the server lacks) and what the report says of it."""

    db: str
    collection: str
    name: str
    key: KeyPattern
    ops: tuple[tuple[str, int], ...] = ()
    since: tuple[tuple[str, dt.datetime | None], ...] = ()
    size: int | None = None
    verdicts: tuple[Verdict, ...] = ()
    keep: str | None = None
    cleanup: bool = False
    covered_by: str | None = None

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(verdict.kind for verdict in self.verdicts)

    @property
    def total_ops(self) -> int:
        return sum(ops for _, ops in self.ops)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: one object per index (see `indexes report --format json`)."""
        return {
            "db": self.db,
            "collection": self.collection,
            "name": self.name,
            "key": dict(self.key),
            "ops": dict(self.ops),
            "ops_total": self.total_ops,
            "since": {member: _iso(since) for member, since in self.since},
            "size": self.size,
            "verdicts": list(self.kinds),
            "reasons": [f"{verdict.kind}: {verdict.reason}" for verdict in self.verdicts],
            "keep": self.keep,
            "cleanup": self.cleanup,
            "covered_by": self.covered_by,
        }


@dataclass(frozen=True)
class CollectionSummary:
    db: str
    collection: str
    indexes: int
    size: int
    cleanup: tuple[str, ...]
    cleanup_bytes: int

    @property
    def namespace(self) -> str:
        return f"{self.db}.{self.collection}"


@dataclass(frozen=True)
class IndexReport:
    """The whole report: per index, per collection, and how it was observed."""

    indexes: tuple[IndexAssessment, ...]
    collections: tuple[CollectionSummary, ...]
    members: tuple[str, ...]
    unreachable: tuple[str, ...]
    topology: str
    generated_at: dt.datetime
    min_age_seconds: float
    catalog_checked: bool

    @property
    def cleanup_bytes(self) -> int:
        return sum(summary.cleanup_bytes for summary in self.collections)

    def findings(self, kinds: Iterable[str] = VERDICT_KINDS) -> list[IndexAssessment]:
        """The assessed indexes that carry any of ``kinds``."""
        wanted = set(kinds)
        return [index for index in self.indexes if wanted & set(index.kinds)]

    def counts(self) -> dict[str, int]:
        """How many indexes carry each verdict (every kind, zero included)."""
        return {kind: sum(1 for i in self.indexes if kind in i.kinds) for kind in VERDICT_KINDS}


def parse_kinds(text: str) -> tuple[str, ...]:
    """Parse ``--fail-on unused,redundant``; raise ValueError naming unknown kinds."""
    kinds = tuple(part.strip() for part in text.split(",") if part.strip())
    unknown = [kind for kind in kinds if kind not in VERDICT_KINDS]
    if unknown or not kinds:
        raise ValueError(
            f"unknown verdict(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(VERDICT_KINDS)}"
        )
    return kinds


# --------------------------------------------------------------------------- assessment


def assess_indexes(
    observed: IndexObservation,
    catalog: Catalog | None,
    now: dt.datetime,
    min_age_seconds: float = DEFAULT_MIN_AGE_DAYS * 86400,
) -> IndexReport:
    """Given what the server reported, the catalog (None: no drift check) and the time,
    return the report: every index with its verdicts, and what a cleanup would free.

    Only catalog collections in ``observed.databases`` are compared; indexes of
    databases the catalog does not describe get no drift verdicts.
    """
    declared = _declared_collections(catalog, observed.databases)
    catalog_dbs = {spec.db for spec in declared.values()} if catalog is not None else set()
    if catalog is not None:
        catalog_dbs |= set(catalog.databases) & set(observed.databases)

    by_collection: dict[tuple[str, str], list[ObservedIndex]] = {}
    for index in observed.indexes:
        by_collection.setdefault((index.db, index.collection), []).append(index)

    assessments: list[IndexAssessment] = []
    for (db, name), indexes in sorted(by_collection.items()):
        spec = declared.get((db, name))
        assessments.extend(
            _assess_collection(
                indexes,
                spec,
                drift=db in catalog_dbs,
                observed=observed,
                now=now,
                min_age_seconds=min_age_seconds,
            )
        )
    for (db, name), spec in sorted(declared.items()):
        present = {index.name for index in by_collection.get((db, name), [])}
        for declared_index in spec.indexes:
            if declared_index.name not in present:
                reason = (
                    "declared in the catalog, not on the server"
                    if present
                    else "declared in the catalog; the collection is not on the server"
                )
                assessments.append(
                    IndexAssessment(
                        db=db,
                        collection=name,
                        name=declared_index.name,
                        key=ordered_key(declared_index.keys),
                        verdicts=(Verdict("missing", reason),),
                    )
                )
    assessments.sort(key=lambda a: (a.db, a.collection, a.name != "_id_", a.name))
    return IndexReport(
        indexes=tuple(assessments),
        collections=tuple(_summaries(assessments)),
        members=observed.members,
        unreachable=observed.unreachable,
        topology=observed.topology,
        generated_at=now,
        min_age_seconds=min_age_seconds,
        catalog_checked=catalog is not None,
    )


def _declared_collections(
    catalog: Catalog | None, databases: Iterable[str]
) -> dict[tuple[str, str], CollectionSpec]:
    if catalog is None:
        return {}
    scope = set(databases)
    return {
        (spec.db, spec.name): spec
        for spec in catalog.collections
        if spec.db in scope and spec.kind != "view"
    }


def _assess_collection(
    indexes: list[ObservedIndex],
    spec: CollectionSpec | None,
    *,
    drift: bool,
    observed: IndexObservation,
    now: dt.datetime,
    min_age_seconds: float,
) -> list[IndexAssessment]:
    shapes = {
        index.name: IndexShape.from_options(index.name, index.key, index.spec) for index in indexes
    }
    building = {index.name for index in indexes if any(u.building for u in index.usage)}
    covers: dict[str, list[tuple[str, str]]] = {}
    for index in indexes:
        for other in indexes:
            if other.name in building:
                continue  # an index still being built serves no query yet
            verdict = coverage(shapes[index.name], shapes[other.name])
            if verdict:
                covers.setdefault(index.name, []).append((other.name, verdict))

    rows: dict[str, IndexAssessment] = {}
    for index in indexes:
        shape = shapes[index.name]
        verdicts: list[Verdict] = []
        if index.name in building:
            where = ", ".join(u.member for u in index.usage if u.building)
            verdicts.append(Verdict("building", f"the index build is still running on {where}"))
        else:
            verdicts.extend(_usage_verdicts(index, shape, observed, now, min_age_seconds))
        found = covers.get(index.name, [])
        duplicates = [name for name, verdict in found if verdict == "duplicate"]
        prefixes = [name for name, verdict in found if verdict == "redundant"]
        covered_by = None
        if duplicates:
            covered_by = duplicates[0]
            verdicts.append(Verdict("duplicate", f"same key as {', '.join(duplicates)}"))
        elif prefixes:
            covered_by = prefixes[0]
            cover = next(other for other in indexes if other.name == covered_by)
            flipped = ordered_key(cover.key)[: len(index.key)] != ordered_key(index.key)
            verdicts.append(
                Verdict(
                    "redundant",
                    f"a prefix of {', '.join(prefixes)}"
                    + (" with every direction flipped" if flipped else ""),
                )
            )
        if shape.hidden:
            verdicts.append(
                Verdict("hidden", "hidden from the query planner, still updated on every write")
            )
        if drift:
            verdicts.extend(_drift_verdicts(index, spec))
        rows[index.name] = IndexAssessment(
            db=index.db,
            collection=index.collection,
            name=index.name,
            key=ordered_key(index.key),
            ops=tuple((u.member, u.ops) for u in index.usage),
            since=tuple((u.member, u.since) for u in index.usage),
            size=index.size,
            verdicts=tuple(verdicts),
            keep="constraint" if shape.is_constraint else None,
            covered_by=covered_by,
        )
    return _choose_cleanup(rows, covers)


def _usage_verdicts(
    index: ObservedIndex,
    shape: IndexShape,
    observed: IndexObservation,
    now: dt.datetime,
    min_age_seconds: float,
) -> list[Verdict]:
    if shape.is_constraint or any(u.ops for u in index.usage):
        return []
    if not index.usage:
        return []  # no counters at all (no $indexStats entry): nothing to conclude
    if observed.topology == "sharded":
        # A mongos sends $indexStats to one node per shard (the primary by default):
        # the shards' secondaries were not read, so an index used only there would
        # look unused. Say so instead of proposing a drop.
        read = ", ".join(u.member for u in index.usage)
        return [
            Verdict(
                "usage-unknown",
                f"0 operations on the node each shard answered from ({read}), but through a "
                "mongos $indexStats reads one node per shard and the shards' secondaries were "
                "not read; to know, run `mongo-toolkit indexes report` against each shard's "
                "replica set (--uri mongodb://<shard hosts>/?replicaSet=<shard>)",
            )
        ]
    if observed.unreachable:
        return []  # it may be used on the member that could not be read
    young = [u for u in index.usage if u.since is None or _age(now, u.since) < min_age_seconds]
    if young:
        details = ", ".join(f"{u.member} {_age_text(now, u.since)}" for u in young)
        return [
            Verdict(
                "warming-up",
                "no operations, but counters restarted less than "
                f"{_duration_text(min_age_seconds)} ago ({details})",
            )
        ]
    youngest = min(_age(now, u.since) for u in index.usage if u.since is not None)
    members = len(index.usage)
    return [
        Verdict(
            "unused",
            f"0 operations on {'every one of ' if members > 1 else ''}{members} "
            f"member{'s' if members != 1 else ''} in the last {_duration_text(youngest)}",
        )
    ]


def _drift_verdicts(index: ObservedIndex, spec: CollectionSpec | None) -> list[Verdict]:
    if index.name == "_id_":
        return []
    if spec is None:
        return [Verdict("extra", "the catalog does not declare this collection")]
    declared = {declared.name: declared for declared in spec.indexes}
    wanted = declared.get(index.name)
    if wanted is None:
        if _implied_index(spec, index):
            return []
        return [Verdict("extra", "on the server, not in the catalog")]
    differences = index_differences(desired_index(wanted, spec), observed_index(index.spec))
    if differences:
        return [Verdict("options-differ", "differs from the catalog in " + ", ".join(differences))]
    return []


def _implied_index(spec: CollectionSpec, index: ObservedIndex) -> bool:
    """Indexes MongoDB or the toolkit creates without a catalog entry: the default
    {meta: 1, time: 1} of a time-series collection and the index supporting the
    declared shard key."""
    key = ordered_key(index.key)
    if spec.timeseries and "metaField" in spec.timeseries:
        default = ((spec.timeseries["metaField"], 1), (spec.timeseries["timeField"], 1))
        if key == default:
            return True
    implied = implied_shard_index(spec)
    return implied is not None and key == ordered_key(implied.keys)


def _choose_cleanup(
    rows: dict[str, IndexAssessment], covers: dict[str, list[tuple[str, str]]]
) -> list[IndexAssessment]:
    """Mark the indexes a cleanup drops: every unused one, then each covered one
    whose cover stays. Longer keys are decided first, and of equal keys the
    one with fewer operations goes, so two indexes that cover each other are
    never both dropped."""
    dropped: set[str] = set()
    kept_because: dict[str, str] = {}
    for name, row in rows.items():
        if "unused" in row.kinds and row.keep is None:
            dropped.add(name)
    covered = [
        row
        for row in rows.values()
        if {"redundant", "duplicate"} & set(row.kinds) and row.name not in dropped
    ]
    covered.sort(key=lambda row: (-len(row.key), row.total_ops, row.name))
    for row in covered:
        staying = [name for name, _ in covers.get(row.name, []) if name not in dropped]
        if staying:
            dropped.add(row.name)
        else:
            kept_because[row.name] = "its covering index is proposed for dropping itself"
    result = []
    for name, row in rows.items():
        keep = row.keep or kept_because.get(name)
        result.append(IndexAssessment(**{**row.__dict__, "cleanup": name in dropped, "keep": keep}))
    return result


def _summaries(assessments: list[IndexAssessment]) -> list[CollectionSummary]:
    grouped: dict[tuple[str, str], list[IndexAssessment]] = {}
    for row in assessments:
        grouped.setdefault((row.db, row.collection), []).append(row)
    summaries = []
    for (db, name), rows in sorted(grouped.items()):
        present = [row for row in rows if "missing" not in row.kinds]
        cleanup = [row for row in rows if row.cleanup]
        summaries.append(
            CollectionSummary(
                db=db,
                collection=name,
                indexes=len(present),
                size=sum(row.size or 0 for row in present),
                cleanup=tuple(row.name for row in cleanup),
                cleanup_bytes=sum(row.size or 0 for row in cleanup),
            )
        )
    return summaries


# --------------------------------------------------------------------------- text helpers


def _age(now: dt.datetime, since: dt.datetime) -> float:
    return (_aware(now) - _aware(since)).total_seconds()


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _iso(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return _aware(moment).isoformat().replace("+00:00", "Z")


def _age_text(now: dt.datetime, since: dt.datetime | None) -> str:
    if since is None:
        return "an unknown time"
    return _duration_text(_age(now, since)) + " ago"


def _duration_text(seconds: float) -> str:
    """Render a duration for people: 45 s, 12 min, 5 h, 3 d."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    days = seconds / 86400
    return f"{days:.0f} d" if days >= 10 or days.is_integer() else f"{days:.1f} d"


def describe_key(key: KeyPattern) -> str:
    """Render a key pattern as MongoDB writes it: {a: 1, b: -1}."""
    return "{" + ", ".join(f"{name}: {value}" for name, value in key) + "}"
