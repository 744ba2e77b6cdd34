"""Table-driven tests of the pure routing decision: each rule and each precedence boundary."""

from __future__ import annotations

from typing import Any

import pytest

from router.config.model import Preference
from router.routing.decision import (
    Health,
    ProviderState,
    Rejection,
    RequestFacts,
    RouteDecision,
    UnknownModel,
    route,
)
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes

CONFIG = b"""\
version: 1
zones: [{name: restricted}, {name: internal}, {name: open}]
providers:
  - name: local
    kind: ollama
    base_url: http://127.0.0.1:11434
    zone: restricted
    max_concurrency: 2
    models:
      - {name: l7, tiers: {reasoning: 7, coding: 6}, tools: true, context_window: 8192}
      - {name: l-small, tiers: {reasoning: 3, coding: 3}}
  - name: local2
    kind: ollama
    base_url: http://127.0.0.2:11434
    zone: restricted
    models:
      - {name: l7, tiers: {reasoning: 7, coding: 6}, tools: true, context_window: 8192}
  - name: lan
    kind: openai
    base_url: http://10.0.0.5/v1
    zone: internal
    models:
      - {name: m8, tiers: {reasoning: 8, coding: 8}, vision: true}
  - name: cloud
    kind: openai
    base_url: https://api.example.com/v1
    api_key: ${CLOUD_KEY}
    zone: open
    models:
      - {name: c9, tiers: {reasoning: 9, coding: 9}, vision: true, tools: true, context_window: 128000}
routes:
  - {model: private, targets: [local/l7, cloud/c9], zone: restricted, min_tiers: {reasoning: 6}, overflow: fresh-only}
  - {model: never, targets: [local/l7, cloud/c9], zone: restricted, overflow: never}
  - {model: always, targets: [local/l7, cloud/c9], zone: restricted, overflow: always}
  - {model: pair, targets: [local/l7, local2/l7], zone: restricted}
  - {model: smart, targets: [local/l7], min_tiers: {reasoning: 8}}
  - {model: coder, targets: [local/l7], min_tiers: {coding: 7}}
  - {model: fast, targets: [local/l-small]}
"""

TABLE = load_bytes(CONFIG, source="t.yaml", env={"CLOUD_KEY": "k"}, loaded_at=0.0)
NO_CLOUD_KEY = load_bytes(CONFIG, source="t.yaml", env={}, loaded_at=0.0)

DOWN = ProviderState(Health.UNHEALTHY)
HEALTHY = ProviderState(Health.HEALTHY)
HISTORY: dict[str, Any] = {"has_history": True, "conversation_messages": 5}
FLEX = Preference.FLEXIBLE


def decide(
    model: str,
    live: dict[str, ProviderState] | None = None,
    table: RoutingTable = TABLE,
    **facts: Any,
) -> RouteDecision | Rejection | UnknownModel:
    return route(table, RequestFacts(model=model, **facts), live or {})


def picked(result: object) -> list[str]:
    assert isinstance(result, RouteDecision), result
    return [f"{c.target.key}:{c.reason.value}" for c in result.candidates]


def rejected(result: object) -> str:
    assert isinstance(result, Rejection), result
    return result.reason


@pytest.mark.parametrize(
    ("model", "live", "facts", "expected"),
    [
        pytest.param(
            "private",
            {},
            {},
            ["local/l7:primary", "cloud/c9:overflow"],
            id="fresh request: in zone first, overflow kept for failover",
        ),
        pytest.param(
            "private",
            {},
            HISTORY,
            ["local/l7:primary"],
            id="fresh-only: history never reaches a less private zone",
        ),
        pytest.param(
            "private",
            {"local": DOWN},
            {},
            ["cloud/c9:overflow"],
            id="fresh-only: primary down, fresh request overflows",
        ),
        pytest.param("never", {}, {}, ["local/l7:primary"], id="never: out-of-zone target dropped"),
        pytest.param(
            "always",
            {"local": DOWN},
            HISTORY,
            ["cloud/c9:overflow"],
            id="always: overflow even with history",
        ),
        pytest.param(
            "private",
            {"local": ProviderState(Health.HEALTHY, in_flight=2)},
            {},
            ["cloud/c9:overflow"],
            id="primary at max_concurrency counts as unusable",
        ),
        pytest.param(
            "private",
            {"local": ProviderState(Health.HEALTHY, in_flight=1)},
            {},
            ["local/l7:primary", "cloud/c9:overflow"],
            id="below max_concurrency is usable",
        ),
        pytest.param(
            "pair",
            {},
            {},
            ["local/l7:primary", "local2/l7:failover"],
            id="later targets are failovers",
        ),
        pytest.param(
            "pair", {"local": DOWN}, {}, ["local2/l7:failover"], id="primary down: failover"
        ),
        pytest.param(
            "l7",
            {"local": ProviderState(Health.HEALTHY, in_flight=1)},
            {},
            ["local2/l7:primary", "local/l7:primary"],
            id="equally preferred providers: fewest in flight first",
        ),
        pytest.param(
            "private",
            {"local": ProviderState(Health.UNKNOWN)},
            HISTORY,
            ["local/l7:primary"],
            id="unknown (not yet probed) is routable",
        ),
        pytest.param(
            "smart",
            {},
            {"preference": FLEX},
            ["lan/m8:alternative", "cloud/c9:alternative"],
            id="flexible: alternatives with tiers >= requirement, closest first",
        ),
        pytest.param(
            "fast",
            {"local": DOWN},
            {"preference": FLEX},
            ["local2/l7:alternative", "lan/m8:alternative", "cloud/c9:alternative"],
            id="flexible without min_tiers: first target's tiers are the floor",
        ),
        pytest.param(
            "private",
            {"local": DOWN, "local2": DOWN},
            {"preference": FLEX, **HISTORY},
            None,
            id="flexible never loosens privacy: alternatives obey overflow",
        ),
        pytest.param(
            "private",
            {},
            {"needs_vision": True},
            ["cloud/c9:overflow"],
            id="vision request skips a text-only target",
        ),
    ],
)
def test_candidates(
    model: str, live: dict[str, ProviderState], facts: dict[str, Any], expected: list[str] | None
) -> None:
    result = decide(model, live, **facts)
    if expected is None:
        assert isinstance(result, Rejection)
        assert result.reason == "overflow_blocked_with_history"
    else:
        assert picked(result) == expected


@pytest.mark.parametrize(
    ("model", "live", "facts", "reason"),
    [
        pytest.param("smart", {}, {}, "tier_insufficient_reasoning", id="tier: reasoning"),
        pytest.param("coder", {}, {}, "tier_insufficient_coding", id="tier: coding"),
        pytest.param(
            "fast", {}, {"needs_tools": True}, "capability_missing", id="capability: tools"
        ),
        pytest.param(
            "never",
            {},
            {"context_tokens": 10_000},
            "capability_missing",
            id="capability: context window",
        ),
        pytest.param(
            "fast",
            {"local": DOWN},
            {},
            "strict_routing_enabled",
            id="strict: flexible would have found alternatives",
        ),
        pytest.param(
            "private",
            {"local": DOWN, "local2": DOWN},
            HISTORY,
            "overflow_blocked_with_history",
            id="history blocks overflow",
        ),
        pytest.param(
            "never",
            {"local": DOWN, "local2": DOWN},
            {},
            "privacy_zone_mismatch",
            id="zone mismatch",
        ),
        pytest.param("c9", {"cloud": DOWN}, {}, "no_healthy_backend", id="everything down"),
        pytest.param(
            "fast",
            {"local": ProviderState(Health.HEALTHY, in_flight=2)},
            {},
            "capacity_exhausted",
            id="capacity before strict: the target frees up",
        ),
        pytest.param(
            "smart",
            {"local": ProviderState(Health.HEALTHY, in_flight=2)},
            {},
            "tier_insufficient_reasoning",
            id="tier before capacity",
        ),
        # precedence boundaries
        pytest.param(
            "smart",
            {},
            HISTORY,
            "tier_insufficient_reasoning",
            id="tier before strict: capability is not transient",
        ),
        pytest.param(
            "smart",
            {"local": DOWN},
            {},
            "tier_insufficient_reasoning",
            id="tier before strict, even with the target down",
        ),
        pytest.param(
            "private",
            {"local": DOWN, "local2": DOWN},
            {"needs_vision": True, **HISTORY},
            "capability_missing",
            id="capability before history",
        ),
        pytest.param(
            "private",
            {"local": DOWN},
            HISTORY,
            "strict_routing_enabled",
            id="strict before history: an in-zone alternative exists",
        ),
        pytest.param(
            "private",
            {"local": DOWN},
            {"preference": FLEX, **HISTORY},
            "ok:local2/l7:alternative",
            id="... and flexible takes it",
        ),
        pytest.param(
            "never",
            {"local": DOWN, "local2": DOWN},
            {},
            "privacy_zone_mismatch",
            id="zone before no_healthy_backend",
        ),
        pytest.param(
            "l-small",
            {"local": DOWN},
            {"preference": FLEX},
            "ok:local2/l7:alternative",
            id="direct model, flexible",
        ),
    ],
)
def test_rejection_reason_and_precedence(
    model: str, live: dict[str, ProviderState], facts: dict[str, Any], reason: str
) -> None:
    result = decide(model, live, **facts)
    if reason.startswith("ok:"):
        assert picked(result)[0] == reason.removeprefix("ok:")
    else:
        assert rejected(result) == reason


def test_unknown_model_lists_available_models() -> None:
    result = decide("gpt-5")
    assert isinstance(result, UnknownModel)
    assert set(result.available) >= {"private", "l7", "c9", "m8"}


def test_disabled_provider_is_never_a_candidate() -> None:
    assert picked(decide("private", table=NO_CLOUD_KEY)) == ["local/l7:primary"]
    result = decide("c9", table=NO_CLOUD_KEY)
    assert isinstance(result, Rejection)
    assert result.context()["available_backends"][0]["status"] == "disabled"


def test_privacy_zone_mismatch_context_matches_the_contract() -> None:
    result = decide("never", {"local": DOWN, "local2": DOWN, "cloud": HEALTHY})
    assert isinstance(result, Rejection)
    assert result.message == "No backends available in required privacy zone 'restricted'"
    assert result.context() == {
        "rejection_reason": "privacy_zone_mismatch",
        "required_zone": "restricted",
        "available_backends": [{"name": "cloud", "zone": "open", "status": "healthy"}],
        "retry_after_seconds": 30,
    }


def test_tier_context_matches_the_contract() -> None:
    result = decide("smart", {"local": HEALTHY})
    assert isinstance(result, Rejection)
    assert result.message == "No backends meet minimum reasoning tier 8"
    assert result.context() == {
        "rejection_reason": "tier_insufficient_reasoning",
        "required_tier": 8,
        "available_backends": [
            {"name": "local", "model": "l7", "reasoning_tier": 7, "status": "healthy"}
        ],
        "retry_after_seconds": 30,
    }


def test_history_context_matches_the_contract() -> None:
    result = decide("private", {"local": DOWN, "local2": DOWN}, **HISTORY)
    assert isinstance(result, Rejection)
    assert result.message == "Cross-zone overflow blocked: request contains conversation history"
    assert result.context() == {
        "rejection_reason": "overflow_blocked_with_history",
        "required_zone": "restricted",
        "available_zone": "open",
        "overflow_mode": "fresh-only",
        "conversation_messages": 5,
        "retry_after_seconds": 30,
    }


def test_strict_context_lists_what_flexible_would_use() -> None:
    result = decide("fast", {"local": DOWN})
    assert isinstance(result, Rejection)
    assert result.message == "Requested model 'fast' unavailable and strict routing enabled"
    assert result.context() == {
        "rejection_reason": "strict_routing_enabled",
        "requested_model": "fast",
        "routing_preference": "strict",
        "available_models": ["l7", "m8", "c9"],
        "retry_after_seconds": 30,
    }


def test_route_is_deterministic_and_does_not_mutate_its_inputs() -> None:
    live = {"local": ProviderState(Health.HEALTHY, 1)}
    first = decide("private", live)
    assert decide("private", live) == first
    assert live == {"local": ProviderState(Health.HEALTHY, 1)}
