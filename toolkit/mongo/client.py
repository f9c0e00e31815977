"""Open connections and turn driver exceptions into ToolkitErrors, once, at the edge."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import pymongo
import pymongo.errors
from pymongo import MongoClient

from toolkit import __version__
from toolkit.errors import ConnectionFailed, OperationFailed, PermissionDenied, UsageError
from toolkit.redact import mask_uri, register_secret, uri_password
from toolkit.settings import DEFAULT_TIMEOUT_SECONDS, DEFAULT_URI, ConnectionSettings

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "DEFAULT_URI",
    "ConnectionSettings",
    "connect",
    "translate_errors",
]

log = logging.getLogger(__name__)


def describe_hosts(uri: str) -> str:
    """Return the ``host:port`` list of ``uri`` for messages ("127.0.0.1:1")."""
    try:
        parsed = pymongo.uri_parser.parse_uri(uri, validate=False, warn=True)
    except (pymongo.errors.InvalidURI, pymongo.errors.ConfigurationError, ValueError):
        return mask_uri(uri)
    if parsed.get("fqdn"):  # mongodb+srv:// names a DNS record, not hosts
        return str(parsed["fqdn"])
    return ",".join(f"{host}:{port}" for host, port in parsed["nodelist"])


def connect(settings: ConnectionSettings, **options: Any) -> MongoClient:
    """Return a MongoClient for ``settings`` whose server selection is bounded.

    pymongo connects lazily, so this does not touch the network; the first
    command does. Raise UsageError when the URI cannot be parsed.
    """
    register_secret(uri_password(settings.uri))
    timeout_ms = max(1, int(settings.timeout * 1000))
    client_options: dict[str, Any] = {
        "serverSelectionTimeoutMS": timeout_ms,
        "connectTimeoutMS": timeout_ms,
        "appname": f"mongo-toolkit {__version__}",
    }
    client_options.update(options)
    try:
        return MongoClient(settings.uri, **client_options)
    except (pymongo.errors.InvalidURI, pymongo.errors.ConfigurationError, ValueError) as error:
        raise UsageError(
            f"invalid MongoDB URI {settings.masked_uri}: {error}",
            hint="use the form mongodb://user@host:27017/?replicaSet=rs0 "
            "(set --uri or MONGODB_URI; put the password in the URI only through the environment)",
        ) from error


@contextlib.contextmanager
def translate_errors(settings: ConnectionSettings, doing: str) -> Iterator[None]:
    """Turn pymongo exceptions raised while ``doing`` something into ToolkitErrors."""
    hosts = describe_hosts(settings.uri)
    try:
        yield
    except pymongo.errors.OperationFailure as error:
        code = error.code
        reason = error.details.get("errmsg", str(error)) if error.details else str(error)
        if code == 18:  # AuthenticationFailed: who we are, not what we may do
            # Not PermissionDenied: the commands add the role they need to that, and no
            # role helps a login that fails. mongod says no more than "Authentication
            # failed." whether the user, the password or the database is wrong.
            raise OperationFailed(
                f"{doing} on {hosts}: authentication failed: {reason} (code 18)",
                hint="check the user name and password in the URI and its authSource: the "
                "database the user was created in (default: the URI's /database, else admin)",
            ) from error
        if code == 13:  # Unauthorized: authenticated (or not at all) without the privilege
            raise PermissionDenied(
                f"{doing} on {hosts}: {reason} (code {code})",
                hint="check the user in the URI and its roles",
            ) from error
        raise OperationFailed(f"{doing} on {hosts} failed: {reason} (code {code})") from error
    except (pymongo.errors.ServerSelectionTimeoutError, pymongo.errors.ConnectionFailure) as error:
        raise ConnectionFailed(
            f"cannot reach MongoDB at {hosts} ({settings.masked_uri}) within "
            f"{settings.timeout:g} s while {doing}: {_first_line(error)}",
            hint="check that the server is running and reachable, "
            "or pass another --uri (or MONGODB_URI); --timeout raises the wait",
        ) from error
    except pymongo.errors.PyMongoError as error:
        raise OperationFailed(f"{doing} on {hosts} failed: {_first_line(error)}") from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    # pymongo appends the whole topology description; the first clause is the cause.
    first = text[0] if text else type(error).__name__
    return first.split(", Timeout:")[0].split(" (configured timeouts")[0]
