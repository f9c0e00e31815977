"""The `mongo-toolkit` command line.

The CLI is thin: each command parses its options, calls one function in
toolkit.actions, prints the result and picks the exit code. This module is the
one place that catches ToolkitError and turns it into an exit code (see
toolkit.errors for the contract).
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from toolkit import __version__
from toolkit.cli.output import Output
from toolkit.errors import ToolkitError
from toolkit.redact import RedactingFilter, redact
from toolkit.settings import DEFAULT_TIMEOUT_SECONDS, DEFAULT_URI, ConnectionSettings

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@dataclass
class AppContext:
    """What every command gets: how to connect, where the catalog is, how to print."""

    settings: ConnectionSettings
    catalog: Path
    output: Output

    @property
    def json_mode(self) -> bool:
        return self.output.json_mode


_verbose_for_errors = 0


def _configure_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("toolkit").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # pymongo's own debug logs only at -vv: they are long.
    logging.getLogger("pymongo").setLevel(logging.DEBUG if verbose >= 2 else logging.WARNING)


def output_options(command):  # type: ignore[no-untyped-def]
    """Accept --json and -v after the subcommand too (`mongo-toolkit health --json`)."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value and ctx.obj is not None:
            ctx.obj.output.json_mode = True

    def set_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
        global _verbose_for_errors
        if value and ctx.obj is not None:
            ctx.obj.output.verbose += value
            _verbose_for_errors = ctx.obj.output.verbose
            _configure_logging(ctx.obj.output.verbose)

    command = click.option(
        "--json",
        "json_flag",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Print a machine-readable JSON result on stdout.",
    )(command)
    command = click.option(
        "-v",
        "--verbose",
        count=True,
        expose_value=False,
        callback=set_verbose,
        help="More detail on stderr; tracebacks for errors.",
    )(command)
    return command


# Subcommands are imported when used: `mongo-toolkit health` should not pay for
# importing Faker, boto3 and the backup formats.
LAZY_COMMANDS = {
    "catalog": "toolkit.cli.catalog:catalog",
    "schema": "toolkit.cli.schema:schema",
    "seed": "toolkit.cli.seed:seed",
    "indexes": "toolkit.cli.indexes:indexes",
    "shard": "toolkit.cli.shard:shard",
    "rbac": "toolkit.cli.rbac:rbac",
    "health": "toolkit.cli.health:health",
    "backup": "toolkit.cli.backup:backup",
    "restore": "toolkit.cli.restore:restore",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(LAZY_COMMANDS) + sorted(set(super().list_commands(ctx)) - set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS and name not in self.commands:
            module_name, attribute = LAZY_COMMANDS[name].split(":")
            module = importlib.import_module(module_name)
            self.add_command(getattr(module, attribute), name)
        return super().get_command(ctx, name)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--uri",
    envvar="MONGODB_URI",
    default=DEFAULT_URI,
    show_default=True,
    help="MongoDB connection string (env MONGODB_URI). Pass passwords through the "
    "environment, never on the command line; they are masked in all output.",
)
@click.option(
    "--catalog",
    envvar="TOOLKIT_CATALOG",
    default="catalogs/",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Catalog file or directory of *.yaml files (env TOOLKIT_CATALOG).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds to wait for a server to answer before giving up.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print a machine-readable JSON result.")
@click.option("-v", "--verbose", count=True, help="More detail on stderr; -v shows tracebacks.")
@click.version_option(__version__, "--version", prog_name="mongo-toolkit")
@click.pass_context
def cli(
    ctx: click.Context, uri: str, catalog: Path, timeout: float, json_mode: bool, verbose: int
) -> None:
    """Run MongoDB from a catalog kept in git.

    The catalog (YAML) describes each database: collections, validators,
    indexes, roles and users, sharding, backup policy and seed data. The
    commands below compare it with a live server, apply it, back it up and
    check the result.

    \b
    Exit codes:
      0  success
      1  an operation failed (server, network, storage), or health is degraded
      2  usage or catalog error
      3  a check failed or changes are pending (--check, --fail-on)

    \b
    Examples:
      export MONGODB_URI='mongodb://admin@localhost:27017/?replicaSet=rs0'
      mongo-toolkit health
      mongo-toolkit --json health | jq .members
    """
    global _verbose_for_errors
    _verbose_for_errors = verbose
    _configure_logging(verbose)
    ctx.obj = AppContext(
        settings=ConnectionSettings(uri=uri, timeout=timeout),
        catalog=catalog,
        output=Output(json_mode=json_mode, verbose=verbose),
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the CLI and exit with the contract's code."""
    ctx: click.Context | None = None
    try:
        with cli.make_context("mongo-toolkit", list(sys.argv[1:] if argv is None else argv)) as ctx:
            result = cli.invoke(ctx)
        sys.exit(result if isinstance(result, int) else 0)
    except click.exceptions.Exit as exit_request:
        sys.exit(exit_request.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)  # 2 for usage errors
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except ToolkitError as error:
        app = ctx.obj if ctx is not None else None
        _report(error, app.output if isinstance(app, AppContext) else None)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as error:  # a bug: say so plainly, trace only with -v
        if _verbose_for_errors:
            sys.stderr.write(redact(traceback.format_exc()))
        message = f"internal error: {type(error).__name__}: {error}"
        click.echo(redact(message), err=True)
        click.echo("This is a bug in mongo-toolkit; rerun with -v and report it.", err=True)
        sys.exit(1)


def _report(error: ToolkitError, output: Output | None) -> None:
    output = output or Output()
    problems = getattr(error, "problems", None)
    if _verbose_for_errors:
        sys.stderr.write(redact(traceback.format_exc()))
    if output.json_mode and not output.printed_json:
        details: dict[str, Any] = {
            "type": type(error).__name__,
            "message": error.message,
            "hint": error.hint,
            "exit_code": error.exit_code,
        }
        if problems:
            details["problems"] = problems
        payload = {"ok": False, "error": details}
        output.print_json(payload)
    output.error(error.message, hint=error.hint, problems=problems)
