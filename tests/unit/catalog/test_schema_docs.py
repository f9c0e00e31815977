"""The catalog's JSON Schema documents itself, and catalogs/README.md keeps up with it."""

from pathlib import Path

from toolkit.catalog.load import catalog_schema

ROOT = Path(__file__).resolve().parents[3]


def iter_properties(node, path=()):
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, child in properties.items():
                yield (*path, name), child
        for key, child in node.items():
            if key != "examples":  # example documents are data, not schema
                yield from iter_properties(child, (*path, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from iter_properties(child, (*path, index))


def test_every_key_has_a_description_and_an_example():
    missing = []
    for path, child in iter_properties(catalog_schema()):
        if not isinstance(child, dict):
            missing.append(("not a schema", path))
            continue
        if "description" not in child:
            missing.append(("description", path))
        if "examples" not in child and set(child) != {"$ref"}:
            missing.append(("examples", path))
    assert missing == []


def test_readme_names_every_catalog_key():
    readme = (ROOT / "catalogs" / "README.md").read_text()
    keys = {path[-1] for path, _ in iter_properties(catalog_schema())}
    absent = sorted(k for k in keys if f"`{k}`" not in readme)
    assert absent == []


def test_readme_reference_is_generated_from_the_schema():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "catalog_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
