"""`mongo-toolkit shard plan|apply`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from toolkit.actions import shard as actions
from toolkit.cli import AppContext, output_options
from toolkit.errors import ChangesPending
from toolkit.plan.shard import ShardOperation

database_option = click.option(
    "--db",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Only the collections of this database (repeatable); zones and the balancer "
    "window are cluster-wide and always planned.",
)
allow_drop_option = click.option(
    "--allow-drop",
    is_flag=True,
    help="Also remove what the catalog lacks: zone ranges, shards' zone memberships, "
    "the balancer window.",
)


@click.group()
def shard() -> None:
    """Shard collections, pin zone ranges and set the balancer window, through a mongos.

    \b
    shard plan    what differs from the catalog, with the reason for each command
    shard apply   run that plan (re-running it plans nothing)
    """


def _table(
    operations: list[ShardOperation], allow_drop: bool, statuses: list[str] | None = None
) -> Table:
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("operation")
    table.add_column("target")
    table.add_column("reason")
    if statuses is not None:
        table.add_column("status")
    for number, operation in enumerate(operations, start=1):
        kind = f"[red]{operation.kind}[/red]" if operation.destructive else operation.kind
        row = [str(number), kind, escape(operation.target), escape(operation.reason)]
        if statuses is not None:
            row.append(statuses[number - 1])
        elif not allow_drop and (operation.destructive or operation.needs_drop):
            row[3] += " [yellow](needs --allow-drop)[/yellow]"
        table.add_row(*row)
    return table


def _print_conflicts(console: Console, conflicts: tuple[str, ...]) -> None:
    for conflict in conflicts:
        console.print(f"[yellow]conflict:[/yellow] {escape(conflict)}")


@shard.command("plan")
@database_option
@click.option(
    "--check", is_flag=True, help="Exit 3 when anything is pending or in conflict (a CI gate)."
)
@allow_drop_option
@output_options
@click.pass_obj
def plan_command(app: AppContext, databases: tuple[str, ...], check: bool, allow_drop: bool) -> int:
    """Show what `shard apply` would run on the cluster, and why.

    Needs a mongos: reads listShards, config.collections, config.tags and
    config.settings. Per collection with a `shard` key: the collection and the
    index supporting the key (what `schema apply` would create), zone ranges,
    shardCollection; then shards' zones and the balancer window. A shard key
    that differs from the server's is a conflict: it changes only with
    refineCollectionShardKey or reshardCollection, run by a person.

    \b
    Examples:
      mongo-toolkit shard plan
      mongo-toolkit --json shard plan --check
    """
    result = actions.plan(app.settings, app.catalog, databases)
    operations = list(result.plan.operations)
    runnable = result.plan.runnable(allow_drop)
    payload = {
        "pending": len(operations),
        "destructive": sum(1 for op in operations if op.destructive),
        "would_run": len(runnable),
        "conflicts": list(result.plan.conflicts),
        "operations": [op.as_dict() for op in operations],
    }

    def render(console: Console) -> None:
        if not operations and not result.plan.conflicts:
            console.print(f"sharding is in sync with {app.catalog}")
            return
        if operations:
            console.print(_table(operations, allow_drop))
            blocked = len(operations) - len(runnable)
            console.print(
                f"{len(operations)} operation(s) pending"
                + (f", {blocked} of them need --allow-drop" if blocked else "")
            )
        _print_conflicts(console, result.plan.conflicts)

    app.output.emit(payload, render)
    if check and (operations or result.plan.conflicts):
        raise ChangesPending(
            f"{len(operations)} sharding change(s) pending, "
            f"{len(result.plan.conflicts)} conflict(s)",
            hint="run `mongo-toolkit shard apply` (add --allow-drop for removals)",
        )
    return 0


@shard.command("apply")
@database_option
@allow_drop_option
@output_options
@click.pass_obj
def apply_command(app: AppContext, databases: tuple[str, ...], allow_drop: bool) -> int:
    """Run exactly the plan `shard plan` shows; a second run plans nothing.

    Refuses when the plan has conflicts. Removals run only with --allow-drop.
    With --json the result lists every operation with its status, and
    "changed" says whether anything ran.

    \b
    Examples:
      mongo-toolkit shard apply
      mongo-toolkit --json shard apply --db nyrkio
    """

    def progress(operation: ShardOperation, status: str) -> None:
        if status == "done":
            app.output.info(f"done: {escape(operation.describe())}")

    planned, results = actions.apply(
        app.settings, app.catalog, databases, allow_drop=allow_drop, on_done=progress
    )
    done = [operation for operation, status in results if status == "done"]
    skipped = [operation for operation, status in results if status == "skipped"]
    payload = {
        "changed": bool(done),
        "done": len(done),
        "skipped": len(skipped),
        "operations": [{**op.as_dict(), "status": status} for op, status in results],
    }

    def render(console: Console) -> None:
        if not results:
            console.print(f"nothing to do: the cluster matches {app.catalog}")
            return
        console.print(
            _table(list(planned.plan.operations), allow_drop, [status for _, status in results])
        )
        console.print(
            f"{len(done)} operation(s) done"
            + (f", {len(skipped)} skipped (rerun with --allow-drop)" if skipped else "")
        )

    app.output.emit(payload, render)
    return 0
