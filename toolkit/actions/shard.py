"""`mongo-toolkit shard plan|apply`: shard keys, zones and the balancer window from the catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient

from toolkit.actions.schema import load_selected
from toolkit.catalog.model import Catalog
from toolkit.errors import OperationFailed, UsageError
from toolkit.mongo.client import ConnectionSettings, connect, describe_hosts, translate_errors
from toolkit.mongo.shard import apply_shard_operations, describe_server, observe_sharding
from toolkit.plan.shard import ShardOperation, ShardPlan, plan_sharding


@dataclass(frozen=True)
class ShardingPlan:
    catalog: Catalog
    plan: ShardPlan


def _require_mongos(client: MongoClient, settings: ConnectionSettings) -> None:
    with translate_errors(settings, "asking what the server is"):
        what = describe_server(client)
    if what is not None:
        raise UsageError(
            f"sharding needs a mongos, and {describe_hosts(settings.uri)} is {what}",
            hint="point --uri (or MONGODB_URI) at a mongos of the sharded cluster; "
            "`make up-sharded` starts one locally",
        )


def _observe_and_plan(
    client: MongoClient, settings: ConnectionSettings, catalog: Catalog
) -> ShardPlan:
    _require_mongos(client, settings)
    with translate_errors(settings, "reading the cluster's sharding state"):
        observed = observe_sharding(client, catalog.databases)
    return plan_sharding(catalog, observed)


def plan(
    settings: ConnectionSettings, catalog_path: Path, databases: tuple[str, ...]
) -> ShardingPlan:
    """Observe the cluster through a mongos and return what `shard apply` would run.

    Raise UsageError when the server is not a mongos.
    """
    catalog = load_selected(catalog_path, databases)
    client = connect(settings)
    try:
        return ShardingPlan(catalog, _observe_and_plan(client, settings, catalog))
    finally:
        client.close()


def apply(
    settings: ConnectionSettings,
    catalog_path: Path,
    databases: tuple[str, ...],
    *,
    allow_drop: bool,
    on_done: Callable[[ShardOperation, str], None] | None = None,
) -> tuple[ShardingPlan, list[tuple[ShardOperation, str]]]:
    """Plan, then run exactly that plan. Refuse (OperationFailed) when the plan has
    conflicts: they need a person, and running the rest could leave half a layout."""
    catalog = load_selected(catalog_path, databases)
    client = connect(settings)
    done: list[tuple[ShardOperation, str]] = []

    def record(operation: ShardOperation, status: str) -> None:
        done.append((operation, status))
        if on_done:
            on_done(operation, status)

    try:
        planned = _observe_and_plan(client, settings, catalog)
        if planned.conflicts:
            raise OperationFailed(
                f"shard apply refused: {len(planned.conflicts)} conflict(s) no command fixes: "
                + "; ".join(planned.conflicts),
                hint="resolve them (see `mongo-toolkit shard plan`), then apply again",
            )
        try:
            with translate_errors(settings, "applying the sharding layout"):
                apply_shard_operations(
                    client, planned.operations, allow_drop=allow_drop, on_done=record
                )
        except OperationFailed as error:
            failed = planned.operations[len(done)]
            ran = sum(1 for _, status in done if status == "done")
            raise OperationFailed(
                f"{failed.describe()} failed after {ran} of {len(planned.operations)} "
                f"operations: {error.message}",
                hint="fix the cause and run `shard apply` again: it re-plans from what is there",
            ) from error
    finally:
        client.close()
    return ShardingPlan(catalog, planned), done
