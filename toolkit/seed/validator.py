"""MongoDB's ``$jsonSchema``, compiled once per schema into closures that check a value.

``compile_validator(validator)`` turns a collection's validator into a check;
``compile_schema(schema, path)`` does the same for one field's schema. A check
takes a value and returns None when it passes, or one line naming the field
and the reason ("content.title: expected string, found int").

The semantics are MongoDB's (7.0: json_schema_parser.cpp and the manual's
$jsonSchema page), not JSON Schema's where they differ:

- draft 4 keywords plus ``bsonType``; ``$ref``, ``$schema``, ``default``,
  ``definitions``, ``format``, ``id`` and ``type: integer`` are refused, and
  so are ``type`` and ``bsonType`` together;
- ``type: number`` and ``bsonType: number`` accept int, long, double and decimal;
- ``exclusiveMinimum``/``exclusiveMaximum`` are booleans that need
  ``minimum``/``maximum``;
- a keyword for one kind of value (minLength, minimum, items, properties...)
  says nothing about values of another kind;
- at the top level, string, number and array keywords have no effect, a type
  other than ``object`` matches nothing, and ``enum`` only considers documents;
- ``properties`` are checked when present; ``required`` names must be present;
- ``enum`` and ``uniqueItems`` compare as BSON does: numbers by value across
  types, documents regardless of field order;
- lengths count code points; ``pattern`` is searched, not anchored (Python's
  ``re`` stands in for PCRE, so PCRE-only syntax is refused);
- ``multipleOf`` is computed in decimal with a double taken to 15
  significant digits, as the server's fmod does.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from bson import Code, Decimal128, Int64, ObjectId
from bson.binary import Binary

from toolkit.seed.bsonvalues import (
    BSON_TYPE_ALIASES,
    INT32_MAX,
    INT32_MIN,
    JSON_TYPE_ALIASES,
    MISSING,
    NUMBER_TYPES,
    bson_key,
    bson_type_name,
    is_number,
    number_value,
)

Check = Callable[[Any], str | None]

SCHEMA_KEYWORDS = frozenset(
    {
        "additionalItems",
        "additionalProperties",
        "allOf",
        "anyOf",
        "bsonType",
        "dependencies",
        "description",
        "encrypt",
        "encryptMetadata",
        "enum",
        "exclusiveMaximum",
        "exclusiveMinimum",
        "items",
        "maxItems",
        "maxLength",
        "maxProperties",
        "maximum",
        "minItems",
        "minLength",
        "minProperties",
        "minimum",
        "multipleOf",
        "not",
        "oneOf",
        "pattern",
        "patternProperties",
        "properties",
        "required",
        "title",
        "type",
        "uniqueItems",
    }
)
UNSUPPORTED_KEYWORDS = frozenset({"$ref", "$schema", "default", "definitions", "format", "id"})

# Python types whose values always have one BSON alias (int depends on its size).
_EXACT_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "bool": (bool,),
    "double": (float,),
    "long": (Int64,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
    "objectId": (ObjectId,),
    "decimal": (Decimal128,),
    "binData": (Binary, bytes),
    "date": (dt.datetime,),
}


class SchemaProblem(ValueError):
    """A schema MongoDB would refuse, or one this module cannot check; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{where(path)}: {message}")
        self.path = path
        self.message = message


def where(path: str) -> str:
    """How a message names a field: its dotted path, or "(document)" for the top level."""
    return path or "(document)"


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def show(value: Any, limit: int = 60) -> str:
    """A short repr for messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _accept(_value: Any) -> None:
    return None


def is_object(value: Any) -> bool:
    return type(value) is dict or isinstance(value, Mapping)


def is_array(value: Any) -> bool:
    return type(value) is list or isinstance(value, list | tuple)


def is_string(value: Any) -> bool:
    return type(value) is str or (isinstance(value, str) and not isinstance(value, Code))


def lookup(document: Any, name: str) -> Any:
    """The value of property ``name``: a literal key first, then a dotted path through documents."""
    if name in document:
        return document[name]
    if "." not in name:
        return MISSING
    value = document
    for part in name.split("."):
        if not is_object(value) or part not in value:
            return MISSING
        value = value[part]
    return value


def parse_type_set(schema: Mapping[str, Any], path: str) -> frozenset[str] | None:
    """The BSON aliases ``type``/``bsonType`` allow ("number" expanded), or None when unstated.

    Raise SchemaProblem for what MongoDB refuses (both keywords, "integer",
    unknown or duplicate aliases, an empty list).
    """
    if "type" in schema and "bsonType" in schema:
        raise SchemaProblem(path, "type and bsonType cannot be used together")
    keyword = "type" if "type" in schema else "bsonType" if "bsonType" in schema else None
    if keyword is None:
        return None
    spec = schema[keyword]
    aliases = [spec] if isinstance(spec, str) else spec
    if not isinstance(aliases, list | tuple) or not all(isinstance(a, str) for a in aliases):
        raise SchemaProblem(path, f"{keyword} must be a string or a list of strings")
    if not aliases:
        raise SchemaProblem(path, f"{keyword} must name at least one type")
    if len(set(aliases)) != len(aliases):
        raise SchemaProblem(path, f"{keyword} has a duplicate type")
    types: set[str] = set()
    for alias in aliases:
        if alias == "integer":
            raise SchemaProblem(
                path, 'type "integer" is not supported by MongoDB; use bsonType int or long'
            )
        if alias == "number":
            types |= NUMBER_TYPES
        elif keyword == "bsonType" and alias in BSON_TYPE_ALIASES:
            types.add(alias)
        elif keyword == "type" and alias in JSON_TYPE_ALIASES:
            types.add(JSON_TYPE_ALIASES[alias])
        else:
            raise SchemaProblem(path, f"unknown {keyword} {alias!r}")
    return frozenset(types)


def non_negative_integer(schema: Mapping[str, Any], keyword: str, path: str) -> int | None:
    """The value of a count keyword (minLength, maxItems...), or None when absent."""
    if keyword not in schema:
        return None
    value = schema[keyword]
    if not is_number(value):
        raise SchemaProblem(path, f"{keyword} must be a number")
    number = number_value(value)
    if isinstance(number, float | Decimal) and (not math.isfinite(number) or number != int(number)):
        raise SchemaProblem(path, f"{keyword} must be an integer")
    if number < 0:
        raise SchemaProblem(path, f"{keyword} must not be negative")
    return int(number)


class UnsupportedPattern(SchemaProblem):
    """A ``pattern`` in PCRE syntax that Python's ``re`` (which checks it here) lacks."""

    def __init__(self, path: str, pattern: str, construct: str) -> None:
        super().__init__(path, f"unsupported PCRE syntax in pattern {pattern!r}: {construct}")
        self.args = (
            f"unsupported PCRE syntax in pattern {pattern!r} at {where(path)}: {construct}",
        )


# PCRE escapes that Python's re refuses or reads otherwise, and what to write instead.
_PCRE_ESCAPES = {
    "z": r"\z (end of the string): write \Z, Python's spelling of it",
    "h": r"\h (horizontal space): write [ \t]",
    "H": r"\H (not horizontal space): write [^ \t]",
    "v": r"\v (vertical space in PCRE, a vertical tab in Python): write [\n\x0b\f\r]",
    "V": r"\V (not vertical space): write [^\n\x0b\f\r]",
    "R": r"\R (any line break): write (?:\r\n|\n|\r)",
    "p": r"\p{...} (a Unicode property): write the characters as a class, e.g. [A-Za-z]",
    "P": r"\P{...} (not a Unicode property): write a negated class",
    "X": r"\X (a grapheme cluster)",
    "K": r"\K (reset the start of the match)",
    "G": r"\G (where the last match ended)",
    "Q": r"\Q...\E (quoted text): escape each character instead",
    "E": r"\E (end of quoted text)",
    "C": r"\C (one code unit)",
    "e": r"\e (the escape character): write \x1b",
    "c": r"\cX (a control character): write \xhh",
    "o": r"\o{...} (an octal code point): write \xhh or \uhhhh",
    "g": r"\g (a numbered or relative back reference): write \1",
    "k": r"\k<name> (a named back reference): write (?P=name)",
}
_POSIX_CLASSES = {
    "alpha": "A-Za-z",
    "digit": "0-9",
    "alnum": "A-Za-z0-9",
    "upper": "A-Z",
    "lower": "a-z",
    "xdigit": "0-9A-Fa-f",
    "space": r"\s",
    "word": r"\w",
    "blank": r" \t",
}
_POSIX_CLASS = re.compile(r"\[:\^?([A-Za-z]+):\]")
# What may follow "(?" in Python's re: groups, lookarounds, comments, atomic groups,
# conditionals and inline flags. PCRE has more: (?<name>, (?|, (?R), (?1), (?&name)...
_PYTHON_GROUP = re.compile(r"[:=!#>(]|<[=!]|P[<=]|[aiLmsux]*(-[imsx]+)?[:)]")


def pcre_only_syntax(pattern: str) -> str | None:
    """Describe the first construct of ``pattern`` that is PCRE syntax Python's ``re``
    refuses or reads otherwise (so that checking with ``re`` would be wrong), or None."""
    position = 0
    in_class = False
    length = len(pattern)
    while position < length:
        character = pattern[position]
        if character == "\\":
            following = pattern[position + 1 : position + 2]
            if following in _PCRE_ESCAPES:
                return _PCRE_ESCAPES[following]
            if following == "x" and pattern.startswith("{", position + 2):
                return r"\x{...} (a code point in braces): write \xhh or \uhhhh"
            position += 2
            continue
        if character == "[":
            posix = _POSIX_CLASS.match(pattern, position)
            if posix is not None:
                instead = _POSIX_CLASSES.get(posix.group(1).lower())
                advice = f": write {instead} inside the brackets" if instead else ""
                return (
                    f"the POSIX class {posix.group(0)} (Python's re reads it as a set of "
                    f"characters){advice}"
                )
            if not in_class:
                in_class = True
                position += 1
                if pattern.startswith("^", position):
                    position += 1
                if pattern.startswith("]", position):  # a "]" first in a class is literal
                    position += 1
                continue
        elif character == "]" and in_class:
            in_class = False
        elif character == "(" and not in_class:
            if pattern.startswith("(*", position):
                return "a (*VERB) or (*OPTION)"
            if pattern.startswith("(?", position) and not _PYTHON_GROUP.match(
                pattern, position + 2
            ):
                return (
                    f"the group {pattern[position : position + 4]}... "
                    "(for a named group write (?P<name>...))"
                )
        position += 1
    return None


def compile_pattern(pattern: Any, path: str) -> re.Pattern[str]:
    """The compiled ``pattern``. Raise SchemaProblem for a non-string or a bad regular
    expression, UnsupportedPattern for PCRE syntax Python's ``re`` cannot stand in for."""
    if not isinstance(pattern, str):
        raise SchemaProblem(path, "pattern must be a string")
    construct = pcre_only_syntax(pattern)
    if construct is not None:
        raise UnsupportedPattern(path, pattern, construct)
    try:
        return re.compile(pattern)
    except re.error as error:
        raise SchemaProblem(
            path, f"pattern {pattern!r} is not a regular expression: {error}"
        ) from None


def check_keywords(schema: Any, path: str) -> None:
    """Refuse a schema that is not a document or uses a keyword MongoDB does not know."""
    if not is_object(schema):
        raise SchemaProblem(path, f"a schema must be a document, not {show(schema)}")
    for keyword in schema:
        if keyword in UNSUPPORTED_KEYWORDS:
            raise SchemaProblem(
                path, f"$jsonSchema keyword {keyword!r} is not supported by MongoDB"
            )
        if keyword not in SCHEMA_KEYWORDS:
            raise SchemaProblem(path, f"unknown $jsonSchema keyword {keyword!r}")
    for keyword in ("minimum", "maximum", "multipleOf"):
        if keyword in schema and not is_number(schema[keyword]):
            raise SchemaProblem(path, f"{keyword} must be a number")
    for keyword, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if keyword in schema:
            if not isinstance(schema[keyword], bool):
                raise SchemaProblem(path, f"{keyword} must be true or false (MongoDB's draft 4)")
            if bound not in schema:
                raise SchemaProblem(path, f"{keyword} needs {bound}")
    if "multipleOf" in schema and not number_value(schema["multipleOf"]) > 0:
        raise SchemaProblem(path, "multipleOf must be positive")
    if "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
        raise SchemaProblem(path, "uniqueItems must be true or false")
    if "required" in schema:
        required = schema["required"]
        if (
            not is_array(required)
            or not required
            or not all(isinstance(name, str) for name in required)
            or len(set(required)) != len(required)
        ):
            raise SchemaProblem(path, "required must be a non-empty list of distinct field names")
    if "enum" in schema:
        enum = schema["enum"]
        if not is_array(enum) or not enum:
            raise SchemaProblem(path, "enum must be a non-empty list")
        keys = {bson_key(value, ordered=False) for value in enum}
        if len(keys) != len(enum):
            raise SchemaProblem(path, "enum has a duplicate value")
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema and (not is_array(schema[keyword]) or not schema[keyword]):
            raise SchemaProblem(path, f"{keyword} must be a non-empty list of schemas")
    for keyword in ("description", "title"):
        if keyword in schema and not isinstance(schema[keyword], str):
            raise SchemaProblem(path, f"{keyword} must be a string")


def compile_validator(validator: Mapping[str, Any] | None) -> Check:
    """Return the check for a collection validator ({$jsonSchema: ...}).

    Raise SchemaProblem for a schema MongoDB refuses, and for query operators
    beside ``$jsonSchema``, which this module does not evaluate.
    """
    if not validator:
        return _accept
    others = sorted(key for key in validator if key != "$jsonSchema")
    if others:
        raise SchemaProblem(
            "",
            f"the validator uses query operators ({', '.join(others)}); "
            "seed generates and checks documents for $jsonSchema validators only",
        )
    return compile_schema(validator["$jsonSchema"], "", top_level=True)


def compile_schema(schema: Mapping[str, Any], path: str = "", *, top_level: bool = False) -> Check:
    """Return the check for one (sub)schema at ``path``. Raise SchemaProblem if it is invalid."""
    check_keywords(schema, path)
    types = parse_type_set(schema, path)
    rules: list[Check] = []
    type_rule = None
    if types is not None:
        if top_level:
            if "object" not in types:
                return _never(path, "the top-level bsonType does not include object")
        else:
            type_rule = _type_rule(types, schema.get("bsonType", schema.get("type")), path)
            rules.append(type_rule)
    if "enum" in schema:
        rules.append(_enum_rule(schema["enum"], path, top_level))
    if not top_level:
        rules.extend(_scalar_rules(schema, path))
        rules.extend(_array_rules(schema, path))
    rules.extend(_object_rules(schema, path, top_level))
    rules.extend(_logical_rules(schema, path, top_level))
    if rules == [type_rule] and types is not None:
        # Only a type to check: callers may test these Python types inline and skip the call.
        exact: list[type] = [t for alias in types for t in _EXACT_TYPES.get(alias, ())]
        if "int" in types and "long" in types:
            exact.append(int)
        type_rule.exact_types = frozenset(exact)  # type: ignore[union-attr]
    return _all_of(rules)


def _all_of(rules: list[Check]) -> Check:
    if not rules:
        return _accept
    if len(rules) == 1:
        return rules[0]
    if getattr(rules[0], "types", None) is not None:
        # A type rule first: a value of an exact type passes it without a call.
        type_rule, rest = rules[0], _all_of(rules[1:])
        exact = frozenset(type_rule.exact)  # type: ignore[attr-defined]

        def typed(value: Any) -> str | None:
            if type(value) not in exact:
                problem = type_rule(value)
                if problem is not None:
                    return problem
            return rest(value)

        return typed
    ordered = tuple(rules)

    def check(value: Any) -> str | None:
        for rule in ordered:
            problem = rule(value)
            if problem is not None:
                return problem
        return None

    return check


def _never(path: str, reason: str) -> Check:
    message = f"{where(path)}: {reason}"

    def check(_value: Any) -> str:
        return message

    return check


def _type_rule(types: frozenset[str], spec: Any, path: str) -> Check:
    exact = tuple(python_type for alias in types for python_type in _EXACT_TYPES.get(alias, ()))
    allows_int = "int" in types
    allows_long = "long" in types
    text = spec if isinstance(spec, str) else "/".join(spec)
    prefix = f"{where(path)}: expected {text}, found "

    def check(value: Any) -> str | None:
        value_type = type(value)
        if value_type in exact:
            return None
        if value_type is int:
            small = INT32_MIN <= value <= INT32_MAX
            if (allows_int and small) or (allows_long and not small):
                return None
            return prefix + ("int" if small else "long")
        try:
            alias = bson_type_name(value)
        except TypeError:
            return prefix + value_type.__name__
        if alias in types:
            return None
        return prefix + alias

    check.types = types  # type: ignore[attr-defined]
    check.exact = exact  # type: ignore[attr-defined]
    return check


def _enum_rule(values: list[Any], path: str, top_level: bool) -> Check:
    if top_level:
        values = [value for value in values if is_object(value)]
        if not values:
            return _never(path, "a top-level enum without documents matches nothing")
    keys = frozenset(bson_key(value, ordered=False) for value in values)
    strings = frozenset(value for value in values if type(value) is str)
    label = f"{where(path)}: "

    def check(value: Any) -> str | None:
        if type(value) is str and value in strings:
            return None
        try:
            if bson_key(value, ordered=False) in keys:
                return None
        except TypeError:
            pass
        return label + f"{show(value)} is not one of the enum values"

    return check


def _size_rule(
    schema: Mapping[str, Any],
    path: str,
    keywords: tuple[str, str],
    applies: Callable[[Any], bool],
    noun: str,
) -> Check | None:
    """The rule for a min/max pair (minLength/maxLength, minItems/maxItems, ...), or None.

    ``applies`` says which values the pair constrains; ``noun`` names what
    ``len`` counts in the message ("characters", "items", "fields").
    """
    low_keyword, high_keyword = keywords
    minimum = non_negative_integer(schema, low_keyword, path)
    maximum = non_negative_integer(schema, high_keyword, path)
    if minimum is None and maximum is None:
        return None
    low = minimum or 0
    label = f"{where(path)}: "

    def size_rule(value: Any) -> str | None:
        if not applies(value):
            return None
        size = len(value)  # a string's code points, as MongoDB counts them
        if size < low:
            return label + f"{size} {noun}, fewer than {low_keyword} {low}"
        if maximum is not None and size > maximum:
            return label + f"{size} {noun}, more than {high_keyword} {maximum}"
        return None

    return size_rule


def _scalar_rules(schema: Mapping[str, Any], path: str) -> list[Check]:
    rules: list[Check] = []
    label = f"{where(path)}: "
    length_rule = _size_rule(schema, path, ("minLength", "maxLength"), is_string, "characters")
    if length_rule is not None:
        rules.append(length_rule)
    if "pattern" in schema:
        regex = compile_pattern(schema["pattern"], path)
        search = regex.search
        text = label + f"does not match the pattern {schema['pattern']!r}: "

        def pattern_rule(value: Any) -> str | None:
            if not is_string(value) or search(value) is not None:
                return None
            return text + show(value)

        rules.append(pattern_rule)
    for keyword, exclusive_keyword in (
        ("minimum", "exclusiveMinimum"),
        ("maximum", "exclusiveMaximum"),
    ):
        if keyword in schema:
            rules.append(
                _bound_rule(keyword, schema[keyword], bool(schema.get(exclusive_keyword)), path)
            )
    if "multipleOf" in schema:
        rules.append(_multiple_of_rule(schema["multipleOf"], path))
    return rules


def _is_nan(number: Any) -> bool:
    if isinstance(number, Decimal):
        return number.is_nan()
    return isinstance(number, float) and math.isnan(number)


def _bound_rule(keyword: str, bound: Any, exclusive: bool, path: str) -> Check:
    limit = number_value(bound)
    is_minimum = keyword == "minimum"
    relation = (
        ("above" if exclusive else "at least")
        if is_minimum
        else ("below" if exclusive else "at most")
    )
    label = f"{where(path)}: "
    bound_is_nan = _is_nan(limit)

    def check(value: Any) -> str | None:
        value_type = type(value)
        if value_type is not int and value_type is not float and not is_number(value):
            return None
        number = number_value(value)
        if bound_is_nan or _is_nan(number):
            passed = not exclusive and bound_is_nan and _is_nan(number)
        elif is_minimum:
            passed = number > limit if exclusive else number >= limit
        else:
            passed = number < limit if exclusive else number <= limit
        if passed:
            return None
        return label + f"{show(value)} is not {relation} {bound!r} ({keyword})"

    return check


def decimal_of(value: Any) -> Decimal:
    """The value as the server's fmod sees it: a double is taken to 15 significant digits."""
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, float):
        if not math.isfinite(value):
            return Decimal(value)
        return Decimal(format(value, ".15g"))
    return Decimal(int(value))


def is_multiple(value: Any, divisor: Decimal) -> bool:
    """True when ``value`` is a multiple of ``divisor`` in MongoDB's terms."""
    if type(value) is int and divisor == divisor.to_integral_value():
        return value % int(divisor) == 0
    dividend = decimal_of(value)
    if not dividend.is_finite():
        return False
    with localcontext() as context:
        context.prec = 34
        try:
            return dividend % divisor == 0
        except InvalidOperation:
            return False


def _multiple_of_rule(spec: Any, path: str) -> Check:
    divisor = decimal_of(spec)
    label = f"{where(path)}: "

    def check(value: Any) -> str | None:
        if not is_number(value) or is_multiple(value, divisor):
            return None
        return label + f"{show(value)} is not a multiple of {spec!r}"

    return check


def _array_rules(schema: Mapping[str, Any], path: str) -> list[Check]:
    rules: list[Check] = []
    label = f"{where(path)}: "
    count_rule = _size_rule(schema, path, ("minItems", "maxItems"), is_array, "items")
    if count_rule is not None:
        rules.append(count_rule)
    if schema.get("uniqueItems") is True:

        def unique_rule(value: Any) -> str | None:
            if not is_array(value):
                return None
            seen = set()
            for item in value:
                key = bson_key(item, ordered=False)
                if key in seen:
                    return label + f"duplicate item {show(item)} (uniqueItems)"
                seen.add(key)
            return None

        rules.append(unique_rule)
    item_path = f"{path}[]"
    positional: tuple[Check, ...] | None = None
    if "items" in schema:
        items = schema["items"]
        if is_array(items):
            positional = tuple(
                compile_schema(entry, f"{path}[{index}]") for index, entry in enumerate(items)
            )
            if positional:
                checks = positional

                def positional_rule(value: Any) -> str | None:
                    if not is_array(value):
                        return None
                    for check, item in zip(checks, value, strict=False):
                        problem = check(item)
                        if problem is not None:
                            return problem
                    return None

                rules.append(positional_rule)
        elif is_object(items):
            rules.append(_each_item_rule(compile_schema(items, item_path), 0))
        else:
            raise SchemaProblem(path, "items must be a schema or a list of schemas")
    if "additionalItems" in schema:
        additional = schema["additionalItems"]
        if not isinstance(additional, bool) and not is_object(additional):
            raise SchemaProblem(path, "additionalItems must be a schema or true/false")
        # Without a list of items nothing is "additional": MongoDB adds no rule.
        if positional is not None:
            start = len(positional)
            if additional is False:

                def no_more_rule(value: Any) -> str | None:
                    if is_array(value) and len(value) > start:
                        return label + f"{len(value)} items, only {start} allowed (additionalItems)"
                    return None

                rules.append(no_more_rule)
            elif is_object(additional):
                rules.append(_each_item_rule(compile_schema(additional, item_path), start))
    return rules


def _each_item_rule(check: Check, start: int) -> Check:
    def rule(value: Any) -> str | None:
        if not is_array(value):
            return None
        for index in range(start, len(value)):
            problem = check(value[index])
            if problem is not None:
                return problem
        return None

    return rule


def _object_rules(schema: Mapping[str, Any], path: str, top_level: bool) -> list[Check]:
    rules: list[Check] = []
    properties = schema.get("properties", {})
    if not is_object(properties):
        raise SchemaProblem(path, "properties must be a document of schemas")
    compiled: list[tuple[str, Check, bool, frozenset[type]]] = []
    for name, subschema in properties.items():
        check = compile_schema(subschema, join(path, name))
        exact: frozenset[type] = getattr(check, "exact_types", frozenset())
        compiled.append((name, check, "." in name, exact))
    if compiled:
        rules.append(_properties_rule(compiled))
    if "required" in schema:
        required = tuple(schema["required"])

        def required_rule(value: Any) -> str | None:
            if not is_object(value):
                return None
            for name in required:
                if name not in value and lookup(value, name) is MISSING:
                    return f"{where(join(path, name))}: required but missing"
            return None

        rules.append(required_rule)
    if "patternProperties" in schema or "additionalProperties" in schema:
        rules.append(_allowed_properties_rule(schema, set(properties), path))
    count_rule = _size_rule(schema, path, ("minProperties", "maxProperties"), is_object, "fields")
    if count_rule is not None:
        rules.append(count_rule)
    if "dependencies" in schema:
        rules.append(_dependencies_rule(schema["dependencies"], path, top_level))
    return rules


def _properties_rule(entries: list[tuple[str, Check, bool, frozenset[type]]]) -> Check:
    """Check each present property against its schema.

    The function's source is written out once per schema, one block per
    property, so that a document costs a dict lookup per property and a call
    only where a type test alone does not settle it.
    """
    scope: dict[str, Any] = {"MISSING": MISSING, "Mapping": Mapping, "lookup": lookup}
    lines = [
        "def properties_rule(value):",
        "    if type(value) is not dict and not isinstance(value, Mapping):",
        "        return None",
        "    get = value.get",
    ]
    for index, (name, check, dotted, exact) in enumerate(entries):
        scope[f"c{index}"] = check
        scope[f"e{index}"] = exact
        fetch = f"lookup(value, {name!r})" if dotted else f"get({name!r}, MISSING)"
        lines += [
            f"    item = {fetch}",
            f"    if item is not MISSING and type(item) not in e{index}:",
            f"        problem = c{index}(item)",
            "        if problem is not None:",
            "            return problem",
        ]
    lines.append("    return None")
    exec(compile("\n".join(lines), "<seed properties check>", "exec"), scope)  # noqa: S102
    rule: Check = scope["properties_rule"]
    return rule


def _allowed_properties_rule(schema: Mapping[str, Any], names: set[str], path: str) -> Check:
    patterns = []
    pattern_spec = schema.get("patternProperties", {})
    if not is_object(pattern_spec):
        raise SchemaProblem(path, "patternProperties must be a document of schemas")
    for source, subschema in pattern_spec.items():
        patterns.append(
            (
                compile_pattern(source, path).search,
                compile_schema(subschema, join(path, f"/{source}/")),
            )
        )
    additional = schema.get("additionalProperties", True)
    additional_check: Check | None = None
    if is_object(additional):
        additional_check = compile_schema(additional, join(path, "*"))
    elif not isinstance(additional, bool):
        raise SchemaProblem(path, "additionalProperties must be a schema or true/false")
    known = frozenset(names)
    pattern_list = tuple(patterns)

    def check(value: Any) -> str | None:
        if not is_object(value):
            return None
        for key, item in value.items():
            matched = False
            for search, pattern_check in pattern_list:
                if search(key) is not None:
                    matched = True
                    problem = pattern_check(item)
                    if problem is not None:
                        return problem
            if matched or key in known:
                continue
            if additional is False:
                return f"{where(join(path, key))}: not allowed (additionalProperties is false)"
            if additional_check is not None:
                problem = additional_check(item)
                if problem is not None:
                    return f"{where(join(path, key))}: {problem.split(': ', 1)[-1]}"
        return None

    return check


def _dependencies_rule(spec: Any, path: str, top_level: bool) -> Check:
    if not is_object(spec):
        raise SchemaProblem(path, "dependencies must be a document")
    dependencies: list[tuple[str, Any]] = []
    for name, then in spec.items():
        if is_object(then):
            dependencies.append((name, compile_schema(then, path, top_level=top_level)))
        elif is_array(then) and then and all(isinstance(needed, str) for needed in then):
            dependencies.append((name, tuple(then)))
        elif name in ("title", "description") and isinstance(then, str):
            continue
        else:
            raise SchemaProblem(path, f"dependencies.{name} must be a schema or a list of names")

    def check(value: Any) -> str | None:
        if not is_object(value):
            return None
        for name, then in dependencies:
            if lookup(value, name) is MISSING:
                continue
            if isinstance(then, tuple):
                for needed in then:
                    if lookup(value, needed) is MISSING:
                        return f"{where(join(path, needed))}: required when {name!r} is present"
            else:
                problem = then(value)
                if problem is not None:
                    return problem
        return None

    return check


def _logical_rules(schema: Mapping[str, Any], path: str, top_level: bool) -> list[Check]:
    rules: list[Check] = []
    label = f"{where(path)}: "
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword not in schema:
            continue
        checks = tuple(
            compile_schema(entry, path, top_level=top_level) for entry in schema[keyword]
        )
        if keyword == "allOf":
            rules.extend(checks)
        elif keyword == "anyOf":

            def any_rule(value: Any, checks: tuple[Check, ...] = checks) -> str | None:
                first = None
                for check in checks:
                    problem = check(value)
                    if problem is None:
                        return None
                    first = first or problem
                return label + f"matches none of the anyOf schemas (first: {first})"

            rules.append(any_rule)
        else:

            def one_rule(value: Any, checks: tuple[Check, ...] = checks) -> str | None:
                matching = [index for index, check in enumerate(checks) if check(value) is None]
                if len(matching) == 1:
                    return None
                if not matching:
                    return label + "matches none of the oneOf schemas"
                return label + f"matches more than one oneOf schema ({matching})"

            rules.append(one_rule)
    if "not" in schema:
        negated = compile_schema(schema["not"], path, top_level=top_level)

        def not_rule(value: Any) -> str | None:
            if negated(value) is None:
                return label + f"{show(value)} matches the schema under 'not'"
            return None

        rules.append(not_rule)
    return rules
