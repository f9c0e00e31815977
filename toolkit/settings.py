"""Connection settings shared by every command (no driver import: the CLI starts fast)."""

from __future__ import annotations

from dataclasses import dataclass

from toolkit.redact import mask_uri

DEFAULT_URI = "mongodb://localhost:27017"
DEFAULT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect: the URI (it may carry credentials) and a time bound."""

    uri: str = DEFAULT_URI
    timeout: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def masked_uri(self) -> str:
        return mask_uri(self.uri)
