"""The dashboard's views of a compiled table: topology, routes, who would serve now."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from router.routing.decision import Health, ProviderState
from router.services.dashboard import routes_view, topology_view
from router.snapshot.loader import load_bytes

CONFIG = b"""\
version: 1
zones: [{name: restricted}, {name: home}, {name: open}]
providers:
  - name: gpu
    kind: ollama
    base_url: http://admin:hunter2hunter2@127.0.0.1:11434
    zone: home
    max_concurrency: 2
    models:
      - {name: llama3, tiers: {reasoning: 6}, context_window: 8192, vision: true}
  - name: cloud
    kind: openai
    base_url: https://api.example/v1
    api_key: ${CLOUD_KEY}
    zone: open
    rpm: 60
    models: [{name: gpt, tiers: {reasoning: 9, coding: 9}, tools: true, embeddings: true,
              reasoning: true}]
routes:
  - {model: chat, targets: [gpu/llama3, cloud/gpt], zone: home, overflow: always,
     min_tiers: {reasoning: 5}}
  - {model: private, targets: [gpu/llama3], zone: home, overflow: never}
"""
KEY = "sk-cloud-secret-value-123456"


def describe(states: Mapping[str, Mapping[str, object]]) -> Callable[[str], Mapping[str, object]]:
    """A stand-in for `HealthMonitor.describe` with the given states."""
    return lambda name: states.get(name, {"status": "unknown", "in_flight": 0})


def test_zones_come_most_private_first_with_their_providers_and_no_secret() -> None:
    table = load_bytes(CONFIG, source="t.yaml", env={"CLOUD_KEY": KEY}, loaded_at=0.0)
    zones = topology_view(
        table, describe({"gpu": {"status": "healthy", "in_flight": 1, "circuit_open": True}})
    )
    assert [(z["name"], [p["name"] for p in z["providers"]]) for z in zones] == [
        ("restricted", []),
        ("home", ["gpu"]),
        ("open", ["cloud"]),
    ]
    gpu = zones[1]["providers"][0]
    assert (gpu["status"], gpu["in_flight"], gpu["max_concurrency"]) == ("healthy", 1, 2)
    assert gpu["circuit"]["open"] is True
    assert gpu["models"] == [
        {
            "name": "llama3",
            "tiers": {"reasoning": 6, "coding": 0},
            "context_window": 8192,
            "capabilities": ["vision"],
            "discovered": False,
        }
    ]
    cloud = zones[2]["providers"][0]
    assert cloud["rpm"] == 60
    assert cloud["models"][0]["capabilities"] == ["tools", "reasoning", "embeddings"]
    assert KEY not in repr(zones)
    assert "hunter2hunter2" not in repr(zones)  # URL credentials are masked


def test_a_provider_without_its_key_shows_as_disabled_with_the_reason() -> None:
    table = load_bytes(CONFIG, source="t.yaml", env={}, loaded_at=0.0)
    cloud = topology_view(table, describe({}))[2]["providers"][0]
    assert cloud["status"] == "disabled"
    assert "CLOUD_KEY" in cloud["disabled_reason"]


@pytest.mark.parametrize(
    ("gpu", "serving"),
    [
        (Health.HEALTHY, {"target": "gpu/llama3", "reason": "primary"}),
        (Health.UNHEALTHY, {"target": "cloud/gpt", "reason": "overflow"}),
    ],
    ids=["gpu up", "gpu down"],
)
def test_routes_show_targets_in_order_and_who_would_serve_now(
    gpu: Health, serving: dict[str, str]
) -> None:
    table = load_bytes(CONFIG, source="t.yaml", env={"CLOUD_KEY": KEY}, loaded_at=0.0)
    live = {"gpu": ProviderState(gpu), "cloud": ProviderState(Health.HEALTHY)}
    routes = routes_view(table, live)
    assert [r["model"] for r in routes] == ["chat", "private", "gpt", "llama3"]  # declared first
    chat = routes[0]
    assert [t["target"] for t in chat["targets"]] == ["gpu/llama3", "cloud/gpt"]
    assert (chat["zone"], chat["overflow"], chat["min_tiers"]) == (
        "home",
        "always",
        {"reasoning": 5, "coding": 0},
    )
    assert chat["serving"] == serving
    if gpu is Health.UNHEALTHY:
        assert routes[1]["serving"] == {"target": None, "rejection_reason": "no_healthy_backend"}
