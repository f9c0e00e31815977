"""The committed catalogs model the seed documents (../shared/seeds) faithfully."""

from pathlib import Path

import pytest

from toolkit.actions.schema import differing_scripts, render
from toolkit.catalog.lint import lint_catalog
from toolkit.catalog.load import load_catalog

ROOT = Path(__file__).resolve().parents[3]
CATALOGS = ROOT / "catalogs"


def steps_of(script: str) -> list[dict]:
    import json

    steps = []
    for line in script.splitlines():
        line = line.strip()
        if line.startswith('{"db":'):
            steps.append(json.loads(line.rstrip(",")))
    return steps


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOGS)


def test_catalogs_load_and_lint_warns_only_about_expected_things(catalog):
    messages = [str(f) for f in lint_catalog(catalog)]
    assert any(
        "nyrkio.results" in m and "TTL on timestamp" in m and "int/long" in m for m in messages
    )
    assert all("TTL" in m or "is a prefix of" in m for m in messages), messages


def test_four_systems(catalog):
    assert catalog.databases == ["ai_apps", "archiverr", "nyrkio", "sentimatrix_studio"]


def test_sentimatrix_rendered_scripts(catalog):
    _, scripts = render(CATALOGS / "sentimatrix.yaml")
    [script] = scripts.values()
    steps = steps_of(script)
    creates = [s["command"]["create"] for s in steps if "create" in s["command"]]
    assert len(creates) == 12
    indexes = [s["command"]["indexes"][0] for s in steps if "createIndexes" in s["command"]]
    assert len(indexes) == 45
    ttls = sorted(
        int(i["expireAfterSeconds"]["$numberInt"]) for i in indexes if "expireAfterSeconds" in i
    )
    assert ttls == [0, 604800, 31536000]
    [text] = [i for i in indexes if "text" in i["key"].values()]
    assert {k: int(v["$numberInt"]) for k, v in text["weights"].items()} == {
        "content.title": 10,
        "content.text": 5,
    }
    oauth = [i for i in indexes if i.get("sparse") and i.get("unique")]
    assert len(oauth) >= 2


def test_sentimatrix_users_validator_has_role_enum(catalog):
    users = catalog.collection("sentimatrix_studio.users")
    role = users.validator["$jsonSchema"]["properties"]["role"]
    assert set(role["enum"]) >= {"user", "admin"}


def test_ai_apps_execution_metrics_is_timeseries_expiring_after_30_days(catalog):
    metrics = catalog.collection("ai_apps.execution_metrics")
    assert metrics.kind == "timeseries"
    assert metrics.expire_after_seconds == 30 * 86400


def test_archiverr(catalog):
    executions = catalog.collection("archiverr.executions")
    assert [i.ttl_seconds for i in executions.indexes if i.ttl_seconds is not None] == [90 * 86400]
    snapshots = catalog.collection("archiverr.config_snapshots")
    assert any(i.options.get("unique") and i.keys[0][0] == "config_hash" for i in snapshots.indexes)


def test_committed_mongo_init_is_up_to_date():
    _, scripts = render(CATALOGS)
    assert differing_scripts(ROOT / "mongo-init", scripts) == []
