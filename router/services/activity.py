"""The router's recent activity in memory: the last requests, and 15 minutes of per-bucket totals.

The dashboard (`/ui`) reads these instead of Prometheus. Recording is on the path of
every request, so it only appends: the finished request's own `RequestInfo` goes into
a bounded deque as it is (no copy), and the current time bucket's counters go up.
Everything the page shows is computed when the page asks (`feed_rows`, `chart_series`),
from values, by pure functions.

Only what the access log line holds is kept — never a prompt, a completion or a key.
"""

from __future__ import annotations

import bisect
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

import attrs

from router.errors import RequestInvalid

__all__ = [
    "BUCKET_S",
    "FEED_SIZE",
    "LATENCY_BOUNDS_S",
    "WINDOW_BUCKETS",
    "Activity",
    "Bucket",
    "Recorded",
    "api_of",
    "chart_series",
    "feed_rows",
    "quantile",
    "status_filter",
]

#: How many finished requests the feed keeps.
FEED_SIZE = 200
#: Seconds per chart bucket, and how many buckets the charts span (15 minutes).
BUCKET_S = 10
WINDOW_BUCKETS = 90
#: Upper bounds of the latency histogram's bins: 1 ms to ~2 min, 20% apart (66 bins).
LATENCY_BOUNDS_S: tuple[float, ...] = (*(0.001 * 1.2**i for i in range(65)), math.inf)

#: First path segment (after an optional ``/v1``) of the paths the feed shows, and the
#: API name it shows for them.
_APIS: Mapping[str, str] = {
    "chat": "chat",
    "responses": "responses",
    "embeddings": "embeddings",
    "images": "images",
    "conversations": "conversations",
    "models": "models",
    "route": "explain",
    "messages": "messages",
    "api": "ollama",
}


class Recorded(Protocol):
    """What one finished request did (`router.http.observe.RequestInfo`)."""

    request_id: str
    key: str | None
    route: str | None
    provider: str | None
    model: str | None
    zone: str | None
    route_reason: str | None
    rejected_route: str | None
    reason: str
    ttfb_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None


def api_of(path: str) -> str | None:
    """The API a request path belongs to (``/v1/chat/completions`` -> ``chat``); None: not shown.

    ``/api/...`` is Ollama's API except the provider CRUD under ``/api/v1/``.
    """
    parts = path.split("/", 3)  # "", first, second, rest
    first = parts[1] if len(parts) > 1 else ""
    if first == "v1":
        first = parts[2] if len(parts) > 2 else ""
    elif first == "api" and len(parts) > 2 and parts[2] == "v1":
        return None
    return _APIS.get(first)


@attrs.define
class Bucket:
    """Totals of one `BUCKET_S` slice of time."""

    start: int
    #: provider -> [requests, failed (status >= 500), histogram counts per latency bin...]
    providers: dict[str, list[int]] = attrs.Factory(dict)
    #: rejection reason -> count
    rejections: dict[str, int] = attrs.Factory(dict)
    #: zone -> [prompt tokens, completion tokens, cost in USD (0.0 when none known)]
    zones: dict[str, list[float]] = attrs.Factory(dict)
    #: whether any request of this bucket had a known cost
    priced: bool = False


_BINS = len(LATENCY_BOUNDS_S)
_UNSEEN = ""  # no API is named by the empty string
_PATHS_KEPT = 256


@attrs.define
class Activity:
    """The one mutable holder of recent activity; `record` is called once per finished request."""

    clock: Callable[[], float] = time.time
    feed: deque[tuple[Recorded, str, str, int, float, float]] = attrs.Factory(
        lambda: deque(maxlen=FEED_SIZE)
    )
    buckets: deque[Bucket] = attrs.Factory(lambda: deque(maxlen=WINDOW_BUCKETS))
    #: `api_of` by path, for the paths seen first (splitting a path costs more than the
    #: rest of `record`); bounded, since paths with ids are each new.
    _apis: dict[str, str | None] = attrs.Factory(dict)

    def record(self, info: Recorded, method: str, path: str, status: int, elapsed: float) -> None:
        """Keep a finished request of one of the APIs; other paths (pages, probes) are not kept."""
        apis = self._apis
        api = apis.get(path, _UNSEEN)
        if api is _UNSEEN:
            api = api_of(path)
            if len(apis) < _PATHS_KEPT:
                apis[path] = api
        if api is None:
            return
        now = self.clock()
        self.feed.append((info, api, method, status, elapsed, now))
        start = int(now) - int(now) % BUCKET_S
        buckets = self.buckets
        if not buckets or buckets[-1].start != start:
            buckets.append(Bucket(start))
        bucket = buckets[-1]
        if info.reason:
            bucket.rejections[info.reason] = bucket.rejections.get(info.reason, 0) + 1
        provider = info.provider
        if provider is None:
            return
        counts = bucket.providers.get(provider)
        if counts is None:
            counts = bucket.providers[provider] = [0] * (2 + _BINS)
        counts[0] += 1
        if status >= 500:
            counts[1] += 1
        counts[2 + bisect.bisect_left(LATENCY_BOUNDS_S, elapsed)] += 1
        zone = info.zone or ""
        spent = bucket.zones.get(zone)
        if spent is None:
            spent = bucket.zones[zone] = [0, 0, 0.0]
        spent[0] += info.prompt_tokens or 0
        spent[1] += info.completion_tokens or 0
        if info.cost_usd is not None:
            spent[2] += info.cost_usd
            bucket.priced = True


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def feed_rows(
    feed: Iterable[tuple[Recorded, str, str, int, float, float]],
    *,
    status: str | None = None,
    route: str | None = None,
) -> list[dict[str, Any]]:
    """The feed, newest first, as the page shows it.

    ``status``: ``ok`` (< 400), ``error`` (>= 400), ``rejected`` (a routing rejection),
    or a status code; ``route``: the route's name.
    """
    rows = []
    for info, api, method, code, elapsed, at in reversed(list(feed)):
        shown = info.route or info.rejected_route
        if route and shown != route:
            continue
        if status and not _status_matches(status, code, info.reason):
            continue
        rows.append(
            {
                "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at))
                + f".{int(at * 1000) % 1000:03d}Z",
                "request_id": info.request_id,
                "key": info.key,
                "api": api,
                "method": method,
                "route": shown,
                "provider": info.provider,
                "model": info.model,
                "zone": info.zone,
                "route_reason": info.route_reason,
                "status": code,
                "rejection_reason": info.reason or None,
                "latency_ms": _ms(elapsed),
                "ttfb_ms": _ms(info.ttfb_s),
                "prompt_tokens": info.prompt_tokens,
                "completion_tokens": info.completion_tokens,
                "cost_usd": info.cost_usd,
            }
        )
    return rows


def status_filter(value: str | None) -> str | None:
    """Check the feed's ``status`` filter: ``ok``, ``error``, ``rejected`` or a status code."""
    if not value:
        return None
    if value in ("ok", "error", "rejected") or (value.isdigit() and len(value) == 3):
        return value
    raise RequestInvalid(
        "'status' must be ok, error, rejected or a three-digit status code", param="status"
    )


def _status_matches(wanted: str, code: int, reason: str) -> bool:
    if wanted == "ok":
        return code < 400
    if wanted == "error":
        return code >= 400
    if wanted == "rejected":
        return bool(reason)
    return str(code) == wanted


def quantile(counts: list[int], q: float) -> float | None:
    """The upper bound (seconds) of the histogram bin holding the `q` quantile; None if empty.

    The last bin is unbounded: its quantile is reported as the last finite bound.
    """
    total = sum(counts)
    if not total:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return LATENCY_BOUNDS_S[min(i, _BINS - 2)]
    return LATENCY_BOUNDS_S[_BINS - 2]  # pragma: no cover (the loop always returns)


def chart_series(buckets: Iterable[Bucket], now: float) -> dict[str, Any]:
    """Per-bucket series over the last 15 minutes, oldest first; a bucket with nothing is 0.

    Latency quantiles are ``None`` where a provider served nothing, and spend is
    ``None`` throughout when no request had a known cost.
    """
    last = int(now) - int(now) % BUCKET_S
    starts = [last - BUCKET_S * i for i in range(WINDOW_BUCKETS - 1, -1, -1)]
    index = {start: i for i, start in enumerate(starts)}
    n = len(starts)
    providers: dict[str, dict[str, list[Any]]] = {}
    rejections: dict[str, list[int]] = {}
    zones: dict[str, dict[str, list[Any]]] = {}
    priced = False
    for bucket in buckets:
        i = index.get(bucket.start)
        if i is None:
            continue
        priced = priced or bucket.priced
        for name, counts in bucket.providers.items():
            series = providers.setdefault(
                name,
                {"rps": [0.0] * n, "errors": [0] * n, "p50_ms": [None] * n, "p95_ms": [None] * n},
            )
            series["rps"][i] = round(counts[0] / BUCKET_S, 3)
            series["errors"][i] = counts[1]
            hist = counts[2:]
            series["p50_ms"][i] = _ms(quantile(hist, 0.5))
            series["p95_ms"][i] = _ms(quantile(hist, 0.95))
        for reason, count in bucket.rejections.items():
            rejections.setdefault(reason, [0] * n)[i] = count
        for zone, (prompt, completion, cost) in bucket.zones.items():
            spent = zones.setdefault(zone, {"tokens": [0] * n, "cost_usd": [0.0] * n})
            spent["tokens"][i] = int(prompt + completion)
            spent["cost_usd"][i] = round(cost, 6)
    return {
        "step_s": BUCKET_S,
        "starts": starts,
        "providers": dict(sorted(providers.items())),
        "rejections": dict(sorted(rejections.items())),
        "zones": {
            zone: spent if priced else {**spent, "cost_usd": None} for zone, spent in zones.items()
        },
        "priced": priced,
    }
