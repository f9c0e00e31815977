"""Which collections a seed run generates, in which order, and how many documents each gets.

``plan_seed(catalog, ...)`` reads every collection's ``seed`` section and the
command line's selections and returns a SeedPlan: the collections in an order
where each comes after the parents it refers to (``ref`` fields and ``per``),
each with its count, fixtures, field generators and the fields its children
read from it. Parents of a selected collection are generated too, so that
references point at real documents and a collection's documents are the same
whether it is seeded alone or with the others; only the selected ones are
written. References that form a cycle are a catalog error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec
from toolkit.errors import CatalogError, UsageError
from toolkit.seed.overrides import Override, parse_overrides


@dataclass(frozen=True)
class CollectionPlan:
    """How one collection is seeded."""

    spec: CollectionSpec
    count: int = 0  # generated documents (not counting fixtures); with `per`: see per_parent
    per: str | None = None  # the parent namespace of `per`
    per_parent: int | None = None  # documents per parent (None: `count` in all, spread evenly)
    fixtures: tuple[Mapping[str, Any], ...] = ()
    overrides: dict[str, Override] = field(default_factory=dict, hash=False)
    refs: dict[str, tuple[str, str]] = field(
        default_factory=dict, hash=False
    )  # path -> (ns, field)
    referenced_fields: tuple[str, ...] = ()  # what children read from this collection
    parent: bool = False  # some other collection refers to this one
    written: bool = True

    @property
    def namespace(self) -> str:
        return self.spec.namespace

    def total(self, parent_documents: int = 0) -> int:
        """Documents this collection gets, fixtures included, given its parent's document count."""
        if self.per is not None and self.per_parent is not None:
            return len(self.fixtures) + self.per_parent * parent_documents
        return len(self.fixtures) + self.count


@dataclass(frozen=True)
class SeedPlan:
    collections: tuple[CollectionPlan, ...]

    def collection(self, namespace: str) -> CollectionPlan:
        for plan in self.collections:
            if plan.namespace == namespace:
                return plan
        raise KeyError(namespace)

    def totals(self) -> dict[str, int]:
        """Documents per collection (fixtures included), in generation order."""
        totals: dict[str, int] = {}
        for plan in self.collections:
            totals[plan.namespace] = plan.total(totals.get(plan.per or "", 0))
        return totals

    @property
    def written(self) -> list[CollectionPlan]:
        return [plan for plan in self.collections if plan.written]


def _matches(selector: str, collection: CollectionSpec) -> bool:
    return selector in (collection.name, collection.namespace)


def resolve_collection(name: str, db: str, namespaces: set[str]) -> str | None:
    """The namespace that ``name`` ("users" in ``db``, or "otherdb.users") names, if any."""
    if f"{db}.{name}" in namespaces:
        return f"{db}.{name}"
    if name in namespaces:
        return name
    return None


def resolve_field_ref(ref: str, db: str, namespaces: set[str]) -> tuple[str, str] | None:
    """Split "users._id" (or "otherdb.users._id") into (namespace, field path)."""
    parts = ref.split(".")
    for cut in (1, 2):
        if len(parts) > cut:
            namespace = resolve_collection(".".join(parts[:cut]), db, namespaces)
            if namespace is not None and (cut == 1 or namespace == ".".join(parts[:cut])):
                return namespace, ".".join(parts[cut:])
    return None


def plan_seed(
    catalog: Catalog,
    *,
    databases: tuple[str, ...] = (),
    collections: tuple[str, ...] = (),
    counts: Mapping[str, int] | None = None,
    scale: float = 1.0,
) -> SeedPlan:
    """Return the seed plan for ``catalog``.

    ``databases`` and ``collections`` (names or db.name) select what is written
    (default: every collection with something to seed); ``counts`` overrides
    the catalog's count per collection; ``scale`` multiplies catalog counts
    (not per-parent counts: children follow their parents). Raise UsageError
    for a selection that names nothing (or a collection outside the selected
    databases), CatalogError for seed sections that
    refer to unknown collections or form a cycle.
    """
    counts = dict(counts or {})
    if scale < 0:
        raise UsageError("--scale must not be negative")
    known_databases = set(catalog.databases)
    unknown_databases = sorted(set(databases) - known_databases)
    if unknown_databases:
        raise UsageError(
            f"database(s) {', '.join(unknown_databases)} not in the catalog",
            hint=f"the catalog has: {', '.join(sorted(known_databases)) or 'none'}",
        )
    seedable = [c for c in catalog.collections if c.kind != "view"]
    for selector in list(collections) + list(counts):
        if not any(_matches(selector, c) for c in catalog.collections):
            raise UsageError(
                f"no collection {selector!r} in the catalog",
                hint="name a collection as NAME or DB.NAME",
            )
        if not any(_matches(selector, c) for c in seedable):
            raise UsageError(f"{selector} is a view: views are not seeded")
    for selector in collections:
        if databases and not any(
            _matches(selector, c) and c.db in databases for c in catalog.collections
        ):
            found = sorted({c.db for c in catalog.collections if _matches(selector, c)})
            raise UsageError(
                f"--collection {selector} is not in the selected database(s) "
                f"{', '.join(databases)} (it is in {', '.join(found)})",
                hint="add its database with --db, or leave --db out",
            )
    for selector, value in counts.items():
        if value < 0:
            raise UsageError(f"--count {selector}={value}: a count must not be negative")
    namespaces = {c.namespace for c in seedable}
    problems: list[str] = []
    drafts: dict[str, dict[str, Any]] = {}
    for collection in seedable:
        draft = _draft(collection, namespaces, counts, scale, problems)
        if draft is not None:
            drafts[collection.namespace] = draft
    if problems:
        raise CatalogError(
            f"the catalog's seed sections have {len(problems)} problem(s)", problems=problems
        )

    def has_content(namespace: str) -> bool:
        draft = drafts[namespace]
        return bool(draft["fixtures"] or draft["count"] or draft["per_parent"])

    selected = [
        c.namespace
        for c in seedable
        if (not databases or c.db in databases)
        and (not collections or any(_matches(s, c) for s in collections))
        and (collections or has_content(c.namespace))
    ]
    needed: list[str] = []
    stack = list(selected)
    while stack:
        namespace = stack.pop()
        if namespace in needed:
            continue
        needed.append(namespace)
        stack.extend(drafts[namespace]["parents"])
    order = _generation_order([c.namespace for c in seedable if c.namespace in needed], drafts)
    referenced: dict[str, list[str]] = {namespace: [] for namespace in order}
    children: set[str] = set()
    for namespace in order:
        draft = drafts[namespace]
        for parent_namespace, field_path in draft["refs"].values():
            if field_path not in referenced[parent_namespace]:
                referenced[parent_namespace].append(field_path)
        children.update(draft["parents"])
    plans = []
    for namespace in order:
        draft = drafts[namespace]
        plans.append(
            CollectionPlan(
                spec=draft["spec"],
                count=draft["count"],
                per=draft["per"],
                per_parent=draft["per_parent"],
                fixtures=tuple(draft["fixtures"]),
                overrides=draft["overrides"],
                refs=draft["refs"],
                referenced_fields=tuple(referenced[namespace]),
                parent=namespace in children,
                written=namespace in selected,
            )
        )
    return SeedPlan(tuple(plans))


def _draft(
    collection: CollectionSpec,
    namespaces: set[str],
    counts: Mapping[str, int],
    scale: float,
    problems: list[str],
) -> dict[str, Any] | None:
    where = f"{collection.location or collection.namespace}: {collection.namespace}"
    seed = collection.seed or {}
    overrides: dict[str, Override] = {}
    try:
        overrides = parse_overrides(seed.get("fields"), where)
    except CatalogError as error:
        problems.extend(error.problems or [error.message])
        return None
    override_count = next(
        (value for selector, value in counts.items() if _matches(selector, collection)), None
    )
    per = per_parent = None
    parents: list[str] = []
    if "count" in seed and "per" in seed:
        problems.append(f"{where}: seed has both count and per; give one")
        return None
    if "per" in seed:
        ((parent_name, per_parent),) = seed["per"].items()
        per = resolve_collection(str(parent_name), collection.db, namespaces)
        if per is None:
            problems.append(
                f"{where}: seed.per names {parent_name!r}, which is not a collection here"
            )
            return None
        parents.append(per)
    count = int(seed.get("count", 0))
    count = max(0, round(count * scale))
    if override_count is not None:
        count = override_count
        per_parent = None if per is not None else per_parent
    refs: dict[str, tuple[str, str]] = {}
    for path, override in overrides.items():
        if override.kind != "ref":
            continue
        target = resolve_field_ref(override.ref, collection.db, namespaces)
        if target is None:
            problems.append(
                f"{where}: seed.fields.{path}: ref {override.ref!r} names no catalog collection"
            )
            continue
        refs[path] = target
        if target[0] not in parents:
            parents.append(target[0])
    return {
        "spec": collection,
        "count": count,
        "per": per,
        "per_parent": per_parent,
        "fixtures": list(seed.get("fixtures") or []),
        "overrides": overrides,
        "refs": refs,
        "parents": parents,
    }


def _generation_order(namespaces: list[str], drafts: dict[str, dict[str, Any]]) -> list[str]:
    """Parents before children, otherwise catalog order. Raise CatalogError on a cycle."""
    remaining = list(namespaces)
    order: list[str] = []
    while remaining:
        # the first collection in catalog order whose parents are all generated
        ready = next(([n] for n in remaining if all(p in order for p in drafts[n]["parents"])), [])
        if not ready:
            cycle = _find_cycle(remaining, drafts)
            raise CatalogError(
                "seed references form a cycle: " + " -> ".join(cycle),
                problems=[
                    f"{drafts[n]['spec'].location or n}: {n} refers to "
                    f"{', '.join(p for p in drafts[n]['parents'] if p in cycle)}"
                    for n in cycle[:-1]
                ],
                hint="a collection can only refer to collections generated before it; "
                "drop one ref of the cycle (or fill it in after seeding)",
            )
        order.extend(ready)
        remaining = [n for n in remaining if n not in ready]
    return order


def _find_cycle(remaining: list[str], drafts: dict[str, dict[str, Any]]) -> list[str]:
    """One cycle among ``remaining`` (every one of them waits on another one)."""
    start = remaining[0]
    path = [start]
    while True:
        step = next(p for p in drafts[path[-1]]["parents"] if p in remaining)
        if step in path:
            return [*path[path.index(step) :], step]
        path.append(step)
