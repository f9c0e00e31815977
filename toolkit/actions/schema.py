"""`mongo-toolkit schema plan|apply|render`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import Catalog
from toolkit.errors import OperationFailed, UsageError
from toolkit.fsutil import atomic_write
from toolkit.initscripts import GENERATED_MARK, render_scripts
from toolkit.mongo.apply import Applied, apply_operations
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.schema import observe_schema
from toolkit.plan.schema import ObservedSchema, Operation, plan_schema


@dataclass(frozen=True)
class SchemaPlan:
    catalog: Catalog
    operations: list[Operation]


def load_selected(catalog_path: Path, databases: tuple[str, ...]) -> Catalog:
    """Load the catalog and keep ``databases`` (all when empty); refuse unknown names."""
    catalog = load_catalog(catalog_path)
    unknown = sorted(set(databases) - set(catalog.databases))
    if unknown:
        raise UsageError(
            f"database(s) {', '.join(unknown)} not in the catalog {catalog_path}",
            hint=f"the catalog has: {', '.join(catalog.databases) or 'none'}",
        )
    return catalog.select(databases)


def plan(
    settings: ConnectionSettings, catalog_path: Path, databases: tuple[str, ...]
) -> SchemaPlan:
    """Observe the server and return the operations that would make it match."""
    catalog = load_selected(catalog_path, databases)
    client = connect(settings)
    try:
        with translate_errors(settings, "reading collections and indexes"):
            observed = observe_schema(client, catalog.databases)
    finally:
        client.close()
    return SchemaPlan(catalog, plan_schema(catalog, observed))


def apply(
    settings: ConnectionSettings,
    catalog_path: Path,
    databases: tuple[str, ...],
    *,
    allow_drop: bool,
    on_done: Callable[[Applied], None] | None = None,
) -> tuple[SchemaPlan, list[Applied]]:
    """Plan, then run exactly that plan. Raise OperationFailed naming the step that failed."""
    catalog = load_selected(catalog_path, databases)
    client = connect(settings)
    done: list[Applied] = []

    def record(result: Applied) -> None:
        done.append(result)
        if on_done:
            on_done(result)

    try:
        with translate_errors(settings, "reading collections and indexes"):
            observed = observe_schema(client, catalog.databases)
        operations = plan_schema(catalog, observed)
        try:
            with translate_errors(settings, "applying the schema"):
                apply_operations(client, operations, allow_drop=allow_drop, on_done=record)
        except OperationFailed as error:
            failed = operations[len(done)]
            ran = sum(1 for result in done if result.status == "done")
            raise OperationFailed(
                f"{failed.describe()} failed after {ran} of {len(operations)} operations: "
                f"{error.message}",
                hint="fix the cause and run `schema apply` again: it re-plans from what is there",
            ) from error
    finally:
        client.close()
    return SchemaPlan(catalog, operations), done


def render(catalog_path: Path) -> tuple[Catalog, dict[str, str]]:
    """Return the init scripts for an empty server: {file name: JavaScript}."""
    catalog = load_catalog(catalog_path)
    operations = plan_schema(catalog, ObservedSchema())
    return catalog, render_scripts(operations, [Path(file).name for file in catalog.files])


def stale_scripts(out_dir: Path, scripts: dict[str, str]) -> list[Path]:
    """Generated scripts in ``out_dir`` that the catalog no longer produces."""
    if not out_dir.is_dir():
        return []
    stale = []
    for path in sorted(out_dir.glob("*.js")):
        if path.name in scripts:
            continue
        try:
            if path.read_text(encoding="utf-8").startswith(GENERATED_MARK):
                stale.append(path)
        except (OSError, UnicodeDecodeError):
            continue
    return stale


def differing_scripts(out_dir: Path, scripts: dict[str, str]) -> list[str]:
    """Names of scripts that are missing, different or stale in ``out_dir``."""
    differing = []
    for name, text in scripts.items():
        path = out_dir / name
        try:
            current = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            current = None
        if current != text:
            differing.append(name)
    differing.extend(path.name for path in stale_scripts(out_dir, scripts))
    return differing


def write_scripts(out_dir: Path, scripts: dict[str, str]) -> tuple[list[str], list[str]]:
    """Write changed scripts atomically, remove stale generated ones; return both name lists."""
    written = []
    for name in differing_scripts(out_dir, scripts):
        if name in scripts:
            atomic_write(out_dir / name, scripts[name])
            written.append(name)
    removed = []
    for path in stale_scripts(out_dir, scripts):
        path.unlink()
        removed.append(path.name)
    return written, removed
