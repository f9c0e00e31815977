"""Compile a collection's ``$jsonSchema`` (and its seed.fields) into a document generator.

``compile_document(schema, context)`` walks the schema once and returns a
function of no arguments that builds one document per call: a plan of field
generators, closures that draw from the context's seeded ``random.Random``
and from pre-made Faker pools. Nothing is interpreted per document.

Every value is built to satisfy its schema where that can be done directly
(types, enum, bounds with MongoDB's boolean exclusiveMinimum/Maximum,
multipleOf, lengths, patterns, item counts, uniqueItems, required,
additionalProperties, patternProperties, property counts, dependencies,
allOf). ``anyOf``/``oneOf`` pick a branch merged with the rest of the schema
(for oneOf, with the other branches negated), and ``not`` rejects: those
values, like every document, are checked with the compiled validator and
drawn again when they fail. A ``not: {required: [...]}`` (which is what a
oneOf of ``required`` branches becomes) is built instead: one of the fields
is left out of every document, so schemas about which fields are present
never fail by chance. A field that cannot be
satisfied at all raises Unsatisfiable naming it; one that keeps failing when
generated raises GenerationFailed naming it.
"""

from __future__ import annotations

import bisect
import copy
import datetime as dt
import itertools
import math
import random
import re
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, Inexact, Rounded
from fractions import Fraction
from typing import Any

from bson import Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.binary import Binary
from bson.decimal128 import create_decimal128_context

from toolkit.seed.bsonvalues import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    MISSING,
    bson_key,
    datetime_to_millis,
    is_number,
)
from toolkit.seed.nodes import Node, build_node, merge, narrowed, plain_number
from toolkit.seed.overrides import Override, TemplatePart
from toolkit.seed.pools import FakerPools, UnknownProvider, steer
from toolkit.seed.regexgen import RegexNotSupported, compile_regex_generator
from toolkit.seed.validator import Check, SchemaProblem, is_object, join, where

Generator = Callable[[], Any]

OPTIONAL_PRESENCE = 0.9  # how often an optional property is present
NULL_WEIGHT = 0.15  # how often "null" is picked when a type list allows other types
ATTEMPTS = 50  # draws of one value before giving up on a field
PAST_WINDOW_MS = 730 * 86_400_000  # dates fall in the two years before the reference
FUTURE_WINDOW_MS = 30 * 86_400_000  # ... or in the 30 days after it (expiry-like names)
_LETTERS = string.ascii_lowercase


class Unsatisfiable(ValueError):
    """No value can satisfy the schema of the field at ``path``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{where(path)}: {reason}")
        self.path = path
        self.reason = reason


class GenerationFailed(ValueError):
    """Values drawn for the field at ``path`` kept failing its schema."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{where(path)}: {reason}")
        self.path = path
        self.reason = reason


class DocumentState:
    """Per-document state the generators share: position, parent, picks, pending templates."""

    __slots__ = ("index", "parent_row", "pending", "picks", "position")

    def __init__(self) -> None:
        self.index = 0  # position among the generated documents of the collection
        self.position = 0  # position among the documents of the same parent
        self.parent_row: tuple[Any, ...] = ()
        self.picks: dict[str, tuple[Any, ...]] = {}
        self.pending: list[tuple[Any, Any, Any]] = []

    def reset(self) -> None:
        self.picks.clear()
        self.pending.clear()


@dataclass
class ParentTable:
    """The values of a generated parent's referenced fields, one row per document."""

    fields: tuple[str, ...]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class GenerationContext:
    """Everything a collection's generators draw on."""

    rng: random.Random
    pools: FakerPools
    now: dt.datetime
    overrides: dict[str, Override] = field(default_factory=dict)
    forced: frozenset[str] = frozenset()  # field paths always generated
    implied: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> schema if unlisted
    date_windows: dict[str, tuple[int, int]] = field(default_factory=dict)  # path -> ms window
    parents: dict[str, ParentTable] = field(default_factory=dict)  # namespace -> values
    refs: dict[str, tuple[str, str]] = field(default_factory=dict)  # path -> (namespace, field)
    own_parent: str | None = None  # the namespace of `per`
    state: DocumentState = field(default_factory=DocumentState)

    @property
    def now_ms(self) -> int:
        return datetime_to_millis(self.now)


class Pending:
    """A template that reads other fields: filled in once the whole document exists."""

    __slots__ = ("render",)

    def __init__(self, render: Callable[[dict[str, Any]], str]) -> None:
        self.render = render


# --------------------------------------------------------------------------
# Compiling nodes into generators
# --------------------------------------------------------------------------


def compile_document(schema: Mapping[str, Any] | None, context: GenerationContext) -> Generator:
    """Return the generator of whole documents for a collection's ``$jsonSchema`` (None: none).

    ``_id`` comes first: from the schema's ``_id`` property when it has one,
    else an ObjectId drawn from the seeded random. Raise Unsatisfiable or
    SchemaProblem naming the field that cannot be generated.
    """
    node = build_node(schema or {}, "", "", "", top_level=True)
    if node.types is not None and "object" not in node.types:
        raise Unsatisfiable("", "the top-level bsonType does not allow a document")
    if "_id" not in node.properties:
        if node.additional is False and not _pattern_matches(node, "_id"):
            raise Unsatisfiable(
                "_id",
                "every document has an _id, but additionalProperties is false and "
                "properties does not list _id",
            )
        id_node = Node("_id", "_id", "_id")
        id_node.parts.append({})
        id_node.types = frozenset({"objectId"})
        node.properties = {"_id": id_node, **node.properties}
    elif list(node.properties)[0] != "_id":
        node.properties = {"_id": node.properties["_id"], **node.properties}
    if "_id" not in node.required:
        node.required = ["_id", *node.required]
    return compile_node(node, context, object_root=True)


def draws_random_object_ids(
    schema: Mapping[str, Any] | None, overrides: Mapping[str, Override]
) -> bool:
    """True when every ObjectId a document's ``_id`` can get is one the generator draws at
    random (a timestamp and 64 random bits), so that repeats need not be tracked.

    False when seed.fields gives ``_id`` a generator (ref, choice, const...), or its schema
    has an enum or anyOf/oneOf branches (which may list ObjectIds), or the schema cannot be
    read: those values repeat easily, and the unique index on _id must be enforced.
    """
    if "_id" in overrides:
        return False
    try:
        node = build_node(schema or {}, "", "", "", top_level=True)
    except SchemaProblem:
        return False
    for _keyword, branches in node.groups:
        if any(
            is_object(branch) and "_id" in (branch.get("properties") or {}) for branch in branches
        ):
            return False
    id_nodes = [node.properties["_id"]] if "_id" in node.properties else []
    id_nodes += [child for source, child in node.pattern_properties if re.search(source, "_id")]
    return all(child.enum is None and not child.groups for child in id_nodes)


def _pattern_matches(node: Node, name: str) -> bool:
    return any(re.search(source, name) for source, _ in node.pattern_properties)


def compile_node(node: Node, context: GenerationContext, *, object_root: bool = False) -> Generator:
    """The generator of values for ``node``. Raise Unsatisfiable when there is none."""
    override = context.overrides.get(node.key) if node.key else None
    if override is not None and not object_root:
        return _compile_override(override, node, context)
    if node.groups:
        return _compile_groups(node, context)
    if node.nots:
        node = narrowed(node)
    generator = _compileplain_number(node, context, object_root=object_root)
    if node.nots or node.dependencies and any(is_object(then) for _, then in node.dependencies):
        return _verified(generator, node.check, node.path)
    return generator


def _verified(generator: Generator, check: Check, path: str) -> Generator:
    def verified() -> Any:
        problem = None
        for _ in range(ATTEMPTS):
            value = generator()
            problem = check(value)
            if problem is None:
                return value
        raise GenerationFailed(path, f"no valid value in {ATTEMPTS} draws (last: {problem})")

    return verified


def _compile_groups(node: Node, context: GenerationContext) -> Generator:
    keyword, branches = node.groups[0]
    base = node.copy()
    base.groups = node.groups[1:]
    compiled: list[Generator] = []
    reasons: list[str] = []
    for index, raw in enumerate(branches):
        try:
            branch = build_node(
                raw,
                node.path,
                node.key,
                node.name,
                in_array=node.in_array,
                top_level=node.top_level,
            )
            candidate = merge(base, branch)
            if keyword == "oneOf":  # exactly one: the other branches must not match
                candidate.nots.extend(
                    other for position, other in enumerate(branches) if position != index
                )
            compiled.append(compile_node(candidate, context))
        except Unsatisfiable as error:
            reasons.append(f"{keyword}[{index}]: {error.reason}")
    if not compiled:
        raise Unsatisfiable(
            node.path, f"no {keyword} branch can be satisfied ({'; '.join(reasons)})"
        )
    check = node.check
    random_ = context.rng.random
    count = len(compiled)
    path = node.path

    def generate() -> Any:
        problem = None
        for _ in range(ATTEMPTS):
            value = compiled[int(random_() * count)]()
            problem = check(value)
            if problem is None:
                return value
        raise GenerationFailed(
            path, f"no value satisfies {keyword} in {ATTEMPTS} draws (last: {problem})"
        )

    return generate


def _infer_types(node: Node) -> frozenset[str]:
    if node.has_object_keywords():
        return frozenset({"object"})
    if node.has_array_keywords():
        return frozenset({"array"})
    if node.has_string_keywords():
        return frozenset({"string"})
    if node.has_number_keywords():
        return frozenset({"int", "long", "double"})
    hint = steer(node.name)
    if node.name.endswith("_at") or hint.string == ("iso_date",):
        return frozenset({"date"})
    return frozenset({"string"})


_TYPE_ORDER = (
    "objectId", "string", "int", "long", "double", "decimal", "bool", "date", "object",
    "array", "binData", "timestamp", "regex", "javascript", "javascriptWithScope",
    "minKey", "maxKey", "undefined", "dbPointer", "symbol", "null",
)  # fmt: skip


def _compileplain_number(
    node: Node, context: GenerationContext, *, object_root: bool = False
) -> Generator:
    if node.enum is not None:
        return _compile_enum(node, context)
    types = node.types if node.types is not None else _infer_types(node)
    if not types:
        raise Unsatisfiable(
            node.path, "the type lists of allOf/anyOf branches have nothing in common"
        )
    choices: list[tuple[Generator, float]] = []
    errors: list[tuple[str, Unsatisfiable]] = []
    integer_done = False
    for alias in _TYPE_ORDER:
        if alias not in types:
            continue
        try:
            if alias in ("int", "long"):
                if integer_done:
                    continue
                integer_done = True
                generator = _compile_integer(node, context, "int" in types, "long" in types)
            elif alias == "object":
                generator = _compile_object(node, context, object_root=object_root)
            else:
                generator = _SCALAR_COMPILERS[alias](node, context)
        except Unsatisfiable as error:
            errors.append((alias, error))
            continue
        choices.append((generator, NULL_WEIGHT if alias == "null" else 1.0))
    if not choices:
        if len(errors) == 1:
            raise errors[0][1]
        reasons = [
            f"as {alias}: {'' if error.path == node.path else where(error.path) + ': '}"
            f"{error.reason}"
            for alias, error in errors
        ]
        raise Unsatisfiable(node.path, "; ".join(reasons) or "no value of these types can be made")
    if len(choices) == 1:
        return choices[0][0]
    generators = [generator for generator, _ in choices]
    total = sum(weight for _, weight in choices)
    cumulative = []
    running = 0.0
    for _, weight in choices:
        running += weight / total
        cumulative.append(running)
    cumulative[-1] = 1.0
    random_ = context.rng.random
    if len({weight for _, weight in choices}) == 1:
        count = len(generators)
        return lambda: generators[int(random_() * count)]()

    def pick() -> Any:
        return generators[bisect.bisect_right(cumulative, random_())]()

    return pick


def coerce(value: Any, types: frozenset[str] | None) -> Any:
    """``value`` in the BSON type the field wants, where a lossless conversion exists."""
    if types is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and not isinstance(value, Int64):
        if "int" in types and INT32_MIN <= value <= INT32_MAX:
            return int(value)
        if "long" in types and INT64_MIN <= value <= INT64_MAX:
            return Int64(value)
        if "double" in types:
            return float(value)
        if "decimal" in types:
            return Decimal128(str(value))
        return value
    if isinstance(value, Int64):
        if "long" in types:
            return value
        return coerce(int(value), types - {"long"})
    if isinstance(value, float):
        if "double" in types:
            return value
        if "decimal" in types:
            return Decimal128(repr(value))
        if value.is_integer() and ("int" in types or "long" in types):
            return coerce(int(value), types)
        return value
    if isinstance(value, Decimal128):
        if "decimal" in types:
            return value
        if "double" in types:
            return float(value.to_decimal())
        number = value.to_decimal()
        if number == number.to_integral_value() and ("int" in types or "long" in types):
            return coerce(int(number), types)
        return value
    if isinstance(value, dt.datetime) and "date" not in types:
        if "string" in types:
            return iso_text(value)
        if "int" in types or "long" in types:
            return coerce(datetime_to_millis(value) // 1000, types)
        return value
    return value


def iso_text(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with milliseconds, "2024-05-01T12:30:00.000Z"."""
    moment = moment.astimezone(dt.UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fresh(value: Any) -> Generator:
    """A generator returning ``value``, copied when it is mutable (a document or an array)."""
    if isinstance(value, dict | list):
        return lambda: copy.deepcopy(value)
    return lambda: value


def _draw(values: tuple[Any, ...] | list[Any], context: GenerationContext) -> Generator:
    values = tuple(values)
    count = len(values)
    random_ = context.rng.random
    if count == 1:
        return _fresh(values[0])
    if any(isinstance(value, dict | list) for value in values):
        return lambda: copy.deepcopy(values[int(random_() * count)])
    return lambda: values[int(random_() * count)]


def _compile_enum(node: Node, context: GenerationContext) -> Generator:
    assert node.enum is not None
    check = node.check
    candidates: list[Any] = []
    seen: set[Any] = set()
    for value in node.enum:
        variants = [value]
        if is_number(value):
            variants += [
                coerce(value, frozenset({alias})) for alias in ("int", "long", "double", "decimal")
            ]
        for variant in variants:
            if check(variant) is None:
                key = (bson_key(variant, ordered=False), type(variant))
                if key not in seen:
                    seen.add(key)
                    candidates.append(variant)
                break
    if not candidates:
        raise Unsatisfiable(node.path, "no enum value satisfies the other keywords")
    return _draw(candidates, context)


# --- overrides --------------------------------------------------------------


def _compile_override(override: Override, node: Node, context: GenerationContext) -> Generator:
    types = node.types
    random_ = context.rng.random
    kind = override.kind
    if kind == "const":
        value = coerce(override.value, types)
        problem = node.check(value)
        if problem is not None:
            raise Unsatisfiable(
                node.path, f"const {value!r} does not satisfy the validator ({problem})"
            )
        return _fresh(value)
    if kind == "choice":
        values = [coerce(value, types) for value in override.value]
        for value in values:
            problem = node.check(value)
            if problem is not None:
                raise Unsatisfiable(
                    node.path, f"choice {value!r} does not satisfy the validator ({problem})"
                )
        if override.weights is None:
            return _draw(values, context)
        if (
            all(weight == int(weight) for weight in override.weights)
            and sum(override.weights) <= 10_000
        ):
            # Whole weights: a table with each value repeated by its weight, drawn uniformly.
            slots = [
                value
                for value, weight in zip(values, override.weights, strict=True)
                for _ in range(int(weight))
            ]
            return _draw(slots, context)
        total = sum(override.weights)
        cumulative = list(itertools.accumulate(weight / total for weight in override.weights))
        cumulative[-1] = 1.0
        choices = tuple(values)
        last = len(choices) - 1

        def weighted() -> Any:
            value = choices[min(bisect.bisect_right(cumulative, random_()), last)]
            return copy.deepcopy(value) if isinstance(value, dict | list) else value

        return weighted
    if kind == "faker":
        try:
            pool = context.pools.pool(override.value, override.args)
        except UnknownProvider:
            raise Unsatisfiable(node.path, f"Faker has no provider {override.value!r}") from None
        except (TypeError, ValueError, AttributeError) as error:
            raise Unsatisfiable(
                node.path, f"Faker provider {override.value!r} refused its args: {error}"
            ) from None
        return _draw(tuple(coerce(value, types) for value in pool), context)
    if kind == "range":
        low, high = override.value
        if isinstance(low, dt.datetime):
            low_ms = datetime_to_millis(low)
            span = datetime_to_millis(high) - low_ms + 1
            if types is None or "date" in types:
                from_timestamp, utc = dt.datetime.fromtimestamp, dt.UTC
                return lambda: from_timestamp((low_ms + int(random_() * span)) / 1000, utc)
            return lambda: coerce(_millis_date(low_ms + int(random_() * span)), types)
        if isinstance(low, int) and isinstance(high, int):
            width = high - low + 1
            return lambda: coerce(low + int(random_() * width), types)
        low_f, high_f = float(low), float(high)

        def uniform() -> Any:
            value = low_f + random_() * (high_f - low_f)
            rounded = round(value, 2)
            return coerce(rounded if low_f <= rounded <= high_f else value, types)

        return uniform
    if kind == "sequence":
        start, step = override.value, override.step
        state = context.state
        if override.scope == "parent":
            return lambda: coerce(start + step * state.position, types)
        return lambda: coerce(start + step * state.index, types)
    if kind == "template":
        return _compile_template(override, node, context)
    return _compile_ref(override, node, context)


def _millis_date(millis: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(millis / 1000, dt.UTC)


def _compile_ref(override: Override, node: Node, context: GenerationContext) -> Generator:
    namespace, field_path = context.refs[override.path]
    table = context.parents.get(namespace)
    if table is None or field_path not in table.fields:  # pragma: no cover (the plan sees to it)
        raise Unsatisfiable(node.path, f"ref {override.ref}: {namespace} is not generated first")
    if not table.rows:
        raise Unsatisfiable(
            node.path,
            f"ref {override.ref}: {namespace} has no documents to refer to (give it a count)",
        )
    column = table.fields.index(field_path)
    rows = table.rows
    problem = node.check(rows[0][column])
    if problem is not None:
        raise Unsatisfiable(
            node.path, f"ref {override.ref} gives values the validator refuses ({problem})"
        )
    state = context.state
    if namespace == context.own_parent and not node.in_array:
        return lambda: state.parent_row[column]
    random_ = context.rng.random
    # The rows are counted at each draw: a seed run compiles every collection before the
    # first is generated (catalog errors first), so the table may hold only a sample now.
    if node.in_array:
        return lambda: rows[int(random_() * len(rows))][column]
    picks = state.picks

    def pick() -> Any:
        row = picks.get(namespace)
        if row is None:
            row = picks[namespace] = rows[int(random_() * len(rows))]
        return row[column]

    return pick


def _compile_template(override: Override, node: Node, context: GenerationContext) -> Generator:
    pieces = [_template_piece(part, node, context) for part in override.template]
    parts = tuple(pieces)
    if not override.field_references:
        return lambda: "".join(piece(None) for piece in parts)
    if node.path.endswith("]"):
        raise Unsatisfiable(node.path, "a template for array items cannot read other fields")
    return lambda: Pending(lambda doc: "".join(piece(doc) for piece in parts))


Piece = Callable[[dict[str, Any] | None], str]


def _template_piece(part: TemplatePart, node: Node, context: GenerationContext) -> Piece:
    """The function that writes one part of a template (given the document, for field parts)."""
    random_ = context.rng.random
    getrandbits = context.rng.getrandbits
    state = context.state
    kind, value, spec = part.kind, part.value, part.spec

    def text(_document: dict[str, Any] | None) -> str:
        return str(value)

    def position(_document: dict[str, Any] | None) -> str:
        return format(state.index + (1 if kind == "number" else 0), spec)

    def hexadecimal(_document: dict[str, Any] | None) -> str:
        return format(getrandbits(4 * value), f"0{value}x")

    alphabet = string.digits if kind == "digits" else _LETTERS

    def characters(_document: dict[str, Any] | None) -> str:
        return "".join(alphabet[int(random_() * len(alphabet))] for _ in range(value))

    def random_uuid(_document: dict[str, Any] | None) -> str:
        return str(uuid.UUID(int=getrandbits(128), version=4))

    def field_text(document: dict[str, Any] | None) -> str:
        return _field_text(document, value, spec)

    if kind == "faker":
        try:
            texts = tuple(str(item) for item in context.pools.pool(value))
        except UnknownProvider:
            raise Unsatisfiable(node.path, f"template: Faker has no provider {value!r}") from None

        def faker_text(_document: dict[str, Any] | None) -> str:
            return texts[int(random_() * len(texts))]

        return faker_text
    pieces: dict[str, Piece] = {
        "text": text,
        "index": position,
        "number": position,
        "hex": hexadecimal,
        "digits": characters,
        "letters": characters,
        "uuid": random_uuid,
    }
    return pieces.get(kind, field_text)


def _field_text(document: dict[str, Any] | None, reference: str, spec: str) -> str:
    value: Any = document
    for part in reference.split("."):
        value = value.get(part, MISSING) if isinstance(value, dict) else MISSING
    if value is MISSING or value is None:
        return ""
    if isinstance(value, dt.datetime):
        return iso_text(value) if not spec else format(value, spec)
    if isinstance(value, Int64 | Decimal128 | ObjectId):
        value = int(value) if isinstance(value, Int64) else str(value)
    return format(value, spec)


# --- scalars ----------------------------------------------------------------


def _compile_object_id(node: Node, context: GenerationContext) -> Generator:
    random_ = context.rng.random
    getrandbits = context.rng.getrandbits
    newest = datetime_to_millis(context.now) // 1000
    span = 365 * 86_400

    def object_id() -> ObjectId:
        # 4-byte seconds in the year before the reference, then 8 random bytes
        seconds = newest - int(random_() * span)
        return ObjectId(((seconds << 64) | getrandbits(64)).to_bytes(12, "big"))

    return object_id


def _length_window(node: Node) -> tuple[int, int | None]:
    if node.max_length is not None and node.min_length > node.max_length:
        raise Unsatisfiable(
            node.path, f"minLength {node.min_length} is above maxLength {node.max_length}"
        )
    return node.min_length, node.max_length


def _words(context: GenerationContext) -> tuple[str, ...]:
    return tuple(word for word in context.pools.pool("word") if isinstance(word, str) and word)


def _phrases(context: GenerationContext) -> tuple[str, ...]:
    words = _words(context)
    picker = random.Random(len(words))  # fixed: the phrases follow from the (seeded) words
    phrases = []
    for _ in range(len(words)):
        count = 1 + int(picker.random() * 3)
        phrases.append(" ".join(words[int(picker.random() * len(words))] for _ in range(count)))
    return tuple(phrases)


def _compile_string(node: Node, context: GenerationContext) -> Generator:
    low, high = _length_window(node)
    check = node.check
    if node.patterns:
        return _compile_pattern_string(node, context, low, high)
    shape = steer(node.name).string
    random_ = context.rng.random

    def fits(size: int) -> bool:
        return low <= size and (high is None or size <= high)

    needs_check = bool(node.nots or node.enum)
    if shape[0] == "faker":
        pool = tuple(
            value for value in context.pools.pool(shape[1], shape[2]) if isinstance(value, str)
        )
        suitable = tuple(
            value
            for value in pool
            if fits(len(value)) and (not needs_check or check(value) is None)
        )
        if len(suitable) >= max(1, len(pool) // 10):
            return _draw(suitable, context)
    else:
        shaped = _shaped_string(shape, node, context)
        if shaped is not None and fits(len(shaped[1])):
            return shaped[0]
    if low == 0 and (high is None or high >= 30):
        phrases = tuple(phrase for phrase in _phrases(context) if fits(len(phrase)))
        if phrases:
            return _draw(phrases, context)
    return _constructed_text(_words(context), low, high, random_)


def _shaped_string(
    shape: tuple[Any, ...], node: Node, context: GenerationContext
) -> tuple[Generator, str] | None:
    """A built-in string shape (hex digits, a UUID, a version, an ISO date) and one sample."""
    random_ = context.rng.random
    getrandbits = context.rng.getrandbits
    generator: Generator
    if shape[0] == "hex":
        size = shape[1]

        def generator() -> str:
            return format(getrandbits(4 * size), f"0{size}x")

        return generator, "0" * size
    if shape[0] == "uuid":

        def generator() -> str:
            return str(uuid.UUID(int=getrandbits(128), version=4))

        return generator, "0" * 36
    if shape[0] == "version":

        def generator() -> str:
            return f"{int(random_() * 4)}.{int(random_() * 20)}.{int(random_() * 20)}"

        return generator, "0.10.10"
    if shape[0] == "iso_date":
        low_ms, span = _date_window(node, context)

        def generator() -> str:
            return iso_text(_millis_date(low_ms + int(random_() * span)))

        return generator, "0" * 24
    return None


_PATTERN_SHAPES = (
    ("uuid",), ("hex", 24), ("hex", 32), ("hex", 40), ("hex", 64), ("hex", 16), ("hex", 12),
    ("hex", 8), ("iso_date",), ("version",),
)  # fmt: skip


def _constructed_text(
    words: tuple[str, ...], low: int, high: int | None, random_: Callable[[], float]
) -> Generator:
    """Words joined up to a length drawn between ``low`` and ``high`` (cut to fit)."""
    top = high if high is not None else max(low, 12) + 20
    top = min(top, max(low, 12) + 40)
    count = len(words)

    def text() -> str:
        target = low + int(random_() * (top - low + 1))
        if target == 0:
            return ""
        pieces = []
        size = -1
        while size < target:
            word = words[int(random_() * count)]
            pieces.append(word)
            size += len(word) + 1
        value = " ".join(pieces)[:target]
        if value.endswith(" "):
            value = value[:-1] + "x"
        return value

    return text


def _compile_pattern_string(
    node: Node, context: GenerationContext, low: int, high: int | None
) -> Generator:
    check = node.check
    shape = steer(node.name).string
    if shape[0] == "faker":  # a steered pool whose values match the pattern (emails...) is best
        pool = tuple(
            value for value in context.pools.pool(shape[1], shape[2]) if isinstance(value, str)
        )
        suitable = tuple(value for value in pool if check(value) is None)
        if len(suitable) >= max(1, len(pool) // 10):
            return _draw(suitable, context)
    for candidate in (shape, *_PATTERN_SHAPES):  # a tidy shape that matches beats a random one
        probe_context = replace(context, rng=random.Random(0))
        shaped = _shaped_string(candidate, node, probe_context)
        if shaped is not None and all(check(shaped[0]()) is None for _ in range(8)):
            real = _shaped_string(candidate, node, context)
            assert real is not None
            return real[0]
    builders = []
    for source in node.patterns:
        try:
            builders.append((source, compile_regex_generator(source)))
        except (RegexNotSupported, re.error, OverflowError):
            continue
    if not builders:
        raise Unsatisfiable(
            node.path, f"no string can be built for the pattern {node.patterns[0]!r}"
        )
    anchored = [
        (source, source.startswith("^"), source.endswith("$") and not source.endswith("\\$"))
        for source, _ in builders
    ]
    filler = _LETTERS

    shortest = [len(generate(random.Random(0), 0, True)) for _, generate in builders]

    def build(rng: random.Random, attempt: int) -> str:
        index = attempt % len(builders)
        _source, generate = builders[index]
        _, start_anchored, end_anchored = anchored[index]
        short = max(0, low - shortest[index])  # repetitions needed to reach minLength
        kind = attempt % 3
        if kind == 0:  # exactly that many extra repetitions in every quantifier
            value = generate(rng, short + (attempt // 3) % 3, True)
        else:
            extra = max(4, 2 * short) if kind == 1 else (4, 1, 0, 8, 2, 16)[attempt % 6]
            value = generate(rng, extra)
        if len(value) < low and not (start_anchored and end_anchored):
            padding = "".join(filler[int(rng.random() * 26)] for _ in range(low - len(value)))
            value = value + padding if not end_anchored else padding + value
        return value

    probe = random.Random(0)  # a probe of its own: the collection's draws stay as they are
    for attempt in range(200):
        if check(build(probe, attempt)) is None:
            break
    else:
        raise Unsatisfiable(
            node.path,
            f"no string of length {low}..{'' if high is None else high} matching "
            f"{' and '.join(repr(p) for p in node.patterns)} could be built",
        )
    rng = context.rng
    path = node.path

    def pattern_string() -> str:
        value = ""
        for attempt in range(ATTEMPTS * 4):
            value = build(rng, attempt)
            if check(value) is None:
                return value
        raise GenerationFailed(
            path, f"no string matching the pattern in {ATTEMPTS * 4} draws: {value!r}"
        )

    return pattern_string


def _integer_bounds(node: Node) -> tuple[Any, Any]:
    low = high = None
    if node.minimum is not None:
        value = plain_number(node.minimum)
        low = (
            math.floor(value) + 1
            if node.minimum_exclusive and value == math.floor(value)
            else math.ceil(value)
        )
    if node.maximum is not None:
        value = plain_number(node.maximum)
        high = (
            math.ceil(value) - 1
            if node.maximum_exclusive and value == math.ceil(value)
            else math.floor(value)
        )
    return low, high


def _fit_range(
    low: Any, high: Any, preferred: tuple[Any, Any], floor: Any, ceiling: Any, default_span: Any
) -> tuple[Any, Any]:
    """The range to draw from: the schema's bounds, narrowed to the preferred range if they meet."""
    low = floor if low is None else max(low, floor)
    high = ceiling if high is None else min(high, ceiling)
    if low > high:
        return low, high
    narrowed = (max(low, preferred[0]), min(high, preferred[1]))
    if narrowed[0] <= narrowed[1]:
        return narrowed
    if low == floor and high != ceiling:
        return max(floor, high - default_span), high
    if high == ceiling and low != floor:
        return low, min(ceiling, low + default_span)
    return low, high


def _compile_integer(
    node: Node, context: GenerationContext, allow_int: bool, allow_long: bool
) -> Generator:
    floor, ceiling = (INT64_MIN, INT64_MAX) if allow_long else (INT32_MIN, INT32_MAX)
    low, high = _integer_bounds(node)
    hint = steer(node.name).integer
    now_seconds = datetime_to_millis(context.now) // 1000
    if hint == ("epoch_seconds",):
        preferred = (now_seconds - PAST_WINDOW_MS // 1000, now_seconds)
    elif hint == ("epoch_millis",):
        preferred = (
            datetime_to_millis(context.now) - PAST_WINDOW_MS,
            datetime_to_millis(context.now),
        )
    else:
        preferred = hint
    step = 1
    for divisor in node.multiple_of:
        fraction = Fraction(str(plain_number(divisor)))
        step = math.lcm(step, fraction.numerator)
    first = last = 0
    # The preferred range first; when it holds no multiple, the whole range the schema allows.
    for window in (preferred, (floor, ceiling)):
        start, end = _fit_range(low, high, window, floor, ceiling, 1000 * step)
        first, last = -((-start) // step), end // step
        if first <= last:
            break
    else:
        raise Unsatisfiable(node.path, _no_number(node, "integer"))
    width = last - first + 1
    random_ = context.rng.random
    randrange = context.rng.randrange
    wrap = Int64 if (allow_long and not allow_int) else None
    if wrap is None and not allow_long and (first * step < INT32_MIN or last * step > INT32_MAX):
        raise Unsatisfiable(node.path, _no_number(node, "int"))  # pragma: no cover
    big = width > 2**52
    if step == 1 and not big and wrap is None:
        return lambda: first + int(random_() * width)

    def integer() -> Any:
        # int and long together: a plain int, which BSON stores as int32 when it fits
        value = (first + (randrange(width) if big else int(random_() * width))) * step
        return Int64(value) if wrap is not None else value

    return integer


def _no_number(node: Node, kind: str) -> str:
    parts = []
    if node.minimum is not None:
        parts.append(f"minimum {node.minimum!r}{' (exclusive)' if node.minimum_exclusive else ''}")
    if node.maximum is not None:
        parts.append(f"maximum {node.maximum!r}{' (exclusive)' if node.maximum_exclusive else ''}")
    if node.multiple_of:
        parts.append(f"multipleOf {', '.join(repr(m) for m in node.multiple_of)}")
    return f"no {kind} satisfies {' and '.join(parts) or 'the bounds'}"


def _float_bounds(node: Node) -> tuple[float | None, float | None]:
    low = high = None
    if node.minimum is not None:
        low = float(plain_number(node.minimum))
        if node.minimum_exclusive:
            low = math.nextafter(low, math.inf)
    if node.maximum is not None:
        high = float(plain_number(node.maximum))
        if node.maximum_exclusive:
            high = math.nextafter(high, -math.inf)
    return low, high


def _compile_double(node: Node, context: GenerationContext) -> Generator:
    return _compile_fractional(node, context, decimal=False)


def _compile_decimal(node: Node, context: GenerationContext) -> Generator:
    return _compile_fractional(node, context, decimal=True)


def _compile_fractional(node: Node, context: GenerationContext, *, decimal: bool) -> Generator:
    low, high = _float_bounds(node)
    preferred_low, preferred_high, digits = steer(node.name).double
    low, high = _fit_range(low, high, (preferred_low, preferred_high), -1e300, 1e300, 1000.0)
    if low > high:
        raise Unsatisfiable(node.path, _no_number(node, "decimal" if decimal else "double"))
    random_ = context.rng.random
    check = node.check
    path = node.path
    if node.multiple_of:
        step = Fraction(str(plain_number(node.multiple_of[0])))
        for divisor in node.multiple_of[1:]:
            other = Fraction(str(plain_number(divisor)))
            step = Fraction(
                math.lcm(step.numerator * other.denominator, other.numerator * step.denominator),
                step.denominator * other.denominator,
            )
        first = math.ceil(Fraction(low) / step)
        last = math.floor(Fraction(high) / step)
        if first > last:
            raise Unsatisfiable(node.path, _no_number(node, "decimal" if decimal else "double"))
        width = last - first + 1
        step_decimal = Decimal(step.numerator) / Decimal(step.denominator)

        def multiple() -> Any:
            value = Decimal(first + int(random_() * width)) * step_decimal
            return Decimal128(value) if decimal else float(value)

        return _verified(multiple, check, path)

    if decimal:
        return _verified(_decimal_values(node, low, high, digits, random_), check, path)

    def fractional() -> Any:
        value = low + random_() * (high - low)
        rounded = round(value, digits)
        return rounded if low <= rounded <= high else value

    return fractional


def _decimal_values(
    node: Node, low: float, high: float, digits: int, random_: Callable[[], float]
) -> Generator:
    """Decimal128 values inside the node's bounds, compared exactly (a double bound exactly too)."""
    context = create_decimal128_context()
    context.traps[Inexact] = False
    context.traps[Rounded] = False
    lowest = None if node.minimum is None else _exact(node.minimum)
    highest = None if node.maximum is None else _exact(node.maximum)

    def inside(number: Decimal) -> bool:
        if lowest is not None and (
            number < lowest or (node.minimum_exclusive and number == lowest)
        ):
            return False
        return highest is None or not (
            number > highest or (node.maximum_exclusive and number == highest)
        )

    if lowest is not None and lowest == highest and not inside(context.plus(lowest)):
        raise Unsatisfiable(
            node.path, f"no decimal128 value equals {node.minimum!r} (minimum and maximum)"
        )

    def value() -> Decimal128:
        drawn = low + random_() * (high - low)
        number = Decimal(repr(drawn))
        for candidate in (round(number, digits), number, Decimal(drawn), lowest, highest):
            if candidate is not None:
                rounded = context.plus(candidate)
                if inside(rounded):
                    return Decimal128(rounded)
        return Decimal128(context.plus(number))  # outside: the check draws again

    return value


def _exact(number: Any) -> Decimal:
    plain = plain_number(number)
    return plain if isinstance(plain, Decimal) else Decimal(plain)


def _compile_bool(node: Node, context: GenerationContext) -> Generator:
    ratio = steer(node.name).true_ratio
    random_ = context.rng.random
    return lambda: random_() < ratio


def _date_window(node: Node, context: GenerationContext) -> tuple[int, int]:
    """(first millisecond, span) of the dates a field gets."""
    window = context.date_windows.get(node.key)
    if window is not None:
        return window[0], max(1, window[1] - window[0])
    now_ms = context.now_ms
    if steer(node.name).date == "future":
        return now_ms + 1000, FUTURE_WINDOW_MS
    return now_ms - PAST_WINDOW_MS, PAST_WINDOW_MS + 1


def _compile_date(node: Node, context: GenerationContext) -> Generator:
    first, span = _date_window(node, context)
    random_ = context.rng.random
    from_timestamp = dt.datetime.fromtimestamp
    utc = dt.UTC

    def date() -> dt.datetime:
        # A float of milliseconds / 1000 rounds back to the exact millisecond (far below 2^53).
        return from_timestamp((first + int(random_() * span)) / 1000, utc)

    return date


def _compile_null(node: Node, context: GenerationContext) -> Generator:
    return lambda: None


def _compile_binary(node: Node, context: GenerationContext) -> Generator:
    getrandbits = context.rng.getrandbits
    if re.search("uuid|guid", node.name, re.IGNORECASE):
        return lambda: Binary(uuid.UUID(int=getrandbits(128), version=4).bytes, 4)
    return lambda: Binary(getrandbits(128).to_bytes(16, "big"), 0)


def _compile_timestamp(node: Node, context: GenerationContext) -> Generator:
    first, span = _date_window(node, context)
    random_ = context.rng.random
    return lambda: Timestamp((first + int(random_() * span)) // 1000, 1 + int(random_() * 100))


def _compile_regex_value(node: Node, context: GenerationContext) -> Generator:
    words = _words(context)
    random_ = context.rng.random
    return lambda: Regex("^" + re.escape(words[int(random_() * len(words))]), "i")


def _compile_code(node: Node, context: GenerationContext) -> Generator:
    return lambda: Code("function () { return this.status; }")


def _compile_code_with_scope(node: Node, context: GenerationContext) -> Generator:
    return lambda: Code("function () { return limit; }", {"limit": 10})


def _unsupported(alias: str) -> Callable[[Node, GenerationContext], Generator]:
    def compile_(node: Node, context: GenerationContext) -> Generator:
        raise Unsatisfiable(
            node.path, f"{alias} values cannot be generated (a deprecated BSON type)"
        )

    return compile_


# --- arrays -----------------------------------------------------------------


def _compile_array(node: Node, context: GenerationContext) -> Generator:
    low, high = node.min_items, node.max_items
    if high is not None and low > high:
        raise Unsatisfiable(node.path, f"minItems {low} is above maxItems {high}")
    random_ = context.rng.random
    positional: list[Generator] = []
    rest: Generator | None
    if isinstance(node.items, list):
        positional = [compile_node(item, context) for item in node.items]
        if node.additional_items is False:
            rest = None
            cap = len(positional)
            if low > cap:
                raise Unsatisfiable(
                    node.path, f"minItems {low} but additionalItems is false after {cap} items"
                )
            high = cap if high is None else min(high, cap)
        elif isinstance(node.additional_items, Node):
            rest = compile_node(node.additional_items, context)
        else:
            rest = _default_items(node, context)
    elif isinstance(node.items, Node):
        rest = compile_node(node.items, context)
    else:
        rest = _default_items(node, context)
    shortest = max(low, min(1, high if high is not None else 1))
    longest = high if high is not None else max(low, 1) + 2
    longest = min(longest, max(low, 1) + 4)
    spread = longest - shortest + 1
    fixed = tuple(positional)
    unique = node.unique_items
    path = node.path

    def array() -> list[Any]:
        size = shortest + int(random_() * spread)
        values = [generate() for generate in fixed[:size]]
        if unique:
            seen = {bson_key(value, ordered=False) for value in values}
            if len(seen) < len(values):
                raise GenerationFailed(path, "the positional items repeat a value (uniqueItems)")
            tries = 0
            while len(values) < size and rest is not None:
                value = rest()
                key = bson_key(value, ordered=False)
                if key not in seen:
                    seen.add(key)
                    values.append(value)
                    continue
                tries += 1
                if tries > ATTEMPTS:
                    if len(values) >= low:
                        break
                    raise GenerationFailed(
                        path, f"could not draw {low} distinct items (uniqueItems)"
                    )
            return values
        if rest is not None:
            values.extend(rest() for _ in range(size - len(values)))
        return values

    return array


def _default_items(node: Node, context: GenerationContext) -> Generator:
    item = Node(f"{node.path}[]", node.key, node.name, in_array=True)
    item.parts.append({})
    item.types = frozenset({"string"})
    return compile_node(item, context)


# --- objects ----------------------------------------------------------------


def _child_keys(prefix: str, paths: Any) -> list[str]:
    """Direct child names of ``prefix`` among ``paths`` (prefix "" means top level)."""
    names: list[str] = []
    for path in paths:
        if prefix:
            if not path.startswith(prefix + "."):
                continue
            rest = path[len(prefix) + 1 :]
        else:
            rest = path
        name = rest.split(".", 1)[0]
        if name and name != "*" and name not in names:
            names.append(name)
    return names


# Fields whose values follow one another in time: a document is created before it is
# updated, a run starts before it finishes. (early names, late names)
_TIME_ORDER = (
    (("created_at", "created", "created_on"),
     ("started_at", "started", "updated_at", "updated", "modified_at", "last_used", "last_seen")),
    (("started_at", "started", "start_time"),
     ("finished_at", "finished", "completed_at", "ended_at", "end_time")),
    (("first_used", "first_seen"), ("last_used", "last_seen")),
)  # fmt: skip
_LATER_BY_MS = 7_200_000  # a late field that came out earlier gets the early one plus up to 2 h


def _compile_object(
    node: Node, context: GenerationContext, *, object_root: bool = False
) -> Generator:
    """The generator of documents for ``node`` (see _compile_fields), with times in order."""
    generator = _compile_fields(node, context, object_root=object_root)
    names = set(node.properties)
    pairs = tuple(
        (early, late)
        for earlies, lates in _TIME_ORDER
        for early in earlies
        if early in names
        for late in lates
        if late in names
    )
    if not pairs:
        return generator
    random_ = context.rng.random
    delta = dt.timedelta
    checks = {late: node.properties[late].check for _, late in pairs}

    def in_order() -> dict[str, Any]:
        document = generator()
        for early, late in pairs:
            first, second = document.get(early), document.get(late)
            if first is None or second is None or type(first) is not type(second):
                continue
            if isinstance(first, dt.datetime):
                if second >= first:
                    continue
                later: Any = first + delta(0, 0, 0, int(random_() * _LATER_BY_MS))
            elif isinstance(first, int) and not isinstance(first, bool) and second < first:
                later = type(first)(first + int(random_() * _LATER_BY_MS) // 1000)
            else:
                continue
            if checks[late](later) is None:  # only where the late field's schema allows it
                document[late] = later
        return document

    return in_order


def _compile_fields(
    node: Node, context: GenerationContext, *, object_root: bool = False
) -> Generator:
    properties = dict(node.properties)
    required = set(node.required)
    # Fields the seed settings (generators, refs, unique keys) need, though the schema may not
    # list them; and fields the collection implies (a time-series collection's time field).
    needed_paths = list(context.overrides) + list(context.forced)
    wanted = _child_keys(node.key, needed_paths)
    forced = set(wanted)
    for name in wanted + _child_keys(node.key, context.implied):
        child_key = join(node.key, name)
        deeper = any(path.startswith(child_key + ".") for path in needed_paths)
        if name in properties:
            child = properties[name]
            if deeper and child.types is None and child_key not in context.overrides:
                child = child.copy()
                child.types = frozenset({"object"})
                properties[name] = child
            continue
        if node.additional is False and not _pattern_matches(node, name):
            raise Unsatisfiable(
                join(node.path, name),
                "seed settings or an index need this field, but the validator does not allow it "
                "(additionalProperties is false)",
            )
        raw = context.implied.get(child_key, {})
        child = build_node(raw, join(node.path, name), child_key, name, in_array=node.in_array)
        if isinstance(node.additional, Node):
            child = merge(child, node.additional)
        if deeper and child.types is None:
            child.types = frozenset({"object"})
        properties[name] = child
    for name in node.required:
        if name in properties:
            continue
        if node.additional is False and not _pattern_matches(node, name):
            raise Unsatisfiable(
                join(node.path, name),
                "required, but additionalProperties is false and properties does not list it",
            )
        child = Node(join(node.path, name), join(node.key, name), name, node.in_array)
        child.parts.append({})
        if isinstance(node.additional, Node):
            child = merge(child, node.additional)
        properties[name] = child
    for name, child in list(properties.items()):
        for source, pattern_node in node.pattern_properties:
            if re.search(source, name):
                child = merge(child, pattern_node)
        properties[name] = child
    for name, then in node.dependencies:
        if isinstance(then, list) and (name in required or name in forced):
            required.update(then)
    absent = _absent_fields(node, required | forced, set(properties))
    for name in absent:
        properties.pop(name, None)
    entries: list[tuple[str, Generator, float]] = []
    for name, child in properties.items():
        generator = compile_node(child, context)
        presence = 1.0 if (name in required or name in forced) else OPTIONAL_PRESENCE
        entries.append((name, generator, presence))
    always = sum(1 for _, _, presence in entries if presence >= 1.0)
    if node.max_properties is not None and always > node.max_properties:
        raise Unsatisfiable(
            node.path, f"{always} fields are required but maxProperties is {node.max_properties}"
        )
    extras = (
        _compile_extras(node, context, properties, absent)
        if not properties or node.min_properties
        else None
    )
    if node.min_properties and len(entries) < node.min_properties and extras is None:
        raise Unsatisfiable(
            node.path,
            f"minProperties {node.min_properties} but only {len(entries)} fields are allowed",
        )
    random_ = context.rng.random
    state = context.state
    has_pending = any(
        override.kind == "template" and override.field_references
        for override in context.overrides.values()
    )
    dependencies = [(name, then) for name, then in node.dependencies if isinstance(then, list)]
    generators = {name: generator for name, generator, _ in entries}
    optional = [name for name, _, presence in entries if presence < 1.0]
    min_properties, max_properties = node.min_properties, node.max_properties
    path = node.path
    simple = not (
        dependencies or extras or min_properties or max_properties is not None or has_pending
    )
    table = tuple(entries)
    if simple:
        return object_builder(table, random_)

    def full_object() -> dict[str, Any]:
        document: dict[str, Any] = {}
        for name, generator, presence in table:
            if presence >= 1.0 or random_() < presence:
                document[name] = generator()
        if extras is not None:
            extras(
                document,
                random_,
                None,
                None if max_properties is None else max_properties - len(document),
            )
        if min_properties and len(document) < min_properties:
            for name in optional:
                if name not in document:
                    document[name] = generators[name]()
                    if len(document) >= min_properties:
                        break
            if len(document) < min_properties and extras is not None:
                extras(document, random_, min_properties - len(document))
        for name, needed in dependencies:
            if name in document:
                for other in needed:
                    if other not in document:
                        if other not in generators:
                            raise GenerationFailed(
                                join(path, other),
                                f"required when {name!r} is present, but cannot be generated",
                            )
                        document[other] = generators[other]()
        removed = True
        while max_properties is not None and len(document) > max_properties and removed:
            removed = False  # a field another one needs goes once that one has gone
            for name in reversed(optional):
                if name in document and not _needed(name, document, dependencies):
                    del document[name]
                    removed = True
                    if len(document) <= max_properties:
                        break
        if has_pending:
            for name, value in document.items():
                if type(value) is Pending:
                    state.pending.append((document, name, value))
        return document

    return full_object


def _absent_fields(node: Node, kept: set[str], listed: set[str]) -> set[str]:
    """The fields left out of every document so that each ``not: {required: [...]}`` holds.

    One name of each list goes: preferably one the schema does not list (never
    generated anyway), else the first that is neither required nor needed by the seed
    settings; a field whose dependencies need a left-out field goes too. Raise
    Unsatisfiable when every name of a list must be present.
    """
    absent: set[str] = set()
    for names in node.absent_any:
        if any(name in absent for name in names):
            continue
        candidates = [name for name in names if name not in kept]
        if not candidates:
            raise Unsatisfiable(
                node.path,
                f"not {{required: {list(names)}}} forbids having all of these fields, but "
                "each is required (or needed by seed settings or a unique index)",
            )
        unlisted = [name for name in candidates if name not in listed]
        absent.add((unlisted or candidates)[0])
    changed = bool(absent)
    while changed:  # dependencies: {a: [b]} with b left out leaves a out as well
        changed = False
        for name, then in node.dependencies:
            if isinstance(then, list) and name not in absent and absent.intersection(then):
                if name in kept:
                    raise Unsatisfiable(
                        join(node.path, name),
                        f"required, but it needs {sorted(absent.intersection(then))}, "
                        "which a `not: {required: [...]}` leaves out",
                    )
                absent.add(name)
                changed = True
    return absent


def object_builder(
    entries: tuple[tuple[str, Generator, float], ...], random_: Callable[[], float]
) -> Generator:
    """A function that builds the document of ``entries`` (name, generator, presence).

    The function's source is written out once per object schema, a line or two
    per field, so that building a document costs one call per leaf field and
    nothing else: no loop over fields, no lookups. Sub-documents built the same
    way are written into the same function rather than called. Field order
    (and the order of random draws) is the schema's.
    """
    scope: dict[str, Any] = {"random_": random_}
    lines = ["def build():"]
    counter = itertools.count()

    def emit(table: tuple[tuple[str, Generator, float], ...], indent: str) -> str:
        """Write the statements that build one document; return the variable holding it."""
        variable = f"d{next(counter)}"
        lines.append(f"{indent}{variable} = {{}}")
        for name, generator, presence in table:
            inner = indent
            if presence < 1.0:
                lines.append(f"{indent}if random_() < {presence!r}:")
                inner = indent + "    "
            nested = getattr(generator, "object_entries", None)
            if nested is not None:
                child = emit(nested, inner)
                lines.append(f"{inner}{variable}[{name!r}] = {child}")
            else:
                function = f"g{next(counter)}"
                scope[function] = generator
                lines.append(f"{inner}{variable}[{name!r}] = {function}()")
        return variable

    result = emit(entries, "    ")
    lines.append(f"    return {result}")
    exec(compile("\n".join(lines), "<seed object builder>", "exec"), scope)  # noqa: S102
    builder: Generator = scope["build"]
    builder.object_entries = entries  # type: ignore[attr-defined]
    return builder


def _needed(name: str, document: dict[str, Any], dependencies: list[tuple[str, Any]]) -> bool:
    return any(name in needed and owner in document for owner, needed in dependencies)


def _compile_extras(
    node: Node, context: GenerationContext, properties: dict[str, Node], absent: set[str]
) -> Any:
    """Extra fields for a free-form document (no properties listed), or to reach minProperties;
    never one of the ``absent`` fields."""
    if node.additional is False and not node.pattern_properties:
        return None
    names: list[str] = []
    value_generators: list[Generator] = []
    key_builders: list[Any] = []
    for source, pattern_node in node.pattern_properties:
        try:
            key_builders.append(
                (
                    compile_regex_generator(source),
                    re.compile(source),
                    compile_node(pattern_node, context),
                )
            )
        except (RegexNotSupported, re.error):
            continue
    if node.additional is not False:
        if isinstance(node.additional, Node):
            value_generators.append(compile_node(node.additional, context))
        else:
            free = Node(join(node.path, "*"), join(node.key, "*"), "value", node.in_array)
            free.parts.append({})
            free.types = frozenset({"string", "int"})
            value_generators.append(compile_node(free, context))
        names = [
            word
            for word in _words(context)
            if word.isidentifier() and word not in properties and word not in absent
        ]
        names = [
            name
            for name in names
            if not any(re.search(source, name) for source, _ in node.pattern_properties)
        ]
    if not names and not key_builders:
        return None
    rng = context.rng
    path = node.path
    free_form = not properties

    def add(
        document: dict[str, Any],
        random_: Callable[[], float],
        wanted: int | None = None,
        room: int | None = None,
    ) -> None:
        count = wanted if wanted is not None else (int(random_() * 4) if free_form else 0)
        if room is not None:
            count = min(count, room)
        tries = 0
        while count > 0:
            tries += 1
            if tries > ATTEMPTS:
                raise GenerationFailed(path, "could not add enough distinct fields (minProperties)")
            if names and (not key_builders or random_() < 0.5):
                key = names[int(random_() * len(names))]
                value = value_generators[0]()
            else:
                build, regex, value_generator = key_builders[int(random_() * len(key_builders))]
                key = build(rng, 3)
                if (
                    not key
                    or regex.search(key) is None
                    or "." in key
                    or key.startswith("$")
                    or key in absent
                ):
                    continue
                value = value_generator()
            if key in document:
                continue
            document[key] = value
            count -= 1

    return add


_SCALAR_COMPILERS: dict[str, Callable[[Node, GenerationContext], Generator]] = {
    "objectId": _compile_object_id,
    "string": _compile_string,
    "double": _compile_double,
    "decimal": _compile_decimal,
    "bool": _compile_bool,
    "date": _compile_date,
    "null": _compile_null,
    "binData": _compile_binary,
    "timestamp": _compile_timestamp,
    "regex": _compile_regex_value,
    "javascript": _compile_code,
    "javascriptWithScope": _compile_code_with_scope,
    "minKey": lambda node, context: MinKey,  # calling the class makes the value
    "maxKey": lambda node, context: MaxKey,
    "array": _compile_array,
    "undefined": _unsupported("undefined"),
    "dbPointer": _unsupported("dbPointer"),
    "symbol": _unsupported("symbol"),
}
