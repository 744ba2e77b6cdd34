"""The spend report: ledger rows summed by dimension, and each budget's state. Pure.

`GET /admin/spend`, `nexus spend` and the dashboard all show this one shape.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from router.config.model import Period
from router.routing.budgets import Budget, SpendKey, window
from router.store.base import SpendRow

__all__ = ["budget_spent", "earliest_window", "spend_report"]


def _iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat()


def _usd(value: float) -> float:
    return round(value, 10)


def earliest_window(periods: Iterable[Period], now: float) -> float:
    """The start of the earliest of these periods' current windows (``now``'s day if none)."""
    return min((window(p, now)[0] for p in periods), default=window(Period.DAY, now)[0])


def budget_spent(budget: Budget, rows: Iterable[SpendRow], now: float) -> float:
    """What the budget's scope spent in its current period."""
    start = window(budget.period, now)[0]
    return sum(
        r.cost_usd
        for r in rows
        if r.day >= start and budget.covers(SpendKey(r.route, r.provider, r.zone, r.key))
    )


def spend_report(
    rows: Sequence[SpendRow], budgets: Sequence[Budget], period: Period, now: float
) -> dict[str, Any]:
    """``{period, since, total_usd, requests, estimated_usd, by_*, budgets}`` for `period`.

    `rows` must cover the current window of `period` and of every budget.
    """
    start, end = window(period, now)
    total = estimated = 0.0
    requests = estimated_requests = 0
    by: dict[str, defaultdict[str, float]] = {
        name: defaultdict(float) for name in ("provider", "zone", "route", "key", "model")
    }
    for r in rows:
        if r.day < start:
            continue
        total += r.cost_usd
        estimated += r.estimated_usd
        requests += r.requests
        estimated_requests += r.estimated_requests
        by["provider"][r.provider] += r.cost_usd
        by["zone"][r.zone] += r.cost_usd
        by["route"][r.route] += r.cost_usd
        by["key"][r.key or "(none)"] += r.cost_usd
        by["model"][f"{r.provider}/{r.model}"] += r.cost_usd
    return {
        "period": period.value,
        "since": _iso(start),
        "until": _iso(end),
        "total_usd": _usd(total),
        "requests": requests,
        "estimated_usd": _usd(estimated),
        "estimated_requests": estimated_requests,
        **{
            f"by_{name}": {k: _usd(v) for k, v in sorted(values.items())}
            for name, values in by.items()
        },
        "budgets": [
            {
                "name": b.name,
                "scope": {b.scope: b.value},
                "period": b.period.value,
                "limit_usd": b.limit_usd,
                "spent_usd": _usd(spent := budget_spent(b, rows, now)),
                "exhausted": spent >= b.limit_usd,
                "resets_at": _iso(window(b.period, now)[1]),
            }
            for b in budgets
        ],
    }
