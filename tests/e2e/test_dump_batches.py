"""The raw batches `backup create` reads carry their document counts, from the driver's reply."""

from __future__ import annotations

import pytest

from toolkit.backup.bsonstream import count_documents
from toolkit.mongo.dump import read_raw_batches


@pytest.mark.live
@pytest.mark.parametrize("batch_size", [0, 7, 1000, 1500])
def test_every_batch_comes_with_its_exact_count(server, batch_size):
    client = server.client()
    collection = client[server.database_name]["items"]
    collection.insert_many([{"i": i, "pad": "x" * (i % 50)} for i in range(2500)])

    batches = list(read_raw_batches(client, server.database_name, "items", batch_size=batch_size))

    assert [batch.documents for batch in batches] == [
        count_documents(batch.data, "batch") for batch in batches
    ]
    assert sum(batch.documents or 0 for batch in batches) == 2500
    if batch_size:
        assert batches[0].documents == min(batch_size, 2500)


@pytest.mark.live
def test_an_empty_collection_yields_no_batch(server):
    client = server.client()
    client[server.database_name].create_collection("empty")
    assert list(read_raw_batches(client, server.database_name, "empty")) == []
