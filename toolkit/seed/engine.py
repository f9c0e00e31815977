"""Run a seed plan: every collection's documents, valid, unique and deterministic.

``Seeder(plan, seed=N, now=...)`` compiles each collection's generator once,
then yields its documents one at a time (a stream: nothing is kept but the
values children refer to and the keys of unique indexes). Each document is
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
from collections.abc import Iterator
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
)
from toolkit.seed.unique import UniqueIndex, UniqueTracker, unique_indexes
from toolkit.seed.validator import Check, SchemaProblem, compile_validator, is_object, where

# The default reference time: fixed, so that the same seed writes the same dates every day.
DEFAULT_NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


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


class Seeder:
    """Generates the documents of a plan, collection by collection, parents first."""

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

    def collections(self) -> Iterator[tuple[CollectionPlan, Iterator[dict[str, Any]]]]:
        """Yield (plan, documents) for each written collection, in generation order.

        Consume each stream before asking for the next collection; collections
        that are generated only because others refer to them are consumed here.
        """
        for collection in self.plan.collections:
            stream = self.documents(collection)
            if collection.written:
                yield collection, stream
            for _ in stream:  # whatever the consumer left, and unwritten parents
                pass

    def documents(self, collection: CollectionPlan) -> Iterator[dict[str, Any]]:
        """The documents of one collection: fixtures first, then generated ones."""
        namespace = collection.namespace
        spec = collection.spec
        try:
            check = compile_validator(spec.validator)
        except SchemaProblem as refused:
            raise CatalogError(
                f"{namespace}: the validator cannot be used for seeding: {refused}",
                hint="fix the validator, or leave the collection out of the run "
                "(--db/--collection)",
            ) from None
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
        tracker = UniqueTracker(unique_indexes(spec))
        table = None
        if collection.parent:
            table = self.tables[namespace] = ParentTable(collection.referenced_fields)
        fields = collection.referenced_fields
        coercer = _fixture_coercer(schema)
        for position, fixture in enumerate(collection.fixtures):
            document = resolve_fixture(
                fixture,
                seed=self.seed,
                namespace=namespace,
                position=position,
                hash_passwords=collection.written,
                environ=self.environ,
            )
            if "_id" not in document:
                document = {"_id": _fixture_id(context), **document}
            document = coercer(document)
            problem = check(document)
            if problem is not None and collection.written:
                raise CatalogError(
                    f"{namespace}: fixture {position} fails the validator: {problem}"
                )
            clash = tracker.first_conflict(document)
            if clash is not None:
                raise CatalogError(
                    f"{namespace}: fixture {position} repeats a key of unique index {clash.name}"
                )
            tracker.add(document)
            if table is not None:
                table.rows.append(tuple(field_value(document, path) for path in fields))
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
                windows[time_field] = (now_ms - spec.expire_after_seconds * 900, now_ms)
        for index in spec.indexes:
            ttl = index.ttl_seconds
            if ttl is not None and len(index.keys) == 1:
                name = index.keys[0][0]
                # A TTL index deletes documents once their date is this old: keep dates inside
                # the window (and in the future for 0, which expires at the date itself).
                if ttl > 0:
                    windows[name] = (now_ms - ttl * 900, now_ms)
                else:
                    windows[name] = (now_ms + 1000, now_ms + FUTURE_WINDOW_MS)
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
        if collection.count and not rows:
            raise CatalogError(
                f"{collection.namespace}: seed.per {collection.per} has no documents to spread "
                f"{collection.count} documents over"
            )
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
