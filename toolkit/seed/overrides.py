"""The `seed.fields` generators of a collection, parsed and checked once.

    user_id:   {ref: users._id}                      a value of an already generated parent
    status:    {choice: [active, done], weights: [3, 1]}
    score:     {range: [0, 100]}                     ints, floats or dates, both ends included
    email:     {faker: email}                        a Faker provider (args: {...} to call it with)
    tier:      {const: gold}
    step_id:   {sequence: 1, step: 1, scope: parent} start + step x the document's position
    code:      {template: "INV-{index:05d}-{hex:4}"} text with placeholders

Template placeholders: ``{index}`` (the document's 0-based position among the
generated documents of its collection) and ``{number}`` (position + 1), both
with an optional format spec (``{index:05d}``); ``{hex:N}``, ``{digits:N}``,
``{letters:N}`` (N random characters); ``{uuid}``; ``{faker:provider}``; and
``{a.b}``, the value of another field of the same document. ``{{`` and
``}}`` are literal braces.

Field paths are dotted and go through arrays: ``members.user_id`` is the
``user_id`` of every item of ``members``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import CatalogError

GENERATOR_KEYS = ("faker", "const", "choice", "range", "sequence", "template", "ref")
_MODIFIERS = {
    "faker": {"args"},
    "const": set(),
    "choice": {"weights"},
    "range": set(),
    "sequence": {"step", "scope"},
    "template": set(),
    "ref": set(),
}
_RANDOM_PLACEHOLDERS = ("hex", "digits", "letters")
_FIELD_REFERENCE = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_$][\w-]*)*$")


@dataclass(frozen=True)
class TemplatePart:
    """A literal text (kind "text") or a placeholder: index, number, hex, digits,
    letters, uuid, faker or field."""

    kind: str
    value: Any = None
    spec: str = ""


@dataclass(frozen=True)
class Override:
    """One parsed field generator."""

    path: str
    kind: str
    value: Any = None
    weights: tuple[float, ...] | None = None
    args: dict[str, Any] = field(default_factory=dict)
    step: Any = 1
    scope: str = "collection"
    template: tuple[TemplatePart, ...] = ()
    ref: str = ""

    @property
    def field_references(self) -> list[str]:
        """Paths of the same document that a template reads."""
        return [part.value for part in self.template if part.kind == "field"]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _moment(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    return None


def parse_template(text: str) -> tuple[TemplatePart, ...]:
    """Split a template into parts. Raise ValueError for an unbalanced or unknown placeholder."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        character = text[position]
        if character == "{" and text.startswith("{{", position):
            literal.append("{")
            position += 2
            continue
        if character == "}":
            if text.startswith("}}", position):
                literal.append("}")
                position += 2
                continue
            raise ValueError(f"unmatched '}}' at position {position}")
        if character != "{":
            literal.append(character)
            position += 1
            continue
        end = text.find("}", position)
        if end < 0:
            raise ValueError(f"unclosed '{{' at position {position}")
        if literal:
            parts.append(TemplatePart("text", "".join(literal)))
            literal = []
        parts.append(_placeholder(text[position + 1 : end]))
        position = end + 1
    if literal:
        parts.append(TemplatePart("text", "".join(literal)))
    return tuple(parts)


def _placeholder(body: str) -> TemplatePart:
    name, _, argument = body.partition(":")
    name = name.strip()
    if name in ("index", "number"):
        format(0, argument)  # ValueError for a bad format spec
        return TemplatePart(name, spec=argument)
    if name in _RANDOM_PLACEHOLDERS:
        if not argument.isdigit() or not 0 < int(argument) <= 1024:
            raise ValueError(f"{{{body}}}: {name} takes a length from 1 to 1024, e.g. {{{name}:8}}")
        return TemplatePart(name, int(argument))
    if name == "uuid" and not argument:
        return TemplatePart("uuid")
    if name == "faker":
        if not argument:
            raise ValueError("{faker:...} needs a provider name, e.g. {faker:last_name}")
        return TemplatePart("faker", argument.strip())
    if _FIELD_REFERENCE.match(name):
        format("", argument)  # ValueError for a bad format spec
        return TemplatePart("field", name, argument)
    raise ValueError(f"unknown placeholder {{{body}}}")


def parse_override(path: str, spec: Any, where: str) -> Override:
    """Parse one entry of seed.fields. Raise CatalogError naming ``where`` and the field."""
    location = f"{where}: seed.fields.{path}"
    if not isinstance(spec, Mapping):
        raise CatalogError(f"{location}: a field generator is a mapping such as {{faker: email}}")
    kinds = [key for key in GENERATOR_KEYS if key in spec]
    if len(kinds) != 1:
        raise CatalogError(
            f"{location}: give exactly one of {', '.join(GENERATOR_KEYS)} "
            f"(found {', '.join(kinds) or 'none'})"
        )
    kind = kinds[0]
    unknown = sorted(set(spec) - {kind} - _MODIFIERS[kind])
    if unknown:
        allowed = ", ".join(sorted(_MODIFIERS[kind])) or "nothing"
        raise CatalogError(
            f"{location}: unknown key(s) {', '.join(unknown)} ({kind} takes {allowed})"
        )
    value = spec[kind]
    if kind == "faker":
        args = spec.get("args", {})
        if not isinstance(value, str) or not value:
            raise CatalogError(f"{location}: faker names a provider, e.g. {{faker: email}}")
        if not isinstance(args, Mapping):
            raise CatalogError(f"{location}: args must be a mapping of the provider's arguments")
        return Override(path, kind, value, args=dict(args))
    if kind == "const":
        return Override(path, kind, value)
    if kind == "choice":
        if not isinstance(value, list) or not value:
            raise CatalogError(f"{location}: choice must be a non-empty list of values")
        weights = spec.get("weights")
        if weights is not None:
            if (
                not isinstance(weights, list)
                or len(weights) != len(value)
                or not all(_number(weight) and weight >= 0 for weight in weights)
                or not sum(weights) > 0
            ):
                raise CatalogError(
                    f"{location}: weights must be {len(value)} non-negative numbers, not all 0"
                )
            weights = tuple(float(weight) for weight in weights)
        return Override(path, kind, list(value), weights=weights)
    if kind == "range":
        if not isinstance(value, list) or len(value) != 2:
            raise CatalogError(f"{location}: range is [low, high]")
        low, high = value
        if _number(low) and _number(high):
            if low > high:
                raise CatalogError(f"{location}: range low {low} is above high {high}")
            return Override(path, kind, (low, high))
        moments = (_moment(low), _moment(high))
        if moments[0] is not None and moments[1] is not None:
            if moments[0] > moments[1]:
                raise CatalogError(f"{location}: range starts after it ends")
            return Override(path, kind, moments)
        raise CatalogError(f"{location}: range takes two numbers or two dates")
    if kind == "sequence":
        step = spec.get("step", 1)
        scope = spec.get("scope", "collection")
        if not _number(value) or not _number(step):
            raise CatalogError(
                f"{location}: sequence takes a number to start at (and a number step)"
            )
        if scope not in ("collection", "parent"):
            raise CatalogError(f"{location}: scope is collection or parent")
        return Override(path, kind, value, step=step, scope=scope)
    if kind == "template":
        if not isinstance(value, str):
            raise CatalogError(f"{location}: template is a string")
        try:
            parts = parse_template(value)
        except ValueError as error:
            raise CatalogError(f"{location}: template {value!r}: {error}") from None
        if any(part.kind == "field" and part.value == path for part in parts):
            raise CatalogError(f"{location}: a template cannot read its own field")
        return Override(path, kind, value, template=parts)
    if not isinstance(value, str) or "." not in value:
        raise CatalogError(f"{location}: ref names a parent field, e.g. {{ref: users._id}}")
    return Override(path, kind, ref=value)


def parse_overrides(fields: Mapping[str, Any] | None, where: str) -> dict[str, Override]:
    """Parse a collection's seed.fields; raise CatalogError listing every bad entry."""
    overrides: dict[str, Override] = {}
    problems: list[str] = []
    for path, spec in (fields or {}).items():
        try:
            overrides[str(path)] = parse_override(str(path), spec, where)
        except CatalogError as error:
            problems.append(error.message)
    if problems:
        raise CatalogError(
            f"{where}: {len(problems)} bad seed field generator(s)", problems=problems
        )
    return overrides
