"""`mongo-toolkit restore`."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from toolkit.actions import restore as actions
from toolkit.cli import AppContext, output_options
from toolkit.cli.backup import (
    default_destination,
    from_option,
    namespace_options,
    progress_bars,
    s3_endpoint_option,
)


@click.command("restore")
@click.argument("source")
@click.option(
    "--drop",
    is_flag=True,
    help="Drop each collection (and view) before restoring it. Without it, existing "
    "documents stay and duplicates are counted and reported.",
)
@namespace_options
@click.option(
    "--ns-from",
    multiple=True,
    metavar="P",
    help="Rename: restore namespaces matching P ... (with $name$ variables, e.g. 'shop.$c$').",
)
@click.option(
    "--ns-to",
    multiple=True,
    metavar="P",
    help="... under this name (e.g. 'shop_copy.$c$'). Give --ns-from/--ns-to in pairs.",
)
@click.option(
    "--oplog-replay",
    is_flag=True,
    help="Replay the oplog captured with the dump (backup create --oplog, mongodump --oplog).",
)
@click.option(
    "--oplog-limit",
    metavar="TS",
    default=None,
    help="With --oplog-replay: replay only entries before TS, <seconds>[:<increment>] "
    "(mongorestore's --oplogLimit): a point-in-time restore.",
)
@click.option(
    "--parallel", type=int, default=4, show_default=True, help="Collections restored at once."
)
@click.option(
    "--dry-run", is_flag=True, help="Print the steps the restore would run; write nothing."
)
@from_option
@s3_endpoint_option
@output_options
@click.pass_obj
def restore(
    app: AppContext,
    source: str,
    drop: bool,
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    ns_from: tuple[str, ...],
    ns_to: tuple[str, ...],
    oplog_replay: bool,
    oplog_limit: str | None,
    parallel: int,
    dry_run: bool,
    destination: str | None,
    s3_endpoint_url: str | None,
) -> int:
    """Restore a backup, or any mongodump output, into the server (--uri).

    SOURCE is a backup id (in --from DEST), s3://bucket/prefix/<id>, a path to
    one of our backups, or a mongodump directory, archive (plain or gzip) or
    .bson file. The source is checked first (our backups against their
    manifest, other dumps read whole), so a damaged one is refused before
    anything is written. Then, in mongorestore's order: collections (with
    their options), their documents (as raw BSON), users and roles, the
    oplog, the indexes.

    \b
    Examples:
      mongo-toolkit restore 20261123T075541Z --from /var/backups/mongodb --drop
      mongo-toolkit restore s3://backups/shop/20261123T075541Z --ns-include 'shop.*'
      mongo-toolkit restore dump/ --ns-from 'shop.$c$' --ns-to 'shop_copy.$c$' --dry-run
      mongo-toolkit restore ID --drop --oplog-replay --oplog-limit 1763884541:3
    """
    request = actions.RestoreRequest(
        source=source,
        destination=default_destination(app, destination) if not Path(source).exists() else None,
        s3_endpoint_url=s3_endpoint_url,
        drop=drop,
        include=include,
        exclude=exclude,
        ns_from=ns_from,
        ns_to=ns_to,
        oplog_replay=oplog_replay,
        oplog_limit=oplog_limit,
        parallel=parallel,
        dry_run=dry_run,
    )
    with progress_bars(app) as progress:
        result = actions.restore(app.settings, request, progress=progress)
    for warning in result.warnings:
        app.output.warn(warning)

    def render(console: Console) -> None:
        if dry_run:
            table = Table(title=f"restore {escape(result.source)} (dry run: nothing written)")
            table.add_column("#", justify="right")
            table.add_column("step")
            table.add_column("namespace")
            table.add_column("from")
            table.add_column("documents", justify="right")
            table.add_column("reason")
            for number, step in enumerate(result.steps, start=1):
                table.add_row(
                    str(number),
                    step.kind,
                    escape(step.namespace),
                    escape(step.source) if step.source != step.namespace else "",
                    "" if step.documents is None else f"{step.documents:,}",
                    escape(step.reason),
                )
            console.print(table)
            console.print(f"{len(result.steps)} step(s) would run")
            return
        table = Table(title=f"restored from {escape(result.source)}")
        table.add_column("namespace")
        table.add_column("documents", justify="right")
        table.add_column("inserted", justify="right")
        table.add_column("duplicates", justify="right")
        for outcome in result.collections.values():
            table.add_row(
                escape(outcome.namespace),
                f"{outcome.read:,}",
                f"{outcome.inserted:,}",
                f"[yellow]{outcome.duplicates:,}[/yellow]" if outcome.duplicates else "0",
            )
        if result.collections:
            console.print(table)
        parts = [f"{result.inserted:,} document(s) inserted", f"{result.indexes} index(es) created"]
        if result.users or result.roles:
            parts.append(f"{result.users} user(s) and {result.roles} role(s) merged")
        if result.oplog is not None:
            text = f"{result.oplog.applied} oplog entries applied"
            if result.oplog_limit is not None:
                text += f" (before {result.oplog_limit})"
            parts.append(text)
        console.print("restore complete: " + ", ".join(parts))
        if result.duplicates:
            console.print(
                f"[yellow]{result.duplicates:,} document(s) were already there (same _id or "
                "unique key) and were kept as they are[/yellow]; restore with --drop to replace"
            )

    app.output.emit(result.as_dict(), render)
    return 0
