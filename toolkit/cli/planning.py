"""What `schema`, `shard` and `rbac` share: how a plan and its application are shown.

Each planner's operations have ``kind``, ``target``, ``reason``, ``destructive``,
``needs_drop`` (optional) and ``as_dict()``; these helpers print them as a
table or a JSON payload, so the three commands read the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class PlannedOperation(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def destructive(self) -> bool: ...

    @property
    def target(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


def blocked(operation: PlannedOperation, allow_drop: bool) -> bool:
    """True when the operation destroys something (or waits on a drop) and drops are off."""
    return not allow_drop and (operation.destructive or getattr(operation, "needs_drop", False))


def operations_table(
    operations: Sequence[PlannedOperation], allow_drop: bool, statuses: Sequence[str] | None = None
) -> Table:
    """A numbered table of operations; drops in red; what --allow-drop gates is marked."""
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
        elif blocked(operation, allow_drop):
            row[3] += " [yellow](needs --allow-drop)[/yellow]"
        table.add_row(*row)
    return table


def plan_payload(
    operations: Sequence[PlannedOperation], allow_drop: bool, **extra: Any
) -> dict[str, Any]:
    """The JSON result of a `... plan`: counts, then every operation."""
    return {
        "pending": len(operations),
        "destructive": sum(1 for op in operations if op.destructive),
        "would_run": sum(1 for op in operations if not blocked(op, allow_drop)),
        **extra,
        "operations": [op.as_dict() for op in operations],
    }


def print_plan(
    console: Console, operations: Sequence[PlannedOperation], allow_drop: bool, in_sync: str
) -> None:
    """The table and a one-line summary, or ``in_sync`` when nothing is pending."""
    if not operations:
        console.print(in_sync)
        return
    console.print(operations_table(operations, allow_drop))
    gated = sum(1 for op in operations if blocked(op, allow_drop))
    console.print(
        f"{len(operations)} operation(s) pending"
        + (f", {gated} of them need --allow-drop" if gated else "")
    )


def apply_payload(results: Sequence[tuple[PlannedOperation, str]], **extra: Any) -> dict[str, Any]:
    """The JSON result of an `... apply`: ``changed`` is what Ansible's changed_when reads."""
    done = sum(1 for _, status in results if status == "done")
    return {
        "changed": done > 0,
        "done": done,
        "skipped": sum(1 for _, status in results if status == "skipped"),
        **extra,
        "operations": [{**op.as_dict(), "status": status} for op, status in results],
    }


def print_applied(
    console: Console,
    results: Sequence[tuple[PlannedOperation, str]],
    allow_drop: bool,
    nothing: str,
) -> None:
    if not results:
        console.print(nothing)
        return
    operations = [op for op, _ in results]
    console.print(operations_table(operations, allow_drop, statuses=[s for _, s in results]))
    done = sum(1 for _, status in results if status == "done")
    skipped = len(results) - done
    console.print(
        f"{done} operation(s) done"
        + (f", {skipped} skipped (destructive; rerun with --allow-drop)" if skipped else "")
    )
