"""Shared helpers for the seed tests: catalogs written to a temporary directory, quick seeders."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

import yaml

from toolkit.catalog.load import load_catalog
from toolkit.catalog.model import Catalog
from toolkit.seed.engine import Seeder
from toolkit.seed.plan import plan_seed
from toolkit.seed.pools import FakerPools
from toolkit.seed.schema_generator import GenerationContext, compile_document
from toolkit.seed.validator import compile_validator

NOW = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
POOLS = FakerPools(seed=7, size=60)  # shared: Faker pools are costly to make


def write_catalog(
    directory: Path, collections: dict[str, dict[str, Any]], db: str = "shop"
) -> Path:
    """Write a one-database catalog file and return its path."""
    path = directory / "catalog.yaml"
    path.write_text(
        yaml.safe_dump({"databases": {db: {"collections": collections}}}, sort_keys=False)
    )
    return path


def load(directory: Path, collections: dict[str, dict[str, Any]], db: str = "shop") -> Catalog:
    return load_catalog(write_catalog(directory, collections, db))


def generate_all(
    catalog: Catalog, *, seed: int = 1, pool_size: int = 60, environ=None, **plan_options
) -> dict[str, list[dict]]:
    """Every written collection's documents, by namespace."""
    plan = plan_seed(catalog, **plan_options)
    seeder = Seeder(plan, seed=seed, pool_size=pool_size, environ=environ or {})
    return {collection.namespace: list(documents) for collection, documents in seeder.collections()}


def generator_for(
    schema: dict[str, Any] | None, *, seed: int = 3, overrides=None, **context_options
):
    """A document generator for a bare $jsonSchema (no catalog), and its validator check."""
    context = GenerationContext(
        rng=random.Random(seed), pools=POOLS, now=NOW, overrides=overrides or {}, **context_options
    )
    generate = compile_document(schema, context)
    check = compile_validator({"$jsonSchema": schema} if schema is not None else None)
    return generate, check, context
