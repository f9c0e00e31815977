"""Cross-field checks the JSON Schema cannot express. Warnings by default.

``catalog check --strict`` turns every finding into an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from toolkit.catalog.model import Catalog, CollectionSpec, IndexSpec
from toolkit.plan.redundancy import IndexShape, coverage, same_identity
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
    for position, (index, shape) in enumerate(zip(collection.indexes, shapes, strict=True)):
        for other_position, other in enumerate(shapes):
            if other_position != position and same_identity(shape, other):
                if other_position < position:  # the later one is the index apply fails on
                    yield finding(
                        index.location,
                        f"index {index.name} duplicates {other.name}: same key and options, "
                        "which MongoDB refuses under a second name (code 85)",
                    )
                    break
                continue
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


def json_schema_of(validator: Any) -> dict[str, Any] | None:
    """Return the $jsonSchema of a validator (top level or inside a top-level $and).

    Anything malformed (the loader refuses it, but lint never relies on that)
    reads as "no schema".
    """
    if not isinstance(validator, dict) or not validator:
        return None
    if isinstance(validator.get("$jsonSchema"), dict):
        schema: dict[str, Any] = validator["$jsonSchema"]
        return schema
    clauses = validator.get("$and")
    for clause in clauses if isinstance(clauses, list) else []:
        if isinstance(clause, dict) and isinstance(clause.get("$jsonSchema"), dict):
            found: dict[str, Any] = clause["$jsonSchema"]
            return found
    return None


def _type_names(declared: Any) -> set[str] | None:
    """The type names of a bsonType/type value; None when it is not a name or a list of them."""
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list) and declared and all(isinstance(n, str) for n in declared):
        return set(declared)
    return None


def _properties(node: dict[str, Any]) -> dict[str, Any]:
    properties = node.get("properties")
    return properties if isinstance(properties, dict) else {}


def _schema_at(schema: dict[str, Any], dotted: str) -> dict[str, Any] | None:
    node: Any = schema
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return None
        if node.get("bsonType") == "array" or "items" in node and "properties" not in node:
            node = node.get("items")
            if not isinstance(node, dict):
                return None
            if part.isdigit():
                continue
        node = _properties(node).get(part)
    return node if isinstance(node, dict) else None


def field_types(schema: dict[str, Any], dotted: str) -> set[str] | None:
    """Return the bsonTypes the schema allows at ``dotted``, or None when untyped."""
    node = _schema_at(schema, dotted)
    if node is None:
        return None
    types = _type_names(node.get("bsonType", node.get("type")))
    if types is None:
        return None
    items = node.get("items")
    if node.get("bsonType") == "array" and isinstance(items, dict):
        # an index on an array field indexes its elements
        types |= _type_names(items.get("bsonType")) or set()
    return types


def field_allowed(schema: dict[str, Any], dotted: str) -> bool:
    """False when a closed schema (additionalProperties: false) forbids the field's path."""
    node: Any = schema
    for part in dotted.split("."):
        if not isinstance(node, dict):
            return True
        if node.get("bsonType") == "array" and isinstance(node.get("items"), dict):
            node = node["items"]
            if part.isdigit():
                continue
        properties = _properties(node)
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
        required = schema.get("required")
        for field_name in required if isinstance(required, list) else []:
            if isinstance(field_name, str) and field_name not in properties:
                yield path, field_name
        for name, child in properties.items():
            if isinstance(child, dict):
                yield from missing_required(child, f"{path}.{name}" if path else name)
    items = schema.get("items")
    if isinstance(items, dict):
        yield from missing_required(items, f"{path}[]" if path else "[]")
