"""`mongo-toolkit seed` into the test server, which enforces validators and unique indexes."""

from pathlib import Path

import pytest
from pymongo import MongoClient

from tests.e2e.cli import run_cli
from toolkit.catalog.load import load_catalog

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = ROOT / "catalogs"
SENTINEL = "seed-Sentinel-pw-31"
ENV = {"SENTIMATRIX_TEST_PASSWORD": SENTINEL}


def references(catalog_path: Path):
    """(child namespace, field, parent namespace, parent field) for every `ref` in the catalog."""
    from toolkit.seed.plan import resolve_field_ref

    catalog = load_catalog(catalog_path)
    namespaces = {collection.namespace for collection in catalog.collections}
    for collection in catalog.collections:
        for field_name, generator in ((collection.seed or {}).get("fields") or {}).items():
            if isinstance(generator, dict) and "ref" in generator:
                parent_ns, parent_field = resolve_field_ref(
                    generator["ref"], collection.db, namespaces
                )
                yield collection.namespace, field_name, parent_ns, parent_field


@pytest.mark.live
@pytest.mark.parametrize(
    "name", ["sentimatrix.yaml", "nyrkio.yaml", "ai_apps.yaml", "archiverr.yaml"]
)
def test_seed_every_catalog_rejects_nothing_and_references_hold(server, name):
    catalog = CATALOGS / name
    client = server.client()
    databases = load_catalog(catalog).databases
    for db in databases:  # a live server may hold a previous run's data
        client.drop_database(db)
    try:
        _seed_and_check(server.uri, client, catalog, name)
    finally:
        for db in databases:
            client.drop_database(db)


def _seed_and_check(uri: str, client: MongoClient, catalog: Path, name: str) -> None:
    applied = run_cli("--catalog", str(catalog), "schema", "apply", uri=uri)
    assert applied.returncode == 0, applied.output
    seeded = run_cli("--catalog", str(catalog), "--json", "seed", "--seed", "1", uri=uri, env=ENV)
    assert seeded.returncode == 0, seeded.output
    result = seeded.json()
    assert result["rejected"] == 0
    assert result["documents"] > 0
    assert SENTINEL not in seeded.output

    for entry in result["collections"]:
        db, collection = entry["namespace"].split(".", 1)
        assert client[db][collection].count_documents({}) == entry["documents"], entry
    checked = 0
    for child, field_name, parent, parent_field in references(catalog):
        child_db, child_collection = child.split(".", 1)
        parent_db, parent_collection = parent.split(".", 1)
        parents = set(client[parent_db][parent_collection].distinct(parent_field))
        values = client[child_db][child_collection].distinct(field_name)
        assert values, f"{child}.{field_name} holds no references"
        missing = [v for v in values if v not in parents]
        assert missing == [], (
            f"{child}.{field_name}: {len(missing)} values with no parent in {parent}"
        )
        checked += 1
    if name == "sentimatrix.yaml":
        assert checked > 0
        login = client.sentimatrix_studio.users.find_one({"email": "testuser0@example.com"})
        assert login and login["role"] == "admin"
        assert SENTINEL not in str(login["password_hash"])


def test_if_empty_seeds_once_and_plain_seed_refuses_a_filled_database(mongo_server):
    catalog = CATALOGS / "archiverr.yaml"
    assert (
        run_cli("--catalog", str(catalog), "schema", "apply", uri=mongo_server.uri).returncode == 0
    )
    first = run_cli(
        "--catalog",
        str(catalog),
        "--json",
        "seed",
        "--seed",
        "1",
        "--if-empty",
        uri=mongo_server.uri,
    )
    assert first.returncode == 0 and first.json()["documents"] > 0
    again = run_cli(
        "--catalog",
        str(catalog),
        "--json",
        "seed",
        "--seed",
        "1",
        "--if-empty",
        uri=mongo_server.uri,
    )
    assert again.returncode == 0
    assert again.json()["documents"] == 0 and "already holds documents" in again.json()["skipped"]
    refused = run_cli("--catalog", str(catalog), "seed", "--seed", "1", uri=mongo_server.uri)
    assert refused.returncode == 2 and "--drop" in refused.stderr
    replaced = run_cli(
        "--catalog", str(catalog), "--json", "seed", "--seed", "1", "--drop", uri=mongo_server.uri
    )
    assert replaced.returncode == 0 and replaced.json()["rejected"] == 0


def test_missing_password_variable_is_a_catalog_error(mongo_server):
    catalog = CATALOGS / "sentimatrix.yaml"
    assert (
        run_cli("--catalog", str(catalog), "schema", "apply", uri=mongo_server.uri).returncode == 0
    )
    result = run_cli("--catalog", str(catalog), "seed", "--seed", "1", uri=mongo_server.uri)
    assert result.returncode == 2
    assert "SENTIMATRIX_TEST_PASSWORD" in result.stderr


def test_out_is_byte_identical_and_needs_no_server(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for out, batch in ((first, "1000"), (second, "7")):
        result = run_cli(
            "seed",
            "--seed",
            "1",
            "--out",
            str(out),
            "--batch-size",
            batch,
            uri="mongodb://127.0.0.1:1",
            env=ENV,
        )
        assert result.returncode == 0, result.output
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _apply(catalog: Path, uri: str) -> None:
    applied = run_cli("--catalog", str(catalog), "schema", "apply", uri=uri)
    assert applied.returncode == 0, applied.output


def test_a_catalog_error_in_a_later_collection_writes_nothing(mongo_server, tmp_path):
    import yaml

    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {
                "databases": {
                    "shop": {
                        "collections": {
                            "users": {"seed": {"count": 5}},
                            # a reference whose values (strings) the validator refuses
                            "posts": {
                                "validator": {
                                    "$jsonSchema": {
                                        "properties": {"user_id": {"bsonType": "objectId"}}
                                    }
                                },
                                "seed": {"count": 5, "fields": {"user_id": {"ref": "users.email"}}},
                            },
                        }
                    }
                }
            }
        )
    )
    _apply(catalog, mongo_server.uri)
    failed = run_cli(
        "--catalog", str(catalog), "seed", "--seed", "1", "--if-empty", uri=mongo_server.uri
    )
    assert failed.returncode == 2 and "shop.posts" in failed.stderr and "user_id" in failed.stderr
    assert "Traceback" not in failed.stderr
    client = MongoClient(mongo_server.uri)
    try:
        assert client.shop.users.count_documents({}) == 0  # the next --if-empty run seeds
    finally:
        client.close()


def test_append_leaves_out_fixtures_already_there(mongo_server):
    catalog = CATALOGS / "sentimatrix.yaml"
    _apply(catalog, mongo_server.uri)
    users = ("--catalog", str(catalog), "--json", "seed", "--collection", "users")
    first = run_cli(*users, "--seed", "1", uri=mongo_server.uri, env=ENV)
    assert first.returncode == 0, first.output
    appended = run_cli(*users, "--seed", "2", "--append", uri=mongo_server.uri, env=ENV)
    assert appended.returncode == 0, appended.output
    [result] = appended.json()["collections"]
    assert result["rejected"] == 0 and result["existing_fixtures"] == 2
    client = MongoClient(mongo_server.uri)
    try:
        logins = client.sentimatrix_studio.users
        assert logins.count_documents({"email": "testuser0@example.com"}) == 1
        assert logins.count_documents({}) == first.json()["documents"] + result["documents"]
    finally:
        client.close()
    # The same seed again draws the same _ids and keys as the run before it: say so.
    again = run_cli(*users, "--seed", "2", "--append", uri=mongo_server.uri, env=ENV)
    assert again.returncode == 1
    assert "--seed not used for it before" in " ".join(again.stderr.split())


def test_inserted_dates_are_relative_to_today(mongo_server):
    import datetime as dt

    catalog = CATALOGS / "archiverr.yaml"
    _apply(catalog, mongo_server.uri)
    seeded = run_cli(
        "--catalog", str(catalog), "--json", "seed", "--seed", "1", uri=mongo_server.uri
    )
    assert seeded.returncode == 0, seeded.output
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert str(seeded.json()["now"]).startswith(today)
    client = MongoClient(mongo_server.uri, tz_aware=True)
    try:
        newest = client.archiverr.executions.find_one(sort=[("started_at", -1)])
        # the TTL index on started_at keeps 90 days: every run is well inside them
        oldest = client.archiverr.executions.find_one(sort=[("started_at", 1)])
        assert newest["started_at"].date().isoformat() <= today
        assert dt.datetime.now(dt.UTC) - oldest["started_at"] < dt.timedelta(days=89)
    finally:
        client.close()
