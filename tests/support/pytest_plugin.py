"""pytest fixtures that start the wire-protocol test server (tests/support/server.py).

Function-scoped, each test gets fresh servers (start-up takes milliseconds):

* ``mongo_server``: a standalone mongod (MongoTestServer).
* ``replset``: a three-member replica set, initiated (ReplicaSetTestCluster).
* ``mongos_server``: a mongos (MongoTestServer(role="mongos")).
* ``server_factory``: ``server_factory(role="standalone", auth=False)`` makes more
  test servers (use each as a context manager; any left running are stopped).
* ``server``: a target with ``.uri``, ``.is_live`` and ``.client()``. For a test
  marked ``live`` and with MONGODB_URI set, it is that real MongoDB; otherwise
  the standalone test server. ``.database_name`` is unique per test (on a real
  server it is dropped afterwards).

Session-scoped:

* ``mongosh_path`` (a Path) and ``mongosh`` (the same as a str, for argv lists): the
  mongosh executable (MONGOSH, else node_modules/.bin/mongosh under the repository
  root); skips the test, naming ``make install``, when there is none.
* ``run_mongosh``: ``run_mongosh(uri, script)`` runs ``mongosh URI --quiet --eval
  SCRIPT`` and returns the CompletedProcess.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymongo
import pytest

from tests.support.server import MongoTestServer, ReplicaSetTestCluster

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mongo_server() -> Iterator[MongoTestServer]:
    """A fresh standalone test server, stopped after the test."""
    with MongoTestServer() as server:
        yield server


@pytest.fixture
def replset() -> Iterator[ReplicaSetTestCluster]:
    """A fresh initiated three-member replica set (member 0 primary)."""
    with ReplicaSetTestCluster() as cluster:
        yield cluster


@pytest.fixture
def mongos_server() -> Iterator[MongoTestServer]:
    """A fresh mongos test server (no shards until a test adds some)."""
    with MongoTestServer(role="mongos") as server:
        yield server


@pytest.fixture
def server_factory() -> Iterator[Callable[..., MongoTestServer]]:
    """Make extra test servers: ``with server_factory() as other: ...``."""
    made: list[MongoTestServer] = []

    def make(role: str = "standalone", auth: bool = False, **options: Any) -> MongoTestServer:
        test_server = MongoTestServer(role=role, auth=auth, **options)
        made.append(test_server)
        return test_server

    yield make
    for test_server in made:
        test_server.stop()


@dataclass
class ServerTarget:
    """Where an end-to-end test runs: a real MongoDB or the test server."""

    uri: str
    is_live: bool
    database_name: str
    test_server: MongoTestServer | None = None
    _clients: list[pymongo.MongoClient] = field(default_factory=list)

    def client(self, **options: Any) -> pymongo.MongoClient:
        """A pymongo client for the target, closed when the test ends."""
        options.setdefault("serverSelectionTimeoutMS", 5000)
        client: pymongo.MongoClient = pymongo.MongoClient(self.uri, **options)
        self._clients.append(client)
        return client

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[ServerTarget]:
    """A real MongoDB for ``live`` tests when MONGODB_URI is set, else the test server."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:10]
    database_name = f"test_{digest}"
    live_uri = os.environ.get("MONGODB_URI")
    if live_uri and request.node.get_closest_marker("live") is not None:
        target = ServerTarget(live_uri, True, database_name)
        try:
            yield target
        finally:
            try:
                target.client().drop_database(database_name)
            finally:
                target.close()
        return
    with MongoTestServer() as test_server:
        target = ServerTarget(test_server.uri, False, database_name, test_server)
        try:
            yield target
        finally:
            target.close()


def find_mongosh() -> Path | None:
    """The mongosh to use: $MONGOSH, else node_modules/.bin/mongosh, else None."""
    configured = os.environ.get("MONGOSH")
    if configured:
        path = Path(configured)
        if path.exists():
            return path
        found = shutil.which(configured)
        return Path(found) if found else None
    local = REPO_ROOT / "node_modules" / ".bin" / "mongosh"
    return local if local.exists() else None


@pytest.fixture(scope="session")
def mongosh_path() -> Path:
    """The mongosh executable; skips the test when it is not installed."""
    path = find_mongosh()
    if path is None:
        pytest.skip(
            "mongosh not found: run `make install` (npm ci installs it under "
            "node_modules/) or set MONGOSH"
        )
    return path


@pytest.fixture(scope="session")
def mongosh(mongosh_path: Path) -> str:
    """The mongosh executable as a string (for subprocess argument lists)."""
    return str(mongosh_path)


@pytest.fixture(scope="session")
def run_mongosh(mongosh_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Return ``run(uri, script, *extra_args, timeout=60)`` running mongosh --quiet --eval."""

    def run(
        uri: str, script: str, *extra_args: str, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        environment = dict(os.environ)
        environment.setdefault("MONGOSH_NO_UPDATE_CHECK", "1")
        environment["DO_NOT_TRACK"] = "1"
        return subprocess.run(
            [str(mongosh_path), uri, "--quiet", "--norc", *extra_args, "--eval", script],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=environment,
            check=False,
        )

    return run
