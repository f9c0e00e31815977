"""The CLI contract: exit codes, masking, bounded waits. No server needed."""

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from toolkit.cli import cli


def run_cli(*args, env=None, timeout=30):
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_help_lists_the_command_groups():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "health" in result.output
    assert "Exit codes" in result.output


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert "mongo-toolkit" in result.output


def test_unknown_option_is_a_usage_error():
    result = run_cli("health", "--no-such-option")
    assert result.returncode == 2
    assert "No such option" in result.stderr


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_closed_port_fails_fast_names_the_host_and_hides_the_password(json_flag):
    started = time.monotonic()
    result = run_cli("--uri", "mongodb://u:secret@127.0.0.1:1", *json_flag, "health")
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert elapsed < 7
    assert "127.0.0.1:1" in result.stderr
    assert "secret" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    if json_flag:
        payload = json.loads(result.stdout)
        assert payload["ok"] is False and payload["error"]["exit_code"] == 1


def test_password_from_the_environment_is_never_printed():
    import os

    env = dict(os.environ, MONGODB_URI="mongodb://app:env-Secret-42@127.0.0.1:1/?authSource=admin")
    result = run_cli("--timeout", "0.5", "health", "-v", env=env)
    assert result.returncode == 1
    assert "env-Secret-42" not in result.stdout + result.stderr
    assert "mongodb://app:***@127.0.0.1:1" in result.stderr


def test_invalid_uri_is_a_usage_error_without_traceback():
    result = run_cli("--uri", "mongodb://u:pw-xyz@host:notaport", "health")
    assert result.returncode == 2
    assert "invalid MongoDB URI" in result.stderr
    assert "pw-xyz" not in result.stderr
    assert "Traceback" not in result.stderr
