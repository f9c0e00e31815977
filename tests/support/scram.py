"""SCRAM-SHA-1 and SCRAM-SHA-256 as mongod stores and runs them (RFC 5802, RFC 7677).

* ``make_credentials(user, password, mechanisms)`` builds the ``credentials``
  document of an admin.system.users entry.
* ``ScramServerConversation(mechanism, credentials_lookup)`` is the server side
  of one saslStart/saslContinue conversation; ``step(payload)`` returns the
  server's payload and whether the conversation is done.

What mongod does, and this module with it:

* SCRAM-SHA-1 hashes the hex MD5 of ``user:mongo:password`` (the same
  "password digest" MONGODB-CR used); SCRAM-SHA-256 hashes the SASLprep'd
  password. Salts are the digest length minus 4 bytes (16 and 28); the
  iteration counts are the server defaults, 10000 and 15000
  (scramIterationCount, scramSHA256IterationCount).
* Every failure (unknown user, wrong proof, malformed message) is reported as
  AuthenticationFailed (18) "Authentication failed.": sasl_commands.cpp hides
  the reason from the client.
* With ``options: {skipEmptyExchange: true}`` (pymongo always sends it) the
  conversation is done after the server-final message; without it mongod waits
  for one more empty client message, as pymongo's fallback expects.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tests.support.errors import CommandError

__all__ = ["ScramServerConversation", "make_credentials", "saslprep"]

_MECHANISMS = {
    "SCRAM-SHA-1": ("sha1", hashlib.sha1, 10000, 16),
    "SCRAM-SHA-256": ("sha256", hashlib.sha256, 15000, 28),
}


def _auth_failed() -> CommandError:
    return CommandError(18, "Authentication failed.")


def saslprep(text: str) -> str:
    """RFC 4013 SASLprep of a stored string (unassigned code points prohibited).

    Map (non-ASCII spaces to SPACE, "commonly mapped to nothing" removed), NFKC,
    then the prohibited-output and bidirectional checks of RFC 3454.
    Raises ValueError for a string SASLprep refuses.
    """
    mapped = "".join(
        " " if stringprep.in_table_c12(char) else char
        for char in text
        if not stringprep.in_table_b1(char)
    )
    normalized = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    if not normalized:
        return normalized
    prohibited = (
        stringprep.in_table_c12,
        stringprep.in_table_c21_c22,
        stringprep.in_table_c3,
        stringprep.in_table_c4,
        stringprep.in_table_c5,
        stringprep.in_table_c6,
        stringprep.in_table_c7,
        stringprep.in_table_c8,
        stringprep.in_table_c9,
        stringprep.in_table_a1,
    )
    for char in normalized:
        if any(check(char) for check in prohibited):
            raise ValueError(f"SASLprep: prohibited character {char!r}")
    has_randalcat = any(stringprep.in_table_d1(char) for char in normalized)
    if has_randalcat:
        if any(stringprep.in_table_d2(char) for char in normalized):
            raise ValueError("SASLprep: mixed bidirectional text")
        if not (stringprep.in_table_d1(normalized[0]) and stringprep.in_table_d1(normalized[-1])):
            raise ValueError("SASLprep: RandALCat text must start and end with RandALCat")
    return normalized


def _password_bytes(mechanism: str, user: str, password: str) -> bytes:
    if mechanism == "SCRAM-SHA-1":
        digest = hashlib.md5(f"{user}:mongo:{password}".encode())  # noqa: S324 - protocol
        return digest.hexdigest().encode("utf-8")
    return saslprep(password).encode("utf-8")


def _derive_keys(mechanism: str, salted: bytes) -> tuple[bytes, bytes, bytes]:
    _, digestmod, _, _ = _MECHANISMS[mechanism]
    client_key = hmac.new(salted, b"Client Key", digestmod).digest()
    server_key = hmac.new(salted, b"Server Key", digestmod).digest()
    stored_key = digestmod(client_key).digest()
    return client_key, stored_key, server_key


def make_credentials(
    user: str,
    password: str,
    mechanisms: Iterable[str] = ("SCRAM-SHA-1", "SCRAM-SHA-256"),
    *,
    salts: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Return the ``credentials`` document mongod keeps in admin.system.users:
    ``{"SCRAM-SHA-1": {iterationCount, salt, storedKey, serverKey}, "SCRAM-SHA-256": ...}``
    with base64 strings and the mechanisms in that order. ``salts`` fixes the salts
    (for tests); random ones are drawn otherwise.
    Raises ValueError for an unknown mechanism or a password SASLprep refuses.
    """
    wanted = list(mechanisms)
    for mechanism in wanted:
        if mechanism not in _MECHANISMS:
            raise ValueError(f"unknown SCRAM mechanism {mechanism!r}")
    credentials: dict[str, Any] = {}
    for mechanism in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        if mechanism not in wanted:
            continue
        digest_name, _, iterations, salt_length = _MECHANISMS[mechanism]
        salt = (salts or {}).get(mechanism) or os.urandom(salt_length)
        salted = hashlib.pbkdf2_hmac(
            digest_name, _password_bytes(mechanism, user, password), salt, iterations
        )
        _, stored_key, server_key = _derive_keys(mechanism, salted)
        credentials[mechanism] = {
            "iterationCount": iterations,
            "salt": base64.b64encode(salt).decode("ascii"),
            "storedKey": base64.b64encode(stored_key).decode("ascii"),
            "serverKey": base64.b64encode(server_key).decode("ascii"),
        }
    return credentials


def _parse_attributes(message: bytes) -> list[tuple[str, str]]:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise _auth_failed() from None
    attributes = []
    for item in text.split(","):
        if len(item) < 2 or item[1] != "=":
            raise _auth_failed()
        attributes.append((item[0], item[2:]))
    return attributes


def _decode_username(encoded: str) -> str:
    # RFC 5802 5.1: "=2C" is ",", "=3D" is "="; any other "=" is malformed.
    result = []
    index = 0
    while index < len(encoded):
        if encoded[index] == "=":
            escape = encoded[index : index + 3]
            if escape == "=2C":
                result.append(",")
            elif escape == "=3D":
                result.append("=")
            else:
                raise _auth_failed()
            index += 3
        else:
            result.append(encoded[index])
            index += 1
    return "".join(result)


class ScramServerConversation:
    """The server side of one SCRAM conversation.

    ``credentials_lookup(username)`` returns the user's ``credentials`` document (as
    make_credentials builds it) or None for an unknown user. ``step`` is called with
    the saslStart payload, then with each saslContinue payload; it returns
    ``(server_payload, done)`` and raises CommandError(18, "Authentication failed.")
    on any failure. ``username`` is set after the first step.

    ``skip_empty_exchange`` is the saslStart ``options.skipEmptyExchange`` flag;
    ``server_nonce`` fixes the server's half of the nonce (for tests).
    """

    def __init__(
        self,
        mechanism: str,
        credentials_lookup: Callable[[str], Mapping[str, Any] | None],
        *,
        skip_empty_exchange: bool = True,
        server_nonce: str | None = None,
    ) -> None:
        if mechanism not in _MECHANISMS:
            raise CommandError(
                334,
                f"Received authentication for mechanism {mechanism} which is unknown or not "
                "enabled",
            )
        self.mechanism = mechanism
        self.username: str | None = None
        self.done = False
        self._lookup = credentials_lookup
        self._skip_empty_exchange = skip_empty_exchange
        self._server_nonce = server_nonce
        self._step = 0
        self._client_first_bare = b""
        self._server_first = b""
        self._nonce = ""
        self._credentials: Mapping[str, Any] | None = None

    def step(self, payload: bytes) -> tuple[bytes, bool]:
        if self.done:
            raise _auth_failed()
        self._step += 1
        if self._step == 1:
            return self._first(bytes(payload)), False
        if self._step == 2:
            server_final = self._final(bytes(payload))
            self.done = self._skip_empty_exchange
            return server_final, self.done
        if self._step == 3 and not bytes(payload):
            self.done = True
            return b"", True
        raise _auth_failed()

    def _first(self, payload: bytes) -> bytes:
        # gs2-header: "n,," only: mongod supports neither channel binding nor authzid.
        if not payload.startswith(b"n,"):
            raise _auth_failed()
        header_end = payload.find(b",", 2)
        if header_end < 0 or payload[2:header_end] != b"":
            raise _auth_failed()
        bare = payload[header_end + 1 :]
        attributes = _parse_attributes(bare)
        if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
            raise _auth_failed()
        self.username = _decode_username(attributes[0][1])
        client_nonce = attributes[1][1]
        if not client_nonce:
            raise _auth_failed()
        credentials = self._lookup(self.username)
        if not credentials or self.mechanism not in credentials:
            raise _auth_failed()
        self._credentials = credentials[self.mechanism]
        # mongod appends 24 random bytes, base64-encoded.
        server_nonce = self._server_nonce or base64.b64encode(os.urandom(24)).decode("ascii")
        self._nonce = client_nonce + server_nonce
        self._client_first_bare = bare
        self._server_first = (
            f"r={self._nonce},s={self._credentials['salt']},"
            f"i={int(self._credentials['iterationCount'])}"
        ).encode("ascii")
        return self._server_first

    def _final(self, payload: bytes) -> bytes:
        assert self._credentials is not None
        attributes = _parse_attributes(payload)
        if len(attributes) < 3 or [name for name, _ in attributes[:2]] != ["c", "r"]:
            raise _auth_failed()
        if attributes[-1][0] != "p":
            raise _auth_failed()
        if attributes[0][1] != "biws":  # base64 of "n,,"
            raise _auth_failed()
        if attributes[1][1] != self._nonce:
            raise _auth_failed()
        without_proof = payload[: payload.rfind(b",p=")]
        auth_message = b",".join((self._client_first_bare, self._server_first, without_proof))
        _, digestmod, _, _ = _MECHANISMS[self.mechanism]
        try:
            proof = base64.b64decode(attributes[-1][1], validate=True)
            stored_key = base64.b64decode(self._credentials["storedKey"])
            server_key = base64.b64decode(self._credentials["serverKey"])
        except (ValueError, TypeError):
            raise _auth_failed() from None
        client_signature = hmac.new(stored_key, auth_message, digestmod).digest()
        if len(proof) != len(client_signature):
            raise _auth_failed()
        client_key = bytes(a ^ b for a, b in zip(proof, client_signature, strict=True))
        if not hmac.compare_digest(digestmod(client_key).digest(), stored_key):
            raise _auth_failed()
        server_signature = hmac.new(server_key, auth_message, digestmod).digest()
        return b"v=" + base64.b64encode(server_signature)
