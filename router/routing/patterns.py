"""Route names that are globs: ``claude-*`` serves every dated name Claude Code sends.

Only ``*`` (any run of characters, none too) and ``?`` (one character) are special.
An exact name wins over a pattern, and a longer pattern over a shorter one; two
patterns of equal length that some name could match both are a config error,
since neither would be the obvious winner (`overlap`).
"""

from __future__ import annotations

import functools
import re

__all__ = ["compile_pattern", "is_pattern", "overlap"]

_SPECIAL = frozenset("*?")


def is_pattern(name: str) -> bool:
    return not _SPECIAL.isdisjoint(name)


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression matching exactly the names `pattern` matches."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def overlap(a: str, b: str) -> bool:
    """Whether some name matches both patterns (a walk over pairs of positions)."""

    @functools.cache
    def both(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            # a's star matches nothing more, or also takes whatever b's next position matches
            return both(i + 1, j) or (j < len(b) and both(i, j + 1))
        if j < len(b) and b[j] == "*":
            return both(i, j + 1) or (i < len(a) and both(i + 1, j))
        if i == len(a) or j == len(b):
            return False
        return (a[i] == b[j] or "?" in (a[i], b[j])) and both(i + 1, j + 1)

    return both(0, 0)
