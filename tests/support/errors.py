"""Command errors the test server answers with, shaped as MongoDB 7.0 shapes them.

A handler raises CommandError; the dispatcher turns it into
``{ok: 0, errmsg, code, codeName}`` (plus any extra fields), which real
clients raise as OperationFailure. See ../shared/MONGODB-FACTS.md section 3.
"""

from __future__ import annotations

from typing import Any

# From mongo:src/mongo/base/error_codes.yml. Codes missing here get
# "Location<code>", as the server names codes that have no entry.
CODE_NAMES: dict[int, str] = {
    1: "InternalError",
    2: "BadValue",
    8: "UnknownError",
    9: "FailedToParse",
    11: "UserNotFound",
    13: "Unauthorized",
    14: "TypeMismatch",
    18: "AuthenticationFailed",
    20: "IllegalOperation",
    26: "NamespaceNotFound",
    27: "IndexNotFound",
    31: "RoleNotFound",
    40: "ConflictingUpdateOperators",
    43: "CursorNotFound",
    48: "NamespaceExists",
    51: "DuplicateKey_",  # placeholder, never used; real 11000 is below
    59: "CommandNotFound",
    61: "ShardKeyNotFound",
    67: "CannotCreateIndex",
    68: "IndexAlreadyExists",
    72: "InvalidOptions",
    73: "InvalidNamespace",
    76: "NoReplicationEnabled",
    85: "IndexOptionsConflict",
    86: "IndexKeySpecsConflict",
    93: "InvalidReplicaSetConfig",
    94: "NotYetInitialized",
    95: "IncompatibleCollationVersion",
    115: "CommandNotSupported",
    117: "ConflictingOperationInProgress",
    121: "DocumentValidationFailure",
    166: "CommandNotSupportedOnView",
    197: "InvalidIndexSpecificationOption",
    224: "QueryFeatureNotAllowed",
    8000: "AtlasError",
    10107: "NotWritablePrimary",
    11000: "DuplicateKey",
    11600: "InterruptedAtShutdown",
    13435: "NotPrimaryNoSecondaryOk",
    # Added for the test server (same source).
    17: "ProtocolError",
    23: "AlreadyInitialized",
    52: "DollarPrefixedFieldName",
    53: "InvalidIdField",
    66: "ImmutableField",
    70: "ShardNotFound",
    96: "OperationFailed",
    103: "NewReplicaSetConfigurationIncompatible",
    118: "NamespaceNotSharded",
    163: "ZoneStillInUse",
    171: "CannotIndexParallelArrays",
    177: "ZoneNotFound",
    178: "RangeOverlapConflict",
    181: "AmbiguousIndexKeyPattern",
    238: "NotImplemented",
    334: "MechanismUnavailable",
    352: "UnsupportedOpQueryCommand",
    10334: "BSONObjectTooLarge",
}
CODE_NAMES.pop(51)


def code_name(code: int) -> str:
    """Return MongoDB's codeName for ``code`` ("Location<code>" when it has none)."""
    return CODE_NAMES.get(code, f"Location{code}")


class CommandError(Exception):
    """A command failed: the reply is ``{ok: 0, errmsg, code, codeName, **extra}``."""

    def __init__(self, code: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra

    @property
    def code_name(self) -> str:
        return code_name(self.code)

    def to_reply(self) -> dict[str, Any]:
        reply: dict[str, Any] = {
            "ok": 0.0,
            "errmsg": self.errmsg,
            "code": self.code,
            "codeName": self.code_name,
        }
        reply.update(self.extra)
        return reply


class WriteError(Exception):
    """One document of a write failed (121, 11000 ...): goes into ``writeErrors``."""

    def __init__(self, code: int, errmsg: str, **extra: Any) -> None:
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.extra = extra

    def to_write_error(self, index: int) -> dict[str, Any]:
        error: dict[str, Any] = {"index": index, "code": self.code}
        error.update(self.extra)
        error["errmsg"] = self.errmsg
        return error
