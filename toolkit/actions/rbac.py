"""`mongo-toolkit rbac plan|apply`: users and roles from the catalog.

Passwords are read here, only for `rbac apply`, only for the operations that
set one, and all of them before the first command runs (so a missing
variable changes nothing). Each is registered with toolkit.redact, so no
output or log line can show it, even if a server message echoes it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pymongo import MongoClient

from toolkit.catalog.load import load_catalog
from toolkit.errors import OperationFailed, PermissionDenied, UsageError
from toolkit.mongo.client import ConnectionSettings, connect, translate_errors
from toolkit.mongo.rbac import apply_rbac_operations, observe_rbac
from toolkit.plan.rbac import (
    DesiredRbac,
    PasswordSource,
    RbacOperation,
    RbacPlan,
    desired_rbac,
    plan_rbac,
)
from toolkit.redact import register_secret

ROLE_HINT = (
    "managing users and roles needs userAdminAnyDatabase (or userAdmin on each database) "
    "on the connecting user"
)


@dataclass(frozen=True)
class RbacResult:
    desired: DesiredRbac
    plan: RbacPlan


def _observe_and_plan(
    client: MongoClient,
    settings: ConnectionSettings,
    desired: DesiredRbac,
    databases: tuple[str, ...],
    update_passwords: bool,
) -> RbacPlan:
    scope = {spec.db for spec in desired.roles} | {spec.db for spec in desired.users}
    declared = [(spec.role, spec.db) for spec in desired.roles]
    try:
        with translate_errors(settings, "reading users and roles"):
            observed = observe_rbac(client, sorted(scope | set(databases)), declared)
    except PermissionDenied as error:
        raise PermissionDenied(error.message, hint=ROLE_HINT) from error
    return plan_rbac(desired, observed, databases=databases, update_passwords=update_passwords)


def plan(
    settings: ConnectionSettings,
    catalog_path: Path,
    databases: tuple[str, ...],
    *,
    update_passwords: bool = False,
) -> RbacResult:
    """Observe users and roles and return what `rbac apply` would run. Reads no password."""
    desired = desired_rbac(load_catalog(catalog_path))
    client = connect(settings)
    try:
        return RbacResult(
            desired, _observe_and_plan(client, settings, desired, databases, update_passwords)
        )
    finally:
        client.close()


def read_password(source: PasswordSource, environ: Mapping[str, str] | None = None) -> str:
    """Return the password ``source`` names: an environment variable, or the first line
    of a file. Raise UsageError naming the source (never a value) when it is unset,
    empty or unreadable."""
    environ = os.environ if environ is None else environ
    if source.env:
        value = environ.get(source.env, "")
        if not value:
            raise UsageError(
                f"environment variable {source.env} is not set or empty",
                hint="export it (from your secret store) before `rbac apply`",
            )
        return value
    assert source.file is not None
    try:
        text = Path(source.file).read_text(encoding="utf-8")
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"cannot read password file {source.file}: {reason}") from error
    except UnicodeDecodeError as error:
        raise UsageError(f"password file {source.file} is not UTF-8 text") from error
    value = text.splitlines()[0] if text else ""
    if not value:
        raise UsageError(f"password file {source.file} is empty")
    return value


def read_passwords(
    operations: Iterable[RbacOperation], environ: Mapping[str, str] | None = None
) -> dict[PasswordSource, str]:
    """Read every password the operations need, registering each as a secret."""
    passwords: dict[PasswordSource, str] = {}
    for operation in operations:
        if operation.password is not None and operation.password not in passwords:
            value = read_password(operation.password, environ)
            register_secret(value)
            passwords[operation.password] = value
    return passwords


def apply(
    settings: ConnectionSettings,
    catalog_path: Path,
    databases: tuple[str, ...],
    *,
    allow_drop: bool,
    update_passwords: bool,
    on_done: Callable[[RbacOperation, str], None] | None = None,
) -> tuple[RbacResult, list[tuple[RbacOperation, str]]]:
    """Plan, read the passwords the plan needs, then run exactly that plan."""
    desired = desired_rbac(load_catalog(catalog_path))
    client = connect(settings)
    done: list[tuple[RbacOperation, str]] = []

    def record(operation: RbacOperation, status: str) -> None:
        done.append((operation, status))
        if on_done:
            on_done(operation, status)

    try:
        planned = _observe_and_plan(client, settings, desired, databases, update_passwords)
        passwords = read_passwords(planned.runnable(allow_drop))
        try:
            with translate_errors(settings, "applying users and roles"):
                apply_rbac_operations(
                    client, planned.operations, passwords, allow_drop=allow_drop, on_done=record
                )
        except OperationFailed as error:
            failed = planned.operations[len(done)]
            ran = sum(1 for _, status in done if status == "done")
            raise type(error)(
                f"{failed.describe()} failed after {ran} of {len(planned.operations)} "
                f"operations: {error.message}",
                hint=error.hint
                if isinstance(error, PermissionDenied)
                else "fix the cause and run `rbac apply` again: it re-plans from what is there",
            ) from error
    finally:
        client.close()
    return RbacResult(desired, planned), done
