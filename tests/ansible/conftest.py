"""Reporting for the Ansible tests: lines the tests record for the end of the run.

The host scenario's timing is recorded in a fixture, where pytest would
swallow a print on a passing run; it is printed here, in the terminal summary
that `make test` shows whatever the outcome and the -r flags.
"""

from __future__ import annotations

import pytest

from tests.ansible.playbook import SUMMARY_LINES


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SUMMARY_LINES:
        terminalreporter.write_sep("-", "ansible")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)
