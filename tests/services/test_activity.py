"""The dashboard's recent activity: which requests the feed keeps, filters, chart buckets."""

from __future__ import annotations

import pytest

from router.http.observe import RequestInfo
from router.services.activity import (
    BUCKET_S,
    FEED_SIZE,
    WINDOW_BUCKETS,
    Activity,
    api_of,
    chart_series,
    feed_rows,
    quantile,
)


@pytest.mark.parametrize(
    ("path", "api"),
    [
        ("/v1/chat/completions", "chat"),
        ("/chat/completions", "chat"),
        ("/v1/responses/resp_1/cancel", "responses"),
        ("/v1/embeddings", "embeddings"),
        ("/v1/route/explain", "explain"),
        ("/v1/models", "models"),
        ("/v1/messages", "messages"),
        ("/api/chat", "ollama"),
        ("/api/v1/llm-provider/openai", None),
        ("/ui/api/state", None),
        ("/health", None),
        ("/metrics", None),
        ("/admin/config", None),
        ("/", None),
    ],
    ids=str,
)
def test_api_of_names_the_apis_and_leaves_out_everything_else(path: str, api: str | None) -> None:
    assert api_of(path) == api


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def served(
    provider: str = "local",
    *,
    route: str = "chat",
    zone: str = "home",
    tokens: tuple[int, int] = (10, 5),
    cost: float | None = None,
    reason: str = "",
) -> RequestInfo:
    info = RequestInfo("req", 0.0, key="alice", zone=zone, reason=reason)
    if reason:  # rejected before any attempt: the route is the one the request named
        info.rejected_route = route
    else:
        info.route = route
        info.provider, info.model, info.route_reason = provider, "small", "primary"
        info.prompt_tokens, info.completion_tokens = tokens
        info.cost_usd = cost
    return info


def test_the_feed_keeps_the_last_200_api_requests_newest_first() -> None:
    activity = Activity(clock=Clock(1_000_000.0))
    for n in range(FEED_SIZE + 5):
        info = served()
        info.request_id = f"r{n}"
        activity.record(info, "POST", "/v1/chat/completions", 200, 0.01)
    activity.record(served(), "GET", "/ui/api/state", 200, 0.001)  # the page's own polling
    rows = feed_rows(activity.feed)
    assert len(rows) == FEED_SIZE
    assert rows[0]["request_id"] == f"r{FEED_SIZE + 4}"
    assert rows[-1]["request_id"] == "r5"


def test_a_feed_row_holds_what_the_log_line_holds_and_no_content() -> None:
    activity = Activity(clock=Clock(1_000_000.25))
    info = served(cost=0.0012)
    info.ttfb_s = 0.0305
    activity.record(info, "POST", "/v1/chat/completions", 200, 0.0421)
    assert feed_rows(activity.feed) == [
        {
            "at": "1970-01-12T13:46:40.250Z",
            "request_id": "req",
            "key": "alice",
            "api": "chat",
            "method": "POST",
            "route": "chat",
            "provider": "local",
            "model": "small",
            "zone": "home",
            "route_reason": "primary",
            "status": 200,
            "rejection_reason": None,
            "latency_ms": 42.1,
            "ttfb_ms": 30.5,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost_usd": 0.0012,
        }
    ]


@pytest.mark.parametrize(
    ("status", "route", "expected"),
    [
        (None, None, ["ok-a", "ok-b", "reject", "fail"]),
        ("ok", None, ["ok-a", "ok-b"]),
        ("error", None, ["reject", "fail"]),
        ("rejected", None, ["reject"]),
        ("502", None, ["fail"]),
        (None, "b", ["ok-b"]),
        ("ok", "a", ["ok-a"]),
        ("error", "b", []),
    ],
    ids=str,
)
def test_the_feed_filters_by_status_and_route(
    status: str | None, route: str | None, expected: list[str]
) -> None:
    activity = Activity(clock=Clock(1_000_000.0))
    for request_id, route_name, code, reason in [
        ("fail", "a", 502, ""),
        ("reject", "a", 503, "privacy_zone_mismatch"),
        ("ok-b", "b", 200, ""),
        ("ok-a", "a", 200, ""),
    ]:
        info = served(route=route_name, reason=reason)
        info.request_id = request_id
        activity.record(info, "POST", "/v1/chat/completions", code, 0.01)
    rows = feed_rows(activity.feed, status=status, route=route)
    assert [r["request_id"] for r in rows] == expected


def test_quantiles_come_from_the_histogram_bins() -> None:
    activity = Activity(clock=Clock(1_000_000.0))
    for elapsed in [0.010] * 90 + [0.500] * 10:
        activity.record(served(), "POST", "/v1/chat/completions", 200, elapsed)
    hist = activity.buckets[-1].providers["local"][2:]
    p50, p95 = quantile(hist, 0.5), quantile(hist, 0.95)
    assert p50 is not None
    assert p95 is not None
    assert 0.010 <= p50 < 0.010 * 1.2  # the bin's upper bound: at most 20% above
    assert 0.500 <= p95 < 0.500 * 1.2
    assert quantile([0] * len(hist), 0.5) is None


def test_charts_bucket_the_last_15_minutes_by_provider_reason_and_zone() -> None:
    clock = Clock(1_000_000.0)
    activity = Activity(clock=clock)
    activity.record(served("old"), "POST", "/v1/chat/completions", 200, 0.01)
    clock.now += BUCKET_S * WINDOW_BUCKETS  # 15 minutes later: "old" has left the window
    for _ in range(20):
        activity.record(served("local", tokens=(3, 2)), "POST", "/v1/chat/completions", 200, 0.02)
    activity.record(served("cloud", zone="open"), "POST", "/v1/chat/completions", 502, 1.0)
    activity.record(served(reason="privacy_zone_mismatch"), "POST", "/v1/chat/completions", 503, 0)
    clock.now += BUCKET_S
    activity.record(served("local"), "POST", "/v1/chat/completions", 200, 0.02)

    charts = chart_series(activity.buckets, clock.now)
    assert len(charts["starts"]) == WINDOW_BUCKETS
    assert charts["starts"][-1] - charts["starts"][0] == BUCKET_S * (WINDOW_BUCKETS - 1)
    assert sorted(charts["providers"]) == ["cloud", "local"]
    local = charts["providers"]["local"]
    assert local["rps"][-2:] == [20 / BUCKET_S, 1 / BUCKET_S]
    assert local["rps"][:-2] == [0.0] * (WINDOW_BUCKETS - 2)
    assert local["p50_ms"][0] is None  # nothing served then: no latency, not zero
    assert charts["providers"]["cloud"]["errors"][-2] == 1
    assert charts["rejections"] == {"privacy_zone_mismatch": [0] * (WINDOW_BUCKETS - 2) + [1, 0]}
    assert charts["zones"]["home"]["tokens"][-2:] == [100, 15]
    assert charts["zones"]["home"]["cost_usd"] is None  # no prices: no spend series
    assert charts["priced"] is False


def test_spend_appears_once_a_request_has_a_cost() -> None:
    activity = Activity(clock=Clock(1_000_000.0))
    activity.record(served(cost=0.25), "POST", "/v1/chat/completions", 200, 0.01)
    activity.record(served(cost=0.5), "POST", "/v1/chat/completions", 200, 0.01)
    charts = chart_series(activity.buckets, 1_000_000.0)
    assert charts["priced"] is True
    assert charts["zones"]["home"]["cost_usd"][-1] == 0.75
