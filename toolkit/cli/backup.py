"""`mongo-toolkit backup create|list|show|verify|prune`."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from toolkit.actions import backup as actions
from toolkit.cli import AppContext, output_options
from toolkit.errors import UsageError
from toolkit.units import format_bytes

s3_endpoint_option = click.option(
    "--s3-endpoint-url",
    metavar="URL",
    default=None,
    help="Endpoint of an S3-compatible store (MinIO, Ceph...). Credentials and region come "
    "the usual AWS way: environment (AWS_ACCESS_KEY_ID...), shared config, instance profile.",
)


def namespace_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--ns-include and --ns-exclude (mongodump's and mongorestore's namespace filters)."""
    command = click.option(
        "--ns-exclude",
        "exclude",
        multiple=True,
        metavar="P",
        help="Leave out matching namespaces.",
    )(command)
    return click.option(
        "--ns-include",
        "include",
        multiple=True,
        metavar="P",
        help="Only namespaces matching this pattern, e.g. 'shop.*' (repeatable; * is a wildcard).",
    )(command)


from_option = click.option(
    "--from",
    "destination",
    metavar="DEST",
    default=None,
    help="Where the backups are: a directory or s3://bucket/prefix. Default: the catalog's "
    "backup.destination.",
)


def catalog_backup_section(app: AppContext) -> dict[str, Any] | None:
    """Return the catalog's ``backup`` section, or None without a catalog.

    The default catalog path (catalogs/) is optional for backup commands: when
    it does not exist they run without one. A catalog named explicitly (or
    through TOOLKIT_CATALOG) must load.
    """
    from toolkit.catalog.load import load_catalog

    context = click.get_current_context().find_root()
    source = context.get_parameter_source("catalog")
    if not app.catalog.exists() and source in (
        click.core.ParameterSource.DEFAULT,
        click.core.ParameterSource.DEFAULT_MAP,
        None,
    ):
        return None
    return load_catalog(app.catalog).backup


def default_destination(app: AppContext, given: str | None) -> str | None:
    if given:
        return given
    section = catalog_backup_section(app)
    return (section or {}).get("destination")


def format_size(size: int | None) -> str:
    """A byte count with a binary unit, "-" when unknown (the tables' blank)."""
    return "-" if size is None else format_bytes(size)


def format_time(moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


class RichProgress:
    """One progress bar per collection (documents, bytes) on stderr; thread-safe."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, TaskID] = {}
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def start(self, namespace: str, total: int | None) -> None:
        with self._lock:
            self._tasks[namespace] = self._progress.add_task(escape(namespace), total=total, size=0)
            self._counts[namespace] = (0, 0)

    def advance(self, namespace: str, documents: int, size: int) -> None:
        with self._lock:
            task = self._tasks.get(namespace)
            if task is None:
                return
            count, total_size = self._counts[namespace]
            self._counts[namespace] = (count + documents, total_size + size)
            self._progress.update(task, advance=documents, size=total_size + size)

    def done(self, namespace: str) -> None:
        with self._lock:
            task = self._tasks.get(namespace)
            if task is not None:
                self._progress.update(task, total=self._counts[namespace][0])


@contextmanager
def progress_bars(app: AppContext) -> Iterator[RichProgress | None]:
    """Yield per-collection progress callbacks on a terminal; None with --json or no TTY."""
    if not app.output.interactive:
        yield None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("docs"),
        TextColumn("{task.fields[size]:,} B"),
        TimeElapsedColumn(),
        console=app.output.err_console,
        transient=False,
    )
    with progress:
        yield RichProgress(progress)


@click.group()
def backup() -> None:
    """Back up a server to a directory or S3, and list, inspect, verify and prune backups.

    \b
    backup create   dump the server (mongodump's archive or directory format) + a manifest
    backup list     every backup in a destination: status, size, duration, last verified
    backup show     what a backup (or any mongodump output) holds, without a server
    backup verify   check every file's size and SHA-256, the content, optionally a restore
    backup prune    delete what borg-style retention rules no longer keep

    A backup is <DEST>/<id>/ with its dump and, written last, manifest.json: a
    backup without one is incomplete and never counted as good. Restore with
    `mongo-toolkit restore`.
    """


@backup.command("create")
@click.option(
    "--to",
    "destination",
    metavar="DEST",
    default=None,
    help="A directory or s3://bucket/prefix. Default: the catalog's backup.destination.",
)
@click.option(
    "--format",
    "layout",
    type=click.Choice(actions.LAYOUTS),
    default=None,
    help="mongodump's --archive stream or its directory of .bson/.metadata.json files "
    "(default: the catalog's, else archive).",
)
@click.option(
    "--compress",
    "compression",
    type=click.Choice(["zstd", "gzip", "none"]),
    default=None,
    help="zstd (multi-threaded; the default), gzip (as mongodump --gzip) or none.",
)
@click.option("--level", type=int, default=None, help="Compression level (zstd 1-22, gzip 1-9).")
@click.option(
    "--oplog/--no-oplog",
    default=None,
    help="Capture the oplog from the start to the end of the dump (replica sets), as "
    "mongodump --oplog: the backup is consistent at its end, and ready for point-in-time "
    "restore.",
)
@click.option(
    "--db", "databases", multiple=True, metavar="D", help="Only this database (repeatable)."
)
@namespace_options
@click.option(
    "--parallel",
    type=int,
    default=None,
    help=f"Collections dumped at once (default {actions.DEFAULT_PARALLEL}).",
)
@click.option("--label", default=None, help="Appended to the backup id: 20261123T075541Z-LABEL.")
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write Prometheus textfile metrics (last success, duration, bytes, status) here, "
    "atomically, for node_exporter; written on failure too.",
)
@s3_endpoint_option
@output_options
@click.pass_obj
def create_command(
    app: AppContext,
    destination: str | None,
    layout: str | None,
    compression: str | None,
    level: int | None,
    oplog: bool | None,
    databases: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    parallel: int | None,
    label: str | None,
    metrics_file: Path | None,
    s3_endpoint_url: str | None,
) -> int:
    """Dump the server into a new backup: raw BSON streamed, compressed, and a manifest last.

    Documents are copied as the server sends them (no decoding). Through a
    mongos the balancer is stopped for the dump and restarted afterwards;
    --oplog is refused there, as mongodump refuses it (a cross-shard
    point-in-time backup needs each shard's oplog, which this does not do).
    Two runs on one destination are stopped by a lock.

    \b
    Examples:
      mongo-toolkit backup create --to /var/backups/mongodb --oplog
      mongo-toolkit backup create --to s3://backups/shop --db shop --label nightly
      mongo-toolkit backup create --format directory --compress gzip  # for mongorestore --gzip
    """
    options = actions.create_options(
        catalog_backup_section(app),
        destination=destination,
        layout=layout,
        compression=compression,
        level=level,
        oplog=oplog,
        databases=databases,
        include=include,
        exclude=exclude,
        parallel=parallel,
        label=label,
        metrics_file=metrics_file,
        s3_endpoint_url=s3_endpoint_url,
    )
    with progress_bars(app) as progress:
        result = actions.create(app.settings, options, progress=progress)

    def render(console: Console) -> None:
        manifest = result.manifest
        table = Table()
        table.add_column("collection")
        table.add_column("documents", justify="right")
        table.add_column("bytes", justify="right")
        for item in manifest.collections:
            table.add_row(
                escape(f"{item.db}.{item.collection}"),
                f"{item.documents:,}",
                format_size(item.bytes),
            )
        if manifest.collections:
            console.print(table)
        oplog_text = ""
        if manifest.oplog is not None:
            oplog_text = (
                f", oplog {manifest.oplog.entries} entries "
                f"{manifest.oplog.first.t}:{manifest.oplog.first.i} to "
                f"{manifest.oplog.last.t}:{manifest.oplog.last.i}"
            )
        console.print(
            f"backup {manifest.id} complete: {result.documents:,} documents in "
            f"{len(manifest.collections)} collection(s), {format_size(result.bytes)} "
            f"({manifest.layout}, {manifest.compression}) in {result.seconds:.1f} s{oplog_text}"
        )
        console.print(f"  {escape(result.as_dict()['location'])}")

    app.output.emit(result.as_dict(), render)
    return 0


@backup.command("list")
@from_option
@s3_endpoint_option
@output_options
@click.pass_obj
def list_command(app: AppContext, destination: str | None, s3_endpoint_url: str | None) -> int:
    """List the backups in a destination, oldest first.

    Status is complete (its manifest is written), incomplete (no manifest:
    still running, or killed) or failed (it stopped on an error; status.json
    says which). Only complete backups are good to restore.

    \b
    Examples:
      mongo-toolkit backup list --from /var/backups/mongodb
      mongo-toolkit --json backup list --from s3://backups/shop | jq '.backups[-1]'
    """
    storage = actions.open_destination(
        default_destination(app, destination), s3_endpoint_url, "list"
    )
    summaries = actions.list_backups(storage)
    payload = {"destination": storage.url, "backups": [s.as_dict() for s in summaries]}

    def render(console: Console) -> None:
        if not summaries:
            console.print(f"no backups in {escape(storage.url)}")
            return
        table = Table(title=escape(storage.url))
        for column in (
            "id",
            "started (UTC)",
            "status",
            "size",
            "databases",
            "duration",
            "last verified",
        ):
            table.add_column(
                column,
                justify="right" if column in ("size", "duration") else "left",
                # the id is what `show`/`verify`/`restore` take: never cut, whatever the width
                no_wrap=column == "id",
                min_width=max(len(item.id) for item in summaries) if column == "id" else None,
            )
        colours = {"complete": "green", "incomplete": "yellow", "failed": "red"}
        for summary in summaries:
            verified = format_time(summary.last_verified)
            if summary.verified_ok is False:
                verified += " [red](failed)[/red]"
            table.add_row(
                escape(summary.id),
                format_time(summary.started_at),
                f"[{colours[summary.status]}]{summary.status}[/{colours[summary.status]}]",
                format_size(summary.size),
                escape(", ".join(summary.databases)) if summary.databases is not None else "-",
                f"{summary.duration_seconds:.1f} s"
                if summary.duration_seconds is not None
                else "-",
                verified,
            )
        console.print(table)

    app.output.emit(payload, render)
    return 0


@backup.command("show")
@click.argument("source")
@from_option
@s3_endpoint_option
@output_options
@click.pass_obj
def show_command(
    app: AppContext, source: str, destination: str | None, s3_endpoint_url: str | None
) -> int:
    """Show what a backup holds, from its files alone (no server needed).

    SOURCE is a backup id (in --from DEST), s3://bucket/prefix/<id>, a path to
    one of our backups, or anything the real mongodump wrote: a directory
    dump, an --archive file (plain or gzip), a .bson file. Every document is
    read to count it; damage is reported with the file and offset (an
    archive's CRCs are checked).

    \b
    Examples:
      mongo-toolkit backup show 20261123T075541Z --from /var/backups/mongodb
      mongo-toolkit --json backup show dump/ | jq '.collections[].documents'
    """
    if not source:
        raise UsageError("SOURCE is empty")
    destination = destination or (
        default_destination(app, None) if not Path(source).exists() else None
    )
    result = actions.show(source, destination=destination, s3_endpoint_url=s3_endpoint_url)

    def render(console: Console) -> None:
        table = Table()
        table.add_column("namespace")
        table.add_column("type")
        table.add_column("documents", justify="right")
        table.add_column("bytes", justify="right")
        table.add_column("indexes")
        table.add_column("options")
        for item in result.collections:
            data = item.as_json()
            indexes = ", ".join(
                f"{index.get('name')}"
                + (
                    f" (TTL {index['expireAfterSeconds']}s)"
                    if "expireAfterSeconds" in index
                    else ""
                )
                for index in data["indexes"]
            )
            options = json.dumps(data["options"], separators=(",", ":")) if data["options"] else ""
            table.add_row(
                escape(f"{item.db}.{item.collection}"),
                item.type,
                f"{item.documents:,}",
                format_size(item.bytes),
                escape(indexes),
                escape(options if len(options) <= 80 else options[:77] + "..."),
            )
        console.print(table)
        if result.oplog is not None:
            oplog = result.oplog
            span = ""
            if oplog.first is not None and oplog.last is not None:
                span = (
                    f" from {oplog.first['t']}:{oplog.first['i']} to "
                    f"{oplog.last['t']}:{oplog.last['i']}"
                )
            console.print(f"oplog: {oplog.entries} entries{span}")
        else:
            console.print("oplog: none")
        console.print(f"server version: {result.server_version or 'unknown'}")

    app.output.emit(result.as_json(), render)
    return 0


@backup.command("verify")
@click.argument("backup_id", metavar="ID")
@click.option(
    "--restore-test",
    is_flag=True,
    help="Also restore into scratch databases, compare per-collection counts, options and "
    "index specs with the dump, then drop the scratch databases.",
)
@click.option(
    "--into",
    metavar="URI",
    envvar="TOOLKIT_RESTORE_TEST_URI",
    default=None,
    help="Server for --restore-test (default: --uri). With a password, set it in "
    "TOOLKIT_RESTORE_TEST_URI rather than on the command line; it is masked in all output.",
)
@from_option
@s3_endpoint_option
@output_options
@click.pass_obj
def verify_command(
    app: AppContext,
    backup_id: str,
    restore_test: bool,
    into: str | None,
    destination: str | None,
    s3_endpoint_url: str | None,
) -> int:
    """Check a backup: every file's size and SHA-256 against the manifest, and its content.

    Each file is read once: hashed, decompressed, its documents split and (in
    an archive) every collection's CRC-64 checked, and the document counts
    compared with the manifest. Any problem names its file. Exit 3 when the
    backup fails. The result is shown by `backup list` as "last verified".

    \b
    Examples:
      mongo-toolkit backup verify 20261123T075541Z --from /var/backups/mongodb
      mongo-toolkit backup verify 20261123T075541Z --restore-test --into mongodb://scratch:27017
    """
    if into is not None and not restore_test:
        raise UsageError("--into needs --restore-test")
    result = actions.verify(
        app.settings,
        backup_id,
        destination=default_destination(app, destination) if not Path(backup_id).exists() else None,
        s3_endpoint_url=s3_endpoint_url,
        restore_test=restore_test,
        into=into,
    )

    def render(console: Console) -> None:
        if result.ok:
            console.print(
                f"[green]backup {escape(result.id)} is sound[/green]: {result.files} files, "
                f"{format_size(result.bytes)}, {result.documents:,} documents match the manifest"
            )
        else:
            console.print(f"[red]backup {escape(result.id)} FAILED verification[/red]:")
            for problem in result.problems:
                console.print(f"  {escape(problem)}")
        test = result.restore_test
        if test is not None:
            if test.problems:
                console.print("[red]restore test failed[/red]:")
                for problem in test.problems:
                    console.print(f"  {escape(problem)}")
            else:
                console.print(
                    f"[green]restore test passed[/green]: {test.collections} collection(s), "
                    f"{test.documents:,} documents restored into scratch databases and dropped"
                )

    app.output.emit(result.as_dict(), render)
    return 0 if result.ok else 3


@backup.command("prune")
@click.option(
    "--keep-within",
    metavar="DUR",
    default=None,
    help="Keep every backup newer than DUR (36h or borg's 36H, 7d, 2w, 1y; a bare m is "
    "refused: borg means months by it, write 31d).",
)
@click.option(
    "--keep-last",
    type=int,
    default=None,
    metavar="N",
    help="Keep the N newest (borg: one per second).",
)
@click.option(
    "--keep-hourly", type=int, default=None, metavar="N", help="Keep the newest of each of N hours."
)
@click.option(
    "--keep-daily", type=int, default=None, metavar="N", help="Keep the newest of each of N days."
)
@click.option(
    "--keep-weekly",
    type=int,
    default=None,
    metavar="N",
    help="Keep the newest of each of N ISO weeks.",
)
@click.option(
    "--keep-monthly",
    type=int,
    default=None,
    metavar="N",
    help="Keep the newest of each of N months.",
)
@click.option(
    "--keep-yearly", type=int, default=None, metavar="N", help="Keep the newest of each of N years."
)
@click.option(
    "--dry-run", is_flag=True, help="List what would be deleted, and why; delete nothing."
)
@from_option
@s3_endpoint_option
@output_options
@click.pass_obj
def prune_command(
    app: AppContext,
    keep_within: str | None,
    keep_last: int | None,
    keep_hourly: int | None,
    keep_daily: int | None,
    keep_weekly: int | None,
    keep_monthly: int | None,
    keep_yearly: int | None,
    dry_run: bool,
    destination: str | None,
    s3_endpoint_url: str | None,
) -> int:
    """Delete the backups that borg-style retention rules no longer keep.

    borg prune's rules exactly: keep-within keeps everything younger; then
    last, hourly, daily, weekly (ISO), monthly and yearly each keep the newest
    backup of each period until they have their count; a period already kept
    by a finer rule is used but not counted; a rule that cannot fill its count
    keeps the oldest backup. Periods are UTC. Only complete backups count; the
    newest complete backup is never deleted; incomplete and failed ones are
    deleted (except one that may still be running). Rules default to the
    catalog's backup.retention.

    \b
    Examples:
      mongo-toolkit backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
      mongo-toolkit backup prune --from s3://backups/shop      # the catalog's retention
    """
    flags = {
        "keep_within": keep_within,
        "keep_last": keep_last,
        "keep_hourly": keep_hourly,
        "keep_daily": keep_daily,
        "keep_weekly": keep_weekly,
        "keep_monthly": keep_monthly,
        "keep_yearly": keep_yearly,
    }
    section = (
        None if any(value is not None for value in flags.values()) else catalog_backup_section(app)
    )
    policy = actions.retention_policy(section, flags)
    storage = actions.open_destination(
        default_destination(app, destination), s3_endpoint_url, "prune"
    )
    result = actions.prune(storage, policy, dry_run=dry_run)

    def render(console: Console) -> None:
        if not result.decisions:
            console.print(f"no backups in {escape(storage.url)}")
            return
        table = Table(title=escape(storage.url) + (" (dry run)" if dry_run else ""))
        table.add_column("id", no_wrap=True, min_width=max(len(d.id) for d in result.decisions))
        table.add_column("status")
        table.add_column("decision")
        table.add_column("rule / reason")
        for decision in result.decisions:
            summary = result.summaries[decision.id]
            if decision.keep:
                verdict = "[green]keep[/green]"
                why = f"{', '.join(decision.rules)}: {decision.reason}"
            else:
                verdict = "[red]would delete[/red]" if dry_run else "[red]deleted[/red]"
                why = decision.reason
            table.add_row(escape(decision.id), summary.status, verdict, escape(why))
        console.print(table)
        gone = [d for d in result.decisions if not d.keep]
        console.print(
            f"{len(gone)} backup(s) {'would be ' if dry_run else ''}deleted, "
            f"{len(result.decisions) - len(gone)} kept"
        )

    app.output.emit(result.as_dict(), render)
    return 0
