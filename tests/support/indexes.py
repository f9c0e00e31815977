"""Index specifications as MongoDB 7.0's createIndexes validates, stores and lists them.

The test server calls:

* ``default_index_name(key)``: the name drivers and mongosh give an index.
* ``normalize_index_spec(spec, collection_collation=...)``: the spec as listIndexes
  returns it, or CommandError where createIndexes refuses it.
* ``check_new_index(existing, new)``: whether an equivalent index already exists
  (a no-op for createIndexes), or CommandError 85/86/67 for conflicts.
* ``index_key_values(spec, document)``: the keys a document contributes, in a form
  that compares the way mongod compares index keys (for unique indexes).
* ``format_duplicate_key`` / ``duplicate_key_message``: the E11000 details.
* ``normalize_collation(collation)``: a collation filled in with its locale defaults.

Sources read (repository mongodb/mongo): src/mongo/db/catalog/index_key_validate.cpp
(validateIndexSpec, validateKeyPattern, validateIndexSpecTTL, validateIdIndexSpec),
src/mongo/db/commands/create_indexes_cmd.cpp (order of the checks and the
"Error in specification" context), src/mongo/db/catalog/index_catalog_impl.cpp
(_isSpecOk, _fixIndexSpec, _doesSpecConflictWithExisting, partial filter
operators, 64-index limit), index_descriptor.cpp (compareIndexOptions),
src/mongo/db/fts/fts_spec.cpp (text index fixSpec), key_string/
index_entry_comparison.cpp (buildDupKeyErrorStatus), jstests/core/collation.js,
and FerretDB's createIndexes compatibility tests, which record real mongod
messages. See also ../shared/MONGODB-FACTS.md sections 1 and 3.
"""

from __future__ import annotations

import itertools
import math
import unicodedata
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from bson import Int64
from bson.decimal128 import Decimal128

from tests.support.errors import CommandError
from tests.support.validation import (
    MISSING,
    UNDEFINED,
    bson_type_name,
    canonical_value,
    document_matches,
    parse_filter,
    render_bson,
)

__all__ = [
    "IndexKeyValue",
    "check_new_index",
    "default_index_name",
    "duplicate_key_message",
    "format_duplicate_key",
    "index_key_values",
    "normalize_collation",
    "normalize_index_spec",
]

MAX_INDEXES = 64  # kMaxNumIndexesAllowed
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

# index_key_validate.h allowedFieldNames (7.0).
_ALLOWED_FIELDS = frozenset(
    {
        "2dsphereIndexVersion",
        "background",
        "bits",
        "bucketSize",
        "clustered",
        "coarsestIndexedLevel",
        "collation",
        "columnstoreCompressor",
        "columnstoreProjection",
        "default_language",
        "dropDups",
        "expireAfterSeconds",
        "finestIndexedLevel",
        "hidden",
        "key",
        "language_override",
        "max",
        "min",
        "name",
        "ns",
        "originalSpec",
        "partialFilterExpression",
        "prepareUnique",
        "sparse",
        "storageEngine",
        "textIndexVersion",
        "unique",
        "v",
        "weights",
        "wildcardProjection",
    }
)
_ALLOWED_ID_INDEX_FIELDS = frozenset({"collation", "name", "v", "key", "ns", "_id"})
_BOOLEAN_FIELDS = ("background", "unique", "sparse", "dropDups", "prepareUnique", "clustered")
_NUMERIC_FIELDS = (
    "2dsphereIndexVersion",
    "textIndexVersion",
    "bits",
    "min",
    "max",
    "coarsestIndexedLevel",
    "finestIndexedLevel",
)
# list_indexes.idl declaration order: ListIndexesReplyItem serialises fields in it.
_IDL_ORDER = (
    "v",
    "key",
    "name",
    "background",
    "unique",
    "hidden",
    "partialFilterExpression",
    "sparse",
    "expireAfterSeconds",
    "storageEngine",
    "weights",
    "default_language",
    "language_override",
    "textIndexVersion",
    "2dsphereIndexVersion",
    "bits",
    "min",
    "max",
    "bucketSize",
    "collation",
    "wildcardProjection",
    "columnstoreProjection",
    "coarsestIndexedLevel",
    "finestIndexedLevel",
    "dropDups",
    "originalSpec",
    "clustered",
    "prepareUnique",
)
_INT32_FIELDS = frozenset(
    {
        "v",
        "expireAfterSeconds",
        "textIndexVersion",
        "2dsphereIndexVersion",
        "bits",
        "coarsestIndexedLevel",
        "finestIndexedLevel",
    }
)
_DOUBLE_FIELDS = frozenset({"min", "max", "bucketSize"})
_BOOL_OUTPUT_FIELDS = frozenset(
    {"background", "unique", "hidden", "sparse", "dropDups", "clustered", "prepareUnique"}
)
# IndexDescriptor: options that are not compared when deciding "identical".
_NOT_COMPARED = frozenset(
    {
        "key",
        "ns",
        "name",
        "v",
        "textIndexVersion",
        "2dsphereIndexVersion",
        "background",
        "dropDups",
        "collation",
        "partialFilterExpression",
        "unique",
        "sparse",
        "wildcardProjection",
    }
)
_PLUGINS = frozenset({"2d", "2dsphere", "text", "hashed", "columnstore", "wildcard", "geoHaystack"})
# Languages of text indexes (FTSLanguage, textIndexVersion 3).
_TEXT_LANGUAGES = frozenset(
    {
        "none",
        "danish",
        "da",
        "dutch",
        "nl",
        "english",
        "en",
        "finnish",
        "fi",
        "french",
        "fr",
        "german",
        "de",
        "hungarian",
        "hu",
        "italian",
        "it",
        "norwegian",
        "nb",
        "portuguese",
        "pt",
        "romanian",
        "ro",
        "russian",
        "ru",
        "spanish",
        "es",
        "swedish",
        "sv",
        "turkish",
        "tr",
    }
)
_MAX_TEXT_WEIGHT = 100000  # fts_spec.cpp: MAX_WORD_WEIGHT = MAX_WEIGHT / 10000


def _type_name(value: Any) -> str:
    try:
        return bson_type_name(value)
    except TypeError:
        return type(value).__name__


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal128)) and not isinstance(value, bool)


def _number(value: Any) -> float | int | Decimal:
    if isinstance(value, Decimal128):
        return value.to_decimal()
    return value


def _safe_int(value: Any, *, bits: int) -> int:
    """BSONElement::safeNumberInt / safeNumberLong: truncate, saturate at the type's limits."""
    number = _number(value)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if isinstance(number, float) and math.isnan(number):
        return 0
    if isinstance(number, Decimal) and number.is_nan():
        return 0
    if number >= high:
        return high
    if number <= low:
        return low
    return int(number)


def _context(spec: Mapping[str, Any], error: CommandError) -> CommandError:
    return CommandError(
        error.code, f"Error in specification {render_bson(spec)} :: caused by :: {error.errmsg}"
    )


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


def default_index_name(key: Mapping[str, Any]) -> str:
    """The name drivers and mongosh generate: ``a_1_b_-1``, ``a_text``, ``$**_1``."""
    return "_".join(f"{field}_{value}" for field, value in key.items())


def _plugin_name(key: Mapping[str, Any]) -> str:
    """IndexNames::findPluginName: the first string value, "wildcard" for $**, else btree."""
    for value in key.values():
        if isinstance(value, str):
            return value
    for field in key:
        if field == "$**" or field.endswith(".$**"):
            return "wildcard"
    return ""


# --------------------------------------------------------------------------
# Collation
# --------------------------------------------------------------------------

# Collation locales MongoDB documents (reference/collation-locales-defaults).
_LOCALES = frozenset(
    """af sq am ar hy as az bn be bs bs_Cyrl bg my ca chr zh zh_Hant hr cs da nl dz en en_US
    en_US_POSIX eo et ee fo fil fi fr fr_CA gl ka de de_AT el gu ha haw he hi hu is ig smn id
    ga it ja kl kn kk km kok ko ky lk lo lv li lt dsb lb mk ms ml mt mr mn ne se nb nn or om
    ps fa fa_AF pl pt pa ro ru sr sr_Latn si sk sl es sw sv ta te th bo to tr uk hsb ur ug vi
    wae cy yi yo zu""".split()  # noqa: SIM905 - a list literal would be 30 lines
)
_COLLATION_FIELDS = (
    "locale",
    "caseLevel",
    "caseFirst",
    "strength",
    "numericOrdering",
    "alternate",
    "maxVariable",
    "normalization",
    "backwards",
    "version",
)
_ICU_VERSION = "57.1"


def _locale_defaults(locale: str) -> dict[str, Any]:
    base = locale.split("@", 1)[0]
    language = base.split("_", 1)[0]
    # ICU root defaults, with the tailorings of CLDR for a few locales.
    # UNCONFIRMED: da/mt (caseFirst upper) and th (alternate shifted) are recalled
    # from CLDR; fr_CA (backwards) is confirmed by jstests/core/collation.js.
    return {
        "caseLevel": False,
        "caseFirst": "upper" if language in ("da", "mt") else "off",
        "strength": 3,
        "numericOrdering": False,
        "alternate": "shifted" if language == "th" else "non-ignorable",
        "maxVariable": "punct",
        "normalization": False,
        "backwards": base == "fr_CA",
    }


def normalize_collation(collation: Any) -> dict[str, Any] | None:
    """Return a collation document filled in with its locale's defaults, in
    CollationSpec::toBSON order, or None for the simple collation.

    Raises CommandError as CollatorFactoryICU does for an invalid document.
    """
    if not isinstance(collation, Mapping):
        raise CommandError(
            14,
            f"BSON field 'collation' is the wrong type '{_type_name(collation)}', expected "
            "type 'object'",
        )  # UNCONFIRMED text
    for field in collation:
        if field not in _COLLATION_FIELDS:
            # UNCONFIRMED: code 40415 and text (IDL unknown-field error).
            raise CommandError(40415, f"BSON field 'collation.{field}' is an unknown field.")
    if "locale" not in collation:
        raise CommandError(40414, "BSON field 'collation.locale' is missing but a required field")
    locale = collation["locale"]
    if not isinstance(locale, str):
        raise CommandError(
            14,
            f"BSON field 'collation.locale' is the wrong type '{_type_name(locale)}', expected "
            "type 'string'",
        )
    if locale == "simple":
        if len(collation) > 1:
            # UNCONFIRMED: mongod's text for extra fields with the simple locale.
            raise CommandError(2, f"Field 'locale' is invalid in: {render_bson(collation)}")
        return None
    base = locale.split("@", 1)[0]
    if base not in _LOCALES:
        raise CommandError(2, f"Field 'locale' is invalid in: {render_bson(collation)}")
    spec: dict[str, Any] = {"locale": locale}
    spec.update(_locale_defaults(locale))
    for field in ("caseLevel", "numericOrdering", "normalization", "backwards"):
        if field in collation:
            if not isinstance(collation[field], bool):
                raise CommandError(
                    14,
                    f"BSON field 'collation.{field}' is the wrong type "
                    f"'{_type_name(collation[field])}', "
                    "expected type 'bool'",
                )
            spec[field] = collation[field]
    if "strength" in collation:
        strength = collation["strength"]
        if not _is_number(strength) or _number(strength) != int(_number(strength)):
            raise CommandError(
                14,
                f"BSON field 'collation.strength' is the wrong type '{_type_name(strength)}', "
                "expected type 'int'",
            )  # UNCONFIRMED text
        strength = int(_number(strength))
        if strength > 5:
            raise CommandError(
                51024, f"BSON field 'strength' value must be <= 5, actual value '{strength}'"
            )
        if strength < 1:
            raise CommandError(
                51024, f"BSON field 'strength' value must be >= 1, actual value '{strength}'"
            )
        spec["strength"] = strength
    choices = {
        "caseFirst": ("upper", "lower", "off"),
        "alternate": ("non-ignorable", "shifted"),
        "maxVariable": ("punct", "space"),
    }
    for field, allowed in choices.items():
        if field in collation:
            value = collation[field]
            if value not in allowed:
                # UNCONFIRMED: IDL enum error text and code.
                raise CommandError(
                    2,
                    f"Enumeration value '{value}' for field 'collation.{field}' is not a valid "
                    "value.",
                )
            spec[field] = value
    if "version" in collation and collation["version"] != _ICU_VERSION:
        raise CommandError(
            95,
            f"Requested collation version {collation['version']} but the only available collator "
            f"version was {_ICU_VERSION}. Requested collation spec: {render_bson(collation)}",
        )  # UNCONFIRMED text; the code (IncompatibleCollationVersion) is from collation.js
    spec["version"] = _ICU_VERSION
    return {field: spec[field] for field in _COLLATION_FIELDS}


def _collation_key_text(text: str, collation: Mapping[str, Any] | None) -> str:
    """Stand-in for an ICU collation key: equal strings under the collation map to
    the same text. Strength 1 ignores case and accents, strength 2 ignores case.
    UNCONFIRMED: an approximation of ICU, good for uniqueness checks on common text.
    """
    if not collation:
        return text
    strength = collation.get("strength", 3)
    if strength >= 3 and not collation.get("caseLevel"):
        return unicodedata.normalize("NFD", text) if collation.get("normalization") else text
    folded = text.casefold() if strength <= 2 else text
    if strength == 1:
        decomposed = unicodedata.normalize("NFD", folded)
        folded = "".join(char for char in decomposed if not unicodedata.combining(char))
    return folded


def _collated(value: Any, collation: Mapping[str, Any] | None) -> Any:
    if not collation:
        return value
    if isinstance(value, str):
        return _collation_key_text(value, collation)
    if isinstance(value, Mapping):
        return {key: _collated(item, collation) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_collated(item, collation) for item in value]
    return value


# --------------------------------------------------------------------------
# Key patterns
# --------------------------------------------------------------------------


def _validate_key_pattern(key: Mapping[str, Any]) -> None:
    """index_key_validate::validateKeyPattern for v:2 (raises unwrapped 67 errors)."""
    if len(render_bson(key)) > 2048:  # UNCONFIRMED: mongod measures the BSON size
        raise CommandError(67, "Index key pattern too large.")
    if not key:
        raise CommandError(67, "Index keys cannot be empty.")
    plugin = _plugin_name(key)
    if plugin:
        if plugin == "geoHaystack":
            raise CommandError(67, "GeoHaystack indexes cannot be created in version 5.0 and above")
        if plugin not in _PLUGINS:
            raise CommandError(67, f"Unknown index plugin '{plugin}'")
    if plugin == "wildcard":
        wildcard_fields = [field for field in key if field == "$**" or field.endswith(".$**")]
        if len(wildcard_fields) > 1:
            # UNCONFIRMED text (validateWildcardIndex, compound wildcard indexes).
            raise CommandError(67, "Compound wildcard index can only have one wildcard component")
    for field, value in key.items():
        if _is_number(value):
            number = _number(value)
            if (isinstance(number, float) and math.isnan(number)) or (
                isinstance(number, Decimal) and number.is_nan()
            ):
                raise CommandError(67, "Values in the index key pattern cannot be NaN.")
            if number == 0:
                raise CommandError(67, "Values in the index key pattern cannot be 0.")
        elif not isinstance(value, str):
            raise CommandError(
                67,
                f"Values in v:2 index key pattern cannot be of type {_type_name(value)}. "
                "Only numbers > 0, numbers < 0, and strings are allowed.",
            )
        if isinstance(value, str) and plugin != value:
            raise CommandError(67, "Can't use more than one index plugin for a single index.")
        if isinstance(value, str) and value == "wildcard":
            raise CommandError(
                67,
                "The key pattern value for an 'wildcard' index must be a non-zero number, not "
                "a string.",
            )
        parts = field.split(".")
        if field == "":
            raise CommandError(67, "Index keys cannot be an empty field.")
        if field == "$**" and (_is_number(value) or value in ("text", "columnstore")):
            continue
        if field == "_fts" and value != "text":
            raise CommandError(67, "Index key contains an illegal field name: '_fts'")
        for position, part in enumerate(parts):
            if part == "":
                raise CommandError(67, "Index keys cannot contain an empty field.")
            if not part.startswith("$"):
                continue
            might_be_dbref = position != 0 and part in ("$db", "$id", "$ref")
            is_wildcard = position == len(parts) - 1 and part == "$**" and plugin == "wildcard"
            if not might_be_dbref and not is_wildcard:
                raise CommandError(
                    67, "Index key contains an illegal field name: field name starts with '$'."
                )


def _is_id_index_pattern(key: Mapping[str, Any]) -> bool:
    if len(key) != 1 or "_id" not in key:
        return False
    value = key["_id"]
    return _is_number(value) and _number(value) == 1


# --------------------------------------------------------------------------
# Partial filter expressions
# --------------------------------------------------------------------------

_PARTIAL_ALLOWED_OPERATORS = frozenset({"$eq", "$gt", "$gte", "$lt", "$lte", "$type", "$in"})
_PARTIAL_MAX_DEPTH = 4  # internalPartialFilterExpressionMaxDepth. UNCONFIRMED default


def _debug_string(path: str, operator: str, argument: Any) -> str:
    # MatchExpression::debugString of the refused node. UNCONFIRMED format.
    if operator in ("$ne", "$nin"):
        inner = "$eq" if operator == "$ne" else "$in"
        return f"$not\n    {path} {inner} {render_bson(argument)}\n"
    return f"{path} {operator} {render_bson(argument)}\n"


def _check_partial_filter(filter_doc: Mapping[str, Any], depth: int = 0) -> None:
    """IndexCatalogImpl::_checkValidFilterExpressions: 7.0 accepts $and, $or, $in,
    equality, $gt/$gte/$lt/$lte, $type and {$exists: true}."""
    if depth >= _PARTIAL_MAX_DEPTH:
        raise CommandError(67, f"partialFilterExpression depth may not exceed {_PARTIAL_MAX_DEPTH}")
    for key, value in filter_doc.items():
        if key in ("$and", "$or"):
            for clause in value:
                _check_partial_filter(clause, depth + 1)
            continue
        if key.startswith("$"):
            raise CommandError(67, f"Expression not supported in partial index: {key}\n")
        if isinstance(value, Mapping) and value and next(iter(value)).startswith("$"):
            for operator, argument in value.items():
                if operator == "$exists" and _truthy(argument):
                    continue
                if operator not in _PARTIAL_ALLOWED_OPERATORS:
                    raise CommandError(
                        67,
                        "Expression not supported in partial index: "
                        + _debug_string(key, operator, argument),
                    )
        elif bson_type_name(value) == "regex":
            raise CommandError(
                67,
                "Expression not supported in partial index: " + _debug_string(key, "regex", value),
            )


def _parse_partial_filter(filter_doc: Mapping[str, Any]) -> None:
    """MatchExpressionParser::parse with kBanAllSpecialFeatures."""

    def banned(node: Any) -> None:
        if not isinstance(node, Mapping):
            return
        for key, value in node.items():
            if key == "$jsonSchema":
                raise CommandError(224, "$jsonSchema is not allowed in this context")
            if key == "$expr":
                raise CommandError(224, "$expr is not allowed in this context")
            if key in ("$and", "$or", "$nor") and isinstance(value, list):
                for clause in value:
                    banned(clause)

    banned(filter_doc)
    parse_filter(filter_doc)


# --------------------------------------------------------------------------
# Text and 2dsphere specs
# --------------------------------------------------------------------------


def _fix_text_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """fts::FTSSpec::fixSpec: collapse the text fields into _fts/_ftsx and fill in options."""
    weights: dict[str, int] = {}
    key: dict[str, Any] = {}
    added = False
    for field, value in spec["key"].items():
        if field == "_fts":
            if value != "text":
                raise CommandError(67, 'expecting _fts:"text"')
            added = True
            key[field] = value
        elif field == "_ftsx":
            if _safe_int(value, bits=32) != 1:
                raise CommandError(67, "expecting _ftsx:1")
            key[field] = value
        elif value == "text":
            if not added:
                key["_fts"] = "text"
                key["_ftsx"] = 1
                added = True
            weights[field] = 1
        else:
            if not _is_number(value) or _safe_int(value, bits=32) not in (1, -1):
                raise CommandError(67, "expected value 1 or -1 for non-text key in compound index")
            key[field] = value
    fields = list(spec["key"].items())
    index = 0
    while index < len(fields) and not isinstance(fields[index][1], str):
        if fields[index][0] in ("_fts", "_ftsx"):
            raise CommandError(67, "text index with reserved fields _fts/_ftsx not allowed")
        index += 1
    if index < len(fields) and fields[index][0] == "_fts":
        index += 2
    else:
        while index < len(fields) and isinstance(fields[index][1], str):
            index += 1
    for field, value in fields[index:]:
        if isinstance(value, str):
            raise CommandError(67, "'text' fields in index must all be adjacent")
        if field in ("_fts", "_ftsx"):
            raise CommandError(67, "text index with reserved fields _fts/_ftsx not allowed")

    given_weights = spec.get("weights", MISSING)
    if isinstance(given_weights, Mapping):
        for field, weight in given_weights.items():
            if not _is_number(weight):
                raise CommandError(67, "weight for text index needs numeric type")
            weights[field] = _safe_int(weight, bits=32)
    elif given_weights == "$**":
        weights["$**"] = 1
    elif given_weights is not MISSING:
        raise CommandError(67, "text index option 'weights' must be an object")
    if not weights:
        raise CommandError(67, "text index option 'weights' must specify fields or the wildcard")
    sorted_weights: dict[str, int] = {}
    for field in sorted(weights, key=lambda name: name.encode("utf-8")):
        weight = weights[field]
        if weight <= 0 or weight >= _MAX_TEXT_WEIGHT:
            raise CommandError(
                67,
                f"text index weight must be in the exclusive interval (0,{_MAX_TEXT_WEIGHT}) "
                f"but found: {weight}",
            )
        if field != "$**":
            for part in field.split("."):
                if part == "":
                    raise CommandError(67, "weight cannot have empty path component")
                if part.startswith("$"):
                    raise CommandError(67, "weight cannot have path component with $ prefix")
        sorted_weights[field] = weight

    language = spec.get("default_language", "english")
    if not isinstance(language, str):
        raise CommandError(67, "default_language needs a string type")
    if language not in _TEXT_LANGUAGES:
        raise CommandError(67, "default_language is not valid")
    override = spec.get("language_override", "language")
    if not isinstance(override, str):
        raise CommandError(67, "language_override must be a string")
    if not override or override.startswith("$") or "." in override:
        raise CommandError(67, "language_override is not valid")
    version = spec.get("textIndexVersion", 3)
    if not _is_number(version):
        raise CommandError(67, "text index option 'textIndexVersion' must be a number")
    if _safe_int(version, bits=32) not in (2, 3):
        raise CommandError(67, f"bad textIndexVersion: {_safe_int(version, bits=32)}")

    fixed = dict(spec)
    fixed["key"] = key
    fixed["weights"] = sorted_weights
    fixed["default_language"] = language
    fixed["language_override"] = override
    fixed["textIndexVersion"] = _safe_int(version, bits=32)
    return fixed


def _fix_2dsphere_spec(spec: dict[str, Any]) -> dict[str, Any]:
    fixed = dict(spec)
    version = spec.get("2dsphereIndexVersion", 3)
    if _safe_int(version, bits=32) not in (1, 2, 3):
        # UNCONFIRMED: S2AccessMethod::fixSpec error code and text.
        raise CommandError(
            67,
            f"unsupported geo index version {{ 2dsphereIndexVersion : {render_bson(version)} }}, "
            "only support versions: [1,2,3]",
        )
    fixed["2dsphereIndexVersion"] = _safe_int(version, bits=32)
    return fixed


# --------------------------------------------------------------------------
# normalize_index_spec
# --------------------------------------------------------------------------


def _validate_ttl(spec: Mapping[str, Any]) -> None:
    """index_key_validate::validateIndexSpecTTL as createIndexes' validateTTLOptions calls it."""
    if "expireAfterSeconds" not in spec:
        return
    value = spec["expireAfterSeconds"]
    reason = None
    if not _is_number(value):
        reason = (
            "TTL index 'expireAfterSeconds' option must be numeric, but received a type of "
            f"'{_type_name(value)}'"
        )
    elif (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, Decimal128) and value.to_decimal().is_nan()
    ):
        reason = "TTL index 'expireAfterSeconds' option must not be NaN"
    elif _safe_int(value, bits=32) != _safe_int(value, bits=64):
        reason = "TTL index 'expireAfterSeconds' must be within the range of a 32-bit integer"
    elif _safe_int(value, bits=64) < 0:
        reason = "TTL index 'expireAfterSeconds' option cannot be less than 0"
    if reason is not None:
        # Status::withContext(". Index spec: ...") puts the context first.
        # UNCONFIRMED: read in index_key_validate.cpp of a 7.x-era commit; older servers
        # answered "Error in specification ... :: caused by :: <reason>".
        raise CommandError(67, f". Index spec: {render_bson(spec)} :: caused by :: {reason}")
    if len(spec["key"]) != 1:
        raise CommandError(
            67,
            "TTL indexes are single-field indexes, compound indexes do not support TTL. "
            f"Index spec: {render_bson(spec)}",
        )


def _validate_spec_fields(spec: Mapping[str, Any]) -> dict[str, Any]:
    """index_key_validate::validateIndexSpec; returns the spec with ``v`` added and
    ``ns`` removed. Errors are raised unwrapped (the caller adds the context)."""
    for field in spec:
        if field not in _ALLOWED_FIELDS:
            raise CommandError(
                197,
                f"The field '{field}' is not valid for an index specification. Specification: "
                f"{render_bson(spec)}",
            )
    has_key = has_name = has_version = has_collation = has_weights = False
    version = 2
    plugin = ""
    unique = prepare_unique = False
    for field, value in spec.items():
        if field == "key":
            if not isinstance(value, Mapping):
                raise CommandError(
                    14, f"The field 'key' must be an object, but got {_type_name(value)}"
                )
            plugin = _plugin_name(value)
            _validate_key_pattern(value)
            for key_field, key_value in value.items():
                if isinstance(key_value, str) and key_value == "":
                    raise CommandError(
                        67, "Values in the index key pattern cannot be empty strings"
                    )
                if (
                    plugin == "wildcard"
                    and key_field == "$**"
                    and len(value) > 1
                    and "wildcardProjection" not in spec
                ):
                    raise CommandError(
                        67,
                        "Compound wildcard indexes on all fields must also specify "
                        "'wildcardProjection' option",
                    )
            has_key = True
        elif field == "name":
            if not isinstance(value, str):
                raise CommandError(
                    14, f"The field 'name' must be a string, but got {_type_name(value)}"
                )
            has_name = True
        elif field == "hidden":
            if not isinstance(value, bool):
                # mongod names the 'name' field in this message (sic).
                raise CommandError(
                    14, f"The field 'name' must be a bool, but got {_type_name(value)}"
                )
        elif field == "v":
            if not _is_number(value):
                raise CommandError(
                    14, f"The field 'v' must be a number, but got {_type_name(value)}"
                )
            number = _number(value)
            if number != int(number) or not (INT32_MIN <= int(number) <= INT32_MAX):
                raise CommandError(
                    2,
                    "Index version must be representable as a 32-bit integer, but got "
                    f"{render_bson(value)}",
                )
            version = int(number)
            if version not in (1, 2):
                raise CommandError(
                    67,
                    f"Invalid index specification {render_bson(spec)}; cannot create an index "
                    f"with v={version}",
                )
            has_version = True
        elif field == "collation":
            if not isinstance(value, Mapping):
                raise CommandError(
                    14, f"The field 'collation' must be an object, but got {_type_name(value)}"
                )
            if not value:
                raise CommandError(2, "The field 'collation' cannot be an empty object.")
            has_collation = True
        elif field == "partialFilterExpression":
            if not isinstance(value, Mapping):
                raise CommandError(
                    14,
                    "The field 'partialFilterExpression' must be an object, but got "
                    f"{_type_name(value)}",
                )
            _parse_partial_filter(value)
        elif field == "wildcardProjection":
            key = spec.get("key", {})
            if not isinstance(key, Mapping) or _plugin_name(key) != "wildcard":
                raise CommandError(
                    2, "The field 'wildcardProjection' is only allowed in 'wildcard' indexes"
                )
            if not isinstance(value, Mapping):
                raise CommandError(
                    14,
                    "The field 'wildcardProjection' must be a non-empty object, but got "
                    f"{_type_name(value)}",
                )
            if "$**" not in key:
                raise CommandError(
                    9,
                    "The field 'wildcardProjection' is only allowed when 'key' is {\"$**\": ±1} or "
                    '{"$**": "columnstore"}',
                )
            if not value:
                raise CommandError(9, "The 'wildcardProjection' field can't be an empty object")
            _check_projection(value)
        elif field == "weights":
            if not isinstance(value, (Mapping, str)):
                raise CommandError(
                    14, f"The field 'weights' must be an object, but got {_type_name(value)}"
                )
            has_weights = True
        elif field in _BOOLEAN_FIELDS:
            if not isinstance(value, bool) and not _is_number(value):
                raise CommandError(
                    14,
                    f"The field '{field} has value {field}: {render_bson(value)}, which is not "
                    "convertible to bool",
                )
            if field == "unique":
                unique = _truthy(value)
            if field == "prepareUnique":
                prepare_unique = _truthy(value)
        elif field in ("default_language", "language_override") and not isinstance(value, str):
            raise CommandError(
                14, f"The field '{field}' must be a string, but got {_type_name(value)}"
            )
        elif field in _NUMERIC_FIELDS and not _is_number(value):
            raise CommandError(
                14, f"The field '{field}' must be a number, but got {_type_name(value)}"
            )
        elif field == "originalSpec" and not isinstance(value, Mapping):
            raise CommandError(
                14, f"The field 'originalSpec' must be an object, but got {_type_name(value)}"
            )
    if not has_key:
        raise CommandError(9, "The 'key' field is a required property of an index specification")
    if not has_name:
        raise CommandError(9, "The 'name' field is a required property of an index specification")
    if has_collation and version < 2:
        raise CommandError(
            67,
            f"Invalid index specification {render_bson(spec)}; cannot create an index with the "
            f"'collation' option and v={version}",
        )
    if plugin != "text" and has_weights:
        raise CommandError(
            67,
            f"Invalid index specification {render_bson(spec)}; the field 'weights' can only be "
            "specified with text indexes",
        )
    if unique and prepare_unique:
        raise CommandError(
            67,
            f"Invalid index specification {render_bson(spec)}; cannot create an index with the "
            "'unique' option and the 'prepareUnique' option",
        )
    fixed = {field: value for field, value in spec.items() if field != "ns"}
    if not has_version:
        fixed["v"] = version
    return fixed


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if _is_number(value):
        return _number(value) != 0
    return value is not None


def _check_projection(projection: Mapping[str, Any]) -> None:
    """Reject a wildcardProjection that mixes inclusion and exclusion (other than _id)."""
    inclusion = exclusion = None
    for field, value in projection.items():
        included = _truthy(value) if isinstance(value, (bool, int, float, Decimal128)) else True
        if field == "_id":
            continue
        if included:
            if exclusion is not None:
                raise CommandError(
                    31253,
                    "Failed to parse projection: wildcardProjection :: caused by :: Cannot do "
                    f"inclusion on field {field} in exclusion projection",
                )  # UNCONFIRMED code and context text
            inclusion = field
        else:
            if inclusion is not None:
                raise CommandError(
                    31254,
                    "Failed to parse projection: wildcardProjection :: caused by :: Cannot do "
                    f"exclusion on field {field} in inclusion projection",
                )  # UNCONFIRMED code and context text
            exclusion = field


def _check_spec_ok(spec: Mapping[str, Any]) -> None:
    """IndexCatalogImpl::_isSpecOk (errors unwrapped; the caller adds the context)."""
    name = spec["name"]
    if "\0" in name:
        raise CommandError(67, "index name cannot contain NUL bytes")
    if name == "":
        raise CommandError(67, "index name cannot be empty")
    key = spec["key"]
    plugin = _plugin_name(key)
    if "collation" in spec and plugin not in ("", "2dsphere", "hashed", "wildcard"):
        raise CommandError(
            67,
            f"Index type '{plugin}' does not support collation: {render_bson(spec['collation'])}",
        )
    if plugin == "wildcard":
        for option in ("sparse", "unique"):
            if _truthy(spec.get(option, False)):
                raise CommandError(
                    67, f"Index type 'wildcard' does not support the '{option}' option"
                )
        if "expireAfterSeconds" in spec:
            raise CommandError(
                67,
                "cannot make a TTL index :: caused by :: Index type 'wildcard' does not "
                "support the "
                "'expireAfterSeconds' option",
            )
    if plugin == "hashed":
        hashed = [field for field, value in key.items() if value == "hashed"]
        if len(hashed) > 1:
            # UNCONFIRMED: code 31303 and text recalled from ExpressionParams::parseHashParams.
            raise CommandError(
                31303,
                f"A maximum of one index field is allowed to be hashed but found {len(hashed)} for "
                f"'key' {render_bson(key)}",
            )
    if "partialFilterExpression" in spec:
        if _truthy(spec.get("sparse", False)):
            raise CommandError(67, 'cannot mix "partialFilterExpression" and "sparse" options')
        _check_partial_filter(spec["partialFilterExpression"])
    if "storageEngine" in spec:
        if not isinstance(spec["storageEngine"], Mapping):
            raise CommandError(67, '"storageEngine" options must be a document if present')
        if not spec["storageEngine"]:
            raise CommandError(
                67,
                'Empty "storageEngine" options are invalid. Please remove the field or include '
                "valid options.",
            )


def normalize_index_spec(
    spec: Mapping[str, Any],
    *,
    collection_collation: Mapping[str, Any] | None = None,
    strict: bool = True,
) -> dict[str, Any]:
    """Validate one createIndexes spec and return it as listIndexes returns it.

    Checks run in mongod's order: validateIndexSpec ("Error in specification ..."
    context), the _id index rules, the TTL rules, then the catalog's checks
    (_isSpecOk and the text/2dsphere fix-ups, also with the context). The result
    has ``v: 2`` first and the list_indexes.idl field order, int32 numbers where
    the IDL says safeInt, the collation filled in (or inherited from
    ``collection_collation``), ``unique``/``hidden`` only when true, ``ns`` and
    ``dropDups`` removed.

    With ``strict`` False, fields mongod does not know are dropped instead of
    refused (createIndexes' ``ignoreUnknownIndexOptions``).

    Raises CommandError with the code and message createIndexes answers with.
    """
    if not isinstance(spec, Mapping):
        raise CommandError(
            14,
            f"BSON field 'createIndexes.indexes.0' is the wrong type '{_type_name(spec)}', "
            "expected type 'object'",
        )
    request = dict(spec)
    if not strict:
        request = {field: value for field, value in request.items() if field in _ALLOWED_FIELDS}
    if "clustered" in request:
        # UNCONFIRMED: the test server has no clustered collections.
        raise CommandError(
            67,
            f"Error in specification {render_bson(request)} :: caused by :: "
            "cannot create a clustered index on a non-clustered collection",
        )
    try:
        validated = _validate_spec_fields(request)
    except CommandError as error:
        raise _context(request, error) from None

    key = validated["key"]
    if _is_id_index_pattern(key):
        for field in validated:
            if field not in _ALLOWED_ID_INDEX_FIELDS:
                raise CommandError(
                    197,
                    f"The field '{field}' is not valid for an _id index specification. "
                    f"Specification: {render_bson(validated)}",
                )
    else:
        if validated["name"] == "_id_":
            raise CommandError(
                2,
                "The index name '_id_' is reserved for the _id index, which must have key pattern "
                f"{{_id: 1}}, found key: {render_bson(key)}",
            )
        if validated["name"] == "*":
            raise CommandError(2, "The index name '*' is not valid.")

    _validate_ttl(request)

    # IndexBuildsCoordinator::normalizeIndexSpecs: fill in or inherit the collation.
    if "collation" in validated:
        collation = normalize_collation(validated["collation"])
        if collation is None:
            del validated["collation"]
        else:
            validated["collation"] = collation
    elif collection_collation and _safe_int(validated["v"], bits=32) >= 2:
        inherited = normalize_collation(collection_collation)
        if inherited is not None:
            validated["collation"] = inherited

    plugin = _plugin_name(key)
    try:
        _check_spec_ok(validated)
        fixed = validated
        if plugin == "text":
            fixed = _fix_text_spec(validated)
        elif plugin == "2dsphere":
            fixed = _fix_2dsphere_spec(validated)
    except CommandError as error:
        raise _context(validated, error) from None
    if plugin == "hashed" and _truthy(validated.get("unique", False)):
        # UNCONFIRMED: code and text recalled from the hashed access method.
        raise CommandError(
            16764, "Currently hashed indexes cannot guarantee uniqueness. Use a regular index."
        )
    if _is_id_index_pattern(key):
        fixed = dict(fixed)
        fixed["name"] = "_id_"
    return _listed_form(fixed)


def _listed_form(spec: Mapping[str, Any]) -> dict[str, Any]:
    """_fixIndexSpec then ListIndexesReplyItem: IDL order and types."""
    listed: dict[str, Any] = {}
    for field in _IDL_ORDER:
        if field not in spec or field == "dropDups":
            continue
        value = spec[field]
        if field in ("unique", "hidden", "prepareUnique") and not _truthy(value):
            continue  # _fixIndexSpec keeps these only when true
        if field in _INT32_FIELDS:
            value = _safe_int(value, bits=32)
        elif field in _DOUBLE_FIELDS:
            value = float(_number(value))
        elif field in _BOOL_OUTPUT_FIELDS:
            value = _truthy(value)
        elif field == "weights":
            value = {name: _safe_int(weight, bits=32) for name, weight in value.items()}
        listed[field] = value
    return listed


# --------------------------------------------------------------------------
# check_new_index
# --------------------------------------------------------------------------


def _catalog_form(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The stored infoObj order (_fixIndexSpec): v, unique, hidden, prepareUnique, key,
    name, then the other options. UNCONFIRMED: mongod keeps the other options in the
    request's order, which a normalized spec no longer knows; IDL order stands in."""
    stored: dict[str, Any] = {"v": spec.get("v", 2)}
    for field in ("unique", "hidden", "prepareUnique"):
        if _truthy(spec.get(field, False)):
            stored[field] = True
    stored["key"] = spec["key"]
    stored["name"] = spec["name"]
    for field, value in spec.items():
        if field not in stored:
            stored[field] = value
    return stored


def _normalized_projection(spec: Mapping[str, Any]) -> Any:
    projection = spec.get("wildcardProjection")
    if not projection:
        return None
    return frozenset(
        (field, _truthy(value) if isinstance(value, (bool, int, float, Decimal128)) else True)
        for field, value in projection.items()
    )


def _filter_form(filter_doc: Any) -> Any:
    """A form of a partial filter under which equivalent filters compare equal (the
    top-level conjunction's clauses in any order)."""
    if not filter_doc:
        return None
    clauses: list[Any] = []

    def flatten(node: Mapping[str, Any]) -> None:
        for key, value in node.items():
            if key == "$and":
                for clause in value:
                    flatten(clause)
            elif isinstance(value, Mapping) and value and next(iter(value)).startswith("$"):
                for operator, argument in value.items():
                    clauses.append(canonical_value({key: {operator: argument}}))
            else:
                clauses.append(canonical_value({key: {"$eq": value}}))

    flatten(filter_doc)
    return frozenset(clauses)


def _identity(spec: Mapping[str, Any]) -> tuple[Any, ...]:
    is_id = _is_id_index_pattern(spec["key"])
    return (
        canonical_value(dict(spec["key"])),
        _normalized_projection(spec),
        is_id or _truthy(spec.get("unique", False)),
        _truthy(spec.get("sparse", False)),
        canonical_value(spec.get("collation") or {}),
        _filter_form(spec.get("partialFilterExpression")),
    )


def _other_options(spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        field: canonical_value(value) for field, value in spec.items() if field not in _NOT_COMPARED
    }


def _compare(candidate: Mapping[str, Any], existing: Mapping[str, Any]) -> str:
    """IndexDescriptor::compareIndexOptions: "different", "equivalent" or "identical"."""
    if _identity(candidate) != _identity(existing):
        return "different"
    if _other_options(candidate) != _other_options(existing):
        return "equivalent"
    return "identical"


def check_new_index(
    existing: list[Mapping[str, Any]], new: Mapping[str, Any], *, namespace: str = ""
) -> bool:
    """Given the collection's normalized specs and a normalized new one, return True
    when an identical index exists (createIndexes does nothing for it) and False when
    the new index may be built.

    Raises CommandError 86 (same name, different key or identifying option), 85 (same
    name and identity but other options differ, or same identity under another name),
    67 when the collection already has 64 indexes ("add index fails, too many indexes
    for <namespace> key:...") or a second text index would be built.
    """
    requested = render_bson(_catalog_form(new))
    for index in existing:
        if index["name"] != new["name"]:
            continue
        comparison = _compare(new, index)
        if comparison == "different":
            raise CommandError(
                86,
                "An existing index has the same name as the requested index. When index names are "
                "not specified, they are auto generated and can cause conflicts. Please refer "
                "to our "
                f"documentation. Requested index: {requested}, existing index: "
                f"{render_bson(_catalog_form(index))}",
            )
        if comparison == "equivalent":
            raise CommandError(
                85,
                "An equivalent index already exists with the same name but different options. "
                f"Requested index: {requested}, existing index: "
                f"{render_bson(_catalog_form(index))}",
            )
        return True
    for index in existing:
        if canonical_value(dict(index["key"])) != canonical_value(dict(new["key"])):
            continue
        comparison = _compare(new, index)
        if comparison == "different":
            continue
        if comparison == "equivalent":
            raise CommandError(
                85,
                "An equivalent index already exists with a different name and options. "
                f"Requested index: {requested}, existing index: "
                f"{render_bson(_catalog_form(index))}",
            )
        raise CommandError(85, f"Index already exists with a different name: {index['name']}")
    if len(existing) >= MAX_INDEXES:
        raise CommandError(
            67, f"add index fails, too many indexes for {namespace} key:{render_bson(new['key'])}"
        )
    if _plugin_name(new["key"]) == "text":
        for index in existing:
            if _plugin_name(index["key"]) == "text":
                raise CommandError(
                    67,
                    "only one text index per collection allowed, found existing text index "
                    f'"{index["name"]}"',
                )
    return False


# --------------------------------------------------------------------------
# Index keys
# --------------------------------------------------------------------------


class IndexKeyValue:
    """One component of an index key: the document's value plus the form under which
    mongod deems two keys equal (1 == 1.0 == Int64(1); strings per the index's
    collation; a missing field is null)."""

    __slots__ = ("_key", "value")

    def __init__(self, value: Any, collation: Mapping[str, Any] | None = None) -> None:
        self.value = value
        self._key = canonical_value(_collated(value, collation))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IndexKeyValue) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"IndexKeyValue({self.value!r})"


def _values_for_path(document: Any, path: str) -> tuple[list[Any], bool]:
    """Key values of one indexed path (BtreeKeyGenerator): a leaf array gives its
    elements (an empty one gives undefined), arrays of documents on the way are
    traversed, a missing field gives null. Also says whether an array was expanded."""
    parts = path.split(".")
    expanded = False

    def walk(value: Any, index: int) -> list[Any]:
        nonlocal expanded
        if index == len(parts):
            if isinstance(value, (list, tuple)):
                expanded = True
                return list(value) if value else [UNDEFINED]
            return [value]
        part = parts[index]
        if isinstance(value, (list, tuple)):
            expanded = True
            if part.isdigit() and int(part) < len(value):
                return walk(value[int(part)], index + 1)
            if not value:
                return [None]
            results: list[Any] = []
            for item in value:
                results.extend(walk(item, index) if isinstance(item, Mapping) else [None])
            return results
        if isinstance(value, Mapping):
            if part not in value:
                return [None]
            return walk(value[part], index + 1)
        return [None]

    return walk(document, 0), expanded


def _field_missing(document: Any, path: str) -> bool:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping):
            if part not in value:
                return True
            value = value[part]
        elif isinstance(value, (list, tuple)):
            return not any(
                isinstance(item, Mapping) and not _field_missing(item, path.split(".", 1)[-1])
                for item in value
            )
        else:
            return True
    return False


def index_key_values(spec: Mapping[str, Any], document: Mapping[str, Any]) -> list[tuple] | None:
    """The index keys ``document`` contributes to the index ``spec`` (a normalized spec),
    each a tuple of IndexKeyValue in key-pattern order, without duplicates; or None
    when the index skips the document (sparse index with every indexed field missing,
    2dsphere/text index without its indexed field, partialFilterExpression not met).

    Raises CommandError(171) for two arrays in one compound key, as mongod refuses
    to index parallel arrays.
    """
    key = spec["key"]
    collation = spec.get("collation")
    plugin = _plugin_name(key)
    partial = spec.get("partialFilterExpression")
    if partial and not document_matches(partial, document):
        return None
    fields = [field for field in key if field not in ("_fts", "_ftsx")]
    if plugin == "text":
        text_fields = [field for field in spec.get("weights", {}) if field != "$**"]
        if text_fields and all(_field_missing(document, field) for field in text_fields):
            return None
    if plugin == "2dsphere":
        geo_fields = [field for field, value in key.items() if value == "2dsphere"]
        if _safe_int(spec.get("2dsphereIndexVersion", 3), bits=32) >= 2 and all(
            _field_missing(document, field) for field in geo_fields
        ):
            return None
    if _truthy(spec.get("sparse", False)) and all(
        _field_missing(document, field) for field in fields
    ):
        return None

    per_field: list[list[Any]] = []
    array_fields: list[str] = []
    for field in fields:
        if key[field] in ("hashed", "2dsphere", "2d"):
            value, _ = _values_for_path(document, field)
            raw = _single_value(document, field)
            if key[field] == "hashed" and isinstance(raw, (list, tuple)):
                # UNCONFIRMED: code and text.
                raise CommandError(
                    16766, "Error: hashed indexes do not currently support array values"
                )
            per_field.append([None if raw is MISSING else raw])
            continue
        values, expanded = _values_for_path(document, field)
        if expanded:
            array_fields.append(field)
        per_field.append(values)
    if len(array_fields) > 1:
        # UNCONFIRMED: the order in which mongod names the two fields.
        raise CommandError(
            171, f"cannot index parallel arrays [{array_fields[1]}] [{array_fields[0]}]"
        )
    keys: list[tuple] = []
    seen: set[tuple] = set()
    for combination in itertools.product(*per_field):
        key_tuple = tuple(IndexKeyValue(value, collation) for value in combination)
        if key_tuple not in seen:
            seen.add(key_tuple)
            keys.append(key_tuple)
    return keys


def _single_value(document: Any, path: str) -> Any:
    value: Any = document
    for part in path.split("."):
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        else:
            return MISSING
    return value


def _key_field_names(spec: Mapping[str, Any]) -> list[str]:
    return [field for field in spec["key"] if field not in ("_fts", "_ftsx")]


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, IndexKeyValue) else value


def _hex_if_collated(value: Any, collation: Mapping[str, Any] | None) -> Any:
    # With a collation the index holds ICU sort keys, which mongod hex-encodes.
    # UNCONFIRMED: the bytes are the string's UTF-8 here, not an ICU sort key.
    if collation and isinstance(value, str):
        return "0x" + value.encode("utf-8").hex()
    return value


def format_duplicate_key(spec: Mapping[str, Any], key: tuple) -> dict[str, Any]:
    """The ``keyValue`` document of an E11000 write error: ``{email: "a@b"}``.
    Undefined (an empty array's key) comes back as None, as drivers decode it."""
    collation = spec.get("collation")
    shown: dict[str, Any] = {}
    for field, value in zip(_key_field_names(spec), key, strict=False):
        plain = _plain(value)
        if plain is UNDEFINED or plain is MISSING:
            plain = None
        shown[field] = _hex_if_collated(plain, collation)
    return shown


def duplicate_key_message(namespace: str, spec: Mapping[str, Any], key: tuple) -> str:
    """``E11000 duplicate key error collection: test.c index: a_1 dup key: { a: 1 }``
    (buildDupKeyErrorStatus), with `` collation: {...}`` before ``dup key`` when the
    index has a collation."""
    collation = spec.get("collation")
    shown = {}
    for field, value in zip(_key_field_names(spec), key, strict=False):
        plain = _plain(value)
        shown[field] = _hex_if_collated(None if plain is MISSING else plain, collation)
    message = f"E11000 duplicate key error collection: {namespace} index: {spec['name']}"
    if collation:
        message += f" collation: {render_bson(collation)}"
    return message + f" dup key: {render_bson(shown)}"


# Int64 is re-exported for callers building specs in tests.
_ = Int64
