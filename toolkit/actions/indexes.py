"""`mongo-toolkit indexes report`: observe every index, assess it, render the report.

The renderers (JSON, Markdown, HTML) are pure functions of an IndexReport, so
they are tested with plain data; the terminal table lives in toolkit.cli.indexes.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import Catalog
from toolkit.errors import PermissionDenied
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.indexes import list_user_databases, member_connector, observe_indexes
from toolkit.plan.indexes import (
    DEFAULT_MIN_AGE_DAYS,
    IndexAssessment,
    IndexReport,
    assess_indexes,
    describe_key,
)
from toolkit.units import format_bytes

REQUIRED_ROLE_HINT = (
    "grant the user the built-in role clusterMonitor on admin (indexStats, collStats, "
    "replSetGetStatus, listDatabases) and read or readAnyDatabase for listIndexes, e.g. "
    "db.getSiblingDB('admin').grantRolesToUser('<user>', [{role: 'clusterMonitor', db: 'admin'}, "
    "{role: 'readAnyDatabase', db: 'admin'}])"
)


def load_optional_catalog(catalog_path: Path) -> Catalog | None:
    """The catalog at ``catalog_path``, or None when there is nothing there.

    A catalog that exists but is invalid is an error (CatalogError), never skipped.
    """
    if not catalog_path.exists():
        return None
    return load_catalog(catalog_path)


def report(
    settings: ConnectionSettings,
    catalog_path: Path,
    databases: tuple[str, ...],
    *,
    min_age_days: float = DEFAULT_MIN_AGE_DAYS,
    now: dt.datetime | None = None,
) -> IndexReport:
    """Observe the indexes of ``databases`` (default: every database on the server and
    in the catalog) on every member and return the assessed report.

    Raise PermissionDenied naming the role the report needs, ConnectionFailed
    when the server does not answer, CatalogError for an invalid catalog.
    """
    catalog = load_optional_catalog(catalog_path)
    client = connect(settings)
    try:
        try:
            with translate_errors(settings, "reading index statistics"):
                scope = databases or tuple(
                    sorted(
                        set(list_user_databases(client)) | set(catalog.databases if catalog else ())
                    )
                )
                observed = observe_indexes(client, scope, member_connector(settings))
        except PermissionDenied as error:
            raise PermissionDenied(
                f"{error.message}; the index report needs the role clusterMonitor",
                hint=REQUIRED_ROLE_HINT,
            ) from error
    finally:
        client.close()
    return assess_indexes(
        observed,
        catalog,
        now or dt.datetime.now(dt.UTC),
        min_age_seconds=min_age_days * 86400,
    )


# --------------------------------------------------------------------------- renderers


def render_json(report: IndexReport) -> list[dict[str, Any]]:
    """The JSON form: a list with one object per index."""
    return [index.as_dict() for index in report.indexes]


def _ops_text(index: IndexAssessment) -> str:
    if not index.ops:
        return ""
    if len(index.ops) == 1:
        return str(index.ops[0][1])
    return f"{index.total_ops} (" + " / ".join(str(ops) for _, ops in index.ops) + ")"


def _verdict_text(index: IndexAssessment) -> str:
    parts = list(index.kinds)
    if index.keep:
        parts.append(f"keep: {index.keep}")
    if index.cleanup:
        parts.append("drop")
    return ", ".join(parts)


def summary_line(report: IndexReport) -> str:
    """One sentence: how many indexes, findings, and what a cleanup would free."""
    counts = {kind: count for kind, count in report.counts().items() if count}
    findings = ", ".join(f"{count} {kind}" for kind, count in counts.items()) or "no findings"
    dropped = sum(1 for index in report.indexes if index.cleanup)
    return (
        f"{len(report.indexes)} indexes in {len(report.collections)} collections: {findings}; "
        f"dropping {dropped} would free {format_bytes(report.cleanup_bytes) or '0 B'}"
    )


def members_line(report: IndexReport) -> str:
    """Where the counters came from, and which members could not be read."""
    line = f"{report.topology}; counters from {len(report.members)} member(s): " + (
        ", ".join(report.members) or "none"
    )
    if report.unreachable:
        line += f"; unreachable: {', '.join(report.unreachable)} (no index is called unused)"
    if report.topology == "sharded":
        line += (
            "; through a mongos one node per shard is read, so no index is called unused "
            "(usage-unknown instead: run the report against each shard's replica set)"
        )
    return line


def _md(text: str) -> str:
    return html.escape(text, quote=False).replace("|", "\\|")


def _md_cells(index: IndexAssessment) -> str:
    return (
        f"| `{_md(index.namespace)}` | `{_md(index.name)}` | `{_md(describe_key(index.key))}` "
        f"| {_ops_text(index)} | {format_bytes(index.size)} | {_md(_verdict_text(index))}"
    )


def render_markdown(report: IndexReport) -> str:
    """A Markdown report for a pull-request comment: findings first, all indexes folded."""
    lines = [
        "### MongoDB index report",
        "",
        f"{_md(summary_line(report))}.",
        "",
        f"_{_md(members_line(report))}; generated {report.generated_at:%Y-%m-%d %H:%M} UTC._",
        "",
    ]
    findings = report.findings()
    if findings:
        lines += [
            "| Collection | Index | Key | Ops | Size | Verdicts | Why |",
            "| --- | --- | --- | ---: | ---: | --- | --- |",
        ]
        for index in findings:
            reasons = "; ".join(f"{v.kind}: {v.reason}" for v in index.verdicts)
            lines.append(f"{_md_cells(index)} | {_md(reasons)} |")
        lines.append("")
    else:
        lines += ["No findings.", ""]
    cleanup = [summary for summary in report.collections if summary.cleanup]
    if cleanup:
        lines += ["**Cleanup** (indexes a cleanup would drop):", ""]
        for summary in cleanup:
            lines.append(
                f"- `{_md(summary.namespace)}`: {', '.join(f'`{_md(n)}`' for n in summary.cleanup)}"
                f" frees {format_bytes(summary.cleanup_bytes)}"
            )
        lines.append("")
    lines += [
        "<details><summary>All indexes</summary>",
        "",
        "| Collection | Index | Key | Ops | Size | Verdicts |",
        "| --- | --- | --- | ---: | ---: | --- |",
    ]
    for index in report.indexes:
        lines.append(f"{_md_cells(index)} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


_HTML_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right;white-space:nowrap}code{font-size:.85rem}
.bar{height:.6rem;border-radius:2px;min-width:1px}
.size{background:#4a78c2}.usage{background:#3c9b5a}
.verdict{display:inline-block;padding:0 .35rem;margin:0 .2rem .2rem 0;border-radius:3px;
background:#eee}
.unused,.redundant,.duplicate{background:#f6d2cc}.usage-unknown{background:#e4e4e4}.missing,.extra,.options-differ{background:#f7e6b5}
.drop{background:#c0392b;color:#fff}.meta{color:#666;font-size:.85rem}
"""


def render_html(report: IndexReport) -> str:
    """A standalone HTML page: per collection a table with a size bar and a usage bar per index."""
    escape = html.escape
    largest = max((index.size or 0 for index in report.indexes), default=0) or 1
    busiest = max((index.total_ops for index in report.indexes), default=0) or 1
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>MongoDB index report</title>",
        f"<style>{_HTML_STYLE}</style></head><body>",
        "<h1>MongoDB index report</h1>",
        f"<p>{escape(summary_line(report))}.</p>",
        f'<p class="meta">{escape(members_line(report))}; generated '
        f"{report.generated_at:%Y-%m-%d %H:%M} UTC.</p>",
    ]
    for summary in report.collections:
        parts.append(f"<h2><code>{escape(summary.namespace)}</code></h2>")
        parts.append(
            f'<p class="meta">{summary.indexes} indexes, {escape(format_bytes(summary.size))}'
            + (
                f"; a cleanup would free {escape(format_bytes(summary.cleanup_bytes))} "
                f"({escape(', '.join(summary.cleanup))})"
                if summary.cleanup
                else ""
            )
            + "</p>"
        )
        parts.append(
            "<table><thead><tr><th>Index</th><th>Key</th><th>Size</th><th></th>"
            "<th>Ops</th><th></th><th>Verdicts</th></tr></thead><tbody>"
        )
        for index in report.indexes:
            if (index.db, index.collection) != (summary.db, summary.collection):
                continue
            size_width = 100 * (index.size or 0) / largest
            usage_width = 100 * index.total_ops / busiest
            verdicts = "".join(
                f'<span class="verdict {escape(v.kind)}" title="{escape(v.reason)}">'
                f"{escape(v.kind)}</span>"
                for v in index.verdicts
            )
            if index.keep:
                verdicts += f'<span class="verdict">keep: {escape(index.keep)}</span>'
            if index.cleanup:
                verdicts += '<span class="verdict drop">drop</span>'
            members = ", ".join(f"{member}: {ops}" for member, ops in index.ops)
            parts.append(
                f"<tr><td><code>{escape(index.name)}</code></td>"
                f"<td><code>{escape(describe_key(index.key))}</code></td>"
                f'<td class="num">{escape(format_bytes(index.size))}</td>'
                f'<td style="width:15%"><div class="bar size" style="width:{size_width:.1f}%">'
                "</div></td>"
                f'<td class="num" title="{escape(members)}">{index.total_ops if index.ops else ""}'
                "</td>"
                f'<td style="width:15%"><div class="bar usage" style="width:{usage_width:.1f}%">'
                "</div></td>"
                f"<td>{verdicts}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
