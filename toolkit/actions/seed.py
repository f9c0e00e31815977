"""`mongo-toolkit seed`: plan the run, generate the documents, insert them or write files."""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.catalog.load import load_catalog
from toolkit.errors import CatalogError, OperationFailed, UsageError
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.seed import (
    TargetState,
    delete_documents,
    find_existing,
    insert_documents,
    observe_targets,
)
from toolkit.seed.engine import DEFAULT_NOW, Seeder, start_of_today
from toolkit.seed.output import output_path, write_documents
from toolkit.seed.plan import CollectionPlan, SeedPlan, plan_seed

MODES = ("refuse", "drop", "append", "if-empty")
DUPLICATE_KEY = 11000  # the server's code for a unique index violation


@dataclass(frozen=True)
class SeedRequest:
    """What the command line asked for."""

    databases: tuple[str, ...] = ()
    collections: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)
    scale: float = 1.0
    seed: int | None = None  # None: draw one (and report it)
    # refuse (non-empty collections), drop (delete first), append, or if-empty
    # (seed only when every target is empty, else do nothing: `make up`'s first start)
    mode: str = "refuse"
    batch_size: int = 1000
    out: Path | None = None  # write files instead of inserting
    # the reference time of generated dates; None: the start of today (UTC) when inserting,
    # DEFAULT_NOW with --out (see reference_time)
    now: dt.datetime | None = None


@dataclass
class CollectionOutcome:
    namespace: str
    documents: int = 0
    rejected: int = 0
    deleted: int = 0
    existing_fixtures: int = 0  # fixtures left out: the collection already holds them (--append)
    codes: set[int] = field(default_factory=set)  # of the rejections
    seconds: float = 0.0
    file: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def documents_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "namespace": self.namespace,
            "documents": self.documents,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
            "documents_per_second": round(self.documents_per_second, 1),
        }
        if self.deleted:
            result["deleted"] = self.deleted
        if self.existing_fixtures:
            result["existing_fixtures"] = self.existing_fixtures
        if self.file is not None:
            result["file"] = self.file
        if self.errors:
            result["errors"] = self.errors
        return result


@dataclass
class SeedOutcome:
    seed: int
    now: dt.datetime
    out: Path | None
    collections: list[CollectionOutcome] = field(default_factory=list)
    skipped: str | None = None  # why nothing was seeded (--if-empty)

    @property
    def documents(self) -> int:
        return sum(outcome.documents for outcome in self.collections)

    @property
    def rejected(self) -> int:
        return sum(outcome.rejected for outcome in self.collections)

    @property
    def seconds(self) -> float:
        return sum(outcome.seconds for outcome in self.collections)

    def as_dict(self) -> dict[str, Any]:
        seconds = self.seconds
        return {
            "seed": self.seed,
            "now": self.now,
            "out": str(self.out) if self.out is not None else None,
            "documents": self.documents,
            "rejected": self.rejected,
            "seconds": round(seconds, 3),
            "documents_per_second": round(self.documents / seconds, 1) if seconds > 0 else 0.0,
            "collections": [outcome.as_dict() for outcome in self.collections],
            "skipped": self.skipped,
        }


StartCallback = Callable[[str, int], None]  # (namespace, documents expected)
ProgressCallback = Callable[[str, int], None]  # (namespace, documents just written)


def reference_time(request: SeedRequest) -> dt.datetime:
    """The ``now`` of a run: the request's, else a fixed date for files, today for a server.

    Files (``--out``) are meant to be reproduced byte for byte, so their default never
    moves. Documents inserted into a server must not be older than its TTL indexes allow
    (the TTL monitor would delete them within a minute), so their default is the start
    of the current UTC day: runs on the same day still write the same documents.
    """
    if request.now is not None:
        return request.now if request.now.tzinfo else request.now.replace(tzinfo=dt.UTC)
    return DEFAULT_NOW if request.out is not None else start_of_today()


def plan(catalog_path: Path, request: SeedRequest) -> SeedPlan:
    """Load the catalog and work out the plan (no server, no documents yet)."""
    if request.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    catalog = load_catalog(catalog_path)
    return plan_seed(
        catalog,
        databases=request.databases,
        collections=request.collections,
        counts=request.counts,
        scale=request.scale,
    )


def seed(
    settings: ConnectionSettings,
    catalog_path: Path,
    request: SeedRequest,
    *,
    on_start: StartCallback | None = None,
    on_progress: ProgressCallback | None = None,
) -> SeedOutcome:
    """Generate the documents and insert them (or write them under ``request.out``).

    Every collection is compiled (validators, generators, fixtures, password
    variables) before the first document is deleted, inserted or written. Raise
    CatalogError for a seed the catalog cannot satisfy, UsageError for a
    non-empty target without --drop/--append, OperationFailed when the server
    fails; rejected documents are counted in the outcome, not raised.
    """
    if request.mode not in MODES:  # pragma: no cover (the CLI only passes these)
        raise UsageError(f"unknown mode {request.mode!r}")
    seed_plan = plan(catalog_path, request)
    seed_value = request.seed if request.seed is not None else secrets.randbelow(2**31)
    seeder = Seeder(seed_plan, seed=seed_value, now=reference_time(request))
    seeder.prepare()  # every catalog error now, before anything is written
    outcome = SeedOutcome(seed=seed_value, now=seeder.now, out=request.out)
    totals = seed_plan.totals()
    if request.out is not None:
        _write_files(seeder, request, totals, outcome, on_start, on_progress)
    else:
        _insert(settings, seeder, seed_plan, request, totals, outcome, on_start, on_progress)
    return outcome


def _timed(
    documents: Iterable[dict[str, Any]], outcome: CollectionOutcome
) -> Iterator[dict[str, Any]]:
    """Pass documents through, counting them."""
    for document in documents:
        outcome.documents += 1
        yield document


def _write_files(
    seeder: Seeder,
    request: SeedRequest,
    totals: dict[str, int],
    outcome: SeedOutcome,
    on_start: StartCallback | None,
    on_progress: ProgressCallback | None,
) -> None:
    assert request.out is not None
    for collection, documents in seeder.collections():
        namespace = collection.namespace
        result = CollectionOutcome(namespace)
        path = output_path(request.out, namespace)
        result.file = str(path)
        if on_start is not None:
            on_start(namespace, totals[namespace])
        started = time.perf_counter()
        try:
            write_documents(
                path,
                _timed(documents, result),
                batch_size=request.batch_size,
                on_batch=functools.partial(on_progress, namespace) if on_progress else None,
            )
        except OSError as error:
            raise OperationFailed(
                f"cannot write {path}: {error.strerror or error}",
                hint="--out names a directory to create or reuse; check its permissions and space",
            ) from error
        result.seconds = time.perf_counter() - started
        outcome.collections.append(result)


def _insert(
    settings: ConnectionSettings,
    seeder: Seeder,
    seed_plan: SeedPlan,
    request: SeedRequest,
    totals: dict[str, int],
    outcome: SeedOutcome,
    on_start: StartCallback | None,
    on_progress: ProgressCallback | None,
) -> None:
    written = seed_plan.written
    client = connect(settings)
    try:
        with translate_errors(settings, "reading the collections to seed"):
            targets = observe_targets(client, [c.namespace for c in written])
        problems = []
        for collection in written:
            target = targets[collection.namespace]
            if collection.spec.kind == "timeseries" and target.kind != "timeseries":
                problems.append(
                    f"{collection.namespace} is a time-series collection in the catalog but "
                    + ("does not exist" if not target.exists else f"a {target.kind} on the server")
                )
            elif target.has_documents and request.mode in ("refuse", "if-empty"):
                problems.append(f"{collection.namespace} already holds documents")
        if request.mode == "if-empty" and problems and all("already holds" in p for p in problems):
            outcome.skipped = "; ".join(problems)
            return
        if problems:
            refusing = any("already holds" in problem for problem in problems)
            raise UsageError(
                f"cannot seed: {'; '.join(problems)}",
                hint="pass --drop to replace existing documents or --append to add to them"
                if refusing
                else "run `mongo-toolkit schema apply` first: it creates the collections",
            )
        if request.mode == "append":
            with translate_errors(settings, "looking for the fixtures already there"):
                _skip_existing_fixtures(client, seeder, written, targets)
        try:
            _insert_collections(
                client, settings, seeder, request, targets, totals, outcome, on_start, on_progress
            )
        except CatalogError as error:
            if request.mode != "if-empty":
                raise
            # The targets were empty when the run began: empty the ones it wrote again, or the
            # next --if-empty run (every `make up`) would find them filled and seed nothing.
            with translate_errors(settings, "emptying the collections after a failed seed"):
                for result in outcome.collections:
                    delete_documents(client, result.namespace)
            error.hint = (error.hint + "; " if error.hint else "") + (
                "the collections this run had written were emptied again, so the next "
                "--if-empty run seeds them"
            )
            raise
    finally:
        client.close()


def _skip_existing_fixtures(
    client: Any, seeder: Seeder, written: list[CollectionPlan], targets: dict[str, TargetState]
) -> None:
    """--append: leave out fixtures whose documents the collection already holds (by any
    unique key, _id included), so that appending again does not repeat them."""
    for collection in written:
        namespace = collection.namespace
        if not targets[namespace].has_documents or not collection.fixtures:
            continue
        found = find_existing(client, namespace, seeder.existing_fixture_filters(namespace))
        seeder.skip_existing_fixtures(namespace, found)


def _insert_collections(
    client: Any,
    settings: ConnectionSettings,
    seeder: Seeder,
    request: SeedRequest,
    targets: dict[str, TargetState],
    totals: dict[str, int],
    outcome: SeedOutcome,
    on_start: StartCallback | None,
    on_progress: ProgressCallback | None,
) -> None:
    """Write each collection in turn (after deleting its documents for --drop), recording
    the outcome of each as soon as it starts."""
    for collection, documents in seeder.collections():
        namespace = collection.namespace
        result = CollectionOutcome(namespace)
        result.existing_fixtures = seeder.skipped_fixtures(namespace)
        outcome.collections.append(result)
        if on_start is not None:
            on_start(namespace, totals[namespace] - result.existing_fixtures)
        started = time.perf_counter()
        with translate_errors(settings, f"seeding {namespace}"):
            if request.mode == "drop" and targets[namespace].has_documents:
                result.deleted = delete_documents(client, namespace)
            inserted = insert_documents(
                client,
                namespace,
                _timed(documents, result),
                batch_size=request.batch_size,
                on_batch=functools.partial(on_progress, namespace) if on_progress else None,
            )
        result.seconds = time.perf_counter() - started
        result.rejected = inserted.rejected
        result.errors = inserted.errors
        result.codes = inserted.codes


def check_rejections(outcome: SeedOutcome, mode: str = "refuse") -> None:
    """Raise OperationFailed when the server rejected documents (after the summary is shown)."""
    if not outcome.rejected:
        return
    failing = [c for c in outcome.collections if c.rejected]
    duplicates = any(DUPLICATE_KEY in c.codes for c in failing)
    if mode == "append" and duplicates:
        # Fixtures already there are left out; generated documents are not: the same --seed
        # draws the same _ids and keys as the run that filled the collection.
        hint = (
            "with --append, generated documents repeat keys already in the collection "
            "(the same --seed draws the same _ids and values): pass a --seed not used for "
            "it before, or --drop to replace its documents"
        )
    else:
        hint = (
            "the server's validators or unique indexes differ from the catalog's: "
            "run `mongo-toolkit schema plan` to see how"
        )
    raise OperationFailed(
        f"the server rejected {outcome.rejected} document(s) in "
        f"{', '.join(c.namespace for c in failing)}: {(failing[0].errors or [''])[0]}",
        hint=hint,
    )
