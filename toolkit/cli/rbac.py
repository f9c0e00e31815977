"""`mongo-toolkit rbac plan|apply`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.markup import escape

from toolkit.actions import rbac as actions
from toolkit.cli import AppContext, output_options
from toolkit.cli.planning import apply_payload, plan_payload, print_applied, print_plan
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
    payload = plan_payload(operations, allow_drop, notes=list(result.plan.notes))

    def render(console: Console) -> None:
        print_plan(
            console, operations, allow_drop, f"users and roles are in sync with {app.catalog}"
        )
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
    payload = apply_payload(results, notes=list(result.plan.notes))

    def render(console: Console) -> None:
        print_applied(
            console, results, allow_drop, f"nothing to do: users and roles match {app.catalog}"
        )
        for note in result.plan.notes:
            console.print(f"[dim]note: {escape(note)}[/dim]")

    app.output.emit(payload, render)
    return 0
