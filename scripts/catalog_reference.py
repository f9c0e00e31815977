"""Regenerate the "Catalog keys" section of catalogs/README.md from the catalog's JSON Schema.

    python scripts/catalog_reference.py          # rewrite the section
    python scripts/catalog_reference.py --check  # exit 3 if it is out of date

The schema (toolkit/catalog/schema.yaml) is the one description of the format;
this keeps the README's reference in step with it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "catalogs" / "README.md"
HEADING = "## Catalog keys"
sys.path.insert(0, str(ROOT))

from toolkit.catalog.load import catalog_schema  # noqa: E402


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while isinstance(node, dict) and "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**schema["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def sections(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    defs = schema["$defs"]
    collection = defs["collection"]["properties"]
    return [
        ("Top level", schema["properties"]),
        ("Database (`databases.<name>`)", defs["database"]["properties"]),
        ("Collection (`databases.<db>.collections.<name>`)", collection),
        ("`capped`", collection["capped"]["properties"]),
        ("`timeseries`", collection["timeseries"]["properties"]),
        ("`view`", collection["view"]["properties"]),
        ("Index (an item of `indexes`)", defs["index"]["properties"]),
        ("`collation` (collection or index)", defs["collation"]["properties"]),
        ("`shard` (per collection)", defs["shard"]["properties"]),
        ("`shard.zones` items", defs["shard"]["properties"]["zones"]["items"]["properties"]),
        ("`sharding` (top level)", defs["sharding"]["properties"]),
        ("Role (an item of `roles`)", defs["role"]["properties"]),
        ("Role reference (`roles` of a role or user)", defs["role_ref"]["anyOf"][1]["properties"]),
        ("Privilege (an item of a role's `privileges`)", defs["privilege"]["properties"]),
        (
            "`resource` {db, collection}",
            defs["privilege"]["properties"]["resource"]["oneOf"][0]["properties"],
        ),
        (
            "`resource` {cluster}",
            defs["privilege"]["properties"]["resource"]["oneOf"][1]["properties"],
        ),
        (
            "Authentication restriction (roles and users)",
            defs["authentication_restriction"]["properties"],
        ),
        ("User (an item of `users`)", defs["user"]["properties"]),
        ("`backup` (top level)", defs["backup"]["properties"]),
        ("`backup.retention`", defs["backup"]["properties"]["retention"]["properties"]),
        ("`seed` (per collection)", defs["seed"]["properties"]),
    ]


def render(schema: dict[str, Any]) -> str:
    lines = [
        HEADING,
        "",
        "Generated from `toolkit/catalog/schema.yaml` by `scripts/catalog_reference.py`;",
        "do not edit by hand.",
    ]
    for title, properties in sections(schema):
        lines += ["", f"### {title}", "", "| Key | Description | Example |", "| --- | --- | --- |"]
        for key, node in properties.items():
            node = resolve(schema, node)
            description = str(node.get("description", "")).replace("|", "\\|").replace("\n", " ")
            examples = node.get("examples") or []
            example = f"`{examples[0]!r}`".replace("|", "\\|") if examples else ""
            lines.append(f"| `{key}` | {description} | {example} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    text = README.read_text(encoding="utf-8")
    head = text.split(HEADING, 1)[0].rstrip("\n") + "\n\n"
    updated = head + render(catalog_schema())
    if "--check" in sys.argv[1:]:
        if updated != text:
            print(
                f"{README} is out of date: run python scripts/catalog_reference.py", file=sys.stderr
            )
            return 3
        return 0
    README.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
