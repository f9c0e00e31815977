"""Check a collection validator the way ``create`` and ``collMod`` parse it.

The catalog's JSON Schema only says a validator is a mapping. MongoDB refuses
a validator whose operators or ``$jsonSchema`` keywords are malformed, and it
does so at ``schema apply`` time, after earlier operations have run. These
checks move that refusal to ``catalog check``, with the path of the offending
value, and they guarantee lint (which reads the ``$jsonSchema``) sees only
well-formed schemas.

The rules and wording follow mongo: src/mongo/db/matcher/schema/json_schema_parser.cpp
(keywords, their types, "cannot be an empty array", unsupported keywords) and
expression_parser.cpp (``$and``/``$or``/``$nor``, top-level operators, operators
a validator may not use).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from toolkit.plan.schema import canonical
from toolkit.seed import bsonvalues
from toolkit.seed import validator as seed_validator

Location = tuple[Any, ...]  # keys and list positions, as the catalog's SourceMap has them
Problem = tuple[Location, str]

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# What $jsonSchema accepts, refuses outright, and the bsonType aliases: one list, kept
# with the local validator that seed uses (toolkit/seed), plus "number" for bsonType.
SCHEMA_KEYWORDS = seed_validator.SCHEMA_KEYWORDS
UNSUPPORTED_SCHEMA_KEYWORDS = seed_validator.UNSUPPORTED_KEYWORDS
BSON_TYPE_ALIASES = bsonvalues.BSON_TYPE_ALIASES | {"number"}
JSON_TYPE_ALIASES = frozenset({"array", "boolean", "null", "number", "object", "string"})
LENGTH_KEYWORDS = (
    "maxItems",
    "maxLength",
    "maxProperties",
    "minItems",
    "minLength",
    "minProperties",
)
FIELD_OPERATORS = frozenset(
    {
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$exists",
        "$type",
        "$regex",
        "$options",
        "$size",
        "$all",
        "$elemMatch",
        "$mod",
        "$not",
        "$bitsAllSet",
        "$bitsAllClear",
        "$bitsAnySet",
        "$bitsAnyClear",
        "$geoWithin",
        "$geoIntersects",
        "$within",
        "$minDistance",
        "$maxDistance",
        "$comment",
    }
)
# Operators a validator may not use: they sort, or need a text index.
FORBIDDEN_FIELD_OPERATORS = frozenset({"$near", "$nearSphere", "$geoNear"})


def find_validator_problems(validator: Any) -> list[Problem]:
    """Return (path inside the validator, message) for each thing MongoDB would refuse.

    ``validator`` is the catalog's ``validator`` value (already known to be a
    mapping by the catalog schema). An empty list means ``create`` accepts it.
    """
    problems = list(find_value_problems(validator))
    if isinstance(validator, dict):
        problems.extend(_query_problems(validator, ()))
    return problems


def find_value_problems(value: Any, where: Location = ()) -> Iterator[Problem]:
    """Yield a problem for each key or value BSON cannot hold (a document sent as is)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield (*where, key), f"key {key!r} is not a string; quote it"
                continue
            if "\x00" in key:
                yield (*where, key), "a key cannot contain a NUL character"
            yield from find_value_problems(item, (*where, key))
    elif isinstance(value, list):
        for position, item in enumerate(value):
            yield from find_value_problems(item, (*where, position))
    elif (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not INT64_MIN <= value <= INT64_MAX
    ):
        yield where, f"{value} does not fit in a 64-bit integer"


def bson_ready(value: Any) -> Any:
    """Return ``value`` with YAML dates (2024-01-31) as midnight UTC datetimes.

    BSON has no date-without-time type; a YAML timestamp without a zone is
    UTC by the YAML spec, and a bare date means its start.
    """
    if isinstance(value, dict):
        return {key: bson_ready(item) for key, item in value.items()}
    if isinstance(value, list):
        return [bson_ready(item) for item in value]
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return value


# --------------------------------------------------------------------------- query operators


def _query_problems(query: dict[Any, Any], where: Location) -> Iterator[Problem]:
    for key, value in query.items():
        if not isinstance(key, str):
            continue  # reported by find_value_problems
        here = (*where, key)
        if key in ("$and", "$or", "$nor"):
            if not isinstance(value, list):
                yield here, f"{key} must be a list of conditions"
            elif not value:
                yield here, f"{key} must be a non-empty list"
            else:
                for position, clause in enumerate(value):
                    if isinstance(clause, dict):
                        yield from _query_problems(clause, (*here, position))
                    else:
                        yield (*here, position), f"each {key} entry must be a mapping"
        elif key == "$jsonSchema":
            # Inside $and/$or/$nor a clause is still at the top level of the document.
            if isinstance(value, dict):
                yield from _schema_problems(value, here)
            else:
                yield here, "$jsonSchema must be a mapping"
        elif key in ("$expr", "$comment", "$alwaysTrue", "$alwaysFalse"):
            continue  # aggregation expressions are the server's to parse
        elif key in ("$where", "$text"):
            yield here, f"{key} is not allowed in a validator"
        elif key.startswith("$"):
            yield here, f"unknown top-level operator {key}"
        elif isinstance(value, dict) and value and _is_operator(next(iter(value))):
            for operator in value:
                if not isinstance(operator, str):
                    continue
                if operator in FORBIDDEN_FIELD_OPERATORS:
                    yield (*here, operator), f"{operator} is not allowed in a validator"
                elif operator not in FIELD_OPERATORS:
                    yield (*here, operator), f"unknown operator {operator}"
                elif operator in ("$in", "$nin", "$all") and not isinstance(value[operator], list):
                    yield (*here, operator), f"{operator} needs a list"


def _is_operator(key: Any) -> bool:
    return isinstance(key, str) and key.startswith("$")


# --------------------------------------------------------------------------- $jsonSchema


def _schema_problems(schema: dict[Any, Any], where: Location) -> Iterator[Problem]:
    for key in schema:
        if key in UNSUPPORTED_SCHEMA_KEYWORDS:
            yield (*where, key), f"$jsonSchema keyword {key!r} is not supported by MongoDB"
        elif isinstance(key, str) and key not in SCHEMA_KEYWORDS:
            yield (*where, key), f"unknown $jsonSchema keyword {key!r}"
    if "type" in schema and "bsonType" in schema:
        yield where, "a $jsonSchema cannot have both type and bsonType"
    if "bsonType" in schema:
        yield from _type_problems(schema["bsonType"], (*where, "bsonType"), BSON_TYPE_ALIASES)
    if "type" in schema:
        yield from _type_problems(schema["type"], (*where, "type"), JSON_TYPE_ALIASES)
    if "encrypt" in schema and "encryptMetadata" in schema:
        yield where, "a $jsonSchema cannot have both encrypt and encryptMetadata"
    if "encrypt" in schema and ("type" in schema or "bsonType" in schema):
        yield where, "encrypt implies bsonType binData; drop type/bsonType"
    for name in ("encrypt", "encryptMetadata"):
        if name in schema and not isinstance(schema[name], dict):
            yield (*where, name), f"{name} must be a mapping"
    for name in ("description", "title", "pattern"):
        if name in schema and not isinstance(schema[name], str):
            yield (*where, name), f"{name} must be a string"
    for name in ("maximum", "minimum", "multipleOf"):
        if name in schema and not _is_number(schema[name]):
            yield (*where, name), f"{name} must be a number"
    if _is_number(schema.get("multipleOf")) and schema["multipleOf"] <= 0:
        yield (*where, "multipleOf"), "multipleOf must be positive"
    for name, bound in (("exclusiveMaximum", "maximum"), ("exclusiveMinimum", "minimum")):
        if name in schema:
            if not isinstance(schema[name], bool):
                yield (*where, name), f"{name} must be true or false"
            elif bound not in schema:
                yield (*where, name), f"{name} needs {bound}"
    for name in LENGTH_KEYWORDS:
        if name in schema and not _is_count(schema[name]):
            yield (*where, name), f"{name} must be a whole number, 0 or more"
    if "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
        yield (*where, "uniqueItems"), "uniqueItems must be true or false"
    if "required" in schema:
        yield from _names_problems(schema["required"], (*where, "required"), "required")
    if "enum" in schema:
        yield from _enum_problems(schema["enum"], (*where, "enum"))
    for name in ("properties", "patternProperties"):
        if name in schema:
            yield from _subschema_map_problems(schema[name], (*where, name), name)
    for name in ("additionalProperties", "additionalItems"):
        value = schema.get(name)
        if name not in schema or isinstance(value, bool):
            continue
        if isinstance(value, dict):
            yield from _schema_problems(value, (*where, name))
        else:
            yield (*where, name), f"{name} must be true, false or a schema mapping"
    if "items" in schema:
        items = schema["items"]
        if isinstance(items, dict):
            yield from _schema_problems(items, (*where, "items"))
        elif isinstance(items, list):
            yield from _schema_list_problems(items, (*where, "items"), "items", empty_ok=True)
        else:
            yield (*where, "items"), "items must be a schema mapping or a list of them"
    for name in ("allOf", "anyOf", "oneOf"):
        if name in schema:
            yield from _schema_list_problems(schema[name], (*where, name), name)
    if "not" in schema:
        if isinstance(schema["not"], dict):
            yield from _schema_problems(schema["not"], (*where, "not"))
        else:
            yield (*where, "not"), "not must be a schema mapping"
    if "dependencies" in schema:
        yield from _dependencies_problems(schema["dependencies"], (*where, "dependencies"))


def _type_problems(declared: Any, where: Location, aliases: frozenset[str]) -> Iterator[Problem]:
    keyword = str(where[-1])
    names = declared if isinstance(declared, list) else [declared]
    if not isinstance(declared, str | list):
        yield where, f"{keyword} must be a type name or a list of them"
        return
    if not names:
        yield where, f"{keyword} must name at least one type"
    if not all(isinstance(name, str) for name in names):
        yield where, f"{keyword} must be a type name or a list of them"
        return
    for name in names:
        if keyword == "type" and name == "integer":
            yield where, "type 'integer' is not supported by MongoDB; use bsonType: [int, long]"
        elif name not in aliases:
            yield where, f"unknown {keyword} {name!r} (known: {', '.join(sorted(aliases))})"


def _names_problems(names: Any, where: Location, keyword: str) -> Iterator[Problem]:
    if not isinstance(names, list):
        yield where, f"{keyword} must be a list of field names"
    elif not names:
        yield where, f"{keyword} cannot be an empty list"
    elif not all(isinstance(name, str) for name in names):
        yield where, f"{keyword} must be a list of field names (strings)"
    elif len(set(names)) != len(names):
        yield where, f"{keyword} lists a field name twice"


def _enum_problems(values: Any, where: Location) -> Iterator[Problem]:
    if not isinstance(values, list):
        yield where, "enum must be a list of values"
    elif not values:
        yield where, "enum cannot be an empty list"
    elif len({canonical(value) for value in values}) != len(values):
        yield where, "enum lists a value twice"


def _subschema_map_problems(mapping: Any, where: Location, keyword: str) -> Iterator[Problem]:
    if not isinstance(mapping, dict):
        yield where, f"{keyword} must be a mapping of field names to schemas"
        return
    for name, child in mapping.items():
        if isinstance(child, dict):
            yield from _schema_problems(child, (*where, name))
        else:
            yield (*where, name), f"the schema of {name!r} in {keyword} must be a mapping"


def _schema_list_problems(
    schemas: Any, where: Location, keyword: str, empty_ok: bool = False
) -> Iterator[Problem]:
    if not isinstance(schemas, list):
        yield where, f"{keyword} must be a list of schema mappings"
        return
    if not schemas and not empty_ok:
        yield where, f"{keyword} cannot be an empty list"
    for position, child in enumerate(schemas):
        if isinstance(child, dict):
            yield from _schema_problems(child, (*where, position))
        else:
            yield (*where, position), f"each {keyword} entry must be a schema mapping"


def _dependencies_problems(dependencies: Any, where: Location) -> Iterator[Problem]:
    if not isinstance(dependencies, dict):
        yield where, "dependencies must be a mapping"
        return
    for name, dependency in dependencies.items():
        if isinstance(dependency, dict):
            yield from _schema_problems(dependency, (*where, name))
        else:
            yield from _names_problems(dependency, (*where, name), f"dependencies.{name}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    """parseIntegerElementToNonNegativeLong: an integral number, not negative."""
    return _is_number(value) and float(value).is_integer() and value >= 0
