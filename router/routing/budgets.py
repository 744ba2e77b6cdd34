"""Budgets: compiled scopes, their UTC calendar windows, and which are spent. Pure.

A budget limits what one scope (a zone, a provider, a route or an API key) may
spend per period. The live spend is counted elsewhere (`router.services.spend`);
routing only reads the resulting `Spent` view: which providers, routes and keys
are behind a spent budget, and until when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import attrs

from router.config.model import Period

__all__ = ["NOTHING_SPENT", "Budget", "Exhausted", "SpendKey", "Spent", "window"]

_UTC = dt.UTC


def window(period: Period, now: float) -> tuple[float, float]:
    """The [start, end) of the UTC calendar `period` holding `now` (Unix seconds)."""
    today = dt.datetime.fromtimestamp(now, _UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period is Period.DAY:
        start, end = today, today + dt.timedelta(days=1)
    elif period is Period.WEEK:
        start = today - dt.timedelta(days=today.weekday())
        end = start + dt.timedelta(days=7)
    else:
        start = today.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    return start.timestamp(), end.timestamp()


@attrs.frozen
class SpendKey:
    """Who spent: the dimensions a ledger row is kept by."""

    route: str
    provider: str
    zone: str
    key: str | None


@attrs.frozen
class Budget:
    """A budget with its scope resolved: ``scope`` is zone, provider, route or key."""

    name: str
    limit_usd: float
    period: Period
    scope: str
    value: str
    #: The providers a zone or provider budget covers (skipped by routing once it is spent).
    providers: frozenset[str] = frozenset()

    def covers(self, who: SpendKey) -> bool:
        """Whether spend by `who` counts against this budget."""
        if self.scope == "zone":
            return who.zone == self.value
        if self.scope == "provider":
            return who.provider == self.value
        if self.scope == "route":
            return who.route == self.value
        return who.key == self.value


@attrs.frozen
class Exhausted:
    """A spent budget, as a rejection reports it."""

    budget: str
    limit_usd: float
    spent_usd: float
    #: Unix seconds when its period ends.
    resets_at: float

    def fields(self) -> dict[str, object]:
        return {
            "budget": self.budget,
            "limit_usd": self.limit_usd,
            "spent_usd": round(self.spent_usd, 10),
            "resets_at": dt.datetime.fromtimestamp(self.resets_at, _UTC).isoformat(),
        }


_EMPTY: Mapping[str, Exhausted] = MappingProxyType({})


@attrs.frozen
class Spent:
    """Which providers, routes and keys stand behind a spent budget right now."""

    providers: Mapping[str, Exhausted] = _EMPTY
    routes: Mapping[str, Exhausted] = _EMPTY
    keys: Mapping[str, Exhausted] = _EMPTY

    def __bool__(self) -> bool:
        return bool(self.providers or self.routes or self.keys)

    @classmethod
    def of(cls, budgets: Iterable[Budget], spent: Mapping[str, float], now: float) -> Spent:
        """The view for these budgets given each one's spend in its current period."""
        providers: dict[str, Exhausted] = {}
        routes: dict[str, Exhausted] = {}
        keys: dict[str, Exhausted] = {}
        for b in budgets:
            usd = spent.get(b.name, 0.0)
            if usd < b.limit_usd:
                continue
            gone = Exhausted(b.name, b.limit_usd, usd, window(b.period, now)[1])
            if b.scope == "route":
                routes.setdefault(b.value, gone)
            elif b.scope == "key":
                keys.setdefault(b.value, gone)
            else:
                for name in b.providers:
                    providers.setdefault(name, gone)
        if not (providers or routes or keys):
            return NOTHING_SPENT
        return cls(MappingProxyType(providers), MappingProxyType(routes), MappingProxyType(keys))


NOTHING_SPENT = Spent()
