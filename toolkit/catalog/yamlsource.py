"""Parse YAML into plain Python values while remembering where each value came from.

PyYAML's safe loader forgets line numbers and silently keeps the last of two
duplicate keys. Catalog errors must name file and line, and a duplicate key is
a mistake, so this module walks the composed node tree itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MAX_NODES = 2_000_000
_STR_TAG = "tag:yaml.org,2002:str"  # guards against alias bombs ("billion laughs")

Path_ = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Line numbers (1-based) of every mapping key and sequence item, by document path."""

    file: Path
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """Return the line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def locate(self, path: Path_) -> str:
        return f"{self.file}:{self.line_of(path)}"


_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser: 10x faster


class CatalogYamlLoader(_BaseLoader):  # type: ignore[misc,valid-type]
    """SafeLoader with YAML 1.2 booleans: only true/false.

    YAML 1.1 reads on/off/yes/no as booleans, which turns ``validation_level: off``
    into False; in a catalog these are strings.
    """


CatalogYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
CatalogYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


class YamlProblem(Exception):
    """The text is not a YAML document we accept; ``location`` is file:line."""

    def __init__(self, location: str, message: str) -> None:
        super().__init__(f"{location}: {message}")
        self.location = location
        self.message = message


class _Builder:
    def __init__(self, source: SourceMap, constructor: yaml.constructor.SafeConstructor) -> None:
        self.source = source
        self.constructor = constructor
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise YamlProblem(self._where(node), "document too large (alias expansion?)")
        if id(node) in self.active:
            raise YamlProblem(self._where(node), "recursive alias: a value contains itself")
        self.source.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self.active.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self.active.discard(id(node))
        if isinstance(node, yaml.SequenceNode):
            self.active.add(id(node))
            try:
                return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
            finally:
                self.active.discard(id(node))
        if node.tag == _STR_TAG:
            return node.value  # the common case, without the constructor's bookkeeping
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as error:
            raise YamlProblem(self._where(node), _describe(error)) from error

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[Any, Any]:
        self.constructor.flatten_mapping(node)  # resolve YAML merge keys (<<)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(
                    self._where(key_node), "a key must be a plain value, not a list or mapping"
                )
            key = self.build(key_node, (*path, "<key>"))
            if isinstance(key, bool | float) or key is None:
                raise YamlProblem(
                    self._where(key_node),
                    f"key {key_node.value!r} is read as {type(key).__name__}; quote it",
                )
            if key in result:
                raise YamlProblem(self._where(key_node), f"duplicate key {key!r}")
            self.source.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        return result

    def _where(self, node: yaml.Node) -> str:
        return f"{self.source.file}:{node.start_mark.line + 1}"


def _describe(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    return f"{context}: {problem}" if context else str(problem)


def parse_yaml(text: str, file: Path) -> tuple[Any, SourceMap]:
    """Parse one YAML document; return its value and a SourceMap. Raise YamlProblem."""
    source = SourceMap(file=file)
    try:
        loader = CatalogYamlLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, source
            return _Builder(source, loader).build(node, ()), source
        finally:
            loader.dispose()
    except YamlProblem:
        raise
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(f"{file}:{line}", _describe(error)) from error
    except yaml.YAMLError as error:
        raise YamlProblem(f"{file}:1", _describe(error)) from error
    except RecursionError as error:
        raise YamlProblem(f"{file}:1", "document nested too deeply") from error
