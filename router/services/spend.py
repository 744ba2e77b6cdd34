"""The spend ledger: every priced attempt counted in memory, written to the database off the
response path, and the budgets' state that routing reads.

Hot path: `record` (an attempt hook) adds to in-memory totals and `spent` returns the
current `Spent` view — no database round trip per request. A background task
(`run`) writes the totals gathered since its last turn (one upsert per day and
dimension) and reads back what every router process sharing the database spent,
so budgets hold across replicas and restarts. Between two turns a process knows
its own spend at once and its siblings' a turn late; and a request that starts
under a limit finishes, so a budget may be overshot by what was in flight.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import attrs

from router.config.model import Period
from router.errors import BudgetExceeded, StoreUnavailable
from router.routing.budgets import NOTHING_SPENT, Budget, SpendKey, Spent
from router.routing.table import RoutingTable
from router.services.spend_report import budget_spent, earliest_window, spend_report
from router.store.base import SpendRow, SpendStore
from router.upstream.attempts import Attempt

__all__ = ["SpendLedger"]

log = logging.getLogger("nexus.spend")

_DAY = 86400.0
#: (day, route, provider, zone, model, key) -> [requests, prompt, completion, cached, usd,
#: estimated requests, estimated usd]
_Totals = dict[tuple[float, str, str, str, str, str | None], list[float]]


@attrs.define
class SpendLedger:
    """Spend in memory, synced with the database; the one owner of budget state."""

    store: SpendStore
    #: The current routing table (budgets come and go with reloads).
    table: Callable[[], RoutingTable]
    #: The API key name of the request being served (None: no key, or not a request).
    key_of: Callable[[], str | None] = lambda: None
    clock: Callable[[], float] = time.time
    #: Told (route, provider, zone, key, usd) of every priced answer (Prometheus).
    observe: Callable[[str, str, str, str | None, float], None] = lambda *args: None
    _pending: _Totals = attrs.Factory(dict)
    #: Per budget: spend read from the database at the last sync, and recorded here since.
    _synced: dict[str, float] = attrs.Factory(dict)
    _local: dict[str, float] = attrs.Factory(dict)
    _spent: Spent = NOTHING_SPENT
    _budgets: tuple[Budget, ...] = ()

    # -- the hot path -----------------------------------------------------------------

    def spent(self) -> Spent:
        """Which providers, routes and keys are behind a spent budget now."""
        return self._spent

    def totals(self) -> dict[str, float]:
        """USD spent per budget name in its current period, as this process knows it."""
        return {
            b.name: self._synced.get(b.name, 0.0) + self._local.get(b.name, 0.0)
            for b in self._budgets
        }

    def check_key(self, key: str | None) -> None:
        """Refuse a request of a key whose budget is spent (429 ``budget_exceeded``)."""
        if key is None or not self._spent.keys:
            return
        gone = self._spent.keys.get(key)
        if gone is None:
            return
        raise BudgetExceeded(
            f"Budget '{gone.budget}' of this API key is spent "
            f"(${gone.spent_usd:.2f} of ${gone.limit_usd:g}); it resets at "
            f"{gone.fields()['resets_at']}",
            retry_after=max(1, math.ceil(gone.resets_at - self.clock())),
            fields=gone.fields(),
        )

    def record(self, attempt: Attempt) -> None:
        """An attempt hook: count a successful attempt's cost (free ones too, as requests)."""
        if attempt.error is not None or attempt.cost_usd is None:
            return
        key = self.key_of()
        now = self.clock()
        day = now - now % _DAY
        slot = (day, attempt.route, attempt.provider, attempt.zone, attempt.model, key)
        totals = self._pending.get(slot)
        if totals is None:
            totals = self._pending[slot] = [0, 0, 0, 0, 0.0, 0, 0.0]
        totals[0] += 1
        totals[1] += attempt.prompt_tokens or 0
        totals[2] += attempt.completion_tokens or 0
        totals[3] += attempt.cached_tokens or 0
        if not attempt.cost_usd:
            return  # a free answer: counted, and nothing more to do
        totals[4] += attempt.cost_usd
        if attempt.estimated:
            totals[5] += 1
            totals[6] += attempt.cost_usd
        self.observe(attempt.route, attempt.provider, attempt.zone, key, attempt.cost_usd)
        if not self._budgets:
            return
        who = SpendKey(attempt.route, attempt.provider, attempt.zone, key)
        crossed = False
        for b in self._budgets:
            if b.covers(who):
                was = self._synced.get(b.name, 0.0) + self._local.get(b.name, 0.0)
                self._local[b.name] = self._local.get(b.name, 0.0) + attempt.cost_usd
                crossed |= was < b.limit_usd <= was + attempt.cost_usd
        if crossed:
            self._recompute(now)

    # -- the background side ----------------------------------------------------------

    def _recompute(self, now: float) -> None:
        self._spent = Spent.of(self._budgets, self.totals(), now)

    def _rows(self, pending: _Totals) -> list[SpendRow]:
        return [
            SpendRow(day, route, provider, zone, model, key, int(t[0]), int(t[1]), int(t[2]),
                     int(t[3]), t[4], int(t[5]), t[6])
            for (day, route, provider, zone, model, key), t in pending.items()
        ]  # fmt: skip

    async def flush(self) -> None:
        """Write what was recorded since the last flush (kept for the next one on failure)."""
        pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            await self.store.add_spend(self._rows(pending))
        except BaseException:
            for slot, t in pending.items():  # put them back, merged with anything newer
                mine = self._pending.setdefault(slot, [0, 0, 0, 0, 0.0, 0, 0.0])
                for i, value in enumerate(t):
                    mine[i] += value
            raise

    async def sync(self) -> None:
        """Flush, then read every process's spend in each budget's current period."""
        await self.flush()
        budgets = self.table().budgets
        now = self.clock()
        if not budgets:
            self._budgets, self._synced, self._local = (), {}, {}
            self._spent = NOTHING_SPENT
            return
        rows = await self.store.spend_since(earliest_window((b.period for b in budgets), now))
        synced = {b.name: budget_spent(b, rows, now) for b in budgets}
        # What was recorded while the database answered is not in `rows`: count it here.
        local = {b.name: budget_spent(b, self._rows(self._pending), now) for b in budgets}
        self._budgets, self._synced, self._local = budgets, synced, local
        self._recompute(now)

    async def run(self, interval_s: float) -> None:
        """Sync every `interval_s` until cancelled; a database outage only delays it."""
        while True:
            try:
                await self.sync()
            except StoreUnavailable as exc:
                log.warning("spend ledger not synced: %s", exc.message)
            except Exception:  # a bug, not an outage: log it, and keep going
                log.exception("spend ledger not synced")
            await asyncio.sleep(interval_s)

    async def report(self, period: Period) -> dict[str, Any]:
        """The spend report for `period` from the database (this process's spend flushed)."""
        await self.flush()
        now = self.clock()
        budgets = self.table().budgets
        since = earliest_window((period, *(b.period for b in budgets)), now)
        rows = await self.store.spend_since(since)
        return spend_report(rows, budgets, period, now)
