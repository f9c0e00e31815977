"""`mongo-toolkit shard plan|apply`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from toolkit.actions import shard as actions
from toolkit.cli import AppContext, output_options
from toolkit.cli.planning import apply_payload, plan_payload, print_applied, print_plan
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
    payload = plan_payload(operations, allow_drop, conflicts=list(result.plan.conflicts))

    def render(console: Console) -> None:
        if operations or not result.plan.conflicts:
            print_plan(console, operations, allow_drop, f"sharding is in sync with {app.catalog}")
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
    app.output.emit(
        apply_payload(results),
        lambda console: print_applied(
            console, results, allow_drop, f"nothing to do: the cluster matches {app.catalog}"
        ),
    )
    return 0
