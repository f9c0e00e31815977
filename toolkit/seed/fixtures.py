"""Fixtures: literal documents from the catalog, with passwords hashed at seed time.

A fixture field whose value is ``{password_env: VAR}`` becomes the hash of the
password in the environment variable VAR; ``{password: "..."}`` hashes a
password written in the catalog (meant for throwaway test logins only, such
as seed 003's). The password itself is never stored, printed or logged.

Hash format (scrypt from the standard library, N=2^14, r=8, p=1, 16-byte
salt, 32-byte key)::

    $scrypt$ln=14,r=8,p=1$<salt>$<key>

with salt and key in base64 without padding and "." in place of "+" (the
layout of passlib's scrypt hashes). The salt is derived from the --seed, the
collection, the fixture's position and the field, so the same seed writes the
same hash: seeded output stays byte-identical. That also means the salt is
predictable; seed data is for development and tests, not for production
credentials.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Mapping
from typing import Any

from toolkit.errors import CatalogError
from toolkit.redact import register_secret

SCRYPT_LOG_N = 14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
UNRESOLVED_HASH = "$scrypt$unresolved"  # stands in where a collection is generated, not written


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def hash_password(password: str, salt: bytes) -> str:
    """Return the scrypt hash of ``password`` with ``salt`` in the format above."""
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**SCRYPT_LOG_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        dklen=KEY_BYTES,
    )
    return f"$scrypt$ln={SCRYPT_LOG_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, hashed: str) -> bool:
    """True when ``hashed`` (this module's format) is the hash of ``password``."""
    try:
        _, scheme, parameters, salt_text, _key = hashed.split("$")
        settings = dict(part.split("=") for part in parameters.split(","))
        salt = base64.b64decode(salt_text.replace(".", "+") + "=" * (-len(salt_text) % 4))
    except ValueError:
        return False
    if scheme != "scrypt" or settings != {
        "ln": str(SCRYPT_LOG_N),
        "r": str(SCRYPT_R),
        "p": str(SCRYPT_P),
    }:
        return False
    return hash_password(password, salt) == hashed


def fixture_salt(seed: int, namespace: str, position: int, path: str) -> bytes:
    text = f"mongo-toolkit seed salt\x00{seed}\x00{namespace}\x00{position}\x00{path}"
    return hashlib.sha256(text.encode("utf-8")).digest()[:SALT_BYTES]


def _password_spec(value: Any) -> tuple[str, str] | None:
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, item),) = value.items()
        if key in ("password_env", "password") and isinstance(item, str):
            return key, item
    return None


def password_variables(fixtures: list[Any]) -> list[str]:
    """The environment variables the fixtures read passwords from."""
    found: list[str] = []

    def walk(value: Any) -> None:
        spec = _password_spec(value)
        if spec is not None:
            if spec[0] == "password_env" and spec[1] not in found:
                found.append(spec[1])
        elif isinstance(value, Mapping):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for fixture in fixtures:
        walk(fixture)
    return found


def resolve_fixture(
    fixture: Mapping[str, Any],
    *,
    seed: int,
    namespace: str,
    position: int,
    hash_passwords: bool = True,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return a copy of ``fixture`` with password fields hashed and dates in UTC milliseconds.

    With ``hash_passwords`` False (a collection generated only for its
    references) password fields get a placeholder instead. Raise CatalogError
    naming the variable when a ``password_env`` variable is not set.
    """
    environment = os.environ if environ is None else environ

    def resolve(value: Any, path: str) -> Any:
        spec = _password_spec(value)
        if spec is not None:
            if not hash_passwords:
                return UNRESOLVED_HASH
            kind, name = spec
            if kind == "password_env":
                password = environment.get(name)
                if not password:
                    raise CatalogError(
                        f"{namespace}: fixture {position} field {path} hashes the password in "
                        f"${name}, which is not set",
                        hint=f"export {name}=... (it is hashed with scrypt; the hash is stored, "
                        "never the password)",
                    )
            else:
                password = name
            register_secret(password)
            return hash_password(password, fixture_salt(seed, namespace, position, path))
        if isinstance(value, Mapping):
            return {
                str(key): resolve(item, f"{path}.{key}" if path else str(key))
                for key, item in value.items()
            }
        if isinstance(value, list):
            return [resolve(item, f"{path}.{index}") for index, item in enumerate(value)]
        if isinstance(value, dt.datetime):
            moment = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
            return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
        return value

    return resolve(fixture, "")
