"""`mongo-toolkit health`."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from toolkit.actions.health import check_health
from toolkit.cli import AppContext, output_options
from toolkit.plan.health import DEFAULT_MAX_LAG_SECONDS, HealthReport


@click.command()
@click.option(
    "--max-lag",
    type=click.FloatRange(min=0),
    default=DEFAULT_MAX_LAG_SECONDS,
    show_default=True,
    help="Seconds a secondary may be behind the primary before health is degraded.",
)
@output_options
@click.pass_obj
def health(app: AppContext, max_lag: float) -> int:
    """Check that the deployment answers and is healthy.

    Pings the server and reports its version and topology (standalone,
    replica set or sharded). For a replica set it lists every member's state,
    health and replication lag behind the primary, and the primary's oplog
    window in hours (how far back a point-in-time restore can reach).

    Exits 0 when healthy, 1 when unreachable or degraded: no primary, a
    member down or not in PRIMARY/SECONDARY/ARBITER state, or a secondary
    lagging more than --max-lag seconds. Needs the clusterMonitor role.

    \b
    Examples:
      mongo-toolkit health
      mongo-toolkit health --max-lag 10 --json
    """
    report = check_health(app.settings, max_lag)
    app.output.emit(_as_json(app, report), lambda console: _render(console, app, report))
    return 0 if report.healthy else 1


def _as_json(app: AppContext, report: HealthReport) -> dict:
    observation = report.observation
    return {
        "ok": report.healthy,
        "uri": app.settings.masked_uri,
        "version": observation.version,
        "topology": observation.topology,
        "ping_ms": round(observation.ping_ms, 2),
        "set_name": observation.set_name,
        "members": [
            {
                "name": member.name,
                "state": member.state,
                "health": member.health,
                "lag_seconds": member.lag_seconds,
                "delay_seconds": member.delay_seconds,
                "healthy": member.healthy,
                "problem": member.problem,
            }
            for member in report.members
        ],
        "oplog_window_hours": (
            round(report.oplog_window_hours, 3) if report.oplog_window_hours is not None else None
        ),
        "shards": list(observation.shards),
        "balancer": observation.balancer_mode,
        "problems": list(report.problems),
    }


def _render(console: Console, app: AppContext, report: HealthReport) -> None:
    observation = report.observation
    verdict = "[green]healthy[/green]" if report.healthy else "[bold red]degraded[/bold red]"
    summary = Table.grid(padding=(0, 2))
    summary.add_row("server", app.settings.masked_uri)
    summary.add_row("version", observation.version)
    topology = observation.topology
    if observation.set_name:
        topology += f" {observation.set_name}"
    summary.add_row("topology", topology)
    summary.add_row("ping", f"{observation.ping_ms:.1f} ms")
    if report.oplog_window_hours is not None:
        summary.add_row("oplog window", f"{report.oplog_window_hours:.2f} h")
    if observation.shards:
        summary.add_row("shards", ", ".join(observation.shards))
        summary.add_row("balancer", str(observation.balancer_mode))
    summary.add_row("status", verdict)
    console.print(summary)

    if report.members:
        table = Table(title="replica set members", title_justify="left")
        table.add_column("member")
        table.add_column("state")
        table.add_column("health", justify="right")
        table.add_column("lag", justify="right")
        table.add_column("problem")
        for member in report.members:
            lag = "-" if member.lag_seconds is None else f"{member.lag_seconds:.0f} s"
            if member.delay_seconds:
                lag += f" (delayed {member.delay_seconds} s)"
            table.add_row(
                member.name,
                member.state,
                f"{member.health:g}",
                lag,
                f"[red]{member.problem}[/red]" if member.problem else "",
            )
        console.print(table)
    for problem in report.problems:
        console.print(f"[red]- {problem}[/red]")
