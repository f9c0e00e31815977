"""Keep secrets out of everything the toolkit prints or logs.

Two defences: ``mask_uri`` rewrites the password of a MongoDB URI as ``***``
wherever a URI is shown, and a registry of known secrets (passwords taken from
URIs, environment variables or files) is scrubbed from every line the CLI
prints and every log record, in case a driver or server message echoes one.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

MASK = "***"

# userinfo in scheme://user:password@host...; the password may itself hold ':'
# (percent-encoding is required by the spec but users do not always follow it).
_URI_PASSWORD = re.compile(r"(?P<prefix>\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^\s/]*)@")

_secrets: set[str] = set()
_lock = threading.Lock()


def mask_uri(uri: str) -> str:
    """Return ``uri`` with any password replaced by ``***`` (``mongodb://app:***@host``)."""
    return _URI_PASSWORD.sub(lambda match: f"{match.group('prefix')}{MASK}@", uri)


def uri_password(uri: str) -> str | None:
    """Return the decoded password in ``uri``, or None when it has none."""
    match = _URI_PASSWORD.search(uri)
    if not match or not match.group("password"):
        return None
    return unquote(match.group("password"))


def register_secret(secret: str | None) -> None:
    """Remember ``secret`` so that ``redact`` removes it from any text."""
    if secret and len(secret) >= 3:  # shorter strings would mangle ordinary words
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with URIs masked and every registered secret replaced by ``***``."""
    text = mask_uri(text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the rendered message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = ()
        return True
