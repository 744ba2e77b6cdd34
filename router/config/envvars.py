"""Expand ``${VAR}`` and ``${VAR:-default}`` references from an explicit environment."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

__all__ = ["REFERENCE", "Expansion", "expand", "references"]

#: ``${VAR}`` or ``${VAR:-default}``: group 1 the name, group 2 the default (or None).
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@attrs.frozen
class Expansion:
    """The expanded text, or the names of the unset variables that prevented it."""

    value: str | None
    missing: tuple[str, ...] = ()


def references(text: str) -> tuple[str, ...]:
    """Return the variable names `text` refers to."""
    return tuple(m.group(1) for m in REFERENCE.finditer(text))


def expand(text: str, env: Mapping[str, str]) -> Expansion:
    """Expand every reference; an unset variable without a default is reported as missing.

    An empty variable counts as set (as in POSIX ``${VAR-default}``), except that
    ``${VAR:-default}`` also replaces an empty value, as the shell does.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                missing.append(name)
                return ""
            return default
        return value

    result = REFERENCE.sub(replace, text)
    if missing:
        return Expansion(None, tuple(missing))
    return Expansion(result)
