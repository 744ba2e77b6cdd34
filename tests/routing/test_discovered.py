"""Discovered models meet the file: precedence, globs and what compile says about targets."""

from __future__ import annotations

from typing import Any

import pytest

from router.config.converter import structure_config
from router.errors import ConfigInvalid
from router.routing.compile import compile_config
from router.routing.discovered import DiscoveredModel, Discovery, exposed
from router.routing.table import RoutingTable

URL = "http://box:11434"


def _table(provider: dict[str, Any], *found: DiscoveredModel, **extra: Any) -> RoutingTable:
    data = {
        "version": 1,
        "providers": [{"name": "box", "kind": "ollama", "base_url": URL, **provider}],
        **extra,
    }
    return compile_config(
        structure_config(data),
        env={},
        digest="0" * 64,
        loaded_at=0.0,
        source="nexus.yaml",
        discovered={"box": Discovery(URL, found)},
    )


@pytest.mark.parametrize(
    ("declared", "defaults", "found", "field", "expected"),
    [
        pytest.param({}, {}, {"vision": True}, "vision", True, id="backend-says"),
        pytest.param({"vision": False}, {}, {"vision": True}, "vision", False, id="declared-wins"),
        pytest.param({}, {"vision": True}, {}, "vision", True, id="defaults-fill-silence"),
        pytest.param({}, {"vision": True}, {"vision": False}, "vision", False, id="backend-over-defaults"),
        pytest.param({}, {}, {}, "tools", False, id="built-in-default"),
        pytest.param({}, {}, {"context_window": 8192}, "context_window", 8192, id="window-from-backend"),
        pytest.param(
            {"context_window": 4096}, {}, {"context_window": 8192}, "context_window", 4096,
            id="window-declared",
        ),
        pytest.param({}, {"tiers": {"coding": 7}}, {}, "tiers", (0, 7), id="tiers-from-defaults"),
        pytest.param(
            {"tiers": {"reasoning": 2}}, {"tiers": {"coding": 7}}, {}, "tiers", (2, 0),
            id="tiers-declared",
        ),
        pytest.param({}, {}, {"reasoning": True}, "reasoning", True, id="thinking-is-reasoning"),
    ],
)  # fmt: skip
def test_precedence_is_file_then_backend_then_defaults(
    declared: dict[str, Any],
    defaults: dict[str, Any],
    found: dict[str, Any],
    field: str,
    expected: Any,
) -> None:
    provider: dict[str, Any] = {"discover": True, "model_defaults": defaults}
    if declared:
        provider["models"] = [{"name": "m", **declared}]
    spec = _table(provider, DiscoveredModel("m", **found)).providers["box"].models["m"]
    value = getattr(spec, field)
    if field == "tiers":
        value = (value.reasoning, value.coding)
    assert value == expected
    assert spec.discovered is not bool(declared)


@pytest.mark.parametrize(
    ("include", "exclude", "name", "shown"),
    [
        pytest.param(None, [], "llama3:latest", True, id="everything-by-default"),
        pytest.param(None, ["*:latest"], "llama3:latest", False, id="exclude"),
        pytest.param(None, ["*:latest"], "llama3:8b", True, id="exclude-misses"),
        pytest.param(["qwen*"], [], "llama3:8b", False, id="include-misses"),
        pytest.param(["qwen*"], ["*embed*"], "qwen3-embed", False, id="exclude-beats-include"),
        pytest.param(["qwen*"], [], "qwen3:8b", True, id="include"),
    ],
)
def test_globs_limit_what_is_exposed(
    include: list[str] | None, exclude: list[str], name: str, shown: bool
) -> None:
    assert exposed(name, include, exclude) is shown


def test_a_declared_model_is_served_whatever_the_globs_and_matches_without_latest() -> None:
    """Ollama's implicit ':latest' names the declared model, which keeps its name."""
    table = _table(
        {
            "discover": True,
            "exclude": ["*"],
            "models": [{"name": "llama3", "tiers": {"coding": 5}}],
        },
        DiscoveredModel("llama3:latest", vision=True),
        DiscoveredModel("qwen3:8b"),
    )
    models = table.providers["box"].models
    assert set(models) == {"llama3"}
    assert (models["llama3"].vision, models["llama3"].tiers.coding) == (True, 5)


def test_a_list_from_another_address_is_not_served() -> None:
    """After an edit points the provider elsewhere, the old backend's list is dropped."""
    table = compile_config(
        structure_config(
            {
                "version": 1,
                "providers": [{"name": "box", "kind": "ollama", "base_url": URL, "discover": True}],
            }
        ),
        env={},
        digest="0" * 64,
        loaded_at=0.0,
        source="nexus.yaml",
        discovered={"box": Discovery("http://elsewhere:11434", (DiscoveredModel("m"),))},
    )
    assert dict(table.providers["box"].models) == {}


def test_without_discover_the_list_is_ignored() -> None:
    assert _table({}, DiscoveredModel("m")).providers["box"].models == {}


def _messages(provider: dict[str, Any], targets: list[str]) -> list[tuple[str, str]]:
    routes = [{"model": "chat", "targets": targets}]
    try:
        table = _table(provider, routes=routes)
    except ConfigInvalid as exc:
        return [(d.severity, d.message) for d in exc.diagnostics]
    return [(d.severity, d.message) for d in table.warnings]


@pytest.mark.parametrize(
    ("provider", "target", "severity", "says"),
    [
        pytest.param({"discover": True}, "box/qwen3:8b", "warning", "once the backend lists it", id="provider-target-later"),
        pytest.param({"discover": True}, "qwen3:8b", "warning", "discovering provider", id="bare-name-later"),
        pytest.param({"models": [{"name": "a"}]}, "box/qwen3:8b", "error", "does not serve", id="no-discovery-error"),
        pytest.param({"discover": True}, "bxo/qwen3:8b", "error", "did you mean 'box'", id="provider-typo-error"),
    ],
)  # fmt: skip
def test_an_undeclared_target_is_a_warning_only_where_it_may_appear(
    provider: dict[str, Any], target: str, severity: str, says: str
) -> None:
    found = [
        (s, m) for s, m in _messages(provider, [target]) if target.rsplit("/", maxsplit=1)[-1] in m
    ]
    assert found, _messages(provider, [target])
    assert found[0][0] == severity
    assert says in found[0][1]


def test_a_discovering_provider_needs_no_models_and_gets_no_warning_for_it() -> None:
    assert _messages({"discover": True}, []) == []
    assert any("lists no models" in m for _, m in _messages({}, []))


@pytest.mark.parametrize(
    ("kind", "defaults", "says"),
    [
        ("ollama", {"images": True}, "image generation"),
        ("anthropic", {"embeddings": True}, "do not serve embeddings"),
    ],
)
def test_model_defaults_obey_the_rules_of_a_model_entry(
    kind: str, defaults: dict[str, Any], says: str
) -> None:
    config = {
        "version": 1,
        "providers": [
            {
                "name": "p",
                "kind": kind,
                "base_url": URL,
                "discover": True,
                "model_defaults": defaults,
            }
        ],
    }
    with pytest.raises(ConfigInvalid) as exc:
        compile_config(structure_config(config), env={}, digest="0" * 64, loaded_at=0.0, source="x")
    assert any(says in d.message for d in exc.value.diagnostics)


def test_discovery_keys_without_discover_are_flagged() -> None:
    assert any(
        "does not discover" in m
        for _, m in _messages({"exclude": ["*"], "models": [{"name": "a"}]}, ["a"])
    )
