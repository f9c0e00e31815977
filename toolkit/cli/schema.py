"""`mongo-toolkit schema plan|apply|render`."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.actions import schema as actions
from toolkit.cli import AppContext, output_options
from toolkit.cli.planning import apply_payload, plan_payload, print_applied, print_plan
from toolkit.errors import ChangesPending
from toolkit.mongo.apply import Applied

database_option = click.option(
    "--db",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Only this database (repeatable). Default: every database in the catalog.",
)
allow_drop_option = click.option(
    "--allow-drop",
    is_flag=True,
    help="Also run destructive operations: drops of indexes and collections the catalog "
    "lacks, and the drop half of rebuilds.",
)


@click.group()
def schema() -> None:
    """Compare the catalog with a server, apply it, or render init scripts.

    \b
    schema plan     what differs, with the reason for each change
    schema apply    make the server match (re-running changes nothing)
    schema render   write mongo-init/ scripts for the official mongo image
    """


@schema.command("plan")
@database_option
@click.option("--check", is_flag=True, help="Exit 3 when anything is pending (a CI gate).")
@allow_drop_option
@output_options
@click.pass_obj
def plan_command(app: AppContext, databases: tuple[str, ...], check: bool, allow_drop: bool) -> int:
    """Show what `schema apply` would change on the server, and why.

    Observes collections and indexes with listCollections and listIndexes and
    compares them with the catalog, ignoring what the server fills in itself.
    Validators, validation level and action, TTLs, hidden indexes, time-series
    expiry and granularity change in place (collMod); other index changes are
    rebuilds. Drops are always listed and run only with --allow-drop.

    \b
    Examples:
      mongo-toolkit schema plan
      mongo-toolkit schema plan --db sentimatrix --check    # CI: exit 3 if not in sync
    """
    result = actions.plan(app.settings, app.catalog, databases)
    operations = result.operations
    in_sync = f"schema is in sync with {app.catalog} ({', '.join(result.catalog.databases)})"
    app.output.emit(
        plan_payload(operations, allow_drop),
        lambda console: print_plan(console, operations, allow_drop, in_sync),
    )
    if check and operations:
        raise ChangesPending(
            f"{len(operations)} schema change(s) pending",
            hint="run `mongo-toolkit schema apply` (add --allow-drop for drops)",
        )
    return 0


@schema.command("apply")
@database_option
@allow_drop_option
@output_options
@click.pass_obj
def apply_command(app: AppContext, databases: tuple[str, ...], allow_drop: bool) -> int:
    """Make the server match the catalog: run exactly the plan `schema plan` shows.

    Operations run in order: new collections and indexes first, in-place
    changes, then drops (only with --allow-drop), then the indexes that had to
    wait for a drop. A second run plans nothing. With --json the result lists
    every operation with its status, and "changed" says whether anything ran.

    \b
    Examples:
      mongo-toolkit schema apply
      mongo-toolkit --json schema apply --db ai_apps
    """

    def progress(result: Applied) -> None:
        if result.status == "done":
            app.output.info(f"done: {result.operation.describe()}")

    _planned, results = actions.apply(
        app.settings, app.catalog, databases, allow_drop=allow_drop, on_done=progress
    )
    pairs = [(result.operation, result.status) for result in results]
    app.output.emit(
        apply_payload(pairs),
        lambda console: print_applied(
            console, pairs, allow_drop, f"nothing to do: the server matches {app.catalog}"
        ),
    )
    return 0


@schema.command("render")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("mongo-init"),
    show_default=True,
    help="Directory for the scripts (docker-entrypoint-initdb.d).",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 3 if the directory is out of date."
)
@output_options
@click.pass_obj
def render_command(app: AppContext, out_dir: Path, check: bool) -> int:
    """Write mongosh init scripts that build the catalog on an empty server.

    One script per database, issuing the same commands `schema apply` issues
    against an empty server. The official mongo image runs them on the first
    start of an empty data directory. Needs no server.

    \b
    Examples:
      mongo-toolkit schema render --out mongo-init/
      mongo-toolkit schema render --check      # CI: is mongo-init/ up to date?
    """
    catalog, scripts = actions.render(app.catalog)
    if check:
        differing = actions.differing_scripts(out_dir, scripts)
        payload = {"up_to_date": not differing, "differing": differing}
        app.output.emit(
            payload,
            lambda console: console.print(
                f"{out_dir} is up to date"
                if not differing
                else f"{out_dir} is out of date: {', '.join(differing)}"
            ),
        )
        if differing:
            raise ChangesPending(
                f"{out_dir} differs from what {app.catalog} renders: {', '.join(differing)}",
                hint="run `make render` (mongo-toolkit schema render) and commit the result",
            )
        return 0
    written, removed = actions.write_scripts(out_dir, scripts)
    payload = {
        "out": str(out_dir),
        "scripts": sorted(scripts),
        "written": written,
        "removed": removed,
    }
    app.output.emit(
        payload,
        lambda console: console.print(
            f"{out_dir}: {len(scripts)} script(s), {len(written)} written, {len(removed)} removed"
        ),
    )
    return 0
