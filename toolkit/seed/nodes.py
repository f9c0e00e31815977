"""A field's schema as a Node: its keywords read once, ``allOf`` merged in.

The generator works on Nodes rather than on raw schemas: ``build_node`` reads
one schema (checking it as MongoDB would), ``merge`` makes the node that
satisfies two (for allOf, and for an anyOf/oneOf branch with the rest of its
schema), and ``narrowed`` takes simple ``not`` schemas out of the types and
bounds (and ``not: {required: [...]}`` into the fields to leave out). Every
node keeps the raw schemas it stands for, and ``node.check`` is their
compiled validator, which the generator uses to verify what it cannot build
directly.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, cast

from bson import Decimal128

from toolkit.seed.bsonvalues import bson_key
from toolkit.seed.validator import (
    Check,
    SchemaProblem,
    check_keywords,
    compile_pattern,
    compile_schema,
    is_object,
    join,
    non_negative_integer,
    parse_type_set,
)


class Node:
    """The constraints on one field. ``parts`` are the raw schemas it must all satisfy."""

    def __init__(self, path: str, key: str, name: str, in_array: bool = False) -> None:
        self.path = path  # for messages: "members[].user_id"
        self.key = key  # for seed.fields: "members.user_id"
        self.name = name  # for steering: "user_id"
        self.in_array = in_array
        self.parts: list[Mapping[str, Any]] = []
        self.top_level = False
        self.types: frozenset[str] | None = None
        self.enum: list[Any] | None = None
        self.minimum: Any = None
        self.minimum_exclusive = False
        self.maximum: Any = None
        self.maximum_exclusive = False
        self.multiple_of: list[Any] = []
        self.min_length = 0
        self.max_length: int | None = None
        self.patterns: list[str] = []
        self.min_items = 0
        self.max_items: int | None = None
        self.unique_items = False
        self.items: Node | list[Node] | None = None
        self.additional_items: Node | bool | None = None
        self.properties: dict[str, Node] = {}
        self.required: list[str] = []
        self.additional: Node | bool | None = None
        self.pattern_properties: list[tuple[str, Node]] = []
        self.min_properties = 0
        self.max_properties: int | None = None
        self.dependencies: list[tuple[str, Any]] = []
        self.nots: list[Mapping[str, Any]] = []
        # from `not: {required: [a, b]}`: at least one name of each entry must be absent
        self.absent_any: list[tuple[str, ...]] = []
        self.groups: list[tuple[str, list[Mapping[str, Any]]]] = []
        self._check: Check | None = None

    @property
    def check(self) -> Check:
        """The compiled check of every schema this node must satisfy."""
        if self._check is None:
            if len(self.parts) == 1:
                self._check = compile_schema(self.parts[0], self.path, top_level=self.top_level)
            elif not self.parts:
                self._check = compile_schema({}, self.path)
            else:
                self._check = compile_schema(
                    {"allOf": list(self.parts)}, self.path, top_level=self.top_level
                )
        return self._check

    def copy(self) -> Node:
        twin = copy.copy(self)
        twin.parts = list(self.parts)
        twin.multiple_of = list(self.multiple_of)
        twin.patterns = list(self.patterns)
        twin.properties = dict(self.properties)
        twin.required = list(self.required)
        twin.pattern_properties = list(self.pattern_properties)
        twin.dependencies = list(self.dependencies)
        twin.nots = list(self.nots)
        twin.absent_any = list(self.absent_any)
        twin.groups = list(self.groups)
        twin.items = list(self.items) if isinstance(self.items, list) else self.items
        twin._check = None
        return twin

    def has_object_keywords(self) -> bool:
        return bool(
            self.properties
            or self.required
            or self.additional is not None
            or self.pattern_properties
            or self.min_properties
            or self.max_properties is not None
            or self.dependencies
        )

    def has_array_keywords(self) -> bool:
        return bool(
            self.items is not None
            or self.min_items
            or self.max_items is not None
            or self.unique_items
        )

    def has_string_keywords(self) -> bool:
        return bool(self.min_length or self.max_length is not None or self.patterns)

    def has_number_keywords(self) -> bool:
        return self.minimum is not None or self.maximum is not None or bool(self.multiple_of)


def build_node(
    schema: Mapping[str, Any],
    path: str,
    key: str,
    name: str,
    *,
    in_array: bool = False,
    top_level: bool = False,
) -> Node:
    """Read one raw schema (allOf merged in) into a Node. Raise SchemaProblem if it is invalid."""
    check_keywords(schema, path)
    node = Node(path, key, name, in_array)
    node.top_level = top_level
    node.parts.append(schema)
    node.types = parse_type_set(schema, path)
    if "enum" in schema:
        node.enum = list(schema["enum"])
    if not top_level:
        if "minimum" in schema:
            node.minimum = schema["minimum"]
            node.minimum_exclusive = bool(schema.get("exclusiveMinimum", False))
        if "maximum" in schema:
            node.maximum = schema["maximum"]
            node.maximum_exclusive = bool(schema.get("exclusiveMaximum", False))
        if "multipleOf" in schema:
            node.multiple_of.append(schema["multipleOf"])
        node.min_length = non_negative_integer(schema, "minLength", path) or 0
        node.max_length = non_negative_integer(schema, "maxLength", path)
        if "pattern" in schema:
            compile_pattern(schema["pattern"], path)
            node.patterns.append(schema["pattern"])
        node.min_items = non_negative_integer(schema, "minItems", path) or 0
        node.max_items = non_negative_integer(schema, "maxItems", path)
        node.unique_items = schema.get("uniqueItems") is True
        items = schema.get("items")
        item_path, item_key = f"{path}[]", key
        if isinstance(items, list | tuple):
            node.items = [
                build_node(entry, f"{path}[{index}]", item_key, name, in_array=True)
                for index, entry in enumerate(items)
            ]
            additional_items = schema.get("additionalItems")
            if isinstance(additional_items, bool):
                node.additional_items = additional_items
            elif is_object(additional_items):
                node.additional_items = build_node(
                    cast(Mapping[str, Any], additional_items),
                    item_path,
                    item_key,
                    name,
                    in_array=True,
                )
        elif is_object(items):
            node.items = build_node(
                cast(Mapping[str, Any], items), item_path, item_key, name, in_array=True
            )
        elif items is not None:
            raise SchemaProblem(path, "items must be a schema or a list of schemas")
    properties = schema.get("properties", {})
    if not is_object(properties):
        raise SchemaProblem(path, "properties must be a document of schemas")
    for property_name, subschema in properties.items():
        node.properties[property_name] = build_node(
            subschema,
            join(path, property_name),
            join(key, property_name),
            property_name,
            in_array=in_array,
        )
    node.required = list(schema.get("required", []))
    additional = schema.get("additionalProperties")
    if isinstance(additional, bool):
        node.additional = additional
    elif is_object(additional):
        node.additional = build_node(
            cast(Mapping[str, Any], additional),
            join(path, "*"),
            join(key, "*"),
            name,
            in_array=in_array,
        )
    for source, subschema in (schema.get("patternProperties") or {}).items():
        compile_pattern(source, path)
        node.pattern_properties.append(
            (
                source,
                build_node(
                    subschema, join(path, f"/{source}/"), join(key, "*"), name, in_array=in_array
                ),
            )
        )
    node.min_properties = non_negative_integer(schema, "minProperties", path) or 0
    node.max_properties = non_negative_integer(schema, "maxProperties", path)
    for dependency, then in (schema.get("dependencies") or {}).items():
        if isinstance(then, list | tuple):
            node.dependencies.append((dependency, list(then)))
        elif is_object(then):
            node.dependencies.append((dependency, then))
    if "not" in schema:
        check_keywords(schema["not"], path)
        node.nots.append(schema["not"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            node.groups.append((keyword, list(schema[keyword])))
    for entry in schema.get("allOf", []):
        node = merge(
            node,
            build_node(entry, path, key, name, in_array=in_array, top_level=top_level),
            own=True,
        )
    return node


def _tighter_low(a: Any, a_exclusive: bool, b: Any, b_exclusive: bool) -> tuple[Any, bool]:
    if a is None:
        return b, b_exclusive
    if b is None:
        return a, a_exclusive
    av, bv = plain_number(a), plain_number(b)
    if av > bv:
        return a, a_exclusive
    if bv > av:
        return b, b_exclusive
    return a, a_exclusive or b_exclusive


def _tighter_high(a: Any, a_exclusive: bool, b: Any, b_exclusive: bool) -> tuple[Any, bool]:
    if a is None:
        return b, b_exclusive
    if b is None:
        return a, a_exclusive
    av, bv = plain_number(a), plain_number(b)
    if av < bv:
        return a, a_exclusive
    if bv < av:
        return b, b_exclusive
    return a, a_exclusive or b_exclusive


def plain_number(number: Any) -> Any:
    return number.to_decimal() if isinstance(number, Decimal128) else number


def merge(a: Node, b: Node, *, own: bool = False) -> Node:
    """A node that must satisfy both ``a`` and ``b`` (neither is changed unless ``own``)."""
    node = a if own else a.copy()
    node.parts.extend(b.parts)
    node._check = None
    if b.types is not None:
        node.types = b.types if node.types is None else node.types & b.types
    if b.enum is not None:
        if node.enum is None:
            node.enum = list(b.enum)
        else:
            keys = {bson_key(value, ordered=False) for value in b.enum}
            node.enum = [value for value in node.enum if bson_key(value, ordered=False) in keys]
    node.minimum, node.minimum_exclusive = _tighter_low(
        node.minimum, node.minimum_exclusive, b.minimum, b.minimum_exclusive
    )
    node.maximum, node.maximum_exclusive = _tighter_high(
        node.maximum, node.maximum_exclusive, b.maximum, b.maximum_exclusive
    )
    node.multiple_of.extend(b.multiple_of)
    node.min_length = max(node.min_length, b.min_length)
    if b.max_length is not None:
        node.max_length = (
            b.max_length if node.max_length is None else min(node.max_length, b.max_length)
        )
    node.patterns.extend(b.patterns)
    node.min_items = max(node.min_items, b.min_items)
    if b.max_items is not None:
        node.max_items = b.max_items if node.max_items is None else min(node.max_items, b.max_items)
    node.unique_items = node.unique_items or b.unique_items
    if b.items is not None:
        if node.items is None:
            node.items = b.items
        elif isinstance(node.items, Node) and isinstance(b.items, Node):
            node.items = merge(node.items, b.items)
        elif isinstance(node.items, list) and isinstance(b.items, list):
            merged = [merge(x, y) for x, y in zip(node.items, b.items, strict=False)]
            longer = node.items if len(node.items) > len(b.items) else b.items
            node.items = merged + list(longer[len(merged) :])
        else:
            single, listed = (
                (node.items, b.items) if isinstance(node.items, Node) else (b.items, node.items)
            )
            assert isinstance(single, Node) and isinstance(listed, list)
            node.items = [merge(entry, single) for entry in listed]
            if node.additional_items is None or node.additional_items is True:
                node.additional_items = single
    if b.additional_items is not None:
        if b.additional_items is False or node.additional_items is False:
            node.additional_items = False
        elif isinstance(b.additional_items, Node):
            node.additional_items = (
                merge(node.additional_items, b.additional_items)
                if isinstance(node.additional_items, Node)
                else b.additional_items
            )
    for name, child in b.properties.items():
        node.properties[name] = (
            merge(node.properties[name], child) if name in node.properties else child
        )
    for name in b.required:
        if name not in node.required:
            node.required.append(name)
    if b.additional is not None:
        if b.additional is False or node.additional is False:
            node.additional = False
        elif isinstance(b.additional, Node):
            node.additional = (
                merge(node.additional, b.additional)
                if isinstance(node.additional, Node)
                else b.additional
            )
        elif node.additional is None:
            node.additional = True
    node.pattern_properties.extend(b.pattern_properties)
    node.min_properties = max(node.min_properties, b.min_properties)
    if b.max_properties is not None:
        node.max_properties = (
            b.max_properties
            if node.max_properties is None
            else min(node.max_properties, b.max_properties)
        )
    node.dependencies.extend(b.dependencies)
    node.nots.extend(b.nots)
    node.absent_any.extend(b.absent_any)
    node.groups.extend(b.groups)
    return node


_UNTYPED = frozenset(
    {"string", "int", "long", "double", "bool", "date", "objectId", "object", "array", "null"}
)
_ANNOTATIONS = frozenset({"description", "title"})
_NARROWABLE = frozenset(
    {
        "bsonType",
        "type",
        "minimum",
        "exclusiveMinimum",
        "maximum",
        "exclusiveMaximum",
        "description",
        "title",
    }
)


def narrowed(node: Node) -> Node:
    """``node`` with what simple ``not`` schemas exclude taken out of its types and bounds.

    ``not: {bsonType: string}`` removes string from the types; ``not: {minimum: 0}``
    becomes ``maximum: 0`` (exclusive) for numbers, and the same with a type
    the node's types are all within. ``not: {required: [a, b]}`` (what oneOf
    branches about which fields are present become) is taken out of the nots
    into ``absent_any``: the object generator leaves one of the fields out.
    Anything else is left to the check.
    """
    node = node.copy()
    kept: list[Mapping[str, Any]] = []
    for negated in node.nots:
        if set(negated) - _ANNOTATIONS == {"required"}:
            node.absent_any.append(tuple(negated["required"]))
            continue
        kept.append(negated)
        if not set(negated) <= _NARROWABLE:
            continue
        excluded = parse_type_set(negated, node.path)
        bounds = {key for key in negated if key in ("minimum", "maximum")}
        if excluded is not None and not bounds:
            node.types = (node.types if node.types is not None else _UNTYPED) - excluded
        elif len(bounds) == 1 and (
            excluded is None or (node.types is not None and node.types <= excluded)
        ):
            if "minimum" in bounds:
                node.maximum, node.maximum_exclusive = _tighter_high(
                    node.maximum,
                    node.maximum_exclusive,
                    negated["minimum"],
                    not negated.get("exclusiveMinimum", False),
                )
            else:
                node.minimum, node.minimum_exclusive = _tighter_low(
                    node.minimum,
                    node.minimum_exclusive,
                    negated["maximum"],
                    not negated.get("exclusiveMaximum", False),
                )
    node.nots = kept
    return node
