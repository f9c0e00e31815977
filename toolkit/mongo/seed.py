"""The seed writer: the only code that puts seeded documents into MongoDB.

Documents arrive as Python dicts in batches; each batch is encoded to BSON
once (``bson.encode``) and sent as one unordered ``insert_many`` of
RawBSONDocuments, so the driver does not re-encode them and one rejected
document does not stop the others. Rejections (validation, duplicate keys)
are counted and their first messages kept for the report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import bson
import pymongo.errors
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

log = logging.getLogger(__name__)

KEPT_ERRORS = 5  # rejection messages kept per collection
MESSAGE_CHARACTERS = 500  # of each (errInfo can be long)


@dataclass(frozen=True)
class TargetState:
    """What a collection looks like before seeding."""

    namespace: str
    exists: bool
    has_documents: bool
    kind: str = "collection"  # as listCollections says: collection, timeseries, view


@dataclass
class InsertOutcome:
    """What the server did with one collection's documents."""

    inserted: int = 0
    rejected: int = 0
    errors: list[str] = field(default_factory=list)
    codes: set[int] = field(default_factory=set)  # of the rejections (11000: duplicate key)


def _split(namespace: str) -> tuple[str, str]:
    db, _, name = namespace.partition(".")
    return db, name


def observe_targets(client: MongoClient, namespaces: Iterable[str]) -> dict[str, TargetState]:
    """For each namespace: does the collection exist, of which kind, does it hold documents."""
    states: dict[str, TargetState] = {}
    by_db: dict[str, list[str]] = {}
    for namespace in namespaces:
        db, name = _split(namespace)
        by_db.setdefault(db, []).append(name)
    for db, names in by_db.items():
        listed = {
            entry["name"]: entry.get("type", "collection")
            for entry in client[db].list_collections(filter={"name": {"$in": names}})
        }
        for name in names:
            exists = name in listed
            has_documents = bool(exists and client[db][name].find_one({}, {"_id": 1}) is not None)
            states[f"{db}.{name}"] = TargetState(
                f"{db}.{name}", exists, has_documents, listed.get(name, "collection")
            )
    return states


def delete_documents(client: MongoClient, namespace: str) -> int:
    """Delete every document (the collection, its validator and indexes stay); return how many."""
    db, name = _split(namespace)
    result = client[db][name].delete_many({})
    log.debug("deleted %d documents from %s", result.deleted_count, namespace)
    return int(result.deleted_count)


def find_existing(
    client: MongoClient, namespace: str, queries: Mapping[Any, Mapping[str, Any]]
) -> dict[Any, dict[str, Any]]:
    """For each query (by its key), the first document of ``namespace`` it matches, if any."""
    db, name = _split(namespace)
    collection = client[db][name]
    found: dict[Any, dict[str, Any]] = {}
    for key, query in queries.items():
        document = collection.find_one(query)
        if document is not None:
            found[key] = dict(document)
    return found


def _batches(documents: Iterable[dict[str, Any]], size: int) -> Iterator[list[RawBSONDocument]]:
    batch: list[RawBSONDocument] = []
    for document in documents:
        batch.append(RawBSONDocument(bson.encode(document)))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def insert_documents(
    client: MongoClient,
    namespace: str,
    documents: Iterable[dict[str, Any]],
    *,
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> InsertOutcome:
    """Insert ``documents`` in unordered batches of ``batch_size``; count what the server refused.

    Driver errors other than rejected documents (network, authorization) are
    raised for the caller to translate.
    """
    db, name = _split(namespace)
    collection = client[db][name]
    outcome = InsertOutcome()
    for batch in _batches(documents, batch_size):
        try:
            result = collection.insert_many(batch, ordered=False)
            outcome.inserted += len(result.inserted_ids)
        except pymongo.errors.BulkWriteError as error:
            details = error.details or {}
            write_errors = details.get("writeErrors", [])
            outcome.inserted += int(details.get("nInserted", len(batch) - len(write_errors)))
            outcome.rejected += len(write_errors)
            outcome.codes.update(
                int(write_error["code"]) for write_error in write_errors if "code" in write_error
            )
            for write_error in write_errors:
                if len(outcome.errors) >= KEPT_ERRORS:
                    break
                message = f"code {write_error.get('code')}: {write_error.get('errmsg', '')}"
                if write_error.get("errInfo"):
                    message += f" {write_error['errInfo']}"
                outcome.errors.append(message[:MESSAGE_CHARACTERS])
        if on_batch is not None:
            on_batch(len(batch))
    return outcome
