"""Cross-field checks the JSON Schema cannot express. Warnings by default.

``catalog check --strict`` turns every finding into an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec, IndexSpec
from toolkit.plan.redundancy import IndexShape, coverage
from toolkit.plan.shard import lint_shard

MAX_INDEXES = 64  # per collection, the _id index included


@dataclass(frozen=True)
class Finding:
    location: str
    namespace: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.namespace}: {self.message}"


def lint_catalog(catalog: Catalog) -> list[Finding]:
    """Return every lint finding of ``catalog``, in catalog order."""
    findings: list[Finding] = []
    for collection in catalog.collections:
        findings.extend(_lint_collection(collection))
        schema = json_schema_of(collection.validator)
        for message in lint_shard(collection, catalog, schema):
            findings.append(Finding(collection.location, collection.namespace, message))
    return findings


def _lint_collection(collection: CollectionSpec) -> Iterator[Finding]:
    def finding(location: str, message: str) -> Finding:
        return Finding(location or collection.location, collection.namespace, message)

    schema = json_schema_of(collection.validator)
    for index in collection.indexes:
        ttl = index.ttl_seconds
        if ttl is not None:
            if len(index.keys) > 1:
                yield finding(
                    index.location,
                    f"index {index.name}: a TTL on a compound index; MongoDB refuses it "
                    "(code 67): TTL indexes are single-field",
                )
            elif schema is not None:
                field_name = index.keys[0][0]
                types = field_types(schema, field_name)
                if types is None:
                    yield finding(
                        index.location,
                        f"index {index.name}: TTL on {field_name}, which the validator does "
                        "not type; TTL deletes only documents whose field is a BSON date",
                    )
                elif "date" not in types:
                    yield finding(
                        index.location,
                        f"index {index.name}: TTL on {field_name}, which the validator types "
                        f"as {'/'.join(sorted(types))}; TTL deletes only documents whose "
                        "field is a BSON date, so these documents never expire",
                    )
        if schema is not None:
            for field_name, _ in index.keys:
                if field_name in ("_id", "$**") or field_name.endswith(".$**"):
                    continue
                if not field_allowed(schema, field_name):
                    yield finding(
                        index.location,
                        f"index {index.name}: {field_name} cannot exist in a document: the "
                        "validator's schema is closed (additionalProperties: false) and "
                        "does not list it",
                    )
    text_indexes = [index for index in collection.indexes if index.is_text]
    if len(text_indexes) > 1:
        yield finding(
            text_indexes[1].location,
            f"{len(text_indexes)} text indexes ({', '.join(i.name for i in text_indexes)}); "
            "a collection can have only one",
        )
    if schema is not None:
        for path, missing in missing_required(schema):
            where = f" in {path}" if path else ""
            yield finding(
                collection.location,
                f"validator: required field {missing}{where} is missing from properties",
            )
    shapes = [_shape(index) for index in collection.indexes]
    for index, shape in zip(collection.indexes, shapes, strict=True):
        for other in shapes:
            verdict = coverage(shape, other)
            if verdict == "duplicate":
                yield finding(index.location, f"index {index.name} duplicates {other.name}")
                break
            if verdict == "redundant":
                yield finding(index.location, f"index {index.name} is a prefix of {other.name}")
                break
    if len(collection.indexes) + 1 > MAX_INDEXES:
        yield finding(
            collection.location,
            f"{len(collection.indexes) + 1} indexes with _id; MongoDB allows {MAX_INDEXES}",
        )


def _shape(index: IndexSpec) -> IndexShape:
    return IndexShape.from_options(index.name, index.keys, index.options)


def json_schema_of(validator: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the $jsonSchema of a validator (top level or inside a top-level $and)."""
    if not validator:
        return None
    if isinstance(validator.get("$jsonSchema"), dict):
        return validator["$jsonSchema"]
    for clause in validator.get("$and", []) or []:
        if isinstance(clause, dict) and isinstance(clause.get("$jsonSchema"), dict):
            return clause["$jsonSchema"]
    return None


def _schema_at(schema: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: dict[str, Any] | None = schema
    for part in dotted.split("."):
        if node is None:
            return None
        if node.get("bsonType") == "array" or "items" in node and "properties" not in node:
            items = node.get("items")
            node = items if isinstance(items, dict) else None
            if node is None:
                return None
            if part.isdigit():
                continue
        properties = node.get("properties") or {}
        node = properties.get(part) if isinstance(properties, dict) else None
    return node


def field_types(schema: dict[str, Any], dotted: str) -> set[str] | None:
    """Return the bsonTypes the schema allows at ``dotted``, or None when untyped."""
    node = _schema_at(schema, dotted)
    if node is None:
        return None
    declared = node.get("bsonType", node.get("type"))
    if declared is None:
        return None
    types = {declared} if isinstance(declared, str) else set(declared)
    if node.get("bsonType") == "array" and isinstance(node.get("items"), dict):
        item_types = node["items"].get("bsonType")
        if item_types:  # an index on an array field indexes its elements
            types |= {item_types} if isinstance(item_types, str) else set(item_types)
    return types


def field_allowed(schema: dict[str, Any], dotted: str) -> bool:
    """False when a closed schema (additionalProperties: false) forbids the field's path."""
    node: dict[str, Any] | None = schema
    for part in dotted.split("."):
        if node is None:
            return True
        if node.get("bsonType") == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
            if part.isdigit():
                continue
        properties = node.get("properties") or {}
        if part in properties:
            node = properties[part]
            continue
        closed = node.get("additionalProperties") is False and not node.get("patternProperties")
        return not closed
    return True


def missing_required(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, str]]:
    """Yield (object path, field) for each required field that its object's properties omit."""
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for field_name in schema.get("required", []) or []:
            if field_name not in properties:
                yield path, field_name
        for name, child in properties.items():
            if isinstance(child, dict):
                yield from missing_required(child, f"{path}.{name}" if path else name)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from missing_required(items, f"{path}[]" if path else "[]")
