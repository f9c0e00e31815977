"""schema plan | apply | render end to end: the CLI against a server, and mongosh."""

import re
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.e2e.cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"


def private_catalog(tmp_path: Path, name: str = "sentimatrix.yaml") -> tuple[Path, str]:
    """Copy a committed catalog under a fresh database name, so a live server is not disturbed."""
    text = (CATALOGS / name).read_text()
    [db] = re.findall(r"^  ([a-z_]+):\s*$", text.split("databases:", 1)[1], flags=re.M)[:1]
    fresh = f"tk_{uuid.uuid4().hex[:8]}"
    path = tmp_path / name
    path.write_text(text.replace(f"\n  {db}:\n", f"\n  {fresh}:\n"))
    return path, fresh


@pytest.fixture
def sentimatrix(tmp_path, server):
    path, db = private_catalog(tmp_path)
    yield path, db
    client = MongoClient(server.uri)
    client.drop_database(db)
    client.close()


@pytest.mark.live
def test_plan_apply_plan_is_empty(server, sentimatrix):
    catalog, db = sentimatrix
    first = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri)
    assert first.returncode == 0, first.output
    assert first.json()["pending"] == 12 + 45

    gate = run_cli("--catalog", str(catalog), "schema", "plan", "--check", uri=server.uri)
    assert gate.returncode == 3, gate.output

    applied = run_cli("--catalog", str(catalog), "--json", "schema", "apply", uri=server.uri)
    assert applied.returncode == 0, applied.output
    assert applied.json()["changed"] is True and applied.json()["done"] == 57

    again = run_cli("--catalog", str(catalog), "schema", "plan", "--check", uri=server.uri)
    assert again.returncode == 0, again.output
    assert "in sync" in again.stdout

    second_apply = run_cli("--catalog", str(catalog), "--json", "schema", "apply", uri=server.uri)
    assert second_apply.json() == {"changed": False, "done": 0, "skipped": 0, "operations": []}

    client = MongoClient(server.uri)
    assert len(client[db].list_collection_names()) == 12
    client.close()


@pytest.mark.live
def test_changing_one_ttl_plans_exactly_one_collmod(server, sentimatrix):
    catalog, _ = sentimatrix
    assert run_cli("--catalog", str(catalog), "schema", "apply", uri=server.uri).returncode == 0
    text = catalog.read_text()
    assert text.count("expire_after: 7d") == 1
    catalog.write_text(text.replace("expire_after: 7d", "expire_after: 14d"))
    plan = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri).json()
    assert [
        (op["kind"], op["command"]["index"]["expireAfterSeconds"]) for op in plan["operations"]
    ] == [("modify-index", 14 * 86400)]
    assert run_cli("--catalog", str(catalog), "schema", "apply", uri=server.uri).returncode == 0
    final = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri).json()
    assert final["pending"] == 0


@pytest.mark.live
def test_drops_need_allow_drop(server, sentimatrix):
    catalog, db = sentimatrix
    assert run_cli("--catalog", str(catalog), "schema", "apply", uri=server.uri).returncode == 0
    client = MongoClient(server.uri)
    client[db].users.create_index("nickname", name="nickname_1")
    client[db].create_collection("scratch")
    plan = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri).json()
    assert sorted((op["kind"], op["destructive"]) for op in plan["operations"]) == [
        ("drop-collection", True),
        ("drop-index", True),
    ]
    skipped = run_cli("--catalog", str(catalog), "--json", "schema", "apply", uri=server.uri).json()
    assert skipped["skipped"] == 2 and skipped["changed"] is False
    assert "nickname_1" in client[db].users.index_information()
    dropped = run_cli(
        "--catalog", str(catalog), "--json", "schema", "apply", "--allow-drop", uri=server.uri
    )
    assert dropped.json()["done"] == 2
    assert "nickname_1" not in client[db].users.index_information()
    assert "scratch" not in client[db].list_collection_names()
    client.close()


DATED_CATALOG = """\
databases:
  {db}:
    collections:
      events:
        validator:
          $and:
            - at: {{$gte: 2024-01-31T12:00:00.123456+02:00}}
            - $jsonSchema: {{bsonType: object, properties: {{at: {{bsonType: date}}}}}}
        indexes:
          - {{keys: {{at: 1}}, partial: {{at: {{$gt: 2024-01-31}}}}}}
"""


@pytest.mark.live
def test_dates_in_validator_and_partial_filter_converge(tmp_path, server):
    """A YAML timestamp (timezone-aware) and the naive UTC datetime pymongo returns agree."""
    db = f"tk_{uuid.uuid4().hex[:8]}"
    catalog = tmp_path / "dated.yaml"
    catalog.write_text(DATED_CATALOG.format(db=db))
    try:
        plan = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri)
        assert plan.returncode == 0, plan.output
        assert [op["kind"] for op in plan.json()["operations"]] == [
            "create-collection",
            "create-index",
        ]
        applied = run_cli("--catalog", str(catalog), "schema", "apply", uri=server.uri)
        assert applied.returncode == 0, applied.output
        again = run_cli("--catalog", str(catalog), "--json", "schema", "plan", uri=server.uri)
        assert again.returncode == 0, again.output
        assert again.json()["pending"] == 0, again.output
    finally:
        client = MongoClient(server.uri)
        client.drop_database(db)
        client.close()


@pytest.mark.live
def test_level_and_action_without_validator_converge(tmp_path, server):
    db = f"tk_{uuid.uuid4().hex[:8]}"
    catalog = tmp_path / "loose.yaml"
    catalog.write_text(
        f"databases:\n  {db}:\n    collections:\n"
        "      loose: {validation_level: moderate, validation_action: warn}\n"
    )
    try:
        applied = run_cli("--catalog", str(catalog), "schema", "apply", uri=server.uri)
        assert applied.returncode == 0, applied.output
        again = run_cli("--catalog", str(catalog), "schema", "plan", "--check", uri=server.uri)
        assert again.returncode == 0, again.output
        out = tmp_path / "init"
        rendered = run_cli("--catalog", str(catalog), "schema", "render", "--out", str(out))
        assert rendered.returncode == 0, rendered.output
        [script] = sorted(out.glob("*.js"))
        assert '"validationLevel": "moderate", "validationAction": "warn"' in script.read_text()
    finally:
        client = MongoClient(server.uri)
        client.drop_database(db)
        client.close()


def test_unknown_database_is_a_usage_error(mongo_server):
    result = run_cli("schema", "plan", "--db", "nope", uri=mongo_server.uri)
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


def test_unreachable_server_exits_1(tmp_path):
    result = run_cli("--timeout", "0.5", "schema", "plan", uri="mongodb://127.0.0.1:1")
    assert result.returncode == 1
    assert "cannot reach MongoDB at 127.0.0.1:1" in result.stderr


def test_render_check_detects_drift(tmp_path):
    out = tmp_path / "init"
    assert (
        run_cli("--catalog", str(CATALOGS), "schema", "render", "--out", str(out)).returncode == 0
    )
    assert (
        run_cli(
            "--catalog", str(CATALOGS), "schema", "render", "--out", str(out), "--check"
        ).returncode
        == 0
    )
    first = sorted(out.glob("*.js"))[0]
    first.write_text(first.read_text() + "// edited\n")
    drift = run_cli("--catalog", str(CATALOGS), "schema", "render", "--out", str(out), "--check")
    assert drift.returncode == 3 and first.name in drift.stderr


def _shape(client: MongoClient, db: str) -> dict:
    """Collections with options and indexes, minus what differs between any two servers."""
    shape = {}
    for entry in client[db].list_collections():
        options = dict(entry.get("options", {}))
        indexes = []
        if entry.get("type") != "view":
            for index in client[db][entry["name"]].list_indexes():
                indexes.append(dict(index))
        shape[entry["name"]] = {
            "type": entry.get("type"),
            "options": options,
            "indexes": sorted(indexes, key=lambda i: i["name"]),
        }
    return shape


@pytest.mark.mongosh
@pytest.mark.parametrize(
    "catalog_name", ["sentimatrix.yaml", "nyrkio.yaml", "ai_apps.yaml", "archiverr.yaml"]
)
def test_rendered_scripts_through_real_mongosh_equal_python_apply(
    tmp_path, mongosh, server_factory, catalog_name
):
    import subprocess

    catalog = CATALOGS / catalog_name
    out = tmp_path / "init"
    assert run_cli("--catalog", str(catalog), "schema", "render", "--out", str(out)).returncode == 0
    [script] = sorted(out.glob("*.js"))

    with server_factory() as by_mongosh, server_factory() as by_python:
        completed = subprocess.run(
            [mongosh, by_mongosh.uri, "--quiet", "--file", str(script)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        applied = run_cli("--catalog", str(catalog), "schema", "apply", uri=by_python.uri)
        assert applied.returncode == 0, applied.output
        db = script.stem.split("-", 1)[1]
        left, right = MongoClient(by_mongosh.uri), MongoClient(by_python.uri)
        try:
            assert _shape(left, db) == _shape(right, db)
            assert len(_shape(left, db)) > 0
        finally:
            left.close()
            right.close()
