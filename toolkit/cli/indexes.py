"""`mongo-toolkit indexes report`."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from toolkit.actions import indexes as actions
from toolkit.cli import AppContext, output_options
from toolkit.cli.output import json_default
from toolkit.fsutil import atomic_write
from toolkit.plan.indexes import (
    DEFAULT_MIN_AGE_DAYS,
    VERDICT_KINDS,
    IndexAssessment,
    IndexReport,
    describe_key,
    parse_kinds,
)
from toolkit.units import format_bytes

FORMATS = ("table", "json", "markdown", "html")


@click.group()
def indexes() -> None:
    """Report how indexes are used, which are redundant, and how they drift from the catalog.

    \b
    indexes report   usage on every member, sizes, verdicts, cleanup savings
    """


def _parse_fail_on(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> tuple[str, ...]:
    if not value:
        return ()
    try:
        return parse_kinds(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


def _age(report: IndexReport, index: IndexAssessment) -> str:
    moments = [
        since if since.tzinfo else since.replace(tzinfo=dt.UTC)
        for _, since in index.since
        if since is not None
    ]
    if not moments:
        return ""
    youngest = max(moments)
    days = (report.generated_at - youngest).total_seconds() / 86400
    return f"{days:.1f} d" if days < 10 else f"{days:.0f} d"


def _ops(index: IndexAssessment) -> str:
    if not index.ops:
        return ""
    if len(index.ops) == 1:
        return str(index.ops[0][1])
    return f"{index.total_ops} ({'/'.join(str(ops) for _, ops in index.ops)})"


def render_table(report: IndexReport, console: Console) -> None:
    """Print one table per collection, then the summary and where counters came from."""
    for summary in report.collections:
        title = (
            f"{summary.namespace}: {summary.indexes} indexes, {format_bytes(summary.size) or '?'}"
        )
        if summary.cleanup:
            title += (
                f"; a cleanup would free {format_bytes(summary.cleanup_bytes)} "
                f"({', '.join(summary.cleanup)})"
            )
        table = Table(title=escape(title), title_justify="left", show_lines=False)
        table.add_column("index")
        table.add_column("key")
        table.add_column("ops", justify="right")
        table.add_column("counters", justify="right")
        table.add_column("size", justify="right")
        table.add_column("verdicts")
        table.add_column("why")
        for index in report.indexes:
            if (index.db, index.collection) != (summary.db, summary.collection):
                continue
            verdicts = ", ".join(index.kinds)
            if index.keep:
                verdicts += ("; " if verdicts else "") + f"keep: {index.keep}"
            if index.cleanup:
                verdicts += " [red](drop)[/red]"
            table.add_row(
                escape(index.name),
                escape(describe_key(index.key)),
                _ops(index),
                _age(report, index),
                format_bytes(index.size),
                verdicts,
                escape("; ".join(v.reason for v in index.verdicts)),
            )
        console.print(table)
    console.print(escape(actions.summary_line(report)))
    console.print(f"[dim]{escape(actions.members_line(report))}[/dim]")
    if not report.catalog_checked:
        console.print(
            "[dim]no catalog found: drift (missing, extra, options-differ) not checked[/dim]"
        )


@indexes.command("report")
@click.option(
    "--db",
    "databases",
    multiple=True,
    metavar="NAME",
    help="Only this database (repeatable). Default: every database on the server and in "
    "the catalog.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="table for a terminal, json (a list, one object per index), markdown for a pull "
    "request comment, html for a standalone page.",
)
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report to this file instead of stdout.",
)
@click.option(
    "--min-age",
    "min_age_days",
    type=click.FloatRange(min=0),
    default=DEFAULT_MIN_AGE_DAYS,
    show_default=True,
    metavar="DAYS",
    help="Call an index unused only when every member's counters are this old; counters "
    "restart at zero on a restart and when collMod changes the index.",
)
@click.option(
    "--fail-on",
    "fail_on",
    callback=_parse_fail_on,
    metavar="KINDS",
    help=f"Exit 3 when any index has one of these comma-separated verdicts: "
    f"{', '.join(VERDICT_KINDS)}.",
)
@output_options
@click.pass_obj
def report_command(
    app: AppContext,
    databases: tuple[str, ...],
    output_format: str,
    out_file: Path | None,
    min_age_days: float,
    fail_on: tuple[str, ...],
) -> int:
    """Show every index with its usage on every member, its size and verdicts.

    Counters come from $indexStats on each data-bearing replica-set member
    (each counts only the queries it served) or, through a mongos, from each
    shard; sizes from $collStats. Verdicts: unused (no operations anywhere,
    counters older than --min-age), usage-unknown (no operations seen through
    a mongos, which reads one node per shard), warming-up (younger counters), redundant
    and duplicate (covered by another index), hidden, building, and, against
    the catalog, missing, extra and options-differ. _id_, unique and TTL
    indexes are never proposed for dropping. Needs the role clusterMonitor.

    \b
    Examples:
      mongo-toolkit indexes report
      mongo-toolkit indexes report --db shop --format markdown --out report.md
      mongo-toolkit indexes report --fail-on unused,redundant,missing   # CI gate, exit 3
    """
    result = actions.report(app.settings, app.catalog, databases, min_age_days=min_age_days)
    if app.json_mode:
        output_format = "json"
    if output_format == "json":
        if out_file is not None:
            atomic_write(out_file, _json_text(actions.render_json(result)))
        else:
            app.output.print_json(actions.render_json(result))
    elif output_format in ("markdown", "html"):
        text = (
            actions.render_markdown(result)
            if output_format == "markdown"
            else actions.render_html(result)
        )
        if out_file is not None:
            atomic_write(out_file, text)
        else:
            app.output.console.file.write(text)
    elif out_file is not None:
        buffer = io.StringIO()
        render_table(result, Console(file=buffer, width=200, highlight=False, soft_wrap=True))
        atomic_write(out_file, buffer.getvalue())
    else:
        render_table(result, app.output.console)
    if out_file is not None:
        app.output.info(f"wrote {out_file}: {actions.summary_line(result)}")

    if fail_on:
        findings = result.findings(fail_on)
        if findings:
            shown = ", ".join(
                f"{index.namespace} {index.name} "
                f"({', '.join(kind for kind in index.kinds if kind in fail_on)})"
                for index in findings[:5]
            )
            more = f" and {len(findings) - 5} more" if len(findings) > 5 else ""
            app.output.error(
                f"{len(findings)} index finding(s) match --fail-on {','.join(fail_on)}: "
                f"{shown}{more}"
            )
            return 3
    return 0


def _json_text(data: object) -> str:
    return json.dumps(data, default=json_default, indent=2) + "\n"
