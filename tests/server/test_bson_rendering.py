"""Error-message rendering (BSONObj::toString) and the BSON comparisons added to mongomock."""

from __future__ import annotations

import datetime
import uuid

import pymongo
from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp

from tests.support.bsonfmt import render


def test_render_matches_mongod_messages() -> None:
    identifier = uuid.UUID("092860a4-a95a-4101-a872-21b4d8141f29")
    document = {
        "a": 1,
        "b": "x",
        "c": [1, 2.5, 3.0],
        "d": {},
        "e": None,
        "f": True,
        "g": Int64(7),
        "u": Binary.from_uuid(identifier),
        "o": ObjectId("6b03f25b4a982bf6aeb4c6ce"),
        "t": Timestamp(5, 1),
        "w": datetime.datetime(1970, 1, 1, 0, 0, 1),
    }
    assert render(document) == (
        '{ a: 1, b: "x", c: [ 1, 2.5, 3.0 ], d: {}, e: null, f: true, g: 7, '
        'u: UUID("092860a4-a95a-4101-a872-21b4d8141f29"), '
        "o: ObjectId('6b03f25b4a982bf6aeb4c6ce'), t: Timestamp(5, 1), w: new Date(1000) }"
    )
    assert render({"k": MinKey(), "m": MaxKey()}) == "{ k: MinKey, m: MaxKey }"


def test_timestamp_minkey_and_decimal_queries(client: pymongo.MongoClient) -> None:
    collection = client.test.values
    collection.insert_many(
        [
            {"_id": 1, "ts": Timestamp(10, 1), "v": Decimal128("1.5"), "k": MinKey()},
            {"_id": 2, "ts": Timestamp(10, 2), "v": 2, "k": 5},
            {"_id": 3, "ts": Timestamp(11, 1), "v": Decimal128("3"), "k": MaxKey()},
        ]
    )
    later = collection.find({"ts": {"$gt": Timestamp(10, 1)}}, {"_id": 1})
    assert [doc["_id"] for doc in later] == [2, 3]
    assert [doc["_id"] for doc in collection.find({"v": {"$gte": 2}})] == [2, 3]
    ordered = collection.find({}, {"_id": 1}).sort("k", 1)
    assert [doc["_id"] for doc in ordered] == [1, 2, 3]
