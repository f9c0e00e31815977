"""Strings that match a regular expression, drawn from a seeded random.Random.

``compile_regex_generator(pattern)`` parses the pattern once (with the
parser behind Python's ``re``) and returns a function that builds one
candidate string per call. A candidate is a full match of the pattern when
the pattern uses only literals, classes, groups, alternation, repetition,
anchors and back references; lookarounds and word boundaries are skipped, so
the caller checks every candidate with ``re.search`` (as MongoDB's
``pattern`` does) and draws again when one fails.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from typing import Any

try:  # Python 3.11+: the parser moved under re; sre_parse is a deprecated alias
    from re import _constants as sre_constants  # type: ignore[attr-defined]
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    import sre_constants  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

# Characters drawn for ".", negated classes and categories: printable, no newline.
UNIVERSE = string.ascii_letters + string.digits + " -_.,:;!?@#%&+=/()"
_CATEGORY_CHARACTERS = {
    sre_constants.CATEGORY_DIGIT: string.digits,
    sre_constants.CATEGORY_NOT_DIGIT: string.ascii_letters + " -_.",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits + "-_.",
    sre_constants.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    sre_constants.CATEGORY_NOT_WORD: " -.,:;!?@#%&+=/()",
}
_ZERO_WIDTH = (
    sre_constants.AT,
    sre_constants.ASSERT,
    sre_constants.ASSERT_NOT,
)

RegexGenerator = Callable[..., str]


class RegexNotSupported(ValueError):
    """The pattern uses a construct no string can be built for."""


def compile_regex_generator(pattern: str) -> RegexGenerator:
    """Return ``generate(rng, extra=4, exact=False)`` for ``pattern``.

    ``extra`` bounds how many repetitions beyond a quantifier's minimum a
    quantifier may add (within its own maximum); 0 gives the shortest strings.
    With ``exact`` every quantifier adds exactly ``extra`` (or up to its maximum),
    which reaches a wanted length in one draw for patterns with one quantifier.
    Raise RegexNotSupported (or re.error) when the pattern cannot be parsed.
    """
    parsed = sre_parse.parse(pattern)

    def generate(rng: random.Random, extra: int = 4, exact: bool = False) -> str:
        groups: dict[int, str] = {}
        parts: list[str] = []
        _emit(list(parsed), rng, -extra - 1 if exact else extra, groups, parts)
        return "".join(parts)

    return generate


def _class_characters(items: list[tuple[Any, Any]]) -> tuple[bool, list[tuple[int, int]]]:
    """Return (negated, ranges of code points) for the items of a [...] class."""
    negated = False
    ranges: list[tuple[int, int]] = []
    for op, argument in items:
        if op is sre_constants.NEGATE:
            negated = True
        elif op is sre_constants.LITERAL:
            ranges.append((argument, argument))
        elif op is sre_constants.RANGE:
            ranges.append((argument[0], argument[1]))
        elif op is sre_constants.CATEGORY:
            ranges.extend((ord(c), ord(c)) for c in _CATEGORY_CHARACTERS.get(argument, ""))
        else:
            raise RegexNotSupported(f"character class item {op}")
    return negated, ranges


def _pick_from_class(items: list[tuple[Any, Any]], rng: random.Random) -> str:
    negated, ranges = _class_characters(items)
    if negated:
        allowed = [c for c in UNIVERSE if not any(lo <= ord(c) <= hi for lo, hi in ranges)]
        if not allowed:
            raise RegexNotSupported("a negated class that excludes every printable character")
        return allowed[int(rng.random() * len(allowed))]
    if not ranges:
        raise RegexNotSupported("an empty character class")
    total = sum(hi - lo + 1 for lo, hi in ranges)
    point = int(rng.random() * total)
    for lo, hi in ranges:
        size = hi - lo + 1
        if point < size:
            return chr(lo + point)
        point -= size
    return chr(ranges[-1][1])  # pragma: no cover


def _emit(
    items: list[tuple[Any, Any]],
    rng: random.Random,
    extra: int,
    groups: dict[int, str],
    parts: list[str],
) -> None:
    for op, argument in items:
        if op is sre_constants.LITERAL:
            parts.append(chr(argument))
        elif op is sre_constants.NOT_LITERAL:
            choices = [c for c in UNIVERSE if ord(c) != argument]
            parts.append(choices[int(rng.random() * len(choices))])
        elif op is sre_constants.ANY:
            parts.append(UNIVERSE[int(rng.random() * len(UNIVERSE))])
        elif op is sre_constants.IN:
            parts.append(_pick_from_class(argument, rng))
        elif op is sre_constants.BRANCH:
            branches = argument[1]
            _emit(list(branches[int(rng.random() * len(branches))]), rng, extra, groups, parts)
        elif op is sre_constants.SUBPATTERN:
            group, _add_flags, _del_flags, body = argument
            start = len(parts)
            _emit(list(body), rng, extra, groups, parts)
            if group is not None:
                groups[group] = "".join(parts[start:])
        elif op in (
            sre_constants.MAX_REPEAT,
            sre_constants.MIN_REPEAT,
            sre_constants.POSSESSIVE_REPEAT,
        ):
            low, high, body = argument
            if extra < 0:  # exact: -(extra + 1) more than the minimum, within the maximum
                wanted = low - extra - 1
                count = wanted if high is sre_constants.MAXREPEAT else min(wanted, high)
            else:
                if high is sre_constants.MAXREPEAT or high > low + extra:
                    high = low + extra
                count = low + int(rng.random() * (high - low + 1))
            for _ in range(count):
                _emit(list(body), rng, extra, groups, parts)
        elif op is sre_constants.GROUPREF:
            parts.append(groups.get(argument, ""))
        elif op is sre_constants.ATOMIC_GROUP:
            _emit(list(argument), rng, extra, groups, parts)
        elif op in _ZERO_WIDTH:
            continue  # anchors and lookarounds add no characters; the caller checks
        elif op is sre_constants.GROUPREF_EXISTS:
            group, yes, no = argument
            chosen = yes if group in groups else no
            if chosen is not None:
                _emit(list(chosen), rng, extra, groups, parts)
        else:
            raise RegexNotSupported(f"regular expression construct {op}")
