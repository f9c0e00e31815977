"""Everything the CLI writes goes through here: tables on a terminal, JSON for scripts.

Both streams are wrapped so that every line is redacted (toolkit.redact) before
it reaches the terminal, a pipe or a log collector.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import sys
from collections.abc import Callable
from typing import IO, Any, cast

from rich.console import Console
from rich.markup import escape

from toolkit.redact import redact


class RedactingStream:
    """A text stream that redacts what is written, and otherwise behaves like the one it wraps."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return bool(getattr(self._stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self) -> str:
        return getattr(self._stream, "encoding", "utf-8") or "utf-8"


def json_default(value: Any) -> Any:
    """Render the BSON and Python values our results hold as JSON (relaxed, readable)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    try:  # bson types (ObjectId, Timestamp, Decimal128, Int64...) without importing bson here
        from bson import json_util

        return json.loads(json_util.dumps(value, json_options=json_util.RELAXED_JSON_OPTIONS))
    except (TypeError, ValueError):
        return str(value)


class Output:
    """Where results and messages go for one CLI invocation."""

    def __init__(self, *, json_mode: bool = False, verbose: int = 0) -> None:
        self.json_mode = json_mode
        self.verbose = verbose
        # A run prints one JSON document: a result already printed is not followed by the error's.
        self.printed_json = False
        self.console = Console(
            file=cast(IO[str], RedactingStream(sys.stdout)), highlight=False, soft_wrap=True
        )
        self.err_console = Console(
            file=cast(IO[str], RedactingStream(sys.stderr)), highlight=False, soft_wrap=True
        )

    @property
    def interactive(self) -> bool:
        """True when progress bars make sense: a terminal, and no --json."""
        return not self.json_mode and self.err_console.is_terminal

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        """Print ``data`` as JSON with --json, else call ``render`` with the console."""
        if self.json_mode:
            self.print_json(data)
        else:
            render(self.console)

    def print_json(self, data: Any) -> None:
        """Write ``data`` as the one JSON document of this run's stdout."""
        text = json.dumps(data, default=json_default, indent=2, sort_keys=False)
        sys.stdout.write(redact(text) + "\n")
        sys.stdout.flush()
        self.printed_json = True

    def info(self, message: str) -> None:
        """A progress or status line for people: stderr, never in JSON output."""
        if not self.json_mode:
            self.err_console.print(message)

    def warn(self, message: str) -> None:
        self.err_console.print(f"[yellow]warning:[/yellow] {escape(message)}")

    def error(
        self, message: str, hint: str | None = None, problems: list[str] | None = None
    ) -> None:
        self.err_console.print(f"[bold red]error:[/bold red] {escape(message)}")
        for problem in problems or []:
            self.err_console.print(f"  {problem}", markup=False)
        if hint:
            self.err_console.print(f"[dim]hint:[/dim] {escape(hint)}")
