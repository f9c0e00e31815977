"""`mongo-toolkit catalog check`: load, validate and lint a catalog."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.catalog.lint import Finding, lint_catalog
from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import Catalog


@dataclass(frozen=True)
class CatalogCheck:
    catalog: Catalog
    findings: list[Finding]


def check_catalog(path: Path) -> CatalogCheck:
    """Load the catalog (raising CatalogError with every problem) and lint it."""
    catalog = load_catalog(path)
    return CatalogCheck(catalog=catalog, findings=lint_catalog(catalog))
