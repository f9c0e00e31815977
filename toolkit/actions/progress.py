"""The progress callbacks long actions report through (the CLI draws bars with them)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Per-namespace progress: started (with a total when known), advanced, done."""

    def start(self, namespace: str, total: int | None) -> None: ...
    def advance(self, namespace: str, documents: int, size: int) -> None: ...
    def done(self, namespace: str) -> None: ...


class NoProgress:
    """Progress that goes nowhere (scripts, --json, no terminal)."""

    def start(self, namespace: str, total: int | None) -> None:
        pass

    def advance(self, namespace: str, documents: int, size: int) -> None:
        pass

    def done(self, namespace: str) -> None:
        pass
