"""The one place that writes schema changes to MongoDB: run planned operations in order."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pymongo import MongoClient

from toolkit.plan.schema import Operation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    operation: Operation
    status: str  # "done" or "skipped"
    detail: str = ""


def apply_operations(
    client: MongoClient,
    operations: Iterable[Operation],
    *,
    allow_drop: bool,
    on_done: Callable[[Applied], None] | None = None,
) -> list[Applied]:
    """Send each operation's command, in order; skip destructive ones without ``allow_drop``.

    Stop at the first failure: pymongo raises, and the caller translates the
    error (toolkit.mongo.client.translate_errors) naming what was done so far.
    """
    results: list[Applied] = []
    for operation in operations:
        if not allow_drop and (operation.destructive or operation.needs_drop):
            result = Applied(operation, "skipped", "needs --allow-drop")
        else:
            log.debug("running %s: %s", operation.describe(), operation.command)
            client[operation.db].command(operation.command)
            result = Applied(operation, "done")
        results.append(result)
        if on_done:
            on_done(result)
    return results
