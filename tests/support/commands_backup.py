"""_mergeAuthzCollections: how mongorestore restores users and roles.

mongorestore never writes admin.system.users or admin.system.roles itself: it
inserts the dumped documents into temporary collections (``admin.tempusers``,
``admin.temproles`` by default) and asks the server to merge them:

    {_mergeAuthzCollections: 1, tempUsersCollection: "admin.tempusers",
     tempRolesCollection: "admin.temproles", drop: <bool>, db: ""}

``db: ""`` merges every database's users and roles, a name only that
database's. With ``drop`` the users and roles of those databases that the
temporary collections do not hold are removed first; otherwise existing ones
stay and those in the temporary collections replace them by ``_id``. The
temporary collections are left for the client to drop (mongorestore does).
"""

from __future__ import annotations

from typing import Any

from tests.support.catalog import CollectionInfo
from tests.support.commands_users import _roles, _users
from tests.support.dispatch import MONGOD, Context, command
from tests.support.errors import CommandError
from tests.support.state import ServerState


@command(
    "_mergeAuthzCollections",
    roles=MONGOD,
    admin_only=True,
    write=True,
    fields={"tempUsersCollection", "tempRolesCollection", "drop", "db"},
)
def merge_authz_collections(ctx: Context) -> dict[str, Any]:
    state = ctx.state
    db = ctx.get("db", "")
    if not isinstance(db, str):
        raise CommandError(14, "BSON field '_mergeAuthzCollections.db' must be a string")
    drop = bool(ctx.get("drop"))
    for field_name, target in (("tempUsersCollection", _users), ("tempRolesCollection", _roles)):
        source_ns = ctx.get(field_name)
        if source_ns is None:
            continue
        if not isinstance(source_ns, str) or "." not in source_ns:
            raise CommandError(2, f"_mergeAuthzCollections.{field_name} must be a namespace")
        source_db, source_name = source_ns.split(".", 1)
        source = state.get(source_db, source_name)
        documents = state.stored(source) if source is not None else []
        if db:
            documents = [document for document in documents if document.get("db") == db]
        _merge(state, target(state), documents, db=db, drop=drop)
    return {}


def _merge(
    state: ServerState,
    info: CollectionInfo,
    documents: list[dict[str, Any]],
    *,
    db: str,
    drop: bool,
) -> None:
    incoming = {document["_id"] for document in documents}
    if drop:
        for existing in state.stored(info):
            if (not db or existing.get("db") == db) and existing["_id"] not in incoming:
                state.delete(info, {"_id": existing["_id"]}, limit=1)
    for document in documents:
        state.update(
            info,
            {"_id": document["_id"]},
            document,
            multi=False,
            upsert=True,
            bypass_validation=True,
        )
