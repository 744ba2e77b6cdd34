"""Config diagnostics: one error or warning, located by file, line, column and JSON path."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from typing import Literal

import attrs

__all__ = ["Diagnostic", "JsonPath", "did_you_mean", "format_path", "parse_path"]

JsonPath = tuple[str | int, ...]
Severity = Literal["error", "warning"]

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\[(['\"])(.*?)\3\]")


@attrs.frozen
class Diagnostic:
    """One finding about a config file: what is wrong and where."""

    severity: Severity
    message: str
    path: JsonPath = ()
    file: str | None = None
    line: int | None = None
    column: int | None = None
    #: Point at the key rather than its value (unknown keys, duplicates).
    at_key: bool = attrs.field(default=False, eq=False, repr=False)

    @property
    def json_path(self) -> str:
        return format_path(self.path)

    def format(self) -> str:
        """Render as ``file:line:col: error: message (at $.path)``, the compiler convention."""
        where = self.file or "<config>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.severity}: {self.message} (at {self.json_path})"

    def to_dict(self) -> dict[str, object]:
        return {
            "severity": self.severity,
            "message": self.message,
            "path": self.json_path,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        }


def format_path(path: Iterable[str | int]) -> str:
    """Format a path as JSONPath: ``$.providers[0]['odd key']``."""
    out = ["$"]
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif _IDENT.match(part):
            out.append(f".{part}")
        else:
            out.append(f"[{part!r}]")
    return "".join(out)


def parse_path(text: str) -> JsonPath:
    """Parse what `format_path` (or cattrs' ``transform_error``) wrote back into a path."""
    parts: list[str | int] = []
    for match in _PATH_TOKEN.finditer(text.removeprefix("$")):
        ident, index, _quote, key = match.groups()
        if ident is not None:
            parts.append(ident)
        elif index is not None:
            parts.append(int(index))
        else:
            parts.append(key)
    return tuple(parts)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
