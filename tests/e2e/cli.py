"""Run the CLI as a user does: a subprocess, with the environment it would have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str, uri: str | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> CliResult:
    """Run ``mongo-toolkit ARGS`` with MONGODB_URI=uri in the environment (never in argv)."""
    environment = {
        k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "TOOLKIT_CATALOG")
    }
    environment["COLUMNS"] = "200"
    if uri is not None:
        environment["MONGODB_URI"] = uri
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
