"""`mongo-toolkit seed`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from toolkit.actions import seed as actions
from toolkit.cli import AppContext, output_options
from toolkit.seed.engine import DEFAULT_NOW, start_of_today


def _parse_counts(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        name, separator, number = value.partition("=")
        if not separator or not name or not number.strip().isdigit():
            raise click.BadParameter(f"{value!r}: use COLLECTION=N, e.g. --count users=500")
        counts[name.strip()] = int(number)
    return counts


def _parse_now(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> dt.datetime | None:
    if value is None:
        return None  # the action's default: today for a server, a fixed date for --out
    if value == "today":
        return start_of_today()
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r}: use an ISO date or time (2025-06-01, 2025-06-01T12:00:00Z) or today"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@click.command("seed")
@click.option(
    "--db",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Only this database (repeatable). Default: every database in the catalog.",
)
@click.option(
    "--collection",
    "collections",
    multiple=True,
    metavar="NAME",
    help="Only this collection, NAME or DB.NAME (repeatable). Its parents are generated too, "
    "for its references, but not written.",
)
@click.option(
    "--count",
    "counts",
    multiple=True,
    metavar="C=N",
    callback=_parse_counts,
    help="Generate N documents for collection C (repeatable); overrides the catalog's count "
    "(for a `per` collection: N in all, spread over the parents).",
)
@click.option(
    "--scale",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Multiply the catalog's counts (children with `per` follow their parents).",
)
@click.option(
    "--seed",
    "seed_value",
    type=click.IntRange(min=0),
    default=None,
    help="Random seed: the same catalog and seed give byte-identical documents. "
    "Default: a new one, printed in the summary.",
)
@click.option(
    "--drop", is_flag=True, help="Delete the collections' documents first (not the collections)."
)
@click.option(
    "--append",
    is_flag=True,
    help="Add to collections that already hold documents (fixtures already there, found by "
    "their unique keys, are left out).",
)
@click.option(
    "--if-empty",
    is_flag=True,
    help="Seed only when every target collection is empty; otherwise do nothing and exit 0 "
    "(what `make up` runs on every start, so it seeds once).",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Documents per unordered insert (or per progress step with --out).",
)
@click.option(
    "--out",
    "out_dir",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write DIR/<db>.<collection>.jsonl (canonical Extended JSON) instead of inserting; "
    "needs no server.",
)
@click.option(
    "--now",
    callback=_parse_now,
    default=None,
    metavar="WHEN",
    help="Reference time of generated dates (dates before it, expiry dates after it): an ISO "
    "date or time, or today. Default: today (midnight UTC) when inserting, so that dates "
    "under TTL indexes are not expired at once and runs on the same day write the same "
    f"documents; {DEFAULT_NOW.date().isoformat()} with --out, so that files are reproducible.",
)
@output_options
@click.pass_obj
def seed(
    app: AppContext,
    databases: tuple[str, ...],
    collections: tuple[str, ...],
    counts: dict[str, int],
    scale: float,
    seed_value: int | None,
    drop: bool,
    append: bool,
    if_empty: bool,
    batch_size: int,
    out_dir: Path | None,
    now: dt.datetime | None,
) -> int:
    """Fill collections with documents generated from their validators.

    Each collection's `$jsonSchema` says what its documents look like; the
    catalog's `seed` section says how many (`count`, or `per` parent), where
    references point (`ref: users._id`), which generator a field uses, and
    which literal documents (`fixtures`) come first. Field names steer values
    (email, name, url, ip_address, *_at dates...). Every document is checked
    against its validator and the unique indexes before it is written.

    \b
    Examples:
      mongo-toolkit seed --seed 1
      mongo-toolkit seed --db sentimatrix_studio --drop --seed 7
      mongo-toolkit seed --collection results --count results=100000 --out seed-data/
    """
    if drop + append + if_empty > 1:
        raise click.UsageError("--drop, --append and --if-empty exclude each other")
    if out_dir is not None and (drop or append or if_empty):
        raise click.UsageError(
            "--drop, --append and --if-empty are for a server; --out always replaces the files"
        )
    request = actions.SeedRequest(
        databases=databases,
        collections=collections,
        counts=counts,
        scale=scale,
        seed=seed_value,
        mode="drop" if drop else "append" if append else "if-empty" if if_empty else "refuse",
        batch_size=batch_size,
        out=out_dir,
        now=now,
    )
    progress: Progress | None = None
    tasks: dict[str, object] = {}
    if app.output.interactive:
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=app.output.err_console,
        )

    def on_start(namespace: str, total: int) -> None:
        if progress is not None:
            tasks[namespace] = progress.add_task(namespace, total=total)

    def on_progress(namespace: str, count: int) -> None:
        if progress is not None:
            progress.advance(tasks[namespace], count)  # type: ignore[arg-type]

    if progress is not None:
        with progress:
            outcome = actions.seed(
                app.settings, app.catalog, request, on_start=on_start, on_progress=on_progress
            )
    else:
        outcome = actions.seed(app.settings, app.catalog, request)

    def render(console: Console) -> None:
        if outcome.skipped:
            console.print(f"nothing seeded (--if-empty): {outcome.skipped}")
            return
        table = Table(show_lines=False)
        table.add_column("collection")
        table.add_column("documents", justify="right")
        if out_dir is None:
            table.add_column("rejected", justify="right")
        table.add_column("seconds", justify="right")
        table.add_column("documents/s", justify="right")
        for result in outcome.collections:
            row = [result.namespace, str(result.documents)]
            if out_dir is None:
                row.append(f"[red]{result.rejected}[/red]" if result.rejected else "0")
            row += [f"{result.seconds:.2f}", f"{result.documents_per_second:,.0f}"]
            table.add_row(*row)
        console.print(table)
        for result in outcome.collections:
            if result.existing_fixtures:
                console.print(
                    f"{result.namespace}: {result.existing_fixtures} fixture(s) already there, "
                    "left out"
                )
        seconds = outcome.seconds
        rate = outcome.documents / seconds if seconds > 0 else 0.0
        where = f" to {out_dir}" if out_dir is not None else ""
        console.print(
            f"{outcome.documents} documents{where} in {seconds:.2f} s ({rate:,.0f} documents/s); "
            f"seed {outcome.seed}, dates relative to {outcome.now.isoformat()}"
        )

    app.output.emit(outcome.as_dict(), render)
    actions.check_rejections(outcome, request.mode)
    return 0
