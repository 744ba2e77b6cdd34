"""Budgets in the pure routing decision: spent scopes are skipped, and their windows."""

from __future__ import annotations

import datetime as dt

import pytest

from router.config.model import Period, Price
from router.routing.budgets import NOTHING_SPENT, Spent, window
from router.routing.decision import Rejection, RequestFacts, RouteDecision, route
from router.routing.pricing import cost_usd, usd_text
from router.snapshot.loader import load_bytes

CONFIG = b"""\
version: 1
zones: [{name: home}, {name: cloud}]
providers:
  - {name: local, kind: ollama, base_url: "http://127.0.0.1:11434", zone: home,
     models: [{name: small}]}
  - {name: openai, kind: openai, base_url: "https://api.example.com/v1", zone: cloud,
     models: [{name: gpt, price: {input: 2, output: 8}}]}
  - {name: other, kind: openai, base_url: "https://other.example.com/v1", zone: cloud,
     models: [{name: gpt}]}
routes:
  - {model: smart, targets: [openai/gpt, other/gpt, local/small]}
  - {model: private, targets: [local/small, openai/gpt], zone: home, overflow: always}
budgets:
  - {name: cloud-day, limit_usd: 1, period: day, zone: cloud}
  - {name: openai-month, limit_usd: 10, period: month, provider: openai}
  - {name: smart-week, limit_usd: 5, period: week, route: smart}
"""
TABLE = load_bytes(CONFIG, source="t.yaml", env={}, loaded_at=0.0)
NOON = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC).timestamp()  # a Wednesday


def spent(**usd: float) -> Spent:
    return Spent.of(TABLE.budgets, {k.replace("_", "-"): v for k, v in usd.items()}, NOON)


def targets(model: str, live_spent: Spent) -> list[str] | str:
    result = route(TABLE, RequestFacts(model=model), {}, live_spent)
    if isinstance(result, Rejection):
        return result.reason
    assert isinstance(result, RouteDecision)
    return [c.target.key for c in result.candidates]


@pytest.mark.parametrize(
    ("model", "usd", "expected"),
    [
        ("smart", {}, ["openai/gpt", "other/gpt", "local/small"]),
        ("smart", {"cloud_day": 0.99}, ["openai/gpt", "other/gpt", "local/small"]),
        ("smart", {"openai_month": 10}, ["other/gpt", "local/small"]),
        ("smart", {"cloud_day": 1}, ["local/small"]),
        ("smart", {"smart_week": 5}, "budget_exhausted"),
        ("private", {"cloud_day": 1}, ["local/small"]),
        ("private", {}, ["local/small", "openai/gpt"]),
    ],
    ids=[
        "nothing-spent",
        "under-the-limit",
        "provider-spent-skips-only-it",
        "zone-spent-leaves-local",
        "route-spent-rejects",
        "overflow-stops-local-serves",
        "overflow-allowed",
    ],
)
def test_spent_budgets_skip_their_scope(
    model: str, usd: dict[str, float], expected: list[str] | str
) -> None:
    assert targets(model, spent(**usd)) == expected


def test_nothing_but_spent_scopes_is_the_budget_contract() -> None:
    """Local down too: 503 budget_exhausted with the budget's fields and when it resets."""
    from router.routing.decision import Health, ProviderState

    result = route(
        TABLE,
        RequestFacts(model="smart"),
        {"local": ProviderState(Health.UNHEALTHY)},
        spent(cloud_day=1.5),
    )
    assert isinstance(result, Rejection)
    assert result.context() == {
        "rejection_reason": "budget_exhausted",
        "requested_model": "smart",
        "budget": "cloud-day",
        "limit_usd": 1,
        "spent_usd": 1.5,
        "resets_at": "2026-12-03T00:00:00+00:00",
        "retry_after_seconds": 30,
    }
    assert result.resets_at == dt.datetime(2026, 12, 3, tzinfo=dt.UTC).timestamp()


def test_nothing_spent_is_the_default() -> None:
    assert not NOTHING_SPENT
    assert spent() is NOTHING_SPENT


@pytest.mark.parametrize(
    ("period", "start", "end"),
    [
        (Period.DAY, "2026-12-02T00:00:00+00:00", "2026-12-03T00:00:00+00:00"),
        (Period.WEEK, "2026-11-30T00:00:00+00:00", "2026-12-07T00:00:00+00:00"),
        (Period.MONTH, "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
    ],
    ids=["day", "week-from-monday", "month-across-the-year"],
)
def test_windows_are_utc_calendar_units(period: Period, start: str, end: str) -> None:
    begins, ends = window(period, NOON)
    assert dt.datetime.fromtimestamp(begins, dt.UTC).isoformat() == start
    assert dt.datetime.fromtimestamp(ends, dt.UTC).isoformat() == end


@pytest.mark.parametrize(
    ("price", "usage", "text"),
    [
        (None, (1000, 500, 0), "0"),
        (Price(2, 8), (1000, 500, 0), "0.006"),
        (Price(2, 8, 0.5), (1000, 500, 200), "0.0057"),
        (Price(2, 8), (1000, 500, 200), "0.006"),  # cached at the input price by default
        (Price(0.15, 0.6), (7, 3, 0), "0.00000285"),
    ],
    ids=["free", "input-and-output", "cached-price", "cached-default", "small-no-exponent"],
)
def test_cost_from_price_and_usage(
    price: Price | None, usage: tuple[int, int, int], text: str
) -> None:
    assert usd_text(cost_usd(price, *usage)) == text
