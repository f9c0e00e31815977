"""`--json`: stdout holds exactly one JSON document, whatever the exit code."""

from __future__ import annotations

import json

from tests.e2e.cli import run_cli

CATALOG = """\
databases:
  shop:
    collections:
      orders:
        indexes:
          - keys: {sku: 1}
"""


def test_pending_changes_with_check_print_the_plan_only(mongo_server, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(CATALOG)
    result = run_cli(
        "--json", "--catalog", str(catalog), "schema", "plan", "--check", uri=mongo_server.uri
    )
    assert result.returncode == 3, result.output
    document = json.loads(result.stdout)  # one document: a second one would not parse
    assert document["operations"]
    assert "pending" in result.stderr


def test_an_error_alone_is_one_json_document(tmp_path):
    result = run_cli("--json", "--catalog", str(tmp_path / "missing.yaml"), "catalog", "check")
    assert result.returncode == 2
    assert json.loads(result.stdout)["ok"] is False
