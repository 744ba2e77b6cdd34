"""Parse YAML and remember where every key and value stands in the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from router.config.diagnostics import Diagnostic, JsonPath

__all__ = ["MAX_EXPANSION", "Mark", "SourceMap", "YamlSyntaxError", "parse_yaml"]

#: How many values a file may expand to per node it holds. YAML aliases and merge keys
#: reuse nodes, so a few lines can stand for billions of values (the "billion laughs");
#: legitimate reuse (``<<: *defaults`` in every provider) stays far below this.
MAX_EXPANSION = 20
#: Expansion every file may use whatever its size.
_EXPANSION_FLOOR = 10_000

try:  # libyaml is ~10x faster; the pure-Python loader gives identical results
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - wheels without libyaml
    _Loader = yaml.SafeLoader


@attrs.frozen
class Mark:
    """A 1-based line and column."""

    line: int
    column: int


@attrs.frozen
class SourceMap:
    """Where each JSON path's value (and, for mapping entries, its key) begins."""

    values: Mapping[JsonPath, tuple[int, int]]
    keys: Mapping[JsonPath, tuple[int, int]]

    def locate(self, path: JsonPath, *, key: bool = False) -> Mark | None:
        """Return the mark of `path`, or of its nearest ancestor that exists in the file."""
        if key and path in self.keys:
            return Mark(*self.keys[path])
        for end in range(len(path), -1, -1):
            found = self.values.get(path[:end])
            if found is not None:
                return Mark(*found)
        return None


class _TooLarge(Exception):
    """The document expands to more values than its size allows (aliases reused too often)."""


def _distinct_nodes(root: yaml.Node) -> int:
    """Count the nodes of a composed document, each shared (aliased) node once."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.append(key)
                stack.append(value)
    return len(seen)


class YamlSyntaxError(Exception):
    """The bytes are not one valid YAML document; carries located diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics[0].message)
        self.diagnostics = diagnostics


_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_INT = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TRUE = frozenset({"true", "yes", "on"})
#: Scalars kept as their text: a timestamp such as created_at stays an ISO 8601 string.
_AS_TEXT = frozenset({_STR, "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"})


@attrs.define
class _Builder:
    """Build plain data and the source map in one walk over the composed node tree."""

    loader: Any
    #: Values left to build before the file counts as an alias bomb.
    budget: int
    values: dict[JsonPath, tuple[int, int]] = attrs.Factory(dict)
    keys: dict[JsonPath, tuple[int, int]] = attrs.Factory(dict)
    problems: list[Diagnostic] = attrs.Factory(list)

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise _TooLarge
        mark = node.start_mark
        self.values[path] = (mark.line + 1, mark.column + 1)
        if isinstance(node, yaml.ScalarNode):
            tag, text = node.tag, node.value
            if tag in _AS_TEXT:
                return text
            if tag == _INT and text.isdigit() and (text[0] != "0" or text == "0"):
                return int(text)  # the common case, without the generic constructor's cost
            if tag == _BOOL:
                return text.lower() in _TRUE
            if tag == _NULL:
                return None
            return self.loader.construct_object(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        raise YamlSyntaxError([Diagnostic("error", f"unsupported YAML node {node.tag}", path)])

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # "<<: *defaults": merged first, explicit keys win
                sources = (
                    value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                )
                for source in reversed(sources):
                    if isinstance(source, yaml.MappingNode):
                        out.update(self._mapping(source, path))
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                continue
            key = str(key_node.value)
            child = (*path, key)
            at = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in seen:
                self.problems.append(
                    Diagnostic(
                        "error",
                        f"duplicate key {key!r} (first defined at line {seen[key][0]})",
                        child,
                        line=at[0],
                        column=at[1],
                    )
                )
            seen[key] = at
            self.keys[child] = at
            out[key] = self.build(value_node, child)
        return out


def parse_yaml(text: str | bytes, filename: str | None = None) -> tuple[Any, SourceMap]:
    """Parse one YAML document into plain data plus its source map.

    Raises `YamlSyntaxError` with the line and column of the first syntax error, or
    of every duplicate key (YAML says keys are unique; PyYAML would keep the last).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, SourceMap({}, {})
        nodes = _distinct_nodes(node)
        limit = MAX_EXPANSION * nodes + _EXPANSION_FLOOR
        builder = _Builder(loader, budget=limit)
        try:
            data = builder.build(node, ())
        except _TooLarge:
            raise YamlSyntaxError(
                [
                    Diagnostic(
                        "error",
                        f"the file's {nodes} YAML nodes expand to more than "
                        f"{limit} values "
                        "through aliases (*ref) and merge keys: refusing to load it "
                        "(an alias bomb?)",
                        file=filename,
                    )
                ]
            ) from None
        if builder.problems:
            raise YamlSyntaxError([attrs.evolve(p, file=filename) for p in builder.problems])
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or "invalid YAML"
        context = f" {exc.context}" if exc.context else ""
        raise YamlSyntaxError(
            [
                Diagnostic(
                    "error",
                    f"invalid YAML: {problem}{context}",
                    file=filename,
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from exc
    except yaml.YAMLError as exc:  # e.g. a reader error on invalid UTF-8
        raise YamlSyntaxError([Diagnostic("error", f"invalid YAML: {exc}", file=filename)]) from exc
    finally:
        loader.dispose()
    return data, SourceMap(builder.values, builder.keys)
