"""The pytest fixtures of tests/support/pytest_plugin.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pytest_plugin import REPO_ROOT, ServerTarget, find_mongosh
from tests.support.server import MongoTestServer, ReplicaSetTestCluster


@pytest.fixture
def pretend_live(monkeypatch: pytest.MonkeyPatch) -> Iterator[MongoTestServer]:
    """Another test server posing as the real MongoDB of MONGODB_URI."""
    with MongoTestServer() as other:
        monkeypatch.setenv("MONGODB_URI", other.uri)
        yield other


def test_server_fixture_defaults_to_the_test_server(server: ServerTarget) -> None:
    assert server.is_live is False
    assert server.test_server is not None and server.uri == server.test_server.uri
    client = server.client()
    client[server.database_name].c.insert_one({"a": 1})
    assert server.database_name.startswith("test_")


@pytest.mark.live
def test_live_tests_use_mongodb_uri(pretend_live: MongoTestServer, server: ServerTarget) -> None:
    assert server.is_live is True and server.uri == pretend_live.uri
    server.client()[server.database_name].c.insert_one({"a": 1})
    assert server.database_name in server.client().list_database_names()


def test_unmarked_tests_keep_the_test_server(
    pretend_live: MongoTestServer, server: ServerTarget
) -> None:
    assert server.is_live is False and server.uri != pretend_live.uri


def test_role_fixtures(
    mongo_server: MongoTestServer, replset: ReplicaSetTestCluster, mongos_server: MongoTestServer
) -> None:
    assert mongo_server.role == "standalone" and mongos_server.role == "mongos"
    assert len(replset.members) == 3 and replset.primary.index == 0


def test_server_factory(server_factory) -> None:
    with server_factory() as first, server_factory(role="mongos") as second:
        assert first.port != second.port
    leftover = server_factory().start()
    assert leftover.port  # stopped by the fixture


def test_find_mongosh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONGOSH", str(tmp_path / "missing"))
    assert find_mongosh() is None
    fake = tmp_path / "mongosh"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("MONGOSH", str(fake))
    assert find_mongosh() == fake
    monkeypatch.delenv("MONGOSH")
    local = REPO_ROOT / "node_modules" / ".bin" / "mongosh"
    assert find_mongosh() == (local if local.exists() else None)
