"""Observe the collections and indexes of the catalog's databases."""

from __future__ import annotations

from collections.abc import Iterable

from pymongo import MongoClient

from toolkit.plan.schema import ObservedCollection, ObservedSchema


# Collections MongoDB keeps for itself; never planned, created or dropped.
def _is_internal(name: str) -> bool:
    return name.startswith("system.")


def observe_schema(client: MongoClient, databases: Iterable[str]) -> ObservedSchema:
    """Return the collections (with options and indexes) of ``databases``.

    One listCollections per database and one listIndexes per collection or
    time-series collection; views have no indexes.
    """
    collections: list[ObservedCollection] = []
    for db_name in databases:
        database = client[db_name]
        for entry in database.list_collections():
            name = entry["name"]
            if _is_internal(name):
                continue
            kind = entry.get("type", "collection")
            indexes = () if kind == "view" else tuple(database[name].list_indexes())
            collections.append(
                ObservedCollection(
                    db=db_name,
                    name=name,
                    type=kind,
                    options=dict(entry.get("options", {})),
                    indexes=tuple(dict(index) for index in indexes),
                )
            )
    return ObservedSchema(collections=tuple(sorted(collections, key=lambda c: (c.db, c.name))))
