"""Collection validators as MongoDB 7.0 parses and applies them.

Two entry points for the test server:

* ``check_validator(validator)`` raises CommandError exactly where ``create`` /
  ``collMod`` refuse a validator (unknown or unsupported ``$jsonSchema``
  keywords, wrong keyword types, ``$where``/``$text``/``$near``...).
* ``validate_document(validator, document)`` returns None when the document
  passes, else the ``details`` document of the 121 write error's ``errInfo``,
  built the way mongod's doc_validation_error.cpp builds it.

Sources read (repository mongodb/mongo): src/mongo/db/matcher/schema/
json_schema_parser.cpp (keywords, order in which a schema's rules are tried,
parse error texts), src/mongo/db/matcher/doc_validation_error.cpp (error
shapes), doc_validation_error_test.cpp and doc_validation_error_json_schema_test.cpp
(expected errors), jstests/core/doc_validation/*.js, database_impl.cpp
(``create`` returns the parser's error as is) and collection_impl.cpp
(``collMod`` prefixes "Parsing of collection validator failed").

A ``$jsonSchema`` is compiled once per validator (cached on the validator's
BSON bytes). Query operators outside ``$jsonSchema`` are matched with
mongomock's filtering, except where mongomock has no implementation
(``$type`` aliases, ``$mod``, bit tests, Decimal128 comparisons), which this
module evaluates itself.
"""

from __future__ import annotations

import datetime
import math
import re
import uuid
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation, localcontext
from fractions import Fraction
from typing import Any

import bson
import mongomock.aggregate  # noqa: F401  (registers $expr support in mongomock.filtering)
from bson import DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.binary import Binary
from bson.code import Code
from bson.datetime_ms import DatetimeMS
from mongomock import filtering as _mm_filtering
from sentinels import NOTHING as _MM_NOTHING

from tests.support.errors import CommandError

__all__ = [
    "MISSING",
    "UNDEFINED",
    "bson_type_name",
    "canonical_value",
    "check_validator",
    "document_matches",
    "parse_filter",
    "render_bson",
    "validate_document",
]


# --------------------------------------------------------------------------
# BSON values: type names, equality, rendering
# --------------------------------------------------------------------------


class _Missing:
    """A path that is absent from a document (BSON EOO)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


class _Undefined:
    """BSON undefined, which has no Python type (index keys of empty arrays)."""

    _instance: _Undefined | None = None

    def __new__(cls) -> _Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"


MISSING: Any = _Missing()
UNDEFINED: Any = _Undefined()

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_NUMBER_TYPES = frozenset({"int", "long", "double", "decimal"})
_REGEX_FLAG_LETTERS = (
    (re.IGNORECASE, "i"),
    (re.LOCALE, "l"),
    (re.MULTILINE, "m"),
    (re.DOTALL, "s"),
    (re.UNICODE, "u"),
    (re.VERBOSE, "x"),
)
_RE_PATTERN = type(re.compile(""))
_EPOCH_NAIVE = datetime.datetime(1970, 1, 1)


def _is_document(value: Any) -> bool:
    return isinstance(value, Mapping)


def _is_array(value: Any) -> bool:
    return isinstance(value, (list, tuple))


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float, Decimal128))) and not isinstance(value, bool)


def bson_type_name(value: Any) -> str:
    """Return the BSON type alias of a decoded Python value (``typeName`` in mongod).

    bool is "bool" (never a number); a plain int is "int" when it fits in 32
    bits and "long" otherwise; Int64 is "long".
    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, Int64):
        return "long"
    if isinstance(value, int):
        return "int" if INT32_MIN <= value <= INT32_MAX else "long"
    if isinstance(value, float):
        return "double"
    if isinstance(value, Code):  # a str subclass
        return "javascript" if value.scope is None else "javascriptWithScope"
    if isinstance(value, str):
        return "string"
    if isinstance(value, DBRef):
        return "object"  # a DBRef is stored as an embedded document
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, ObjectId):
        return "objectId"
    if isinstance(value, (bytes, Binary, uuid.UUID)):
        return "binData"
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        return "date"
    if isinstance(value, Decimal128):
        return "decimal"
    if isinstance(value, (Regex, _RE_PATTERN)):
        return "regex"
    if isinstance(value, Timestamp):
        return "timestamp"
    if isinstance(value, MinKey):
        return "minKey"
    if isinstance(value, MaxKey):
        return "maxKey"
    if isinstance(value, Code):
        return "javascript" if value.scope is None else "javascriptWithScope"
    raise TypeError(f"no BSON type for {type(value).__name__}")


def _regex_flags_text(flags: int | str) -> str:
    if isinstance(flags, str):
        return "".join(sorted(flags))
    return "".join(letter for bit, letter in _REGEX_FLAG_LETTERS if flags & bit)


def _regex_parts(value: Any) -> tuple[str, str]:
    if isinstance(value, Regex):
        return str(value.pattern), _regex_flags_text(value.flags)
    # Python adds re.UNICODE to every str pattern; it is not a flag the user gave.
    return value.pattern, _regex_flags_text(value.flags & ~re.UNICODE)


def datetime_to_millis(value: Any) -> int:
    """Milliseconds since the epoch of a datetime (naive means UTC) or DatetimeMS."""
    if isinstance(value, DatetimeMS):
        return int(value)
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    delta = value - _EPOCH_NAIVE
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def _numeric_key(value: Any) -> Any:
    """A hashable key under which numbers MongoDB deems equal collide (1 == 1.0 == 1L)."""
    if isinstance(value, Decimal128):
        value = value.to_decimal()
        if value.is_nan():
            return "nan"
        if value.is_infinite():
            return "+inf" if value > 0 else "-inf"
        if value == value.to_integral_value():
            return int(value)
        return Fraction(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "+inf" if value > 0 else "-inf"
        if value.is_integer():
            return int(value)
        return Fraction(value)
    return int(value)


def canonical_value(value: Any, *, unordered: bool = False) -> Any:
    """Return a hashable form of a BSON value such that equal values (as mongod compares
    them) give equal forms: numbers by value across int/long/double/decimal, documents
    field by field (in order, or regardless of order when ``unordered``), arrays
    element by element. Missing and null are distinct here; callers that want the
    index semantics (missing indexes as null) map MISSING to None first.
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float, Decimal128)):
        return ("n", _numeric_key(value))
    if isinstance(value, Code):  # a str subclass
        if value.scope is None:
            return ("code", str(value))
        return ("cws", str(value), canonical_value(value.scope, unordered=unordered))
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, DBRef):
        value = value.as_doc()
    if isinstance(value, Mapping):
        items = tuple((str(k), canonical_value(v, unordered=unordered)) for k, v in value.items())
        return ("o", tuple(sorted(items)) if unordered else items)
    if isinstance(value, (list, tuple)):
        return ("a", tuple(canonical_value(v, unordered=unordered) for v in value))
    if value is None:
        return ("null",)
    if value is UNDEFINED:
        return ("undefined",)
    if value is MISSING:
        return ("missing",)
    if isinstance(value, ObjectId):
        return ("oid", value.binary)
    if isinstance(value, Binary):
        return ("bin", value.subtype, bytes(value))
    if isinstance(value, bytes):
        return ("bin", 0, value)
    if isinstance(value, uuid.UUID):
        return ("bin", 4, value.bytes)
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        return ("date", datetime_to_millis(value))
    if isinstance(value, (Regex, _RE_PATTERN)):
        return ("re",) + _regex_parts(value)
    if isinstance(value, Timestamp):
        return ("ts", value.time, value.inc)
    if isinstance(value, MinKey):
        return ("minkey",)
    if isinstance(value, MaxKey):
        return ("maxkey",)
    if isinstance(value, Code):
        if value.scope is None:
            return ("code", str(value))
        return ("cws", str(value), canonical_value(value.scope, unordered=unordered))
    raise TypeError(f"no BSON type for {type(value).__name__}")


def bson_equal(left: Any, right: Any, *, unordered: bool = False) -> bool:
    """True when mongod's comparator deems two values equal."""
    return canonical_value(left, unordered=unordered) == canonical_value(right, unordered=unordered)


def _double_nice(value: float) -> str:
    # StringBuilder::appendDoubleNice: "%.16g", then ".0" unless the text has '.', 'E' or
    # 'N'. Lower-case 'e' from %g is not checked, so 1e+20 renders as "1e+20.0".
    # UNCONFIRMED: the exact test characters were recalled, not read.
    text = f"{value:.16g}"
    if "." not in text and "E" not in text and "N" not in text:
        text += ".0"
    return text


def render_bson(value: Any, *, full: bool = False) -> str:
    """Render a value as BSONObj/BSONElement::toString does (``{ a: 1, b: "x" }``).

    Strings are written between double quotes without escaping; with ``full`` False
    (what ``operator<<`` uses) strings over 160 bytes are cut to 150 bytes and "...".
    """
    if isinstance(value, DBRef):
        value = value.as_doc()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        inner = ", ".join(f"{key}: {render_bson(item, full=full)}" for key, item in value.items())
        return "{ " + inner + " }"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        return "[ " + ", ".join(render_bson(item, full=full) for item in value) + " ]"
    if value is None:
        return "null"
    if value is UNDEFINED:
        return "undefined"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _double_nice(value)
    if isinstance(value, Code):  # a str subclass
        if value.scope is None:
            return str(value)
        return f"CodeWScope( {value}, {render_bson(value.scope, full=full)})"
    if isinstance(value, str):
        raw = value.encode("utf-8")
        if not full and len(raw) + 1 > 160:
            return '"' + raw[:150].decode("utf-8", "ignore") + '..."'
        return '"' + value + '"'
    if isinstance(value, Decimal128):
        return str(value)
    if isinstance(value, ObjectId):
        return f"ObjectId('{value}')"
    if isinstance(value, uuid.UUID):
        return f'UUID("{value}")'
    if isinstance(value, (Binary, bytes)):
        subtype = value.subtype if isinstance(value, Binary) else 0
        data = bytes(value)
        if subtype == 4 and len(data) == 16:
            return f'UUID("{uuid.UUID(bytes=data)}")'
        if not full and len(data) > 80:
            return f"BinData({subtype}, {data[:70].hex().upper()}...)"
        return f"BinData({subtype}, {data.hex().upper()})"
    if isinstance(value, (datetime.datetime, DatetimeMS)):
        return f"new Date({datetime_to_millis(value)})"
    if isinstance(value, (Regex, _RE_PATTERN)):
        pattern, flags = _regex_parts(value)
        return f"/{pattern}/{flags}"
    if isinstance(value, Timestamp):
        # UNCONFIRMED: 7.0's exact Timestamp rendering in toString.
        return f"Timestamp({value.time}, {value.inc})"
    if isinstance(value, MinKey):
        return "MinKey"
    if isinstance(value, MaxKey):
        return "MaxKey"
    if isinstance(value, Code):
        if value.scope is None:
            return str(value)
        return f"CodeWScope( {value}, {render_bson(value.scope, full=full)})"
    return str(value)


def _element_text(name: str, value: Any) -> str:
    """BSONElement::toString() with the field name: ``minLength: 1.5``."""
    return f"{name}: {render_bson(value)}"


# --------------------------------------------------------------------------
# Paths inside documents
# --------------------------------------------------------------------------


def _child(value: Any, part: str) -> Any:
    if isinstance(value, DBRef):
        value = value.as_doc()
    if isinstance(value, Mapping):
        return value.get(part, MISSING)
    return MISSING


def _path_values(document: Any, path: str, *, expand_leaf_arrays: bool) -> list[Any] | None:
    """Values found at a dotted path, traversing arrays on the way like mongod's
    ElementPath. The leaf array is replaced by its elements when
    ``expand_leaf_arrays`` (kTraverseOmitArray), kept whole otherwise
    (kNoTraversal). Returns None when the path does not exist at all.
    """
    parts = path.split(".")
    found: list[Any] = []
    exists = False

    def walk(value: Any, index: int) -> None:
        nonlocal exists
        if index == len(parts):
            exists = True
            if expand_leaf_arrays and _is_array(value):
                found.extend(value)
            else:
                found.append(value)
            return
        part = parts[index]
        if _is_array(value):
            if part.isdigit() and int(part) < len(value):
                walk(value[int(part)], index + 1)
            for item in value:
                if _is_document(item):
                    nested = _child(item, part)
                    if nested is not MISSING:
                        walk(nested, index + 1)
            return
        nested = _child(value, part)
        if nested is not MISSING:
            walk(nested, index + 1)

    walk(document, 0)
    if not exists:
        return None
    return found


def _path_exists(document: Any, path: str) -> bool:
    return _path_values(document, path, expand_leaf_arrays=False) is not None


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


def _as_decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, float):
        # BSONElement::numberDecimal() converts a double with 15 significant digits.
        if math.isnan(value) or math.isinf(value):
            return Decimal(value)
        return Decimal(format(value, ".15g"))
    return Decimal(int(value))


def _is_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, Decimal128):
        return value.to_decimal().is_nan()
    return False


def _comparable_number(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return value


def _compare_numbers(left: Any, right: Any) -> int:
    a, b = _comparable_number(left), _comparable_number(right)
    if a < b:
        return -1
    if a > b:
        return 1
    return 0


# --------------------------------------------------------------------------
# $jsonSchema
# --------------------------------------------------------------------------

_SCHEMA_KEYWORDS = frozenset(
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
# json_schema_parser.cpp: "Explicitly unsupported JSON Schema keywords."
_UNSUPPORTED_KEYWORDS = frozenset({"$ref", "$schema", "default", "definitions", "format", "id"})

_BSON_TYPE_ALIASES = frozenset(
    {
        "double",
        "string",
        "object",
        "array",
        "binData",
        "undefined",
        "objectId",
        "bool",
        "date",
        "null",
        "regex",
        "dbPointer",
        "javascript",
        "symbol",
        "javascriptWithScope",
        "int",
        "timestamp",
        "long",
        "decimal",
        "minKey",
        "maxKey",
    }
)
_JSON_TYPE_ALIASES = {
    "array": "array",
    "boolean": "bool",
    "null": "null",
    "object": "object",
    "string": "string",
}


def _fail(code: int, message: str) -> CommandError:
    return CommandError(code, message)


def _bson_type_of_parse_arg(value: Any) -> str:
    try:
        return bson_type_name(value)
    except TypeError:
        return type(value).__name__


class _TypeSet:
    """MatcherTypeSet: named BSON types plus the "number" flag."""

    __slots__ = ("all_numbers", "types")

    def __init__(self, types: frozenset[str], all_numbers: bool) -> None:
        self.types = types
        self.all_numbers = all_numbers

    def is_single(self) -> bool:
        if self.all_numbers:
            return not self.types
        return len(self.types) == 1

    def single_type(self) -> str:
        # The "number" case uses NumberInt as a stand-in, as mongod does.
        return "int" if self.all_numbers else next(iter(self.types))

    def has_type(self, name: str) -> bool:
        if self.all_numbers and name in _NUMBER_TYPES:
            return True
        return name in self.types

    def matches(self, value: Any) -> bool:
        if value is MISSING:
            return False
        return self.has_type(bson_type_name(value))


def _parse_type_set(keyword: str, spec: Any) -> _TypeSet:
    if not isinstance(spec, (str, list, tuple)):
        raise _fail(
            14, f"$jsonSchema keyword '{keyword}' must be either a string or an array of strings"
        )
    aliases: list[str] = []
    if isinstance(spec, str):
        if spec == "integer":
            raise _fail(9, "$jsonSchema type 'integer' is not currently supported.")
        aliases.append(spec)
    else:
        for entry in spec:
            if not isinstance(entry, str):
                raise _fail(14, f"$jsonSchema keyword '{keyword}' array elements must be strings")
            if entry == "integer":
                raise _fail(9, "$jsonSchema type 'integer' is not currently supported.")
            if entry in aliases:
                raise _fail(9, f"$jsonSchema keyword '{keyword}' has duplicate value: {entry}")
            aliases.append(entry)
    types: set[str] = set()
    all_numbers = False
    for alias in aliases:
        if alias == "number":
            all_numbers = True
        elif keyword == "bsonType" and alias in _BSON_TYPE_ALIASES:
            types.add(alias)
        elif keyword == "type" and alias in _JSON_TYPE_ALIASES:
            types.add(_JSON_TYPE_ALIASES[alias])
        else:
            # MatcherTypeSet::fromStringAliases. UNCONFIRMED exact text for the
            # JSON "type" keyword (it uses the same helper with another alias map).
            raise _fail(2, f"Unknown type name alias: {alias}")
    type_set = _TypeSet(frozenset(types), all_numbers)
    if not type_set.types and not type_set.all_numbers:
        raise _fail(9, f"$jsonSchema keyword '{keyword}' must name at least one type")
    return type_set


def _parse_non_negative_integer(name: str, value: Any) -> int:
    """MatchExpressionParser::parseIntegerElementToNonNegativeLong."""
    # UNCONFIRMED: texts recalled from expression_parser.cpp, not read in this session.
    if not _is_number(value):
        raise _fail(9, f"Expected a number in: {_element_text(name, value)}")
    decimal_value = _as_decimal(value)
    if decimal_value.is_nan() or decimal_value.is_infinite():
        raise _fail(9, f"Expected an integer: {_element_text(name, value)}")
    if decimal_value != decimal_value.to_integral_value():
        raise _fail(9, f"Expected an integer: {_element_text(name, value)}")
    number = int(decimal_value)
    if number < -(2**63) or number >= 2**63:
        raise _fail(9, f"Cannot represent as a 64-bit integer: {_element_text(name, value)}")
    if number < 0:
        raise _fail(9, f"Expected a positive number in: {_element_text(name, value)}")
    return number


def _compile_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as error:
        # Python's re stands in for PCRE; the message after the colon is Python's.
        # UNCONFIRMED: code 51091 and the prefix are recalled from RegexMatchExpression.
        raise _fail(51091, f"Regular expression is invalid: {error}") from None


def _schema_annotations(schema: Mapping[str, Any]) -> dict[str, str]:
    """title/description of a (sub)schema, as ErrorAnnotation::SchemaAnnotations keeps them."""
    found: dict[str, str] = {}
    title = schema.get("title")
    if isinstance(title, str):
        found["title"] = title
    description = schema.get("description")
    if isinstance(description, str):
        found["description"] = description
    return found


# Guard modes of a restriction keyword (json_schema_parser.cpp makeRestriction):
_IGNORE = 0  # the schema's single stated type differs: the keyword never applies
_GUARDED = 1  # no single stated type: values of other types (and missing) pass
_UNGUARDED = 2  # the stated type is the restriction's type: other values fail


def _guard_mode(stated: _TypeSet | None, restriction: str) -> int:
    if stated is not None and stated.is_single():
        if restriction == "number":
            return _UNGUARDED if stated.single_type() in _NUMBER_TYPES else _IGNORE
        return _UNGUARDED if stated.single_type() == restriction else _IGNORE
    return _GUARDED


def _value_has_kind(value: Any, kind: str) -> bool:
    if value is MISSING:
        return False
    if kind == "number":
        return _is_number(value)
    if kind == "string":
        return isinstance(value, str)
    if kind == "array":
        return _is_array(value)
    if kind == "object":
        return _is_document(value)
    return False


class _Rule:
    """One keyword of a schema: ``matches`` and, when it fails, ``errors``."""

    kind = ""  # the restriction type ("number", "string", "array", "object")
    mode = _GUARDED

    def matches(self, value: Any) -> bool:
        if self.mode == _IGNORE:
            return True
        if not _value_has_kind(value, self.kind):
            return self.mode == _GUARDED
        return self.test(value)

    def test(self, value: Any) -> bool:  # value has the restriction's type
        raise NotImplementedError

    def errors(self, value: Any) -> list[dict[str, Any]]:
        # A keyword explains its own failure only for a value of its type; a
        # missing value or another type is explained by 'required' / 'type'.
        if self.mode == _IGNORE or not _value_has_kind(value, self.kind):
            return []
        return self.explain(value)

    def explain(self, value: Any) -> list[dict[str, Any]]:
        raise NotImplementedError


class _PatternRule(_Rule):
    kind = "string"

    def __init__(self, source: str, mode: int) -> None:
        self.source = source
        self.regex = _compile_pattern(source)
        self.mode = mode

    def test(self, value: Any) -> bool:
        return self.regex.search(value) is not None

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": "pattern",
                "specifiedAs": {"pattern": self.source},
                "reason": "regular expression did not match",
                "consideredValue": value,
            }
        ]


class _LengthRule(_Rule):
    def __init__(self, keyword: str, spec: Any, limit: int, mode: int) -> None:
        self.keyword = keyword
        self.spec = spec
        self.limit = limit
        self.mode = mode
        self.kind = "string" if keyword.endswith("Length") else "array"
        self.is_min = keyword.startswith("min")

    def test(self, value: Any) -> bool:
        size = len(value)  # str: code points, as mongod counts UTF-8 code points
        return size >= self.limit if self.is_min else size <= self.limit

    def explain(self, value: Any) -> list[dict[str, Any]]:
        if self.kind == "string":
            return [
                {
                    "operatorName": self.keyword,
                    "specifiedAs": {self.keyword: self.spec},
                    "reason": "specified string length was not satisfied",
                    "consideredValue": value,
                }
            ]
        return [
            {
                "operatorName": self.keyword,
                "specifiedAs": {self.keyword: self.spec},
                "reason": "array did not match specified length",
                "consideredValue": list(value),
                "numberOfItems": len(value),
            }
        ]


class _MultipleOfRule(_Rule):
    kind = "number"

    def __init__(self, spec: Any, mode: int) -> None:
        self.spec = spec
        self.divisor = _as_decimal(spec)
        self.mode = mode

    def test(self, value: Any) -> bool:
        # InternalSchemaFmodMatchExpression works in Decimal128.
        dividend = _as_decimal(value)
        if dividend.is_nan() or dividend.is_infinite():
            return False
        with localcontext() as context:
            context.prec = 34
            try:
                # Decimal's % keeps the dividend's sign, like the fmod mongod computes.
                return dividend % self.divisor == 0
            except InvalidOperation:
                return False

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": "multipleOf",
                "specifiedAs": {"multipleOf": self.spec},
                "reason": "considered value is not a multiple of the specified value",
                "consideredValue": value,
            }
        ]


class _BoundRule(_Rule):
    kind = "number"

    def __init__(self, keyword: str, bound: Any, exclusive: bool, mode: int) -> None:
        self.keyword = keyword
        self.bound = bound
        self.exclusive = exclusive
        self.mode = mode
        specified: dict[str, Any] = {keyword: bound}
        if exclusive:
            specified["exclusiveMaximum" if keyword == "maximum" else "exclusiveMinimum"] = True
        self.specified = specified

    def test(self, value: Any) -> bool:
        # ComparisonMatchExpression: NaN only equals NaN; every ordering with it is false.
        if _is_nan(value) or _is_nan(self.bound):
            return (not self.exclusive) and _is_nan(value) and _is_nan(self.bound)
        order = _compare_numbers(value, self.bound)
        if self.keyword == "maximum":
            return order < 0 if self.exclusive else order <= 0
        return order > 0 if self.exclusive else order >= 0

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": self.keyword,
                "specifiedAs": dict(self.specified),
                "reason": "comparison failed",
                "consideredValue": value,
            }
        ]


class _UniqueItemsRule(_Rule):
    kind = "array"

    def __init__(self, mode: int) -> None:
        self.mode = mode

    @staticmethod
    def first_duplicate(value: Any) -> Any:
        seen: set[Any] = set()
        for item in value:
            key = canonical_value(item, unordered=True)
            if key in seen:
                return item
            seen.add(key)
        return MISSING

    def test(self, value: Any) -> bool:
        return self.first_duplicate(value) is MISSING

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": "uniqueItems",
                "specifiedAs": {"uniqueItems": True},
                "reason": "found a duplicate item",
                "consideredValue": list(value),
                "duplicatedValue": self.first_duplicate(value),
            }
        ]


class _ItemsSchemaRule(_Rule):
    """'items': {schema} (from index 0) or 'additionalItems': {schema} (after a list)."""

    kind = "array"

    def __init__(self, keyword: str, schema: _Schema, start: int, mode: int) -> None:
        self.keyword = keyword
        self.schema = schema
        self.start = start
        self.mode = mode

    def first_failure(self, value: Any) -> int:
        for index in range(self.start, len(value)):
            if not self.schema.matches(value[index]):
                return index
        return -1

    def test(self, value: Any) -> bool:
        return self.first_failure(value) < 0

    def explain(self, value: Any) -> list[dict[str, Any]]:
        index = self.first_failure(value)
        reason = (
            "At least one item did not match the sub-schema"
            if self.keyword == "items"
            else "At least one additional item did not match the sub-schema"
        )
        error: dict[str, Any] = {"operatorName": self.keyword}
        error.update(self.schema.annotations)
        error["reason"] = reason
        error["itemIndex"] = index
        error["details"] = self.schema.errors(value[index])
        return [error]


class _ItemsListRule(_Rule):
    """'items': [schema, ...]: element i must match schema i when it exists."""

    kind = "array"

    def __init__(self, schemas: list[_Schema], mode: int) -> None:
        self.schemas = schemas
        self.mode = mode

    def test(self, value: Any) -> bool:
        return all(
            schema.matches(value[index])
            for index, schema in enumerate(self.schemas)
            if index < len(value)
        )

    def explain(self, value: Any) -> list[dict[str, Any]]:
        details = []
        for index, schema in enumerate(self.schemas):
            if index < len(value) and not schema.matches(value[index]):
                # InternalSchemaMatchArrayIndex appends its index as a 64-bit integer.
                details.append({"itemIndex": Int64(index), "details": schema.errors(value[index])})
        return [{"operatorName": "items", "details": details}]


class _AdditionalItemsFalseRule(_Rule):
    kind = "array"

    def __init__(self, start: int, mode: int) -> None:
        self.start = start
        self.mode = mode

    def test(self, value: Any) -> bool:
        return len(value) <= self.start

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": "additionalItems",
                "specifiedAs": {"additionalItems": False},
                "reason": "found additional items",
                "additionalItems": list(value[self.start :]),
            }
        ]


class _EncryptRule(_Rule):
    kind = "binData"

    def matches(self, value: Any) -> bool:
        return isinstance(value, Binary) and value.subtype == 6

    def errors(self, value: Any) -> list[dict[str, Any]]:
        if value is MISSING:
            return []
        return [{"operatorName": "encrypt", "reason": "value was not encrypted"}]


def _property_value(document: Any, name: str) -> Any:
    # A property name is a path for mongod; a literal key wins, a dotted name is then
    # looked up through sub-documents. UNCONFIRMED: arrays on a dotted property path.
    if name in document:
        return document[name]
    if "." in name:
        value: Any = document
        for part in name.split("."):
            value = _child(value, part)
            if value is MISSING:
                return MISSING
        return value
    return MISSING


class _PropertiesRule(_Rule):
    kind = "object"

    def __init__(self, properties: list[tuple[str, _Schema, bool]], mode: int) -> None:
        self.properties = properties
        self.mode = mode

    def property_matches(self, document: Any, name: str, schema: _Schema, required: bool) -> bool:
        value = _property_value(document, name)
        if value is MISSING and not required:
            return True
        return schema.matches(value)

    def test(self, value: Any) -> bool:
        return all(
            self.property_matches(value, name, schema, required)
            for name, schema, required in self.properties
        )

    def explain(self, value: Any) -> list[dict[str, Any]]:
        failing = []
        for name, schema, required in self.properties:
            if self.property_matches(value, name, schema, required):
                continue
            details = schema.errors(_property_value(value, name))
            if not details:
                # A property whose failure nothing explains (a missing required
                # property) is left to the 'required' keyword.
                continue
            entry: dict[str, Any] = {"propertyName": name}
            entry.update(schema.annotations)
            entry["details"] = details
            failing.append(entry)
        if not failing:
            return []
        return [{"operatorName": "properties", "propertiesNotSatisfied": failing}]


class _AllowedPropertiesRule(_Rule):
    """'patternProperties' and 'additionalProperties' (InternalSchemaAllowedProperties)."""

    kind = "object"

    def __init__(
        self,
        names: set[str],
        patterns: list[tuple[str, re.Pattern[str], _Schema]],
        additional: Any,
        mode: int,
    ) -> None:
        self.names = names
        self.patterns = patterns
        self.additional = additional  # None (absent), True, False or a _Schema
        self.mode = mode

    def is_additional(self, name: str) -> bool:
        if name in self.names:
            return False
        return not any(regex.search(name) for _, regex, _ in self.patterns)

    def test(self, value: Any) -> bool:
        for name, item in value.items():
            for _, regex, schema in self.patterns:
                if regex.search(name) and not schema.matches(item):
                    return False
            if self.is_additional(name):
                if self.additional is False:
                    return False
                if isinstance(self.additional, _Schema) and not self.additional.matches(item):
                    return False
        return True

    def explain(self, value: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        additional = [name for name in value if self.is_additional(name)]
        if self.additional is False and additional:
            found.append(
                {
                    "operatorName": "additionalProperties",
                    "specifiedAs": {"additionalProperties": False},
                    "additionalProperties": additional,
                }
            )
        elif isinstance(self.additional, _Schema):
            for name in additional:
                if not self.additional.matches(value[name]):
                    error: dict[str, Any] = {"operatorName": "additionalProperties"}
                    error.update(self.additional.annotations)
                    error["reason"] = "at least one additional property did not match the subschema"
                    error["failingProperty"] = name
                    error["details"] = self.additional.errors(value[name])
                    found.append(error)
                    break
        pattern_errors = []
        for source, regex, schema in self.patterns:
            for name, item in value.items():
                if regex.search(name) and not schema.matches(item):
                    entry: dict[str, Any] = {"propertyName": name}
                    entry.update(schema.annotations)
                    entry["regexMatched"] = source
                    entry["details"] = schema.errors(item)
                    pattern_errors.append(entry)
                    break
        if pattern_errors:
            found.append({"operatorName": "patternProperties", "details": pattern_errors})
        return found


class _RequiredRule(_Rule):
    kind = "object"

    def __init__(self, names: list[str], spec: Any, mode: int) -> None:
        self.names = sorted(names)  # translateRequired sorts the properties
        self.spec = spec
        self.mode = mode

    def missing(self, document: Any) -> list[str]:
        return [name for name in self.names if not _path_exists(document, name)]

    def test(self, value: Any) -> bool:
        return not self.missing(value)

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": "required",
                "specifiedAs": {"required": self.spec},
                "missingProperties": self.missing(value),
            }
        ]


class _PropertyCountRule(_Rule):
    kind = "object"

    def __init__(self, keyword: str, spec: Any, limit: int, mode: int) -> None:
        self.keyword = keyword
        self.spec = spec
        self.limit = limit
        self.mode = mode

    def test(self, value: Any) -> bool:
        count = len(value)
        return count >= self.limit if self.keyword == "minProperties" else count <= self.limit

    def explain(self, value: Any) -> list[dict[str, Any]]:
        return [
            {
                "operatorName": self.keyword,
                "specifiedAs": {self.keyword: self.spec},
                "reason": "specified number of properties was not satisfied",
                "numberOfProperties": len(value),
            }
        ]


class _DependenciesRule(_Rule):
    """Not a restriction: a non-object value simply has no conditional property."""

    kind = "object"

    def __init__(self, dependencies: list[tuple[str, Any]], annotations: dict[str, str]) -> None:
        self.dependencies = dependencies  # (name, list of names | _Schema)
        self.annotations = annotations
        self.mode = _GUARDED

    def dependency_fails(self, document: Any, name: str, then: Any) -> bool:
        if not _path_exists(document, name):
            return False
        if isinstance(then, _Schema):
            return not then.matches(document)
        return any(not _path_exists(document, needed) for needed in then)

    def test(self, value: Any) -> bool:
        return not any(self.dependency_fails(value, name, then) for name, then in self.dependencies)

    def explain(self, value: Any) -> list[dict[str, Any]]:
        failing = []
        for name, then in self.dependencies:
            if not self.dependency_fails(value, name, then):
                continue
            if isinstance(then, _Schema):
                failing.append({"conditionalProperty": name, "details": then.errors(value)})
            else:
                missing = [needed for needed in then if not _path_exists(value, needed)]
                failing.append({"conditionalProperty": name, "missingProperties": missing})
        error: dict[str, Any] = {"operatorName": "dependencies"}
        error.update(self.annotations)
        error["failingDependencies"] = failing
        return [error]


class _LogicalRule(_Rule):
    """allOf / anyOf / oneOf / not: they apply to any value, missing included."""

    def __init__(self, keyword: str, schemas: list[_Schema]) -> None:
        self.keyword = keyword
        self.schemas = schemas

    def matches(self, value: Any) -> bool:
        results = (schema.matches(value) for schema in self.schemas)
        if self.keyword == "allOf":
            return all(results)
        if self.keyword == "anyOf":
            return any(results)
        if self.keyword == "oneOf":
            return sum(1 for result in results if result) == 1
        return not self.schemas[0].matches(value)  # not

    def clauses(self, value: Any, only_failing: bool) -> list[dict[str, Any]]:
        listed = []
        for index, schema in enumerate(self.schemas):
            if only_failing and schema.matches(value):
                continue
            entry: dict[str, Any] = {"index": index}
            entry.update(schema.annotations)
            entry["details"] = schema.errors(value)
            listed.append(entry)
        return listed

    def errors(self, value: Any) -> list[dict[str, Any]]:
        if self.keyword == "not":
            return [{"operatorName": "not", "reason": "child expression matched"}]
        if self.keyword == "oneOf":
            matching = [index for index, schema in enumerate(self.schemas) if schema.matches(value)]
            if len(matching) > 1:
                return [
                    {
                        "operatorName": "oneOf",
                        "reason": "more than one subschema matched",
                        "matchingSchemaIndexes": matching,
                    }
                ]
            return [{"operatorName": "oneOf", "schemasNotSatisfied": self.clauses(value, False)}]
        if self.keyword == "anyOf":
            return [{"operatorName": "anyOf", "schemasNotSatisfied": self.clauses(value, False)}]
        return [{"operatorName": "allOf", "schemasNotSatisfied": self.clauses(value, True)}]


class _EnumRule(_Rule):
    def __init__(self, spec: list[Any], top_level: bool) -> None:
        self.spec = spec
        self.top_level = top_level
        candidates = [item for item in spec if _is_document(item)] if top_level else spec
        self.keys = {canonical_value(item, unordered=True) for item in candidates}
        self.always_false = not candidates

    def matches(self, value: Any) -> bool:
        if value is MISSING:
            return False
        return canonical_value(value, unordered=True) in self.keys

    def errors(self, value: Any) -> list[dict[str, Any]]:
        if self.always_false:
            return [
                {
                    "operatorName": "enum",
                    "specifiedAs": {"enum": self.spec},
                    "reason": "expression always evaluates to false",
                }
            ]
        if value is MISSING:
            return []
        return [
            {
                "operatorName": "enum",
                "specifiedAs": {"enum": self.spec},
                "reason": "value was not found in enum",
                "consideredValue": value,
            }
        ]


class _TypeRule(_Rule):
    def __init__(self, keyword: str, spec: Any, type_set: _TypeSet) -> None:
        self.keyword = keyword
        self.spec = spec
        self.type_set = type_set

    def matches(self, value: Any) -> bool:
        return self.type_set.matches(value)

    def errors(self, value: Any) -> list[dict[str, Any]]:
        if value is MISSING:
            return []
        return [
            {
                "operatorName": self.keyword,
                "specifiedAs": {self.keyword: self.spec},
                "reason": "type did not match",
                "consideredValue": value,
                "consideredType": bson_type_name(value),
            }
        ]


class _Schema:
    """A compiled (sub)schema: its rules in the order mongod adds them to its AND."""

    def __init__(self, raw: Mapping[str, Any], top_level: bool) -> None:
        self.raw = raw
        self.top_level = top_level
        self.annotations = _schema_annotations(raw)
        self.rules: list[_Rule] = []
        # Set when a top-level schema names a type other than object: it matches nothing.
        self.always_false = False

    def matches(self, value: Any) -> bool:
        if self.always_false:
            return False
        return all(rule.matches(value) for rule in self.rules)

    def errors(self, value: Any) -> list[dict[str, Any]]:
        if self.always_false:
            return [
                {
                    "operatorName": "$jsonSchema",
                    "specifiedAs": {"$jsonSchema": self.raw},
                    "reason": "expression always evaluates to false",
                }
            ]
        found: list[dict[str, Any]] = []
        for rule in self.rules:
            if not rule.matches(value):
                found.extend(rule.errors(value))
        return found


def _compile_schema(schema: Mapping[str, Any], top_level: bool) -> _Schema:
    for name in schema:
        if name not in _SCHEMA_KEYWORDS:
            if name in _UNSUPPORTED_KEYWORDS:
                raise _fail(9, f"$jsonSchema keyword '{name}' is not currently supported")
            raise _fail(9, f"Unknown $jsonSchema keyword: {name}")
    # BSON cannot hold a duplicated keyword once decoded into a dict, so mongod's
    # "Duplicate $jsonSchema keyword" cannot arise here.
    for keyword in ("description", "title"):
        if keyword in schema and not isinstance(schema[keyword], str):
            raise _fail(14, f"$jsonSchema keyword '{keyword}' must be of type string")

    if "type" in schema and "bsonType" in schema:
        raise _fail(9, "Cannot specify both $jsonSchema keywords 'type' and 'bsonType'")
    for keyword in ("type", "bsonType"):
        if keyword in schema and "encrypt" in schema:
            raise _fail(
                9,
                f"$jsonSchema keyword 'encrypt' cannot be used in conjunction with '{keyword}', "
                "'encrypt' implies type 'bsonType::BinData'",
            )

    stated: _TypeSet | None = None
    type_keyword = None
    if "type" in schema:
        type_keyword = "type"
        stated = _parse_type_set("type", schema["type"])
    elif "bsonType" in schema:
        type_keyword = "bsonType"
        stated = _parse_type_set("bsonType", schema["bsonType"])
    elif "encrypt" in schema:
        stated = _TypeSet(frozenset({"binData"}), False)

    compiled = _Schema(schema, top_level)
    rules = compiled.rules

    # Scalar keywords (translateScalarKeywords). At the top level they have no effect:
    # mongod stores only objects.
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            raise _fail(14, "$jsonSchema keyword 'pattern' must be a string")
        if not top_level:
            rules.append(_PatternRule(schema["pattern"], _guard_mode(stated, "string")))
    for keyword in ("maxLength", "minLength"):
        if keyword in schema:
            limit = _parse_non_negative_integer(keyword, schema[keyword])
            if not top_level:
                rules.append(
                    _LengthRule(keyword, schema[keyword], limit, _guard_mode(stated, "string"))
                )
    if "multipleOf" in schema:
        spec = schema["multipleOf"]
        if not _is_number(spec):
            raise _fail(14, "$jsonSchema keyword 'multipleOf' must be a number")
        divisor = _as_decimal(spec)
        if divisor.is_nan() or divisor <= 0:
            raise _fail(9, "$jsonSchema keyword 'multipleOf' must have a positive value")
        if not top_level:
            rules.append(_MultipleOfRule(spec, _guard_mode(stated, "number")))
    for keyword, exclusive_keyword in (
        ("maximum", "exclusiveMaximum"),
        ("minimum", "exclusiveMinimum"),
    ):
        if keyword in schema:
            exclusive = False
            if exclusive_keyword in schema:
                if not isinstance(schema[exclusive_keyword], bool):
                    raise _fail(14, f"$jsonSchema keyword '{exclusive_keyword}' must be a boolean")
                exclusive = schema[exclusive_keyword]
            if not _is_number(schema[keyword]):
                raise _fail(14, f"$jsonSchema keyword '{keyword}' must be a number")
            if not top_level:
                rules.append(
                    _BoundRule(keyword, schema[keyword], exclusive, _guard_mode(stated, "number"))
                )
        elif exclusive_keyword in schema:
            raise _fail(
                9,
                f"$jsonSchema keyword '{keyword}' must be a present if {exclusive_keyword} is "
                "present",
            )

    # Array keywords (translateArrayKeywords).
    array_mode = _guard_mode(stated, "array")
    for keyword in ("minItems", "maxItems"):
        if keyword in schema:
            limit = _parse_non_negative_integer(keyword, schema[keyword])
            if not top_level:
                rules.append(_LengthRule(keyword, schema[keyword], limit, array_mode))
    if "uniqueItems" in schema:
        if not isinstance(schema["uniqueItems"], bool):
            raise _fail(14, "$jsonSchema keyword 'uniqueItems' must be a boolean")
        if schema["uniqueItems"] and not top_level:
            rules.append(_UniqueItemsRule(array_mode))
    additional_items_start: int | None = None
    if "items" in schema:
        items = schema["items"]
        if _is_array(items):
            subschemas = []
            for entry in items:
                if not _is_document(entry):
                    raise _fail(
                        14,
                        "$jsonSchema keyword 'items' requires that each element of the array is "
                        f"an object, but found a {_bson_type_of_parse_arg(entry)}",
                    )
                subschemas.append(_compile_schema(entry, False))
            additional_items_start = len(subschemas)
            if not top_level and subschemas:
                rules.append(_ItemsListRule(subschemas, array_mode))
        elif _is_document(items):
            subschema = _compile_schema(items, False)
            if not top_level:
                rules.append(_ItemsSchemaRule("items", subschema, 0, array_mode))
        else:
            raise _fail(
                14,
                "$jsonSchema keyword 'items' must be an array or an object, not "
                f"{_bson_type_of_parse_arg(items)}",
            )
    if "additionalItems" in schema:
        additional_items = schema["additionalItems"]
        if isinstance(additional_items, bool):
            additional_schema: Any = additional_items
        elif _is_document(additional_items):
            additional_schema = _compile_schema(additional_items, False)
        else:
            raise _fail(
                14,
                "$jsonSchema keyword 'additionalItems' must be either an object or a boolean, "
                f"but got a {_bson_type_of_parse_arg(additional_items)}",
            )
        # Without an 'items' array there is nothing "additional": mongod adds no rule.
        if additional_items_start is not None and not top_level:
            if additional_schema is False:
                rules.append(_AdditionalItemsFalseRule(additional_items_start, array_mode))
            elif isinstance(additional_schema, _Schema):
                rules.append(
                    _ItemsSchemaRule(
                        "additionalItems", additional_schema, additional_items_start, array_mode
                    )
                )

    # Encryption keywords.
    if "encrypt" in schema and "encryptMetadata" in schema:
        raise _fail(9, "Cannot specify both $jsonSchema keywords 'encrypt' and 'encryptMetadata'")
    if "encryptMetadata" in schema:
        if not _is_document(schema["encryptMetadata"]):
            raise _fail(14, "$jsonSchema keyword 'encryptMetadata' must be an object ")
        if not schema["encryptMetadata"]:
            raise _fail(9, "$jsonSchema keyword 'encryptMetadata' cannot be an empty object ")
    if "encrypt" in schema:
        if not _is_document(schema["encrypt"]):
            raise _fail(14, "$jsonSchema keyword 'encrypt' must be an object ")
        if not top_level:
            rules.append(_EncryptRule())

    # Object keywords (translateObjectKeywords).
    object_mode = _GUARDED if top_level else _guard_mode(stated, "object")
    required: list[str] = []
    if "required" in schema:
        spec = schema["required"]
        if not _is_array(spec):
            raise _fail(
                14,
                "$jsonSchema keyword 'required' must be an array, but found an element of type "
                f"{_bson_type_of_parse_arg(spec)}",
            )
        for name in spec:
            if not isinstance(name, str):
                raise _fail(
                    14,
                    "$jsonSchema keyword 'required' must be an array of strings, but found an "
                    f"element of type: {_bson_type_of_parse_arg(name)}",
                )
            if name in required:
                raise _fail(
                    9, "$jsonSchema keyword 'required' array cannot contain duplicate values"
                )
            required.append(name)
        if not required:
            raise _fail(9, "$jsonSchema keyword 'required' cannot be an empty array")
    property_names: list[str] = []
    if "properties" in schema:
        properties = schema["properties"]
        if not _is_document(properties):
            raise _fail(14, "$jsonSchema keyword 'properties' must be an object")
        compiled_properties = []
        for name, subschema in properties.items():
            if not _is_document(subschema):
                raise _fail(
                    14, f"Nested schema for $jsonSchema property '{name}' must be an object"
                )
            compiled_properties.append((name, _compile_schema(subschema, False), name in required))
            property_names.append(name)
        if object_mode != _IGNORE:
            rules.append(_PropertiesRule(compiled_properties, object_mode))
    if "patternProperties" in schema or "additionalProperties" in schema:
        patterns = []
        if "patternProperties" in schema:
            pattern_spec = schema["patternProperties"]
            if not _is_document(pattern_spec):
                raise _fail(14, "$jsonSchema keyword 'patternProperties' must be an object")
            for source, subschema in pattern_spec.items():
                if not _is_document(subschema):
                    raise _fail(
                        14,
                        f"$jsonSchema keyword 'patternProperties' has property '{source}' which is "
                        "not an object",
                    )
                patterns.append(
                    (source, _compile_pattern(source), _compile_schema(subschema, False))
                )
        additional: Any = None
        if "additionalProperties" in schema:
            additional_spec = schema["additionalProperties"]
            if isinstance(additional_spec, bool):
                additional = additional_spec
            elif _is_document(additional_spec):
                additional = _compile_schema(additional_spec, False)
            else:
                raise _fail(
                    14, "$jsonSchema keyword 'additionalProperties' must be an object or a boolean"
                )
        if object_mode != _IGNORE:
            rules.append(
                _AllowedPropertiesRule(set(property_names), patterns, additional, object_mode)
            )
    if required and object_mode != _IGNORE:
        rules.append(_RequiredRule(required, schema["required"], object_mode))
    for keyword in ("minProperties", "maxProperties"):
        if keyword in schema:
            limit = _parse_non_negative_integer(keyword, schema[keyword])
            if object_mode != _IGNORE:
                rules.append(_PropertyCountRule(keyword, schema[keyword], limit, object_mode))
    if "dependencies" in schema:
        dependencies_spec = schema["dependencies"]
        if not _is_document(dependencies_spec):
            raise _fail(14, "$jsonSchema keyword 'dependencies' must be an object")
        dependencies: list[tuple[str, Any]] = []
        for name, then in dependencies_spec.items():
            if _is_document(then):
                dependencies.append((name, _compile_schema(then, top_level)))
            elif _is_array(then):
                if not then:
                    raise _fail(
                        9,
                        f"property '{name}' in $jsonSchema keyword 'dependencies' cannot be an "
                        "empty array",
                    )
                names: list[str] = []
                for needed in then:
                    if not isinstance(needed, str):
                        raise _fail(
                            14,
                            f"array '{name}' in $jsonSchema keyword 'dependencies' can only "
                            "contain "
                            "strings, but found element of type: "
                            f"{_bson_type_of_parse_arg(needed)}",
                        )
                    if needed in names:
                        raise _fail(
                            9,
                            f"array '{name}' in $jsonSchema keyword 'dependencies' contains "
                            f"duplicate element: {needed}",
                        )
                    names.append(needed)
                dependencies.append((name, names))
            elif name in ("title", "description") and isinstance(then, str):
                continue  # annotations are allowed under 'dependencies'
            else:
                raise _fail(
                    14,
                    f"property '{name}' in $jsonSchema keyword 'dependencies' must be either an "
                    "object or an array",
                )
        rules.append(_DependenciesRule(dependencies, _schema_annotations(dependencies_spec)))

    # Logical keywords (translateLogicalKeywords).
    for keyword in ("allOf", "anyOf", "oneOf"):
        if keyword in schema:
            spec = schema[keyword]
            if not _is_array(spec):
                raise _fail(14, f"$jsonSchema keyword '{keyword}' must be an array")
            if not spec:
                raise _fail(2, f"$jsonSchema keyword '{keyword}' must be a non-empty array")
            subschemas = []
            for entry in spec:
                if not _is_document(entry):
                    raise _fail(
                        14,
                        f"$jsonSchema keyword '{keyword}' must be an array of objects, but "
                        "found an "
                        f"element of type {_bson_type_of_parse_arg(entry)}",
                    )
                subschemas.append(_compile_schema(entry, top_level))
            rules.append(_LogicalRule(keyword, subschemas))
    if "not" in schema:
        if not _is_document(schema["not"]):
            raise _fail(
                14,
                "$jsonSchema keyword 'not' must be an object, but found an element of type "
                f"{_bson_type_of_parse_arg(schema['not'])}",
            )
        rules.append(_LogicalRule("not", [_compile_schema(schema["not"], top_level)]))
    if "enum" in schema:
        spec = schema["enum"]
        if not _is_array(spec):
            raise _fail(
                14,
                "$jsonSchema keyword 'enum' must be an array, but found an element of type "
                f"{_bson_type_of_parse_arg(spec)}",
            )
        if not spec:
            raise _fail(9, "$jsonSchema keyword 'enum' cannot be an empty array")
        seen: set[Any] = set()
        for item in spec:
            key = canonical_value(item, unordered=True)
            if key in seen:
                raise _fail(9, "$jsonSchema keyword 'enum' array cannot contain duplicate values.")
            seen.add(key)
        rules.append(_EnumRule(list(spec), top_level))

    if stated is not None and type_keyword is not None:
        if top_level:
            if not stated.has_type("object"):
                compiled.always_false = True
        else:
            rules.append(_TypeRule(type_keyword, schema[type_keyword], stated))
    return compiled


# --------------------------------------------------------------------------
# Query operators outside $jsonSchema
# --------------------------------------------------------------------------

_NEAR_MESSAGE = (
    "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators "
    "require sorting geospatial data. If you do not need sort, consider using $geoWithin "
    "instead. Check out https://dochub.mongodb.org/core/near-sort-operation and "
    "https://dochub.mongodb.org/core/nearSphere-sort-operationfor more details."
)
_FIELD_OPERATORS = frozenset(
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
        "$near",
        "$nearSphere",
        "$geoNear",
        "$minDistance",
        "$maxDistance",
        "$comment",
    }
)
_TYPE_CODES = {
    1: "double",
    2: "string",
    3: "object",
    4: "array",
    5: "binData",
    6: "undefined",
    7: "objectId",
    8: "bool",
    9: "date",
    10: "null",
    11: "regex",
    12: "dbPointer",
    13: "javascript",
    14: "symbol",
    15: "javascriptWithScope",
    16: "int",
    17: "timestamp",
    18: "long",
    19: "decimal",
    -1: "minKey",
    127: "maxKey",
}
_REASONS = {
    "comparison": ("comparison failed", "comparison succeeded"),
    "$in": ("no matching value found in array", "matching value found in array"),
    "$exists": ("path does not exist", "path does exist"),
    "$type": ("type did not match", "type did match"),
    "$regex": ("regular expression did not match", "regular expression did match"),
    "$size": ("array length was not equal to given size", "array length was equal to given size"),
    "$all": (
        "array did not contain all specified values",
        "array did contain all specified values",
    ),
    "$elemMatch": (
        "array did not satisfy the child predicate",
        "array did satisfy the child predicate",
    ),
    "$mod": (
        "$mod did not evaluate to expected remainder",
        "$mod did evaluate to expected remainder",
    ),
    "bits": ("bitwise operator failed to match", "bitwise operator matched successfully"),
    "$expr": ("expression did not match", "expression did match"),
    "always": ("expression always evaluates to false", "expression always evaluates to true"),
    "geoWithin": (
        "none of the considered geometries were contained within the expression\u2019s geometry",
        "at least one of considered geometries was contained within the expression\u2019s geometry",
    ),
    "geoIntersects": (
        "none of the considered geometries intersected the expression\u2019s geometry",
        "at least one of considered geometries intersected the expression\u2019s geometry",
    ),
}
_MAX_CONSIDERED_VALUES = 10  # internalQueryMaxDocValidationErrorConsideredValues
_NUMBER_TYPE_NAMES = ["decimal", "double", "int", "long"]


class _QueryNode:
    def matches(self, document: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        raise NotImplementedError


class _TreeNode(_QueryNode):
    def __init__(self, operator: str, children: list[_QueryNode]) -> None:
        self.operator = operator
        self.children = children

    def matches(self, document: Mapping[str, Any]) -> bool:
        if self.operator == "$and":
            return all(child.matches(document) for child in self.children)
        if self.operator == "$or":
            return any(child.matches(document) for child in self.children)
        return not any(child.matches(document) for child in self.children)  # $nor

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        # doc_validation_error.cpp: an AND in a normal context (and an OR in an inverted
        # one) lists only the clauses that explain the outcome; the other cases list all.
        child_inverted = not inverted if self.operator == "$nor" else inverted
        if self.operator == "$and":
            selective = not inverted
            key = "clausesSatisfied" if inverted else "clausesNotSatisfied"
        elif self.operator == "$or":
            selective = inverted
            key = "clausesSatisfied" if inverted else "clausesNotSatisfied"
        else:
            selective = not inverted
            key = "clausesNotSatisfied" if inverted else "clausesSatisfied"
        clauses = []
        for index, child in enumerate(self.children):
            if selective and child.matches(document) != child_inverted:
                continue
            clauses.append({"index": index, "details": child.error(document, child_inverted)})
        return {"operatorName": self.operator, key: clauses}


class _NotNode(_QueryNode):
    def __init__(self, child: _QueryNode) -> None:
        self.child = child

    def matches(self, document: Mapping[str, Any]) -> bool:
        return not self.child.matches(document)

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        return {"operatorName": "$not", "details": self.child.error(document, not inverted)}


class _JsonSchemaNode(_QueryNode):
    def __init__(self, schema: _Schema) -> None:
        self.schema = schema

    def matches(self, document: Mapping[str, Any]) -> bool:
        return self.schema.matches(document)

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        if inverted:
            return {"operatorName": "$jsonSchema", "reason": "schema matched"}
        if self.schema.always_false:
            return self.schema.errors(document)[0]
        error: dict[str, Any] = {"operatorName": "$jsonSchema"}
        error.update(self.schema.annotations)
        error["schemaRulesNotSatisfied"] = self.schema.errors(document)
        return error


class _ConstantNode(_QueryNode):
    def __init__(self, value: bool, specified: dict[str, Any]) -> None:
        self.value = value
        self.specified = specified

    def matches(self, document: Mapping[str, Any]) -> bool:
        return self.value

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        normal, inverse = _REASONS["always"]
        return {
            "operatorName": next(iter(self.specified)),
            "specifiedAs": self.specified,
            "reason": inverse if inverted else normal,
        }


class _ExprNode(_QueryNode):
    def __init__(self, expression: Any, specified: dict[str, Any]) -> None:
        self.expression = expression
        self.specified = specified

    def evaluate(self, document: Mapping[str, Any]) -> Any:
        parse = _mm_filtering._Filterer.parse_expression[0]
        return parse(self.expression, dict(document), ignore_missing_keys=True)

    def matches(self, document: Mapping[str, Any]) -> bool:
        try:
            return _truthy(self.evaluate(document))
        except Exception:  # noqa: BLE001 - a failing expression never matches
            return False

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        error: dict[str, Any] = {"operatorName": "$expr", "specifiedAs": self.specified}
        try:
            result = self.evaluate(document)
        except Exception as failure:  # noqa: BLE001
            # mongod reports the aggregation error's code; mongomock has no codes.
            # UNCONFIRMED: the details of a failed evaluation cannot be reproduced.
            error["reason"] = "failed to evaluate aggregation expression"
            error["details"] = {"code": 2, "codeName": "BadValue", "errmsg": str(failure)}
            return error
        normal, inverse = _REASONS["$expr"]
        error["reason"] = inverse if inverted else normal
        error["expressionResult"] = None if result is _MM_NOTHING else result
        return error


def _truthy(value: Any) -> bool:
    """Aggregation truthiness: false, null, missing, 0 are false; everything else true."""
    if value is None or value is _MM_NOTHING or value is MISSING or value is UNDEFINED:
        return False
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return _as_decimal(value) != 0
    return True


def _to_mongomock(value: Any) -> Any:
    return _MM_NOTHING if value is MISSING else value


class _LeafNode(_QueryNode):
    """One operator on one path, e.g. {a: {$gt: 5}} or the implicit {a: 5}."""

    def __init__(self, path: str, operator: str, argument: Any, specified: dict[str, Any]) -> None:
        self.path = path
        self.operator = operator
        self.argument = argument
        self.specified = specified
        # $ne, $nin and {$exists: false} are negations of $eq, $in and $exists.
        self.negated = operator in ("$ne", "$nin") or (
            operator == "$exists" and not _truthy(argument)
        )
        self.filter = self._mongomock_filter()

    def _mongomock_filter(self) -> dict[str, Any] | None:
        if self.operator in ("$type", "$mod") or self.operator.startswith("$bits"):
            return None
        if self.operator.startswith("$geo") or self.operator == "$within":
            return None
        if self.operator == "$regex":
            return {self.path: self.argument}
        return {self.path: {self.operator: self.argument}}

    def matches(self, document: Mapping[str, Any]) -> bool:
        if self.operator == "$all" and not self.argument:
            return False  # mongod parses {$all: []} to an always-false expression
        if self.filter is not None:
            try:
                return bool(_mm_filtering.filter_applies(self.filter, document))
            except (NotImplementedError, TypeError):
                pass  # e.g. Decimal128 comparisons: evaluated below
        return self._evaluate(document)

    def _evaluate(self, document: Mapping[str, Any]) -> bool:
        operator = self.operator
        if operator == "$type":
            return _type_operator_matches(document, self.path, self.argument)
        if operator == "$mod":
            values = _path_values(document, self.path, expand_leaf_arrays=True) or []
            divisor, remainder = (int(_as_decimal(x)) for x in self.argument)
            for value in values:
                if _is_number(value) and not _is_nan(value):
                    number = _as_decimal(value)
                    if number.is_infinite():
                        continue
                    if int(math.fmod(int(number), divisor)) == remainder:
                        return True
            return False
        if operator.startswith("$bits"):
            return _bits_matches(document, self.path, operator, self.argument)
        if operator in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin"):
            return _comparison_matches(document, self.path, operator, self.argument)
        # UNCONFIRMED: geo predicates are not evaluated by this test server.
        raise CommandError(2, f"{operator} is not supported by the test server's validator")

    def error(self, document: Mapping[str, Any], inverted: bool) -> dict[str, Any]:
        operator = self.operator
        show_inverted = inverted != self.negated
        error: dict[str, Any] = {"operatorName": operator, "specifiedAs": self.specified}
        if operator == "$exists":
            normal, inverse = _REASONS["$exists"]
            error["reason"] = inverse if show_inverted else normal
            return error

        if operator in ("$size", "$all", "$elemMatch"):
            values = _path_values(document, self.path, expand_leaf_arrays=False)
        else:
            values = _path_values(document, self.path, expand_leaf_arrays=True)
        truncated = False
        if values is not None and len(values) > _MAX_CONSIDERED_VALUES:
            values = values[:_MAX_CONSIDERED_VALUES]
            truncated = True
        if operator == "$all" and not self.argument:
            normal, inverse = _REASONS["always"]
            error["reason"] = inverse if show_inverted else normal
            return error
        if values is None:
            error["reason"] = "field was missing"
            return error

        expected = _EXPECTED_TYPES.get(operator)
        if operator.startswith("$bits"):
            expected = ["binData"] + _NUMBER_TYPE_NAMES
        if expected is not None and not any(bson_type_name(v) in expected for v in values):
            error["reason"] = "type did not match"
            _append_considered_types(error, values)
            if len(expected) == 1:
                error["expectedType"] = expected[0]
            else:
                error["expectedTypes"] = sorted(expected)
            _append_considered_values(error, values, truncated)
            return error

        if operator in ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte"):
            reason_key = "comparison"
        elif operator in ("$in", "$nin"):
            reason_key = "$in"
        elif operator.startswith("$bits"):
            reason_key = "bits"
        elif operator in ("$geoWithin", "$within"):
            reason_key = "geoWithin"
        else:
            reason_key = operator
        normal, inverse = _REASONS[reason_key]
        error["reason"] = inverse if show_inverted else normal
        _append_considered_values(error, values, truncated)
        if operator == "$type":
            _append_considered_types(error, values)
        return error


_EXPECTED_TYPES: dict[str, list[str]] = {
    "$regex": ["regex", "string", "symbol"],
    "$mod": _NUMBER_TYPE_NAMES,
    "$size": ["array"],
    "$elemMatch": ["array"],
    "$geoWithin": ["array", "object"],
    "$geoIntersects": ["array", "object"],
}


def _append_considered_values(error: dict[str, Any], values: list[Any], truncated: bool) -> None:
    if len(values) == 1:
        error["consideredValue"] = values[0]
    else:
        error["consideredValues"] = list(values)
    if truncated:
        error["consideredValuesTruncated"] = True


def _append_considered_types(error: dict[str, Any], values: list[Any]) -> None:
    if not values:
        return
    names = sorted({bson_type_name(value) for value in values})
    if len(names) == 1:
        error["consideredType"] = names[0]
    else:
        error["consideredTypes"] = names


def _type_names_of(argument: Any) -> set[str]:
    names: set[str] = set()
    for entry in argument if _is_array(argument) else [argument]:
        if isinstance(entry, str):
            if entry == "number":
                names |= _NUMBER_TYPES
            else:
                names.add(entry)
        else:
            names.add(_TYPE_CODES[int(entry)])
    return names


def _type_operator_matches(document: Mapping[str, Any], path: str, argument: Any) -> bool:
    names = _type_names_of(argument)
    values = _path_values(document, path, expand_leaf_arrays=False)
    if values is None:
        return False
    for value in values:
        if bson_type_name(value) in names:
            return True
        # $type looks at an array's elements as well as the array.
        if _is_array(value) and any(bson_type_name(item) in names for item in value):
            return True
    return False


def _comparison_matches(
    document: Mapping[str, Any], path: str, operator: str, argument: Any
) -> bool:
    values = _path_values(document, path, expand_leaf_arrays=False)
    candidates: list[Any] = []
    if values is None:
        candidates = [None]  # {a: null} and {a: {$in: [null]}} match a missing path
    else:
        for value in values:
            candidates.append(value)
            if _is_array(value):
                candidates.extend(value)

    def one(candidate: Any, target: Any, op: str) -> bool:
        if op == "$eq":
            return bson_equal(candidate, target)
        if not (_is_number(candidate) and _is_number(target)):
            if type(candidate) is not type(target) or isinstance(candidate, (bool, Mapping, list)):
                return False
            try:
                order = (candidate > target) - (candidate < target)
            except TypeError:
                return False
        else:
            if _is_nan(candidate) or _is_nan(target):
                return op in ("$gte", "$lte") and _is_nan(candidate) and _is_nan(target)
            order = _compare_numbers(candidate, target)
        return {"$gt": order > 0, "$gte": order >= 0, "$lt": order < 0, "$lte": order <= 0}[op]

    if operator in ("$in", "$nin"):
        found = any(
            one(candidate, target, "$eq") for candidate in candidates for target in argument
        )
        return found if operator == "$in" else not found
    if operator == "$ne":
        return not any(one(candidate, argument, "$eq") for candidate in candidates)
    return any(one(candidate, argument, operator) for candidate in candidates)


def _bits_matches(document: Mapping[str, Any], path: str, operator: str, argument: Any) -> bool:
    if _is_array(argument):
        mask = 0
        for position in argument:
            mask |= 1 << int(position)
    elif isinstance(argument, (bytes, Binary)):
        mask = int.from_bytes(bytes(argument), "little")
    else:
        mask = int(argument)
    values = _path_values(document, path, expand_leaf_arrays=True) or []
    for value in values:
        if isinstance(value, (bytes, Binary)):
            number = int.from_bytes(bytes(value), "little")
        elif _is_number(value) and not _is_nan(value):
            decimal_value = _as_decimal(value)
            if decimal_value.is_infinite() or decimal_value != decimal_value.to_integral_value():
                continue
            number = int(decimal_value) & ((1 << 64) - 1)
        else:
            continue
        if operator == "$bitsAllSet" and number & mask == mask:
            return True
        if operator == "$bitsAllClear" and number & mask == 0:
            return True
        if operator == "$bitsAnySet" and number & mask != 0:
            return True
        if operator == "$bitsAnyClear" and number & mask != mask:
            return True
    return False


def _check_type_argument(argument: Any) -> None:
    entries = argument if _is_array(argument) else [argument]
    if _is_array(argument) and not argument:
        raise _fail(9, "$type must match at least one type")  # UNCONFIRMED text
    for entry in entries:
        if isinstance(entry, str):
            if entry != "number" and entry not in _BSON_TYPE_ALIASES:
                raise _fail(2, f"Unknown type name alias: {entry}")
        elif _is_number(entry):
            decimal_value = _as_decimal(entry)
            if (
                decimal_value != decimal_value.to_integral_value()
                or int(decimal_value) not in _TYPE_CODES
            ):
                raise _fail(2, f"Invalid numerical type code: {render_bson(entry)}")
        else:
            raise _fail(14, "type must be represented as a number or a string")  # UNCONFIRMED text


_UNBOUND_VARIABLE = re.compile(r"\$\$([A-Za-z_][A-Za-z0-9_]*)")
_SYSTEM_VARIABLES = frozenset(
    {"ROOT", "CURRENT", "REMOVE", "NOW", "CLUSTER_TIME", "DESCEND", "PRUNE", "KEEP", "USER_ROLES"}
)


def _check_expression(expression: Any, bound: frozenset[str] = frozenset()) -> None:
    """The few $expr checks a validator needs: $function and undefined variables."""
    if isinstance(expression, Mapping):
        for key, value in expression.items():
            if key == "$function":
                # UNCONFIRMED text; the code 4660800 is from doc_validation_invalid_validators.js.
                raise _fail(4660800, "$function may not be used within a validator.")
            if key == "$_internalJsEmit":
                raise _fail(4660801, "$_internalJsEmit may not be used within a validator.")
            inner = bound
            if (
                key in ("$let",)
                and isinstance(value, Mapping)
                and isinstance(value.get("vars"), Mapping)
            ):
                inner = bound | frozenset(value["vars"])
            if key in ("$map", "$filter") and isinstance(value, Mapping):
                inner = bound | frozenset({str(value.get("as", "this"))})
            if key == "$reduce":
                inner = bound | frozenset({"value", "this"})
            _check_expression(value, inner)
    elif _is_array(expression):
        for item in expression:
            _check_expression(item, bound)
    elif isinstance(expression, str) and expression.startswith("$$"):
        name = expression[2:].split(".", 1)[0]
        if name not in _SYSTEM_VARIABLES and name not in bound:
            raise _fail(17276, f"Use of undefined variable: {name}")


def _parse_query(query: Any, top_level: bool) -> _QueryNode:
    """Parse a query document into nodes, enforcing what a validator may not use."""
    if not _is_document(query):
        raise _fail(2, "the match filter must be an expression in an object")  # UNCONFIRMED
    children: list[_QueryNode] = []
    for key, value in query.items():
        if key.startswith("$"):
            children.extend(_parse_top_level_operator(key, value, top_level))
        else:
            children.extend(_parse_field(key, value))
    if len(children) == 1:
        return children[0]
    return _TreeNode("$and", children)


def _parse_top_level_operator(key: str, value: Any, top_level: bool) -> list[_QueryNode]:
    if key in ("$and", "$or", "$nor"):
        if not _is_array(value):
            raise _fail(2, f"{key} must be an array")
        if not value:
            raise _fail(2, "$and/$or/$nor must be a nonempty array")
        clauses = []
        for clause in value:
            if not _is_document(clause):
                raise _fail(2, "$or/$and/$nor entries need to be full objects")
            clauses.append(_parse_query(clause, top_level))
        return [_TreeNode(key, clauses)]
    if key == "$comment":
        return []
    if key in ("$jsonSchema", "$expr", "$where", "$text") and not top_level:
        raise _fail(2, f"{key} can only be applied to the top-level document")
    if key == "$jsonSchema":
        if not _is_document(value):
            raise _fail(14, "$jsonSchema must be an object")
        return [_JsonSchemaNode(_compile_schema(value, True))]
    if key == "$expr":
        _check_expression(value)
        return [_ExprNode(value, {"$expr": value})]
    if key == "$where":
        raise _fail(2, "$where is not allowed in this context")
    if key == "$text":
        raise _fail(2, "$text is not allowed in this context")
    if key in ("$alwaysTrue", "$alwaysFalse"):
        if not (_is_number(value) and _as_decimal(value) == 1):
            raise _fail(9, f"{key} must be an integer value of 1")  # UNCONFIRMED text
        return [_ConstantNode(key == "$alwaysTrue", {key: value})]
    if key == "$not":
        raise _fail(
            2,
            "unknown top level operator: $not. If you are trying to negate an entire "
            "expression, use $nor.",
        )
    raise _fail(
        2,
        f"unknown top level operator: {key}. If you have a field name that starts with a '$' "
        "symbol, consider using $getField or $setField.",
    )


def _is_operator_object(value: Any) -> bool:
    return _is_document(value) and bool(value) and next(iter(value)).startswith("$")


def _parse_field(path: str, value: Any) -> list[_QueryNode]:
    if isinstance(value, (Regex, _RE_PATTERN)):
        return [_LeafNode(path, "$regex", value, {path: value})]
    if not _is_operator_object(value):
        return [_LeafNode(path, "$eq", value, {path: value})]
    nodes: list[_QueryNode] = []
    operators = dict(value)
    if "$options" in operators and "$regex" not in operators:
        raise _fail(2, "$options needs a $regex")
    for operator, argument in operators.items():
        if operator == "$options":
            continue
        nodes.append(_parse_operator(path, operator, argument, operators))
    return nodes


def _parse_operator(
    path: str, operator: str, argument: Any, operators: Mapping[str, Any]
) -> _QueryNode:
    if operator not in _FIELD_OPERATORS:
        raise _fail(2, f"unknown operator: {operator}")
    if operator in ("$near", "$nearSphere", "$geoNear"):
        raise _fail(5626500, _NEAR_MESSAGE)
    if operator in ("$minDistance", "$maxDistance"):
        raise _fail(2, f"{operator} must be used with $near or $nearSphere")  # UNCONFIRMED text
    if operator == "$comment":
        raise _fail(2, "unknown operator: $comment")
    specified = {path: {operator: argument}}
    if operator == "$not":
        if isinstance(argument, (Regex, _RE_PATTERN)):
            return _NotNode(_LeafNode(path, "$regex", argument, {path: argument}))
        if not _is_document(argument):
            raise _fail(2, "$not needs a regex or a document")
        if not argument:
            raise _fail(2, "$not cannot be empty")
        if not _is_operator_object(argument):
            raise _fail(2, f"unknown operator: {next(iter(argument))}")
        inner = _parse_field(path, argument)
        return _NotNode(inner[0] if len(inner) == 1 else _TreeNode("$and", inner))
    if operator in ("$in", "$nin"):
        if not _is_array(argument):
            raise _fail(2, f"{operator} needs an array")
        for entry in argument:
            if _is_operator_object(entry):
                raise _fail(2, "cannot nest $ under $in")
        return _LeafNode(path, operator, argument, specified)
    if operator == "$regex":
        if not isinstance(argument, (str, Regex, _RE_PATTERN)):
            raise _fail(2, "$regex has to be a string")
        options = operators.get("$options", "")
        if not isinstance(options, str):
            raise _fail(2, "$options has to be a string")
        source = argument if isinstance(argument, str) else _regex_parts(argument)[0]
        flags = (options if isinstance(argument, str) else _regex_parts(argument)[1]) or options
        try:
            compiled = re.compile(source, _python_flags(flags))
        except re.error as error:
            raise _fail(51091, f"Regular expression is invalid: {error}") from None
        if "$options" in operators:
            specified = {path: {"$regex": argument, "$options": options}}
        return _LeafNode(path, "$regex", compiled, specified)
    if operator == "$type":
        _check_type_argument(argument)
        return _LeafNode(path, "$type", argument, specified)
    if operator == "$size":
        if not _is_number(argument):
            raise _fail(2, "$size needs a number")
        size = _as_decimal(argument)
        if size != size.to_integral_value():
            raise _fail(2, "$size must be a whole number")  # UNCONFIRMED text
        if size < 0:
            raise _fail(2, "$size may not be negative")  # UNCONFIRMED text
        return _LeafNode(path, "$size", int(size), specified)
    if operator == "$all":
        if not _is_array(argument):
            raise _fail(2, "$all needs an array")
        return _LeafNode(path, "$all", argument, specified)
    if operator == "$elemMatch":
        if not _is_document(argument):
            raise _fail(2, "$elemMatch needs an Object")
        if _is_operator_object(argument) and next(iter(argument)) not in (
            "$and",
            "$or",
            "$nor",
            "$expr",
            "$where",
            "$jsonSchema",
            "$text",
        ):
            _parse_field("x", argument)  # value form: validate the operators
        else:
            _parse_query(argument, top_level=False)
        return _LeafNode(path, "$elemMatch", argument, specified)
    if operator == "$mod":
        if not _is_array(argument):
            raise _fail(2, "malformed mod, needs to be an array")
        if len(argument) < 2:
            raise _fail(2, "malformed mod, not enough elements")
        if len(argument) > 2:
            raise _fail(2, "malformed mod, too many elements")
        if not all(_is_number(item) for item in argument):
            raise _fail(2, "malformed mod, divisor not a number")  # UNCONFIRMED text
        if int(_as_decimal(argument[0])) == 0:
            raise _fail(2, "divisor cannot be 0")
        return _LeafNode(path, "$mod", argument, specified)
    return _LeafNode(path, operator, argument, specified)


def _python_flags(flags: str) -> int:
    value = 0
    for letter in flags:
        value |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}.get(
            letter, 0
        )
    return value


# --------------------------------------------------------------------------
# Public entry points
# --------------------------------------------------------------------------

_CACHE: dict[bytes, _QueryNode] = {}
_CACHE_LIMIT = 256


def _cache_key(validator: Mapping[str, Any]) -> bytes | None:
    try:
        return bson.encode(validator)
    except Exception:  # noqa: BLE001 - values the bson encoder refuses are compiled uncached
        return None


def _compile_validator(validator: Mapping[str, Any]) -> _QueryNode:
    key = _cache_key(validator)
    if key is not None and key in _CACHE:
        return _CACHE[key]
    node = _parse_query(validator, top_level=True)
    if key is not None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = node
    return node


def parse_filter(filter_doc: Mapping[str, Any]) -> None:
    """Parse a query filter (e.g. a partialFilterExpression) as a validator is parsed;
    raise CommandError where mongod's MatchExpressionParser refuses it."""
    _compile_validator(filter_doc)


def document_matches(filter_doc: Mapping[str, Any], document: Mapping[str, Any]) -> bool:
    """True when ``document`` matches the query ``filter_doc`` (compiled once, cached)."""
    return _compile_validator(filter_doc).matches(document)


def check_validator(validator: Any, *, command: str = "create") -> None:
    """Raise CommandError when ``create`` (or ``collMod`` with ``command="collMod"``)
    would refuse ``validator``; return None when it is accepted.

    ``create`` answers with the parser's own code and message; ``collMod`` prefixes
    the message with "Parsing of collection validator failed :: caused by :: ".
    Raises CommandError(14) when the validator is not a document.
    """
    if not _is_document(validator):
        raise CommandError(
            14,
            f"BSON field '{command}.validator' is the wrong type "
            f"'{_bson_type_of_parse_arg(validator)}', expected type 'object'",
        )
    try:
        _compile_validator(validator)
    except CommandError as error:
        if command == "collMod":
            raise CommandError(
                error.code,
                f"Parsing of collection validator failed :: caused by :: {error.errmsg}",
                **error.extra,
            ) from None
        raise


def validate_document(validator: Mapping[str, Any], document: Mapping[str, Any]) -> dict | None:
    """Return None when ``document`` satisfies ``validator``, else the ``details``
    document MongoDB puts in errInfo (``errInfo: {failingDocumentId, details}``).

    The validator must already have passed ``check_validator``; an empty validator
    accepts everything.
    """
    if not validator:
        return None
    node = _compile_validator(validator)
    if node.matches(document):
        return None
    return node.error(document, False)
