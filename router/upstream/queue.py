"""Bounded per-route waiting rooms for requests that find every usable candidate busy.

A request joins its route's queue when every candidate it may use is at
``max_concurrency`` or out of ``rpm`` budget (never for an unknown model, a policy
rejection, or an outage). Only the head of a queue (``X-Nexus-Priority: high``
first, then arrival order) retries; it is woken when a provider finishes a
request, or when the budget it waits for refills.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs

from router.errors import ModelNotFound, ProvidersBusy, RateLimited, RoutingRejected
from router.routing.budgets import NOTHING_SPENT, Spent
from router.routing.decision import (
    ProviderState,
    Rejection,
    RequestFacts,
    RouteDecision,
    UnknownModel,
    Verdict,
    route,
)
from router.routing.table import RoutingTable
from router.upstream.admission import Queueing, Step, admit, after_busy

__all__ = ["CapacityQueues", "priority_from_headers"]

T = TypeVar("T")
HIGH, NORMAL = 0, 1


def priority_from_headers(headers: object) -> int:
    value = headers.get("x-nexus-priority", "") if hasattr(headers, "get") else ""
    return HIGH if str(value).strip().lower() == "high" else NORMAL


@attrs.define(eq=False)
class _Waiter:
    route: str
    priority: int
    seq: int
    wake: asyncio.Event = attrs.Factory(asyncio.Event)

    def __lt__(self, other: _Waiter) -> bool:
        return (self.priority, self.seq) < (other.priority, other.seq)


@attrs.define
class CapacityQueues:
    clock: Callable[[], float] = time.monotonic
    on_wait: Callable[[str, float], None] = lambda route, seconds: None
    #: A rejection's Retry-After from live state (`RouteRunner.retry_hint`, wired in app.py).
    retry_hint: Callable[[Rejection], Rejection] = lambda rejection: rejection
    #: The budgets spent now (`SpendLedger.spent`, wired in app.py).
    spent: Callable[[], Spent] = lambda: NOTHING_SPENT
    _queues: dict[str, list[_Waiter]] = attrs.Factory(dict)
    _seq: itertools.count[int] = attrs.Factory(itertools.count)

    def depth(self, route_name: str) -> int:
        return len(self._queues.get(route_name, ()))

    def depths(self) -> dict[str, int]:
        return {name: len(q) for name, q in self._queues.items() if q}

    def _join(self, route_name: str, priority: int) -> _Waiter:
        waiter = _Waiter(route_name, priority, next(self._seq))
        heapq.heappush(self._queues.setdefault(route_name, []), waiter)
        return waiter

    def _leave(self, waiter: _Waiter) -> None:
        queue = self._queues.get(waiter.route, [])
        if waiter in queue:
            queue.remove(waiter)
            heapq.heapify(queue)
        if queue:
            queue[0].wake.set()  # the next in line may try now
        else:
            self._queues.pop(waiter.route, None)

    def _position(self, waiter: _Waiter) -> int:
        return sorted(self._queues.get(waiter.route, [])).index(waiter) + 1

    def capacity_freed(self) -> None:
        """A provider finished a request: let the head of every queue try again."""
        for queue in self._queues.values():
            if queue:
                queue[0].wake.set()

    async def run(
        self,
        table: RoutingTable,
        facts: RequestFacts,
        live: dict[str, ProviderState],
        priority: int,
        attempt: Callable[[RouteDecision], Awaitable[T]],
    ) -> T:
        """Route and `attempt`, waiting in the route's queue while capacity is exhausted.

        What to do at each turn is `admission.admit`'s decision; this loop only routes,
        attempts, waits and keeps the queue.
        """
        settings = table.settings.queue
        started = self.clock()
        waiter: _Waiter | None = None

        def where(name: str) -> Queueing:
            queue = self._queues.get(name, [])
            return Queueing(
                size=settings.size,
                depth=len(queue),
                waiting=waiter is not None,
                at_head=waiter is not None and bool(queue) and queue[0] is waiter,
                remaining_s=started + settings.max_wait_s - self.clock(),
            )

        try:
            while True:
                result = route(table, facts, live, self.spent())
                if isinstance(result, UnknownModel):
                    raise ModelNotFound(result.model, result.available)
                name = facts.model if isinstance(result, Rejection) else result.route.name
                rejection = result if isinstance(result, Rejection) else None
                retry_in: float | None = None
                step = admit(result, where(name))
                if step is Step.ATTEMPT:
                    assert isinstance(result, RouteDecision)
                    try:
                        return await attempt(result)
                    except (RateLimited, ProvidersBusy) as exc:
                        step = after_busy(exc.retry_after, where(name))
                        if step is Step.REFUSE:
                            if isinstance(exc, RateLimited):
                                raise  # no budget comes back before the wait would end
                            waited = self.clock() - started  # full everywhere: the contract
                            raise RoutingRejected(
                                self._exhausted(table, exc.route, None, 1, waited),
                                route=facts.model,
                            ) from exc
                        retry_in = exc.retry_after
                if step is Step.REFUSE:
                    assert rejection is not None
                    raise RoutingRejected(self.retry_hint(rejection), route=facts.model)
                if step is Step.FULL:
                    raise RoutingRejected(
                        self._exhausted(table, name, rejection, self.depth(name) + 1, 0.0),
                        route=facts.model,
                    )
                if waiter is None:
                    waiter = self._join(name, priority)
                if step is Step.EXPIRED:
                    waited = self.clock() - started
                    raise RoutingRejected(
                        self._exhausted(table, name, rejection, self._position(waiter), waited),
                        route=facts.model,
                    )
                remaining = where(name).remaining_s
                waiter.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        waiter.wake.wait(), min(remaining, retry_in or remaining)
                    )
        finally:
            if waiter is not None:
                self.on_wait(waiter.route, self.clock() - started)
                self._leave(waiter)

    def _exhausted(
        self,
        table: RoutingTable,
        name: str,
        rejection: Rejection | None,
        position: int,
        waited: float,
    ) -> Rejection:
        fields: dict[str, Any] = (
            dict(rejection.fields) if rejection is not None else {"requested_model": name}
        )
        fields["queue_position"] = position
        fields["waited_ms"] = round(waited * 1000)
        full = "the queue is full" if waited == 0 else f"waited {waited * 1000:.0f} ms"
        route_ = table.resolve(name)
        considered = (
            rejection.considered
            if rejection is not None
            else tuple((t, Verdict.FULL, False) for t in route_.targets)
            if route_ is not None
            else ()
        )
        return self.retry_hint(
            Rejection(
                "capacity_exhausted",
                f"All backends for model '{name}' are at capacity ({full})",
                table.settings.retry_after_s,
                fields,
                considered,
            )
        )
