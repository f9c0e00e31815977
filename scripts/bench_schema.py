"""Benchmark: `schema plan` on a synthetic catalog of 1,000 collections x 10 indexes.

The planner compares the catalog with an observed state of the same size (as
listCollections/listIndexes report it after an apply), so every index is
normalised and compared; the goal is under one second.
"""

from __future__ import annotations

import time
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from toolkit.catalog.load import load_catalog
from toolkit.plan.schema import ObservedCollection, ObservedSchema, plan_schema

COLLECTIONS = 1000
INDEXES = 10


def synthetic_catalog() -> dict:
    collections = {}
    for number in range(COLLECTIONS):
        indexes = []
        for position in range(INDEXES):
            index: dict = {"keys": {f"f{position}": 1, "created_at": -1}}
            if position == 0:
                index = {"keys": {"created_at": 1}, "expire_after": "30d"}
            elif position == 1:
                index["unique"] = True
            elif position == 2:
                index = {"keys": {"title": "text", "body": "text"}, "weights": {"title": 10}}
            elif position == 3:
                index["partial"] = {"status": {"$eq": "active"}}
            indexes.append(index)
        collections[f"c{number:04d}"] = {
            "validator": {
                "$jsonSchema": {
                    "bsonType": "object",
                    "required": ["created_at"],
                    "properties": {
                        "created_at": {"bsonType": "date"},
                        "status": {"enum": ["active", "done"]},
                    },
                }
            },
            "indexes": indexes,
        }
    return {"databases": {"bench": {"collections": collections}}}


def observed_like_the_server(catalog) -> ObservedSchema:
    """What a server reports once the catalog is applied (v: 2, text index fixSpec ...)."""
    observed = []
    for spec in catalog.collections:
        indexes = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}]
        for index in spec.indexes:
            stored = {"v": 2, "key": index.key_document, "name": index.name, **index.options}
            if index.is_text:
                stored["key"] = {"_fts": "text", "_ftsx": 1}
                stored["weights"] = {"body": 1, "title": 10}
                stored.update(
                    default_language="english", language_override="language", textIndexVersion=3
                )
            indexes.append(stored)
        observed.append(
            ObservedCollection(
                spec.db, spec.name, "collection", {"validator": spec.validator}, tuple(indexes)
            )
        )
    return ObservedSchema(tuple(observed))


def main() -> None:
    with TemporaryDirectory() as directory:
        path = Path(directory) / "bench.yaml"
        path.write_text(yaml.safe_dump(synthetic_catalog(), sort_keys=False))
        started = time.perf_counter()
        catalog = load_catalog(path)
        load_seconds = time.perf_counter() - started
    observed = observed_like_the_server(catalog)
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        operations = plan_schema(catalog, observed)
        runs.append(time.perf_counter() - started)
    assert operations == [], operations[:3]  # an unchanged catalog plans nothing
    best = min(runs)
    print(
        f"schema plan: {COLLECTIONS} collections x {INDEXES} indexes vs. an observed state of the same size"
    )
    print(f"  catalog load and validation: {load_seconds:.2f} s")
    print(
        f"  planning (best of 3):        {best:.3f} s   goal < 1 s: {'met' if best < 1 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
