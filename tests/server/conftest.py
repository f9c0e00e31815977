"""Fixtures for the tests of the test server itself."""

from __future__ import annotations

from collections.abc import Iterator

import pymongo
import pytest

from tests.support.server import MongoTestServer, ReplicaSetTestCluster


@pytest.fixture
def client(mongo_server: MongoTestServer) -> Iterator[pymongo.MongoClient]:
    """A pymongo client on the standalone test server; the test fails if the server hit a bug."""
    connection = mongo_server.client()
    yield connection
    connection.close()
    assert mongo_server.errors == []


@pytest.fixture
def rs_client(replset: ReplicaSetTestCluster) -> Iterator[pymongo.MongoClient]:
    """A replica-set-aware pymongo client on the three-member test replica set."""
    connection = replset.client()
    yield connection
    connection.close()
    assert replset.errors == []


@pytest.fixture
def mongos_client(mongos_server: MongoTestServer) -> Iterator[pymongo.MongoClient]:
    connection = mongos_server.client()
    yield connection
    connection.close()
    assert mongos_server.errors == []
