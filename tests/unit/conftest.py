"""Unit tests work on plain data: any attempt to open a MongoDB connection fails fast."""

import pytest


class _NoConnections:
    def __init__(self, *args, **kwargs):
        raise AssertionError("unit tests must not connect to MongoDB; use tests/e2e for that")


@pytest.fixture(autouse=True)
def _block_mongo_connections(monkeypatch):
    import pymongo

    import toolkit.mongo.client

    monkeypatch.setattr(pymongo, "MongoClient", _NoConnections)
    monkeypatch.setattr(toolkit.mongo.client, "MongoClient", _NoConnections)
