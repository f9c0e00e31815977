"""The toolkit's one error family.

Every failure a user can meet is a ToolkitError carrying the process exit code
the CLI turns it into. Only toolkit.cli prints errors and exits; every other
layer raises. The codes are part of the CLI contract:

    0  success
    1  an operation failed (server, network, storage)
    2  usage or catalog error (the input is wrong)
    3  a check failed or changes are pending (--check, --fail-on)
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base of every error the CLI reports. ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(ToolkitError):
    """The command line is wrong (a bad URI, contradicting options)."""

    exit_code = 2


class CatalogError(ToolkitError):
    """The catalog is invalid. ``problems`` lists every located problem at once."""

    exit_code = 2

    def __init__(
        self, message: str, *, problems: list[str] | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = list(problems or [])


class OperationFailed(ToolkitError):
    """The server, the network or the storage refused or failed an operation."""

    exit_code = 1


class ConnectionFailed(OperationFailed):
    """No MongoDB server could be reached or selected in time."""


class PermissionDenied(OperationFailed):
    """The server refused an operation for lack of a privilege."""


class BackupError(OperationFailed):
    """A backup could not be written, read or verified."""


class CheckFailed(ToolkitError):
    """A check found problems (health degraded is 1; this is --check/--fail-on)."""

    exit_code = 3


class ChangesPending(CheckFailed):
    """A plan run with --check found changes that are not applied yet."""
