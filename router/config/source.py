"""Parse YAML and remember where every key and value stands in the file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import yaml

from router.config.diagnostics import Diagnostic, JsonPath

__all__ = ["Mark", "SourceMap", "YamlSyntaxError", "parse_yaml"]

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

    values: Mapping[JsonPath, Mark]
    keys: Mapping[JsonPath, Mark]

    def locate(self, path: JsonPath, *, key: bool = False) -> Mark | None:
        """Return the mark of `path`, or of its nearest ancestor that exists in the file."""
        if key and path in self.keys:
            return self.keys[path]
        for end in range(len(path), -1, -1):
            mark = self.values.get(path[:end])
            if mark is not None:
                return mark
        return None


class YamlSyntaxError(Exception):
    """The bytes are not one valid YAML document; carries located diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics[0].message)
        self.diagnostics = diagnostics


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _walk(
    node: yaml.Node,
    path: JsonPath,
    values: dict[JsonPath, Mark],
    keys: dict[JsonPath, Mark],
    problems: list[Diagnostic],
) -> None:
    values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, Mark] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                first = seen[key]
                problems.append(
                    Diagnostic(
                        "error",
                        f"duplicate key {key!r} (first defined at line {first.line})",
                        child,
                        line=_mark(key_node).line,
                        column=_mark(key_node).column,
                    )
                )
            seen[key] = _mark(key_node)
            keys[child] = _mark(key_node)
            _walk(value_node, child, values, keys, problems)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), values, keys, problems)


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
        values: dict[JsonPath, Mark] = {}
        keys: dict[JsonPath, Mark] = {}
        problems: list[Diagnostic] = []
        _walk(node, (), values, keys, problems)
        if problems:
            raise YamlSyntaxError([attrs.evolve(p, file=filename) for p in problems])
        data = loader.construct_document(node)
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
    return data, SourceMap(values, keys)
