"""applyOps: apply oplog entries, as `mongorestore --oplogReplay` sends them.

``{applyOps: [{op, ns, o, o2?, ui?, ...}, ...], bypassDocumentValidation?}`` on
admin (../shared/MONGODB-FACTS.md section 8). Each entry goes through
``ctx.state`` (inserts, updates, deletes) or through the server's own DDL
handlers (``c`` entries), so validation, unique indexes and the oplog apply
exactly as for the ordinary commands. The reply is ``{applied, results, ok}``;
on the first failing entry the reply is an error that also carries
``applied`` and ``results`` (``false`` for the failed entry), as mongod's
apply_ops.cpp answers.

What each kind of entry does (mongod's "applyOps" application mode, which
must be idempotent for a replay over a dump that already holds some of the
writes):

- ``i``: insert ``o``; when a document with its ``_id`` is already there it is
  replaced (an upsert), so replaying an insert the dump already holds is
  harmless. The collection must exist (26 NamespaceNotFound otherwise).
- ``u``: ``o2`` names the document (``{_id}``); ``o`` is a ``$v: 2`` diff
  (``{$v: 2, diff: {d, u, i, s<field>}}``), a ``$v: 1``/modifier update, or a
  full replacement. A missing document is upserted (``alwaysUpsert``, true by
  default, as for the applyOps command).
- ``d``: delete the document ``o`` names; nothing happens when it is gone.
- ``c``: create, drop, createIndexes (the oplog's one-index form),
  commitIndexBuild, startIndexBuild/abortIndexBuild (no-ops), dropIndexes,
  collMod, renameCollection, dropDatabase and nested applyOps, run through
  the server's handlers; their errors (48 NamespaceExists for a create of an
  existing collection, 26 for a missing one...) are mongod's.
- ``n``: nothing.

An entry with ``ui`` is applied to the collection with that UUID (26 when
there is none), as mongod resolves UUIDs before namespaces.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

from bson import Binary

from tests.support.bsonfmt import render
from tests.support.catalog import CollectionInfo
from tests.support.dispatch import COMMANDS, MONGOD, Context, bson_type_name, command
from tests.support.errors import CommandError, WriteError
from tests.support.state import check_writable_namespace

ENTRY_FIELDS = frozenset(
    {
        "op",
        "ns",
        "o",
        "o2",
        "ui",
        "ts",
        "t",
        "v",
        "h",
        "wall",
        "b",
        "lsid",
        "txnNumber",
        "stmtId",
        "prevOpTime",
        "multiOpType",
        "fromMigrate",
        "_id",
        "version",
        "preImageOpTime",
        "postImageOpTime",
        "needsRetryImage",
        "destinedRecipient",
        "tid",
        "recordId",
        "checkExistenceForDiffInsert",
    }
)
OPS = ("i", "u", "d", "c", "n")

# The c-entry commands the server's own handlers run, and the database they run on.
_DDL_COMMANDS = ("create", "drop", "collMod", "dropDatabase")


@command(
    "applyOps",
    roles=MONGOD,
    admin_only=True,
    write=True,
    fields={
        "applyOps",
        "bypassDocumentValidation",
        "alwaysUpsert",
        "oplogApplicationMode",
        "allowAtomic",
        "preCondition",
    },
)
def apply_ops(ctx: Context) -> dict[str, Any]:
    entries = ctx.value
    if not isinstance(entries, list):
        raise CommandError(
            14,
            f"BSON field 'applyOps.applyOps' is the wrong type '{bson_type_name(entries)}', "
            "expected type 'array'",
        )
    if ctx.get("preCondition") is not None:
        raise CommandError(238, "applyOps preCondition is not supported by the test server")
    bypass = bool(ctx.get("bypassDocumentValidation"))
    always_upsert = bool(ctx.get("alwaysUpsert", True))
    results = run_entries(ctx, entries, bypass=bypass, always_upsert=always_upsert)
    return {"applied": len(results), "results": results}


def run_entries(
    ctx: Context, entries: list[Any], *, bypass: bool, always_upsert: bool
) -> list[bool]:
    """Apply ``entries`` in order; return one True per entry.

    Raise CommandError for the first entry that fails, carrying ``applied``
    and ``results`` (with False for the failed entry).
    """
    results: list[bool] = []
    for entry in entries:
        try:
            apply_entry(ctx, entry, bypass=bypass, always_upsert=always_upsert)
        except WriteError as error:
            raise CommandError(
                error.code,
                error.errmsg,
                **error.extra,
                applied=len(results),
                results=[*results, False],
            ) from error
        except CommandError as error:
            extra = dict(error.extra)
            extra["applied"] = len(results)
            extra["results"] = [*results, False]
            raise CommandError(error.code, error.errmsg, **extra) from error
        results.append(True)
    return results


def _check_entry(entry: Any) -> tuple[str, str, dict[str, Any]]:
    if not isinstance(entry, Mapping):
        raise CommandError(14, f"applyOps entries must be objects, not {bson_type_name(entry)}")
    for key in entry:
        if key not in ENTRY_FIELDS:
            raise CommandError(40415, f"BSON field 'OplogEntryBase.{key}' is an unknown field.")
    for key in ("op", "ns", "o"):
        if key not in entry:
            raise CommandError(
                40414, f"BSON field 'OplogEntryBase.{key}' is missing but a required field"
            )
    op, ns, body = entry["op"], entry["ns"], entry["o"]
    if op not in OPS:
        raise CommandError(
            2, f"Enumeration value '{op}' for field 'OplogEntryBase.op' is not a valid value."
        )
    if not isinstance(ns, str):
        raise CommandError(
            14,
            f"BSON field 'OplogEntryBase.ns' is the wrong type '{bson_type_name(ns)}', "
            "expected type 'string'",
        )
    if not isinstance(body, Mapping):
        raise CommandError(
            14,
            f"BSON field 'OplogEntryBase.o' is the wrong type '{bson_type_name(body)}', "
            "expected type 'object'",
        )
    return op, ns, dict(body)


def apply_entry(ctx: Context, entry: Any, *, bypass: bool, always_upsert: bool) -> None:
    """Apply one oplog entry; raise CommandError or WriteError as mongod would answer."""
    op, ns, body = _check_entry(entry)
    if op == "n":
        return
    if op == "c":
        _apply_command(ctx, ns, body, entry, bypass=bypass, always_upsert=always_upsert)
        return
    info = _target(ctx, ns, entry.get("ui"), op)
    state = ctx.state
    if op == "i":
        if "_id" not in body:
            raise CommandError(4, f"Failed to apply insert due to missing _id: {render(entry)}")
        if state.find(info.db, info.name, filter={"_id": body["_id"]}, limit=1):
            # An insert of a document that is there already: applyOps makes it an upsert.
            state.update(
                info,
                {"_id": body["_id"]},
                body,
                multi=False,
                upsert=True,
                bypass_validation=bypass,
            )
        else:
            state.insert(info, body, bypass_validation=bypass)
        return
    if op == "u":
        selector = entry.get("o2")
        if not isinstance(selector, Mapping) or "_id" not in selector:
            raise CommandError(
                40414, "BSON field 'OplogEntryBase.o2' is missing but a required field"
            )
        update = update_from_entry(body)
        if update is None:
            return
        upsert = always_upsert or bool(entry.get("b"))
        matched, _, _, _ = state.update(
            info,
            {"_id": selector["_id"]},
            update,
            multi=False,
            upsert=upsert,
            bypass_validation=bypass,
        )
        if not matched and not upsert:
            raise CommandError(
                11, f"Failed to apply update due to missing document: {render(entry)}"
            )
        return
    # op == "d"
    if "_id" not in body:
        raise CommandError(4, f"Failed to apply delete due to missing _id: {render(entry)}")
    state.delete(info, {"_id": body["_id"]}, limit=1)


def _target(ctx: Context, ns: str, ui: Any, op: str) -> CollectionInfo:
    state = ctx.state
    if ui is not None:
        for info in state.collections.values():
            if info.uuid is not None and _same_uuid(info.uuid, ui):
                return info
        raise CommandError(26, f"Failed to apply operation due to missing collection ({_uuid(ui)})")
    db, _, name = ns.partition(".")
    if not name:
        raise CommandError(73, f"Invalid namespace specified '{ns}'")
    check_writable_namespace(db, name)
    info = state.get(db, name)
    verb = {"i": "insert", "u": "update", "d": "delete"}[op]
    if info is None:
        raise CommandError(26, f"Failed to apply {verb} due to missing collection: {ns}")
    if info.is_view:
        raise CommandError(166, f"Namespace {ns} is a view, not a collection")
    return info


def _same_uuid(left: Binary, right: Any) -> bool:
    return isinstance(right, (Binary, uuid_module.UUID)) and bytes(left) == (
        right.bytes if isinstance(right, uuid_module.UUID) else bytes(right)
    )


def _uuid(value: Any) -> str:
    try:
        if isinstance(value, Binary):
            return str(uuid_module.UUID(bytes=bytes(value)))
    except ValueError:
        pass
    return repr(value)


# ------------------------------------------------------------------ updates


def update_from_entry(body: dict[str, Any]) -> Any:
    """The update an ``u`` entry's ``o`` stands for: modifiers, or a replacement document.

    None when a diff changes nothing.
    """
    version = body.get("$v")
    if version == 2:
        diff = body.get("diff")
        if not isinstance(diff, Mapping):
            raise CommandError(4772600, "diff field must be an object in a $v:2 update")
        sets: dict[str, Any] = {}
        unsets: dict[str, Any] = {}
        diff_to_modifiers(diff, "", sets, unsets)
        update: dict[str, Any] = {}
        if sets:
            update["$set"] = sets
        if unsets:
            update["$unset"] = unsets
        return update or None
    if any(key.startswith("$") for key in body):
        return {key: value for key, value in body.items() if key != "$v"}
    return body


def diff_to_modifiers(
    diff: Mapping[str, Any], prefix: str, sets: dict[str, Any], unsets: dict[str, Any]
) -> None:
    """Turn a ``$v: 2`` document diff into ``$set``/``$unset`` on dotted paths."""
    for key, value in diff.items():
        if key == "d":
            for field in value:
                unsets[prefix + field] = ""
        elif key in ("u", "i"):
            for field, item in value.items():
                sets[prefix + field] = item
        elif key.startswith("s") and isinstance(value, Mapping):
            path = prefix + key[1:]
            if value.get("a") is True:
                _array_diff_to_modifiers(value, path, sets, unsets)
            else:
                diff_to_modifiers(value, path + ".", sets, unsets)
        else:
            raise CommandError(4772601, f"unknown field in a $v:2 diff: {key}")


def _array_diff_to_modifiers(
    diff: Mapping[str, Any], path: str, sets: dict[str, Any], unsets: dict[str, Any]
) -> None:
    for key, value in diff.items():
        if key == "a":
            continue
        if key == "l":
            raise CommandError(238, "array-resize diffs (l) are not supported by the test server")
        if key.startswith("u"):
            sets[f"{path}.{key[1:]}"] = value
        elif key.startswith("s") and isinstance(value, Mapping):
            element = f"{path}.{key[1:]}"
            if value.get("a") is True:
                _array_diff_to_modifiers(value, element, sets, unsets)
            else:
                diff_to_modifiers(value, element + ".", sets, unsets)
        else:
            raise CommandError(4772601, f"unknown field in a $v:2 array diff: {key}")


# ------------------------------------------------------------------ commands


def _run_handler(ctx: Context, name: str, db: str, body: dict[str, Any]) -> dict[str, Any]:
    spec = COMMANDS[name]
    inner = Context(ctx.node, ctx.connection, db, name, body)
    return spec.handler(inner)


def _apply_command(
    ctx: Context,
    ns: str,
    body: dict[str, Any],
    entry: Mapping[str, Any],
    *,
    bypass: bool,
    always_upsert: bool,
) -> None:
    db, _, rest = ns.partition(".")
    if rest != "$cmd":
        raise CommandError(73, f"a command entry's namespace must be <db>.$cmd, not {ns!r}")
    if not body:
        raise CommandError(2, "an empty command in an applyOps entry")
    name = next(iter(body))
    if entry.get("ui") is not None and name in ("collMod", "createIndexes", "dropIndexes"):
        # The UUID names the collection, whatever the namespace in the command says.
        info = _target(ctx, f"{db}.{body[name]}", entry["ui"], "u")
        db, body = info.db, {**body, name: info.name}
    if name in _DDL_COMMANDS:
        _run_handler(ctx, name, db, body)
    elif name == "createIndexes":
        spec = {key: value for key, value in body.items() if key != "createIndexes"}
        _run_handler(
            ctx, "createIndexes", db, {"createIndexes": body["createIndexes"], "indexes": [spec]}
        )
    elif name == "commitIndexBuild":
        indexes = body.get("indexes") or []
        _run_handler(
            ctx, "createIndexes", db, {"createIndexes": body[name], "indexes": list(indexes)}
        )
    elif name in ("startIndexBuild", "abortIndexBuild"):
        return
    elif name == "dropIndexes":
        _run_handler(
            ctx, "dropIndexes", db, {"dropIndexes": body[name], "index": body.get("index")}
        )
    elif name == "renameCollection":
        fields = {key: body[key] for key in ("to", "dropTarget", "stayTemp") if key in body}
        if isinstance(fields.get("dropTarget"), Binary):
            fields["dropTarget"] = True  # the oplog form names the dropped target's UUID
        _run_handler(ctx, "renameCollection", "admin", {"renameCollection": body[name], **fields})
    elif name == "applyOps":
        nested = body["applyOps"]
        if not isinstance(nested, list):
            raise CommandError(14, "a nested applyOps must be an array")
        run_entries(ctx, nested, bypass=bypass, always_upsert=always_upsert)
    else:
        raise CommandError(
            238, f"applyOps of a {name!r} command is not supported by the test server"
        )
