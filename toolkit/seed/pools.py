"""Faker value pools, and the field-name steering that picks a provider or a range.

Calling Faker for every field of every document costs tens to hundreds of
microseconds a value; a seed run of a million documents cannot afford it. So
each provider is called a fixed number of times, once per (provider,
arguments, seed), and documents draw from that pool with the collection's own
seeded ``random.Random``. The same seed gives the same pools, whatever the
order in which collections ask for them (each pool has its own Faker seed).
Values depend on the installed Faker version and its en_US locale.

``steer(name)`` reads a field's name ("email", "created_at", "ip_address",
"retry_count"...) and returns what to generate for each type that field may
have: a Faker provider or a built-in shape for strings, a window for dates, a
range for numbers, a probability for booleans.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bson import Decimal128
from bson.binary import Binary

from toolkit.seed.bsonvalues import EPOCH

DEFAULT_POOL_SIZE = 1000


def derive_seed(*parts: Any) -> int:
    """A 64-bit seed derived from ``parts`` (stable across runs and Python versions)."""
    text = "\x00".join(str(part) for part in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


class UnknownProvider(ValueError):
    """No Faker provider has this name."""


def normalize_value(value: Any) -> Any:
    """Turn a Faker value into a BSON-ready one (UTC dates in milliseconds, lists, Binary)."""
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return Decimal128(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return Binary(bytes(value))
    if isinstance(value, Mapping):
        return {str(key): normalize_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [normalize_value(item) for item in items]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


class FakerPools:
    """Pools of Faker values for one seed: ``pool("email")`` -> a tuple of emails."""

    def __init__(self, seed: int, *, size: int = DEFAULT_POOL_SIZE, locale: str = "en_US") -> None:
        self.seed = seed
        self.size = size
        self.locale = locale
        self._faker: Any = None
        self._pools: dict[tuple[str, str], tuple[Any, ...]] = {}

    def _instance(self) -> Any:
        if self._faker is None:
            from faker import Faker  # imported on first use: it takes a while to load

            self._faker = Faker(self.locale)
        return self._faker

    def provider(self, name: str) -> Any:
        """The bound provider method ``name``; raise UnknownProvider for anything else."""
        from faker.providers import BaseProvider

        faker = self._instance()
        method = None if name.startswith("_") else getattr(faker, name, None)
        if not callable(method) or not isinstance(getattr(method, "__self__", None), BaseProvider):
            raise UnknownProvider(name)
        return method

    def pool(self, name: str, args: Mapping[str, Any] | None = None) -> tuple[Any, ...]:
        """The pool of ``size`` values of provider ``name`` called with ``args``.

        Raise UnknownProvider for an unknown name, TypeError/ValueError when the
        provider refuses the arguments.
        """
        arguments = dict(args or {})
        key = (name, repr(sorted(arguments.items())))
        pool = self._pools.get(key)
        if pool is None:
            method = self.provider(name)
            self._instance().seed_instance(derive_seed(self.seed, "faker", name, key[1]))
            pool = tuple(normalize_value(method(**arguments)) for _ in range(self.size))
            self._pools[key] = pool
        return pool


@dataclass(frozen=True)
class Steering:
    """What a field's name suggests for each type it may have."""

    string: tuple[Any, ...] = ("words",)  # ("faker", provider, kwargs) or a built-in shape
    date: str = "past"  # "past" or "future"
    integer: tuple[Any, ...] = (0, 1000)  # (low, high) or ("epoch_seconds",) / ("epoch_millis",)
    double: tuple[float, float, int] = (0.0, 1000.0, 2)  # (low, high, decimal digits)
    true_ratio: float = 0.5


_TIME_NAME = (
    r"(^|_)(at|date|time|timestamp|datetime)$"
    r"|^(created|updated|modified|deleted|started|finished|completed|joined|last_used|last_seen"
    r"|last_login|last_run|published|posted|sent|received)(_at|_on|_date|_time)?$"
)

_STRING_RULES: list[tuple[str, tuple[Any, ...]]] = [
    (r"^_id$", ("hex", 24)),
    (r"(^|_)e_?mail(_address)?$|^email", ("faker", "email", {})),
    (r"(^|_)(git_)?commit$|(^|_)sha1?$", ("hex", 40)),
    (r"hash$|checksum|sha256", ("hex", 64)),
    (r"token|secret|api_?key|^key$", ("hex", 32)),
    (r"uuid|guid", ("uuid",)),
    (r"^(full_?name|display_?name|name|author|owner|contact_name)$", ("faker", "name", {})),
    (r"^(first_?name|given_?name)$", ("faker", "first_name", {})),
    (r"^(last_?name|surname|family_?name)$", ("faker", "last_name", {})),
    (r"user_?name|^login$|^handle$|screen_?name", ("faker", "user_name", {})),
    (
        r"(^|_)(url|uri|link|website|homepage|endpoint)$|^url_|(^|_)repo(sitory)?$",
        ("faker", "url", {}),
    ),
    (r"^ip$|(^|_)ip_?address$|^ip_|_ip$|ipv4", ("faker", "ipv4", {})),
    (r"country_?code", ("faker", "country_code", {})),
    (r"country", ("faker", "country", {})),
    (r"language_?code|^lang$|^locale$", ("faker", "language_code", {})),
    (r"language", ("faker", "language_name", {})),
    (r"user_?agent", ("faker", "user_agent", {})),
    (r"mime|content_?type", ("faker", "mime_type", {})),
    (r"file_?name", ("faker", "file_name", {})),
    (r"(^|_)(file_?)?path$", ("faker", "file_path", {})),
    (r"phone|mobile", ("faker", "phone_number", {})),
    (r"^city$", ("faker", "city", {})),
    (r"^street", ("faker", "street_address", {})),
    (r"address$", ("faker", "address", {})),
    (r"zip|post_?code|postal", ("faker", "postcode", {})),
    (r"company|organi[sz]ation_?name|employer", ("faker", "company", {})),
    (r"^job|occupation", ("faker", "job", {})),
    (r"domain", ("faker", "domain_name", {})),
    (r"host(_?name)?$", ("faker", "hostname", {})),
    (r"slug", ("faker", "slug", {})),
    (r"colou?r", ("faker", "color_name", {})),
    (r"currency", ("faker", "currency_code", {})),
    (r"version", ("version",)),
    (r"(^|_)(title|headline|subject|caption)$", ("faker", "sentence", {"nb_words": 6})),
    (
        r"^(text|body|content|message|comment|description|summary|bio|notes?|rendered|review"
        r"|details?)$|_(text|body|message|description|comment|summary)$",
        ("faker", "paragraph", {"nb_sentences": 3}),
    ),
    (_TIME_NAME, ("iso_date",)),
    (r"(^|_)id$|_ids?$", ("hex", 24)),
]

_DATE_RULES: list[tuple[str, str]] = [
    (r"expir|valid_until|until$|next_run|(^|_)due|deadline|scheduled|renew", "future"),
]

_INTEGER_RULES: list[tuple[str, tuple[Any, ...]]] = [
    (r"(time|_at|stamp)_?ms$", ("epoch_millis",)),
    (_TIME_NAME, ("epoch_seconds",)),
    (r"_ms$|millis", (0, 600_000)),
    (r"duration|_seconds$|_secs$|timeout", (0, 3600)),
    (r"retr(y|ies)", (0, 5)),
    (r"(^|_)port$", (1024, 65535)),
    (r"year", (2000, 2025)),
    (r"(^|_)age$", (18, 90)),
    (r"width", (320, 3840)),
    (r"height", (240, 2160)),
    (r"percent|pct", (0, 100)),
    (r"bitrate", (64_000, 8_000_000)),
    (r"sample_?rate", (22_050, 96_000)),
    (r"channels", (1, 8)),
    (r"size|bytes", (0, 50_000_000)),
    (r"count$|^total|^num|^n_|quantity|qty|matches", (0, 100)),
    (r"priority|level|rank|rating|stars", (1, 5)),
    (r"index|position|order|(^|_)step", (0, 50)),
    (r"version", (1, 10)),
    (r"fps", (24, 60)),
    (r"(^|_)id$", (1, 100_000)),
]

_DOUBLE_RULES: list[tuple[str, tuple[float, float, int]]] = [
    (r"percent|pct|cpu", (0.0, 100.0, 1)),
    (r"^lat", (-90.0, 90.0, 6)),
    (r"^(lon|lng)", (-180.0, 180.0, 6)),
    (r"price|amount|cost|balance|revenue", (0.0, 1000.0, 2)),
    (r"ratio|rate$|score|p_?value|probability|confidence|weight", (0.0, 1.0, 4)),
    (r"magnitude", (0.0, 5.0, 3)),
    (r"_mb$|memory", (16.0, 4096.0, 1)),
    (r"duration|seconds|secs|elapsed|latency", (0.0, 3600.0, 3)),
    (r"fps", (23.976, 60.0, 3)),
    (r"temperature|temp$", (-20.0, 40.0, 1)),
]

_BOOL_RULES: list[tuple[str, float]] = [
    (r"success|enabled|active|public|verified|valid|(^|_)ok$|approved|confirmed", 0.8),
    (
        r"deleted|fail|error|dry_run|debug|notified|has_|archived|disabled|virtual|hidden|blocked",
        0.2,
    ),
]


def _first(rules: list[tuple[str, Any]], name: str, default: Any) -> Any:
    for pattern, value in rules:
        if re.search(pattern, name):
            return value
    return default


def steer(name: str) -> Steering:
    """What the field called ``name`` should hold ("email" -> Faker emails, ...)."""
    name = name.lower()
    return Steering(
        string=_first(_STRING_RULES, name, ("words",)),
        date=_first(_DATE_RULES, name, "past"),
        integer=_first(_INTEGER_RULES, name, (0, 1000)),
        double=_first(_DOUBLE_RULES, name, (0.0, 1000.0, 2)),
        true_ratio=_first(_BOOL_RULES, name, 0.5),
    )


def epoch_seconds(moment: dt.datetime) -> int:
    return int((moment - EPOCH).total_seconds())
