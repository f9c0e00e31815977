"""Load a catalog file or directory: parse, validate against schema.yaml, merge, model.

Every problem in every file is collected and reported at once, each with
``file:line: path: message``; nothing is guessed.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema.exceptions import ValidationError, best_match

from toolkit.catalog.model import (
    INDEX_OPTION_NAMES,
    MAX_TTL_SECONDS,
    Catalog,
    CollectionSpec,
    IndexSpec,
    default_index_name,
    parse_duration,
)
from toolkit.catalog.validator import bson_ready, find_validator_problems, find_value_problems
from toolkit.catalog.yamlsource import SourceMap, YamlProblem, parse_yaml
from toolkit.errors import CatalogError

CATALOG_SUFFIXES = (".yaml", ".yml")


@functools.cache
def catalog_schema() -> dict[str, Any]:
    """The catalog's JSON Schema (toolkit/catalog/schema.yaml)."""
    text = resources.files("toolkit.catalog").joinpath("schema.yaml").read_text("utf-8")
    schema: dict[str, Any] = yaml.safe_load(text)
    return schema


@functools.cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(catalog_schema())


def catalog_files(path: Path) -> list[Path]:
    """Return the YAML files of a catalog path (a file, or a directory's *.yaml, recursively)."""
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in CATALOG_SUFFIXES and p.is_file())
        if not files:
            raise CatalogError(
                f"no catalog files (*.yaml) in {path}",
                hint="point --catalog (or TOOLKIT_CATALOG) at a catalog file or directory",
            )
        return files
    if path.is_file():
        return [path]
    raise CatalogError(
        f"catalog {path} does not exist",
        hint="point --catalog (or TOOLKIT_CATALOG) at a catalog file or directory",
    )


def load_catalog(path: Path) -> Catalog:
    """Load, validate and merge the catalog at ``path``.

    Raise CatalogError listing every problem (with file and line) when any file
    cannot be read, is not valid YAML, breaks the schema, or redefines a
    collection, role or user that another file defines.
    """
    problems: list[str] = []
    documents: list[tuple[dict[str, Any], SourceMap]] = []
    for file in catalog_files(path):
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            problems.append(f"{file}: cannot read: {error}")
            continue
        try:
            document, source = parse_yaml(text, file)
        except YamlProblem as problem:
            problems.append(f"{problem.location}: {problem.message}")
            continue
        if document is None:
            continue  # an empty file declares nothing
        if not isinstance(document, dict):
            problems.append(f"{source.locate(())}: the catalog must be a mapping of sections")
            continue
        file_problems = validate_document(document, source)
        problems.extend(file_problems)
        if not file_problems:
            documents.append((document, source))
    catalog = _merge(documents, problems)
    if problems:
        raise CatalogError(
            f"catalog {path} has {len(problems)} problem{'s' if len(problems) != 1 else ''}",
            problems=problems,
            hint="fix them and rerun `mongo-toolkit catalog check`",
        )
    return catalog


def validate_document(document: dict[str, Any], source: SourceMap) -> list[str]:
    """Check one parsed file against the schema; return located messages, in file order."""
    found = [
        (path, message)
        for error in _validator().iter_errors(document)
        for path, message in _describe_error(error)
    ]
    found.sort(key=lambda item: source.line_of(item[0]))  # stable: same line, schema order
    return [_located(source, path, message) for path, message in found]


def _describe_error(error: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """Return (document path, message) for one schema error: one per unknown key, else one."""
    path = tuple(error.absolute_path)
    detail = error
    description = str(error.schema.get("description", "")) if isinstance(error.schema, dict) else ""
    if description.startswith("A duration"):
        message = f"{error.instance!r} is not a duration (seconds, or 30s, 90m, 12h, 7d, 2w, 1y)"
    elif error.context:  # anyOf/oneOf: show the most relevant branch's complaint
        detail = best_match(error.context)
        path = tuple(detail.absolute_path) or path
        message = detail.message
    else:
        message = error.message
    if detail.validator == "additionalProperties" and isinstance(detail.instance, dict):
        allowed = set(detail.schema.get("properties", {}))
        unexpected = [key for key in detail.instance if key not in allowed]
        if unexpected:
            known = ", ".join(sorted(allowed)) or "none"
            return [
                ((*path, key), _INLINE_CREDENTIAL_MESSAGE)
                if key == "password"
                else ((*path, key), f"unknown key {key!r} (known keys: {known})")
                for key in unexpected
            ]
    if path and path[-1] == "password":
        message = _INLINE_CREDENTIAL_MESSAGE
    elif detail.validator == "not" and detail.validator_value and "anyOf" in detail.validator_value:
        message = (
            "a view cannot have indexes, a validator, capped or time-series options, "
            "and a collection cannot be both capped and time-series"
        )
    return [(path, message)]


_INLINE_CREDENTIAL_MESSAGE = (
    "a literal password is not allowed in a catalog; use password_env or password_file"
)


def _located(source: SourceMap, path: tuple[Any, ...], message: str) -> str:
    dotted = "/".join(str(part) for part in path) or "(top level)"
    return f"{source.locate(path)}: {dotted}: {message}"


def _merge(documents: list[tuple[dict[str, Any], SourceMap]], problems: list[str]) -> Catalog:
    collections: dict[str, CollectionSpec] = {}
    roles: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    users: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
    singletons: dict[str, tuple[dict[str, Any], str]] = {}
    files: list[str] = []
    for document, source in documents:
        files.append(str(source.file))
        for db_name, database in (document.get("databases") or {}).items():
            for name, body in (database.get("collections") or {}).items():
                path = ("databases", db_name, "collections", name)
                location = source.locate(path)
                namespace = f"{db_name}.{name}"
                if namespace in collections:
                    problems.append(
                        f"{location}: {namespace} is already defined at "
                        f"{collections[namespace].location}"
                    )
                    continue
                found = _collection_problems(body, source, path)
                problems.extend(found)
                if found:
                    continue
                try:
                    collections[namespace] = _collection(db_name, name, body, source, path)
                except ValueError as error:
                    problems.append(f"{location}: {namespace}: {error}")
        for section, registry, key in (("roles", roles, "role"), ("users", users, "user")):
            for index, entry in enumerate(document.get(section) or []):
                location = source.locate((section, index))
                identity = (entry["db"], entry[key])
                if identity in registry:
                    problems.append(
                        f"{location}: {key} {entry[key]}@{entry['db']} is already defined at "
                        f"{registry[identity][1]}"
                    )
                    continue
                registry[identity] = (entry, location)
        for section in ("sharding", "backup"):
            if section in document:
                location = source.locate((section,))
                if section in singletons:
                    problems.append(
                        f"{location}: {section} is already defined at {singletons[section][1]}"
                    )
                    continue
                singletons[section] = (document[section], location)
    return Catalog(
        collections=tuple(collections.values()),
        roles=tuple(entry for entry, _ in roles.values()),
        users=tuple(entry for entry, _ in users.values()),
        sharding=singletons.get("sharding", (None, ""))[0],
        backup=singletons.get("backup", (None, ""))[0],
        files=tuple(files),
    )


def _collection_problems(
    body: dict[str, Any], source: SourceMap, path: tuple[Any, ...]
) -> list[str]:
    """Return located messages for what the schema cannot see but MongoDB refuses:
    a malformed validator or partial filter, a TTL beyond int32, and index options
    that belong to another index type."""
    problems: list[str] = []
    if "validator" in body:
        where = (*path, "validator")
        for inner, message in find_validator_problems(body["validator"]):
            problems.append(_located(source, (*where, *inner), message))
    for position, declared in enumerate(body.get("indexes") or []):
        where = (*path, "indexes", position)
        if "partial" in declared:
            for inner, message in find_value_problems(declared["partial"]):
                problems.append(_located(source, (*where, "partial", *inner), message))
        if "expire_after" in declared:
            try:
                seconds = parse_duration(declared["expire_after"])
            except ValueError:
                seconds = 0  # _index reports it
            if seconds > MAX_TTL_SECONDS:
                problems.append(
                    _located(
                        source,
                        (*where, "expire_after"),
                        f"{declared['expire_after']!r} is {seconds} seconds; a TTL index allows "
                        f"at most {MAX_TTL_SECONDS} (about 68 years) and MongoDB refuses more "
                        "(code 67)",
                    )
                )
        values = [value for _, value in declared["keys"].items()]
        fields = [str(field_name) for field_name in declared["keys"]]
        is_text = "text" in values
        for option in ("weights", "default_language", "language_override"):
            if option in declared and not is_text:
                problems.append(
                    _located(
                        source,
                        (*where, option),
                        f"{option} is a text index option; this index has no text key",
                    )
                )
        if "wildcard_projection" in declared and not any(
            field_name == "$**" and value != "text"
            for field_name, value in zip(fields, values, strict=True)
        ):
            problems.append(
                _located(
                    source,
                    (*where, "wildcard_projection"),
                    'wildcard_projection needs a "$**" wildcard key (a "path.$**" key '
                    "already names the fields it indexes)",
                )
            )
    return problems


def _collection(
    db: str, name: str, body: dict[str, Any], source: SourceMap, path: tuple[Any, ...]
) -> CollectionSpec:
    kind = "view" if "view" in body else "timeseries" if "timeseries" in body else "collection"
    if "expire_after" in body and kind != "timeseries":
        raise ValueError("expire_after at collection level needs timeseries (use a TTL index)")
    timeseries = None
    if "timeseries" in body:
        declared = body["timeseries"]
        timeseries = {"timeField": declared["time_field"]}
        if "meta_field" in declared:
            timeseries["metaField"] = declared["meta_field"]
        has_buckets = "bucket_max_span" in declared or "bucket_rounding" in declared
        if has_buckets:
            if "granularity" in declared:
                raise ValueError("timeseries: granularity and bucket settings exclude each other")
            if "bucket_max_span" not in declared or "bucket_rounding" not in declared:
                raise ValueError("timeseries: bucket_max_span and bucket_rounding go together")
            span = parse_duration(declared["bucket_max_span"])
            rounding = parse_duration(declared["bucket_rounding"])
            if span != rounding:
                raise ValueError("timeseries: bucket_max_span must equal bucket_rounding")
            timeseries["bucketMaxSpanSeconds"] = span
            timeseries["bucketRoundingSeconds"] = rounding
        else:
            timeseries["granularity"] = declared.get("granularity", "seconds")
    indexes = []
    names: dict[str, str] = {}
    for position, declared in enumerate(body.get("indexes") or []):
        index = _index(declared, source.locate((*path, "indexes", position)))
        if index.name in names:
            raise ValueError(
                f"index name {index.name!r} is used twice (also at {names[index.name]})"
            )
        if index.name == "_id_" or index.keys == (("_id", 1),):
            raise ValueError("the _id index always exists; do not declare it")
        names[index.name] = index.location
        indexes.append(index)
    view = body.get("view")
    return CollectionSpec(
        db=db,
        name=name,
        kind=kind,
        validator=bson_ready(body["validator"]) if "validator" in body else None,
        validation_level=body.get("validation_level"),
        validation_action=body.get("validation_action"),
        capped=body.get("capped"),
        timeseries=timeseries,
        expire_after_seconds=(
            parse_duration(body["expire_after"]) if "expire_after" in body else None
        ),
        collation=body.get("collation"),
        view_on=view["view_on"] if view else None,
        pipeline=tuple(bson_ready(view["pipeline"])) if view else None,
        change_stream_pre_and_post_images=body.get("change_stream_pre_and_post_images"),
        indexes=tuple(indexes),
        shard=body.get("shard"),
        seed=body.get("seed"),
        description=body.get("description"),
        location=source.locate(path),
    )


def _index(declared: dict[str, Any], location: str) -> IndexSpec:
    keys = tuple((str(field_name), value) for field_name, value in declared["keys"].items())
    options: dict[str, Any] = {}
    for catalog_name, server_name in INDEX_OPTION_NAMES.items():
        if catalog_name not in declared:
            continue
        value = declared[catalog_name]
        if catalog_name == "expire_after":
            value = parse_duration(value)
        elif catalog_name == "partial":
            value = bson_ready(value)
        elif catalog_name == "wildcard_projection":
            value = {field_name: int(bool(flag)) for field_name, flag in value.items()}
        if catalog_name in ("unique", "sparse", "hidden") and value is False:
            continue  # false is MongoDB's default: the server never reports it
        options[server_name] = value
    return IndexSpec(
        keys=keys,
        name=declared.get("name") or default_index_name(keys),
        options=options,
        location=location,
    )
