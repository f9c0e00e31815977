"""`mongo-toolkit catalog ...`."""

from __future__ import annotations

from pathlib import Path

import click

from toolkit.actions.catalog import check_catalog
from toolkit.cli import AppContext, output_options
from toolkit.errors import CatalogError


@click.group()
def catalog() -> None:
    """Validate the catalog (YAML) that describes your databases."""


@catalog.command()
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Treat lint warnings as errors (exit 2).")
@output_options
@click.pass_obj
def check(app: AppContext, path: Path | None, strict: bool) -> int:
    """Validate a catalog file or directory and lint it.

    Lists every error at once with its file, line and path. Unknown keys are
    errors. Lint warnings point at things MongoDB accepts but that will not do
    what you expect: a TTL index on a field that is not a date, a TTL on a
    compound index, two text indexes, a required field missing from
    properties, an index on a field a closed schema cannot hold, an index that
    duplicates or prefixes another, more than 64 indexes.

    PATH defaults to --catalog (catalogs/).

    \b
    Examples:
      mongo-toolkit catalog check
      mongo-toolkit catalog check catalogs/sentimatrix.yaml --strict
    """
    target = path or app.catalog
    result = check_catalog(target)
    catalog_model = result.catalog
    warnings = [str(finding) for finding in result.findings]
    index_count = sum(len(c.indexes) for c in catalog_model.collections)
    summary = {
        "ok": not (strict and warnings),
        "catalog": str(target),
        "files": list(catalog_model.files),
        "databases": catalog_model.databases,
        "collections": len(catalog_model.collections),
        "indexes": index_count,
        "roles": len(catalog_model.roles),
        "users": len(catalog_model.users),
        "warnings": warnings,
    }
    if strict and warnings:
        raise CatalogError(
            f"catalog {target} has {len(warnings)} lint finding(s) and --strict is set",
            problems=warnings,
            hint="fix them, or drop --strict to see them as warnings",
        )

    def render(console):  # type: ignore[no-untyped-def]
        for warning in warnings:
            app.output.warn(warning)
        console.print(
            f"catalog {target}: {len(catalog_model.databases)} databases, "
            f"{len(catalog_model.collections)} collections, {index_count} indexes, "
            f"{len(catalog_model.roles)} roles, {len(catalog_model.users)} users: "
            f"valid{f' with {len(warnings)} warning(s)' if warnings else ''}"
        )

    app.output.emit(summary, render)
    return 0
