"""Every write `restore` makes on MongoDB, and the reads it needs to plan them.

Documents go to the server as they came from the dump: each raw BSON
document is wrapped in a RawBSONDocument, which pymongo sends without
decoding or re-encoding it. Inserts are unordered and bypass document
validation (the documents passed the validator of the server they were
dumped from, or predate it); duplicate keys are counted, anything else fails.

Users and roles are restored as mongorestore does: the dumped documents go
to temporary collections in admin, and ``_mergeAuthzCollections`` merges them
into ``admin.system.users``/``admin.system.roles``.

Oplog entries are replayed as mongorestore does (mongo-tools
``mongorestore/oplog.go``): one entry per ``applyOps``, fields in the order
``ts, t, v, op, ns, o, o2, ui, lsid, txnNumber, prevOpTime, multiOpType``,
without ``wall`` and without ``ui`` (the collections were re-created with new
UUIDs); no-ops are skipped, index builds become createIndexes commands and a
nested ``applyOps`` is unwrapped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bson.raw_bson import RawBSONDocument
from bson.son import SON
from pymongo import MongoClient
from pymongo.errors import BulkWriteError, OperationFailure

from toolkit.errors import OperationFailed

TEMP_USERS: Final = "tempusers"
TEMP_ROLES: Final = "temproles"
DUPLICATE_KEY: Final = 11000
# The order mongorestore gives an oplog entry's fields in its applyOps.
ENTRY_FIELDS: Final = (
    "ts",
    "t",
    "v",
    "op",
    "ns",
    "o",
    "o2",
    "lsid",
    "txnNumber",
    "prevOpTime",
    "multiOpType",
)
# Errors that mean an oplog command was already applied (the dump holds its effect):
# replaying it again is a no-op, as oplog application in recovery treats them.
ALREADY_APPLIED: Final = {
    "create": {48},  # NamespaceExists
    "drop": {26},  # NamespaceNotFound
    "dropIndexes": {26, 27},  # NamespaceNotFound, IndexNotFound
    "deleteIndexes": {26, 27},
    "dropDatabase": {26},
}


def observe_namespaces(client: MongoClient, databases: Iterable[str]) -> dict[str, str]:
    """Return {namespace: type} of the collections that exist in ``databases``."""
    found: dict[str, str] = {}
    for db in sorted(set(databases)):
        for entry in client[db].list_collections():
            found[f"{db}.{entry['name']}"] = entry.get("type", "collection")
    return found


def observe_collection(
    client: MongoClient, db: str, name: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Return (listCollections options or None when missing, listIndexes specs) of one namespace."""
    entries = list(client[db].list_collections(filter={"name": name}))
    if not entries:
        return None, []
    options = dict(entries[0].get("options") or {})
    if entries[0].get("type") == "view":
        return options, []
    return options, [dict(index) for index in client[db][name].list_indexes()]


def count_documents(client: MongoClient, db: str, name: str) -> int:
    """Return how many documents ``db.name`` holds (an exact count)."""
    return int(client[db][name].count_documents({}))


def drop_collection(client: MongoClient, db: str, name: str) -> None:
    client[db].drop_collection(name)


def drop_database(client: MongoClient, db: str) -> None:
    client.drop_database(db)


def create_collection(client: MongoClient, db: str, name: str, options: Mapping[str, Any]) -> None:
    """Run ``create`` with the dumped options (views: viewOn and pipeline; time series...)."""
    command: SON[str, Any] = SON([("create", name)])
    for key, value in options.items():
        command[key] = value
    client[db].command(command)


@dataclass
class InsertOutcome:
    """One batch of inserts: how many went in, how many were already there (duplicate keys)."""

    inserted: int = 0
    duplicates: int = 0


def insert_raw(
    client: MongoClient, db: str, name: str, documents: Sequence[bytes]
) -> InsertOutcome:
    """Insert raw BSON documents (unordered, bypassing validation); count duplicate keys.

    Raise OperationFailed for any other write error (the first one's message).
    """
    if not documents:
        return InsertOutcome()
    collection = client[db][name]
    try:
        collection.insert_many(
            [RawBSONDocument(raw) for raw in documents],
            ordered=False,
            bypass_document_validation=True,
        )
    except BulkWriteError as error:
        details = error.details
        errors = details.get("writeErrors", [])
        duplicates = sum(1 for item in errors if item.get("code") == DUPLICATE_KEY)
        others = [item for item in errors if item.get("code") != DUPLICATE_KEY]
        if others:
            first = others[0]
            raise OperationFailed(
                f"inserting into {db}.{name}: {len(others)} document(s) refused, the first "
                f"(#{first.get('index')}) with: {first.get('errmsg')} (code {first.get('code')})"
            ) from error
        return InsertOutcome(int(details.get("nInserted", 0)), duplicates)
    return InsertOutcome(len(documents), 0)


def create_indexes(
    client: MongoClient, db: str, name: str, specs: Sequence[Mapping[str, Any]]
) -> None:
    """Create the indexes (one createIndexes command); existing identical ones are no-ops."""
    if specs:
        client[db].command(SON([("createIndexes", name), ("indexes", [dict(s) for s in specs])]))


def prepare_temporary_authz(client: MongoClient) -> None:
    """Drop leftovers of an earlier restore's temporary users and roles collections."""
    client.admin.drop_collection(TEMP_USERS)
    client.admin.drop_collection(TEMP_ROLES)


def merge_users_and_roles(client: MongoClient, *, drop: bool) -> None:
    """Merge admin.tempusers/temproles into the server's users and roles; drop the temporaries."""
    try:
        client.admin.command(
            SON(
                [
                    ("_mergeAuthzCollections", 1),
                    ("tempUsersCollection", f"admin.{TEMP_USERS}"),
                    ("tempRolesCollection", f"admin.{TEMP_ROLES}"),
                    ("drop", drop),
                    ("db", ""),
                ]
            )
        )
    finally:
        prepare_temporary_authz(client)


def replay_entry(client: MongoClient, entry: Mapping[str, Any]) -> str:
    """Apply one decoded oplog entry as mongorestore does; return "applied" or "skipped".

    "skipped" for no-ops, index builds that need nothing, and commands the
    restored data already reflects (see ALREADY_APPLIED). Raise
    OperationFailure for anything the server refuses.
    """
    op = entry.get("op")
    if op == "n":
        return "skipped"
    body = entry.get("o")
    if op == "c" and isinstance(body, Mapping) and body:
        name = next(iter(body))
        db = str(entry.get("ns", "")).partition(".")[0]
        if name == "applyOps" and isinstance(body[name], list):
            outcomes = [replay_entry(client, nested) for nested in body[name]]
            return "applied" if "applied" in outcomes else "skipped"
        if name in ("createIndexes", "commitIndexBuild"):
            return _replay_index_build(client, db, name, body)
        if name in ("startIndexBuild", "abortIndexBuild"):
            return "skipped"
        try:
            _apply_ops(client, entry)
        except OperationFailure as error:
            if error.code in ALREADY_APPLIED.get(name, set()):
                return "skipped"
            raise
        return "applied"
    _apply_ops(client, entry)
    return "applied"


def _apply_ops(client: MongoClient, entry: Mapping[str, Any]) -> None:
    ordered: SON[str, Any] = SON()
    for key in ENTRY_FIELDS:
        if key in entry:
            ordered[key] = entry[key]
    client.admin.command(SON([("applyOps", [ordered]), ("bypassDocumentValidation", True)]))


def _replay_index_build(client: MongoClient, db: str, name: str, body: Mapping[str, Any]) -> str:
    if name == "createIndexes":
        spec = {key: value for key, value in body.items() if key != "createIndexes"}
        specs = [spec]
    else:
        specs = [dict(spec) for spec in body.get("indexes") or []]
    for spec in specs:
        spec.pop("ns", None)
    collection = body[name]
    if not specs:
        return "skipped"
    create_indexes(client, db, str(collection), specs)
    return "applied"
