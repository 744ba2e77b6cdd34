"""Glob route names: which names a pattern matches, which patterns overlap, which route wins."""

from __future__ import annotations

import pytest

from router.routing.decision import RequestFacts
from router.routing.explain import explain, format_explanation
from router.routing.patterns import compile_pattern, is_pattern, overlap
from router.snapshot.loader import load_bytes


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("claude-*", "claude-sonnet-4-5-20250929", True),
        ("claude-*", "claude-", True),
        ("claude-*", "claud", False),
        ("*-haiku-*", "claude-haiku-4-5-20251001", True),
        ("*-haiku-*", "claude-sonnet-4-5", False),
        ("gpt-?o", "gpt-4o", True),
        ("gpt-?o", "gpt-40o", False),
        ("a.b*", "axb", False),  # only * and ? are special
        ("llama[3]*", "llama[3]:8b", True),
    ],
    ids=str,
)
def test_pattern_matches(pattern: str, name: str, matches: bool) -> None:
    assert is_pattern(pattern)
    assert bool(compile_pattern(pattern).fullmatch(name)) is matches


@pytest.mark.parametrize(
    ("a", "b", "both"),
    [
        ("claude-*", "*-haiku", True),  # claude-x-haiku
        ("claude-*", "gpt-*", False),
        ("a*b", "a*c", False),
        ("a?c", "ab?", True),
        ("a*", "*", True),
        ("*x*", "*y*", True),  # xy
        ("ab", "ab*", True),
        ("abc", "ab", False),
    ],
    ids=str,
)
def test_overlap(a: str, b: str, both: bool) -> None:
    assert overlap(a, b) is both
    assert overlap(b, a) is both


CONFIG = b"""\
version: 1
providers:
  - name: box
    kind: ollama
    base_url: http://127.0.0.1:11434
    models: [{name: big}, {name: small}, {name: exact}]
routes:
  - {model: claude-*, targets: [box/big]}
  - {model: claude-haiku-*, targets: [box/small]}
  - {model: claude-haiku-4-5-20251001, targets: [box/exact]}
"""


@pytest.mark.parametrize(
    ("asked", "route"),
    [
        ("claude-sonnet-4-5-20250929", "claude-*"),
        ("claude-haiku-3-5", "claude-haiku-*"),  # the longer pattern wins
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5-20251001"),  # an exact name wins
        ("big", "big"),  # a model served directly is an exact name too
        ("gpt-4o", None),
    ],
)
def test_resolve_prefers_exact_then_longer(asked: str, route: str | None) -> None:
    table = load_bytes(CONFIG, source="f.yaml", env={}, loaded_at=0.0)
    found = table.resolve(asked)
    assert (found.name if found is not None else None) == route
    assert "claude-*" in table.public_models  # listed as the pattern


def test_explain_names_the_pattern() -> None:
    table = load_bytes(CONFIG, source="f.yaml", env={}, loaded_at=0.0)
    report = explain(table, RequestFacts(model="claude-haiku-9"), {})
    assert report["route"]["name"] == "claude-haiku-*"
    assert report["route"]["pattern"] is True
    assert "route: 'claude-haiku-*' (a pattern), zone default" in format_explanation(report)
    exact = explain(table, RequestFacts(model="claude-haiku-4-5-20251001"), {})
    assert exact["route"]["pattern"] is False
