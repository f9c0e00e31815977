"""`mongo-toolkit rbac plan|apply`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from toolkit.actions import rbac as actions
from toolkit.cli import AppContext, output_options
from toolkit.errors import ChangesPending
from toolkit.plan.rbac import RbacOperation

database_option = click.option(
    "--db",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Only users and roles defined in this database (repeatable). Default: all.",
)
allow_drop_option = click.option(
    "--allow-drop",
    is_flag=True,
    help="Also drop users and roles that are on the server but not in the catalog "
    "(never the user this connection authenticated as).",
)
update_passwords_option = click.option(
    "--update-passwords",
    is_flag=True,
    help="Set every catalog user's password from its password_env/password_file. "
    "MongoDB cannot say whether a password differs, so this is a change on every run.",
)


@click.group()
def rbac() -> None:
    """Create and update users and roles from the catalog.

    \b
    rbac plan    what differs (lists compared as sets, never by order)
    rbac apply   run that plan; passwords come only from password_env/password_file

    Passwords never appear in output, logs or on the command line.
    """


def _table(
    operations: list[RbacOperation], allow_drop: bool, statuses: list[str] | None = None
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
        elif operation.destructive and not allow_drop:
            row[3] += " [yellow](needs --allow-drop)[/yellow]"
        table.add_row(*row)
    return table


@rbac.command("plan")
@database_option
@click.option("--check", is_flag=True, help="Exit 3 when anything is pending (a CI gate).")
@allow_drop_option
@update_passwords_option
@output_options
@click.pass_obj
def plan_command(
    app: AppContext,
    databases: tuple[str, ...],
    check: bool,
    allow_drop: bool,
    update_passwords: bool,
) -> int:
    """Show what `rbac apply` would change, and why. Reads no password.

    Compares privileges, inherited and granted roles, mechanisms, customData
    and authentication restrictions as sets. Users and roles on the server
    but not in the catalog are listed; they are dropped only with --allow-drop.

    \b
    Examples:
      mongo-toolkit rbac plan
      mongo-toolkit --json rbac plan --check
    """
    result = actions.plan(app.settings, app.catalog, databases, update_passwords=update_passwords)
    operations = list(result.plan.operations)
    runnable = result.plan.runnable(allow_drop)
    payload = {
        "pending": len(operations),
        "destructive": sum(1 for op in operations if op.destructive),
        "would_run": len(runnable),
        "notes": list(result.plan.notes),
        "operations": [op.as_dict() for op in operations],
    }

    def render(console: Console) -> None:
        if operations:
            console.print(_table(operations, allow_drop))
            blocked = len(operations) - len(runnable)
            console.print(
                f"{len(operations)} operation(s) pending"
                + (f", {blocked} of them need --allow-drop" if blocked else "")
            )
        else:
            console.print(f"users and roles are in sync with {app.catalog}")
        for note in result.plan.notes:
            console.print(f"[dim]note: {escape(note)}[/dim]")

    app.output.emit(payload, render)
    if check and operations:
        raise ChangesPending(
            f"{len(operations)} user/role change(s) pending",
            hint="run `mongo-toolkit rbac apply` (add --allow-drop for drops)",
        )
    return 0


@rbac.command("apply")
@database_option
@allow_drop_option
@update_passwords_option
@output_options
@click.pass_obj
def apply_command(
    app: AppContext, databases: tuple[str, ...], allow_drop: bool, update_passwords: bool
) -> int:
    """Run exactly the plan `rbac plan` shows; a second run plans nothing.

    Passwords of new users (and, with --update-passwords, of every catalog
    user) are read from password_env/password_file just before the commands
    run; a missing one stops the run before anything changes.

    \b
    Examples:
      SHOP_APP_PASSWORD=... mongo-toolkit rbac apply
      mongo-toolkit --json rbac apply --update-passwords
    """

    def progress(operation: RbacOperation, status: str) -> None:
        if status == "done":
            app.output.info(f"done: {escape(operation.describe())}")

    result, results = actions.apply(
        app.settings,
        app.catalog,
        databases,
        allow_drop=allow_drop,
        update_passwords=update_passwords,
        on_done=progress,
    )
    done = [operation for operation, status in results if status == "done"]
    skipped = [operation for operation, status in results if status == "skipped"]
    payload = {
        "changed": bool(done),
        "done": len(done),
        "skipped": len(skipped),
        "notes": list(result.plan.notes),
        "operations": [{**op.as_dict(), "status": status} for op, status in results],
    }

    def render(console: Console) -> None:
        if not results:
            console.print(f"nothing to do: users and roles match {app.catalog}")
        else:
            console.print(_table(list(result.plan.operations), allow_drop, [s for _, s in results]))
            console.print(
                f"{len(done)} operation(s) done"
                + (f", {len(skipped)} skipped (rerun with --allow-drop)" if skipped else "")
            )
        for note in result.plan.notes:
            console.print(f"[dim]note: {escape(note)}[/dim]")

    app.output.emit(payload, render)
    return 0
