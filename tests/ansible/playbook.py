"""Run ansible-playbook from the tests, as an operator would, and read its recap."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPOSITORY / "ansible"
PLAYBOOKS = ANSIBLE_DIR / "playbooks"
BIN = Path(sys.executable).parent

# Lines for the end of the test run (tests/ansible/conftest.py prints them).
SUMMARY_LINES: list[str] = []

RECAP_LINE = re.compile(
    r"^(?P<host>\S+)\s+:\s+ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


@dataclass
class PlaybookRun:
    """What one ansible-playbook run printed, its exit code and how long it took."""

    command: list[str]
    returncode: int
    output: str
    seconds: float
    recap: dict[str, dict[str, int]] = field(default_factory=dict)

    def changed(self, host: str | None = None) -> int:
        """Changed tasks on host (all hosts when None)."""
        hosts = [host] if host else list(self.recap)
        return sum(self.recap[name]["changed"] for name in hosts)

    def changed_tasks(self) -> list[str]:
        """The 'TASK [...]' headers followed by a 'changed:' line, for failure messages."""
        names = []
        current = None
        for line in self.output.splitlines():
            if line.startswith(("TASK [", "RUNNING HANDLER [")):
                current = line.rstrip("* ")
            elif line.startswith("changed:") and current:
                names.append(current)
        return names

    def explain(self) -> str:
        """The command, its exit code, the failures it printed and the end of its output."""
        lines = self.output.splitlines()
        failures = [line for line in lines if line.startswith(("fatal:", "failed:", "[ERROR]"))]
        tail = "\n".join(lines[-40:])
        return (
            f"{' '.join(self.command)} exited {self.returncode}:\n"
            + "\n".join(failures)
            + "\n...\n"
            + tail
        )


def ansible_environment(**extra: str) -> dict[str, str]:
    """The environment for ansible-playbook: the repository's ansible.cfg, this venv first on PATH."""
    environment = dict(os.environ)
    environment.update(
        ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        PATH=f"{BIN}{os.pathsep}{environment.get('PATH', '')}",
        PYTHONUNBUFFERED="1",
    )
    environment.update(extra)
    return environment


def run_playbook(
    inventory: Path | str,
    *playbooks: str,
    args: tuple[str, ...] = (),
    timeout: float = 600,
    environment: dict[str, str] | None = None,
) -> PlaybookRun:
    """Run ansible-playbook on playbooks (names under ansible/playbooks) and return the run."""
    command = [
        str(BIN / "ansible-playbook"),
        "-i",
        str(inventory),
        *[str(PLAYBOOKS / name) for name in playbooks],
        *args,
    ]
    started = time.monotonic()
    completed = subprocess.run(
        command,
        cwd=REPOSITORY,
        env=environment or ansible_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    run = PlaybookRun(command, completed.returncode, completed.stdout, time.monotonic() - started)
    for match in RECAP_LINE.finditer(completed.stdout):
        counts = {key: int(value) for key, value in match.groupdict().items() if key != "host"}
        previous = run.recap.get(match["host"])
        if previous:  # several playbooks in one run print one recap; keep the sums honest
            counts = {key: previous[key] + value for key, value in counts.items()}
        run.recap[match["host"]] = counts
    return run
