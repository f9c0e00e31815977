"""Run a seed plan: every collection's documents, valid, unique and deterministic.

``Seeder(plan, seed=N, now=...)`` first compiles every collection of the plan
(validator, generator, fixtures with their password hashes), so that a catalog
error stops a run before anything is written; then it yields each collection's
documents one at a time (a stream: nothing is kept but the values children
refer to and the keys of unique indexes). Each document is
checked against the collection's validator with MongoDB's ``$jsonSchema``
semantics and against the unique indexes before it is handed out; one that
fails is drawn again, and a collection that keeps failing is a CatalogError
naming the field.

Determinism: each collection draws from its own ``random.Random``, seeded
from the run's seed and its namespace, and Faker values come from pools
seeded the same way. The documents depend on the catalog, the seed, the
reference time ``now`` and the installed Faker version, never on batch sizes,
selections or the clock.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId

from toolkit.errors import CatalogError
from toolkit.seed.bsonvalues import MISSING, datetime_to_millis
from toolkit.seed.fixtures import resolve_fixture
from toolkit.seed.nodes import build_node
from toolkit.seed.plan import CollectionPlan, SeedPlan
from toolkit.seed.pools import DEFAULT_POOL_SIZE, FakerPools, derive_seed
from toolkit.seed.schema_generator import (
    ATTEMPTS,
    FUTURE_WINDOW_MS,
    GenerationContext,
    GenerationFailed,
    ParentTable,
    Unsatisfiable,
    coerce,
    compile_document,
    draws_random_object_ids,
)
from toolkit.seed.unique import UniqueIndex, UniqueTracker, existing_filter, unique_indexes
from toolkit.seed.validator import (
    Check,
    SchemaProblem,
    UnsupportedPattern,
    compile_validator,
    is_object,
    where,
)

# The reference time of files (--out): fixed, so that the same seed writes the same bytes
# every day. A run that inserts into a server starts from today instead (start_of_today).
DEFAULT_NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
DAY_MS = 86_400_000


def start_of_today() -> dt.datetime:
    """Midnight UTC of the current day: a reference time that stays put for a whole day."""
    today = dt.datetime.now(dt.UTC).date()
    return dt.datetime(today.year, today.month, today.day, tzinfo=dt.UTC)


def field_value(document: Any, path: str) -> Any:
    """The value at a dotted path through documents (MISSING when absent)."""
    value = document
    for part in path.split("."):
        if not is_object(value) or part not in value:
            return MISSING
        value = value[part]
    return value


def _set_value(document: Any, path: str, value: Any) -> bool:
    parts = path.split(".")
    container = document
    for part in parts[:-1]:
        container = container.get(part) if is_object(container) else None
    if not is_object(container) or parts[-1] not in container:
        return False
    container[parts[-1]] = value
    return True


def _uniquified(value: str, number: int) -> str:
    if value.count("@") == 1:
        local, domain = value.split("@")
        return f"{local}.{number}@{domain}"
    return f"{value}-{number}"


@dataclass
class PreparedCollection:
    """One collection compiled for a run: its check, generator, fixtures and unique keys."""

    plan: CollectionPlan
    check: Check
    generate: Callable[[], dict[str, Any]]
    context: GenerationContext
    tracker: UniqueTracker
    fixtures: list[dict[str, Any]]  # resolved (passwords hashed), coerced and checked
    existing: dict[int, dict[str, Any]] = field(default_factory=dict)  # position -> document there


class Seeder:
    """Generates the documents of a plan, collection by collection, parents first.

    One Seeder makes one run: ``prepare()`` (called by ``collections()`` when the
    caller has not) compiles every collection first, then ``collections()``
    yields each collection's documents once.
    """

    def __init__(
        self,
        plan: SeedPlan,
        *,
        seed: int,
        now: dt.datetime = DEFAULT_NOW,
        pool_size: int = DEFAULT_POOL_SIZE,
        environ: dict[str, str] | None = None,
    ) -> None:
        self.plan = plan
        self.seed = seed
        self.now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
        self.pools = FakerPools(seed, size=pool_size)
        self.environ = environ
        self.tables: dict[str, ParentTable] = {}
        self._prepared: dict[str, PreparedCollection] | None = None

    def prepare(self) -> None:
        """Compile every collection of the plan before any document is generated.

        Each collection's validator, generator and fixtures (password hashes made,
        so a missing password variable shows here) are compiled and checked, in
        generation order: a run that writes meets every catalog error before its
        first delete or insert, rather than after the collections before it were
        written. Raise CatalogError listing every collection that cannot be seeded
        (a collection whose parent fails is left to its parent's error).
        """
        if self._prepared is not None:
            return
        totals = self.plan.totals()
        prepared: dict[str, PreparedCollection] = {}
        errors: list[CatalogError] = []
        failed: set[str] = set()
        for collection in self.plan.collections:
            parents = {namespace for namespace, _ in collection.refs.values()}
            if collection.per is not None:
                parents.add(collection.per)
            if parents & failed:
                failed.add(collection.namespace)
                continue
            try:
                prepared[collection.namespace] = self._prepare(collection, totals)
            except CatalogError as error:
                errors.append(error)
                failed.add(collection.namespace)
        for table in self.tables.values():
            table.rows.clear()  # the samples the children were compiled against
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise CatalogError(
                f"{len(errors)} collections cannot be seeded",
                problems=[line for error in errors for line in [error.message, *error.problems]],
                hint=errors[0].hint,
            )
        self._prepared = prepared

    def fixtures(self, namespace: str) -> list[dict[str, Any]]:
        """The fixtures of a collection as they would be written (after ``prepare``)."""
        return self._prepared_collection(namespace).fixtures

    def existing_fixture_filters(self, namespace: str) -> dict[int, dict[str, Any]]:
        """For each fixture, the query that finds a document holding one of its unique keys."""
        prepared = self._prepared_collection(namespace)
        filters = {}
        for position, document in enumerate(prepared.fixtures):
            query = existing_filter(document, prepared.tracker.indexes)
            if query is not None:
                filters[position] = query
        return filters

    def skip_existing_fixtures(self, namespace: str, existing: dict[int, dict[str, Any]]) -> None:
        """Leave out the fixtures at these positions: the target already holds their documents
        (``--append``). Children refer to the documents found instead, and their unique keys
        count as used."""
        prepared = self._prepared_collection(namespace)
        for position, document in existing.items():
            prepared.existing[position] = document
            prepared.tracker.add(document)

    def skipped_fixtures(self, namespace: str) -> int:
        return len(self._prepared_collection(namespace).existing)

    def _prepared_collection(self, namespace: str) -> PreparedCollection:
        self.prepare()
        assert self._prepared is not None
        return self._prepared[namespace]

    def collections(self) -> Iterator[tuple[CollectionPlan, Iterator[dict[str, Any]]]]:
        """Yield (plan, documents) for each written collection, in generation order.

        Consume each stream before asking for the next collection; collections
        that are generated only because others refer to them are consumed here.
        """
        self.prepare()
        for collection in self.plan.collections:
            stream = self.documents(collection)
            if collection.written:
                yield collection, stream
            for _ in stream:  # whatever the consumer left, and unwritten parents
                pass

    def _prepare(self, collection: CollectionPlan, totals: dict[str, int]) -> PreparedCollection:
        namespace = collection.namespace
        spec = collection.spec
        try:
            check = compile_validator(spec.validator)
        except SchemaProblem as refused:
            raise CatalogError(
                f"{namespace}: the validator cannot be used for seeding: {refused}",
                hint="write the pattern in syntax PCRE and Python's re share (the server uses "
                "PCRE; seed checks documents with re), or leave the collection out of the run "
                "(--db/--collection)"
                if isinstance(refused, UnsupportedPattern)
                else "fix the validator, or leave the collection out of the run "
                "(--db/--collection)",
            ) from None
        if (
            collection.per is not None
            and collection.per_parent is None
            and collection.count
            and not totals[collection.per]
        ):
            raise CatalogError(
                f"{namespace}: seed.per {collection.per} has no documents to spread "
                f"{collection.count} documents over"
            )
        self._check_unique_references(collection, totals)
        context = self._context(collection)
        schema = (spec.validator or {}).get("$jsonSchema")
        try:
            generate = compile_document(schema, context)
        except (Unsatisfiable, SchemaProblem) as error:
            raise CatalogError(
                f"{namespace}: cannot generate documents: {error}",
                hint="a field whose schema no value can satisfy (or that a seed setting "
                "contradicts) makes the collection impossible to seed; fix the validator "
                "or seed.fields",
            ) from None
        tracker = UniqueTracker(
            unique_indexes(spec),
            random_object_ids=draws_random_object_ids(schema, collection.overrides),
        )
        fixtures = self._resolve_fixtures(collection, context, check, tracker, schema)
        prepared = PreparedCollection(collection, check, generate, context, tracker, fixtures)
        if collection.parent:
            table = self.tables[namespace] = ParentTable(collection.referenced_fields)
            if totals[namespace]:
                table.rows.append(self._sample_row(prepared))
        return prepared

    def _check_unique_references(self, collection: CollectionPlan, totals: dict[str, int]) -> None:
        """Refuse a unique field filled from a parent with fewer documents than it needs."""
        generated = totals[collection.namespace] - len(collection.fixtures)
        for index in unique_indexes(collection.spec):
            if len(index.fields) != 1 or index.fields[0] not in collection.refs:
                continue
            path = index.fields[0]
            parent, parent_field = collection.refs[path]
            if generated > totals[parent]:
                raise CatalogError(
                    f"{collection.namespace}: field {path} refers to {parent}.{parent_field} "
                    f"and is unique (index {index.name}), but {generated} documents cannot each "
                    f"take another of the {totals[parent]} {parent} documents",
                    hint=f"seed at most {totals[parent]} {collection.namespace} documents, "
                    f"or more {parent} documents (count, per, --count)",
                )

    def _resolve_fixtures(
        self,
        collection: CollectionPlan,
        context: GenerationContext,
        check: Check,
        tracker: UniqueTracker,
        schema: Any,
    ) -> list[dict[str, Any]]:
        """The fixtures as they are written: passwords hashed, _id drawn, numbers coerced;
        each checked against the validator and the unique indexes (all problems at once)."""
        namespace = collection.namespace
        coercer = _fixture_coercer(schema)
        resolved: list[dict[str, Any]] = []
        problems: list[CatalogError] = []
        for position, fixture in enumerate(collection.fixtures):
            try:
                document = resolve_fixture(
                    fixture,
                    seed=self.seed,
                    namespace=namespace,
                    position=position,
                    hash_passwords=collection.written,
                    environ=self.environ,
                )
            except CatalogError as error:
                problems.append(error)
                continue
            if "_id" not in document:
                document = {"_id": _fixture_id(context), **document}
            document = coercer(document)
            problem = check(document)
            if problem is not None and collection.written:
                problems.append(
                    CatalogError(f"{namespace}: fixture {position} fails the validator: {problem}")
                )
                continue
            clash = tracker.first_conflict(document)
            if clash is not None:
                problems.append(
                    CatalogError(
                        f"{namespace}: fixture {position} repeats a key of unique index "
                        f"{clash.name}"
                    )
                )
                continue
            tracker.add(document)
            resolved.append(document)
        if len(problems) == 1:
            raise problems[0]
        if problems:
            raise CatalogError(
                f"{namespace}: {len(problems)} fixtures cannot be written",
                problems=[error.message for error in problems],
                hint=next((error.hint for error in problems if error.hint), None),
            )
        return resolved

    def _sample_row(self, prepared: PreparedCollection) -> tuple[Any, ...]:
        """A row of a parent for its children's compile-time checks of their references.

        The first fixture, or else the first document drawn and then taken back: the
        random state is restored, so the run draws the same documents as without it.
        """
        collection = prepared.plan
        if prepared.fixtures:
            document = prepared.fixtures[0]
        else:
            context = prepared.context
            state = context.state
            saved = context.rng.getstate()
            parent_rows = self.tables[collection.per].rows if collection.per is not None else []
            state.index = state.position = 0
            state.parent_row = parent_rows[0] if parent_rows else ()
            state.reset()
            try:
                document = prepared.generate()
                for container, key, pending in state.pending:
                    container[key] = pending.render(document)
            except GenerationFailed as error:
                raise self._failed(collection.namespace, error) from None
            finally:
                state.reset()
                context.rng.setstate(saved)
        return tuple(field_value(document, path) for path in collection.referenced_fields)

    def documents(self, collection: CollectionPlan) -> Iterator[dict[str, Any]]:
        """The documents of one collection: fixtures first, then generated ones."""
        prepared = self._prepared_collection(collection.namespace)
        namespace = collection.namespace
        check = prepared.check
        generate = prepared.generate
        context = prepared.context
        tracker = prepared.tracker
        table = self.tables.get(namespace) if collection.parent else None
        fields = collection.referenced_fields
        for position, document in enumerate(prepared.fixtures):
            found = prepared.existing.get(position)
            if table is not None:
                source = document if found is None else found
                table.rows.append(tuple(field_value(source, path) for path in fields))
            if found is None:
                yield document
        state = context.state
        picks = state.picks
        pending = state.pending
        fast_ids = tracker.only_object_ids
        for index, (parent_row, position) in enumerate(self._schedule(collection)):
            state.index = index
            state.position = position
            state.parent_row = parent_row
            # The common case inline: one draw that passes, nothing to track.
            picks.clear()
            try:
                document = generate()
            except GenerationFailed as error:
                raise self._failed(namespace, error) from None
            if (
                pending
                or check(document) is not None
                or not (fast_ids and type(document["_id"]) is ObjectId)
            ):
                document = self._retry(namespace, document, generate, check, tracker, context)
            if table is not None:
                table.rows.append(tuple(field_value(document, path) for path in fields))
            yield document

    def _context(self, collection: CollectionPlan) -> GenerationContext:
        spec = collection.spec
        forced = set(collection.referenced_fields)
        for override in collection.overrides.values():
            forced.update(override.field_references)
        for index in spec.indexes:
            if index.options.get("unique") and not index.options.get("sparse"):
                forced.update(name for name, _ in index.keys)
        implied: dict[str, dict[str, Any]] = {}
        windows: dict[str, tuple[int, int]] = {}
        now_ms = datetime_to_millis(self.now)
        if spec.timeseries:
            time_field = spec.timeseries["timeField"]
            implied[time_field] = {"bsonType": "date"}
            forced.add(time_field)
            if spec.expire_after_seconds:
                windows[time_field] = _ttl_window(now_ms, spec.expire_after_seconds)
        for index in spec.indexes:
            ttl = index.ttl_seconds
            if ttl is not None and len(index.keys) == 1:
                windows[index.keys[0][0]] = _ttl_window(now_ms, ttl)
        rng = random.Random(derive_seed(self.seed, "collection", collection.namespace))
        return GenerationContext(
            rng=rng,
            pools=self.pools,
            now=self.now,
            overrides=collection.overrides,
            forced=frozenset(forced),
            implied=implied,
            date_windows=windows,
            parents=self.tables,
            refs=collection.refs,
            own_parent=collection.per,
        )

    def _schedule(self, collection: CollectionPlan) -> Iterator[tuple[tuple[Any, ...], int]]:
        """(parent row, position among the parent's documents) for each document to generate."""
        if collection.per is None:
            for position in range(collection.count):
                yield (), position
            return
        rows = self.tables[collection.per].rows
        if collection.per_parent is not None:
            for row in rows:
                for position in range(collection.per_parent):
                    yield row, position
            return
        if not rows:  # a count of 0 (prepare refuses a count with no parents)
            return
        last_parent, position = -1, 0
        for number in range(collection.count):
            parent = number * len(rows) // collection.count
            position = position + 1 if parent == last_parent else 0
            last_parent = parent
            yield rows[parent], position

    @staticmethod
    def _failed(namespace: str, error: GenerationFailed) -> CatalogError:
        return CatalogError(
            f"{namespace}: cannot generate {where(error.path)}: {error.reason}",
            hint="its schema is hard or impossible to satisfy; simplify it or give the "
            "field a generator in seed.fields",
        )

    def _retry(
        self,
        namespace: str,
        document: dict[str, Any],
        generate: Any,
        check: Check,
        tracker: UniqueTracker,
        context: GenerationContext,
    ) -> dict[str, Any]:
        """Finish ``document`` (templates), check it, and draw again until one passes."""
        state = context.state
        problem = None
        for attempt in range(ATTEMPTS):
            if attempt:
                state.picks.clear()
                try:
                    document = generate()
                except GenerationFailed as error:
                    raise self._failed(namespace, error) from None
            if state.pending:
                for container, key, pending in state.pending:
                    container[key] = pending.render(document)
                state.pending.clear()
            problem = check(document)
            if problem is not None:
                continue
            clash = tracker.first_conflict(document)
            if clash is not None and not self._make_unique(
                document, clash, check, tracker, state.index
            ):
                problem = (
                    f"unique index {clash.name} on {', '.join(clash.fields)}: value already used"
                )
                continue
            tracker.add(document)
            return document
        raise CatalogError(
            f"{namespace}: no valid document in {ATTEMPTS} attempts; the last failed: {problem}",
            hint="the field named is hard or impossible to satisfy (or its unique index has run "
            "out of values); fix its schema, or give it a generator in seed.fields",
        )

    @staticmethod
    def _make_unique(
        document: dict[str, Any],
        index: UniqueIndex,
        check: Check,
        tracker: UniqueTracker,
        number: int,
    ) -> bool:
        """Try to free a key by numbering a string field of the index ("x" -> "x-17")."""
        for path in index.fields:
            value = field_value(document, path)
            if not isinstance(value, str):
                continue
            if not _set_value(document, path, _uniquified(value, number)):
                continue
            if check(document) is None and tracker.first_conflict(document) is None:
                return True
            _set_value(document, path, value)
        return False


def _ttl_window(now_ms: int, ttl_seconds: int) -> tuple[int, int]:
    """The dates a field under a TTL of ``ttl_seconds`` gets, so the TTL monitor keeps them.

    A TTL index deletes a document once its date is ``ttl_seconds`` old (0: once the
    date itself has passed). The default reference time of a run that inserts is the
    start of the day, and the run may come at any hour of it: dates stay a day clear of
    expiry where the TTL leaves room for that, and expiry dates (a TTL of 0) start a day
    after the reference time.
    """
    ttl_ms = ttl_seconds * 1000
    if ttl_ms <= 0:
        return now_ms + DAY_MS, now_ms + DAY_MS + FUTURE_WINDOW_MS
    span = max(ttl_ms - DAY_MS, ttl_ms // 2) * 9 // 10
    return now_ms - span, now_ms


def _fixture_id(context: GenerationContext) -> ObjectId:
    getrandbits = context.rng.getrandbits
    seconds = datetime_to_millis(context.now) // 1000
    return ObjectId(((seconds << 64) | getrandbits(64)).to_bytes(12, "big"))


def _fixture_coercer(schema: Any) -> Any:
    """Numbers of a fixture in the types its validator wants (YAML has no long or decimal)."""
    if not schema:
        return lambda document: document
    try:
        root = build_node(schema, "", "", "", top_level=True)
    except SchemaProblem:
        return lambda document: document

    def convert(value: Any, node: Any) -> Any:
        if node is None:
            return value
        if is_object(value) and node.properties:
            return {key: convert(item, node.properties.get(key)) for key, item in value.items()}
        if isinstance(value, list) and node.items is not None and not isinstance(node.items, list):
            return [convert(item, node.items) for item in value]
        return coerce(value, node.types)

    return lambda document: convert(document, root)
