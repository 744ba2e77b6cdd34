"""Route a request and run its attempt, queueing while capacity is exhausted."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import attrs

from router.errors import ModelNotFound, RoutingRejected
from router.routing.budgets import NOTHING_SPENT, Spent
from router.routing.decision import Rejection, RequestFacts, RouteDecision, UnknownModel, route
from router.routing.table import RoutingTable
from router.upstream.health import HealthMonitor
from router.upstream.queue import CapacityQueues, priority_from_headers

__all__ = ["RouteRunner"]

T = TypeVar("T")


@attrs.frozen
class RouteRunner:
    """`route()` against the live provider states, with the capacity queue around it."""

    health: HealthMonitor
    queues: CapacityQueues
    #: The budgets spent now (`SpendLedger.spent`, wired in app.py).
    spent: Callable[[], Spent] = lambda: NOTHING_SPENT
    #: Unix seconds, for when a spent budget resets.
    clock: Callable[[], float] = time.time

    def decide(self, table: RoutingTable, facts: RequestFacts) -> RouteDecision:
        """Route now, turning 'no such model' and 'no candidate' into their errors."""
        result = route(table, facts, self.health.states, self.spent())
        if isinstance(result, UnknownModel):
            raise ModelNotFound(result.model, result.available)
        if isinstance(result, Rejection):
            raise RoutingRejected(self.retry_hint(result), route=facts.model)
        return result

    def retry_hint(self, rejection: Rejection) -> Rejection:
        """A transient rejection's Retry-After from what is known of its providers.

        The next probe of a provider found down, the end of a cool-down or an open
        circuit, a typical request of a provider at capacity — at least 1 s, at most
        ``routing.retry_after_s``. A permanent rejection keeps the configured value (and
        says no retry will fix it: x-should-retry false). A spent budget: the seconds until
        its period resets.
        """
        if rejection.resets_at is not None:
            until = max(1, math.ceil(rejection.resets_at - self.clock()))
            return attrs.evolve(rejection, retry_after_s=until)
        if rejection.permanent:
            return rejection
        names = {target.provider for target, _, _ in rejection.considered}
        seconds = self.health.back_in(names)
        if seconds is None:
            return rejection
        hint = max(1, min(rejection.retry_after_s, math.ceil(seconds)))
        return attrs.evolve(rejection, retry_after_s=hint)

    def serve(
        self,
        table: RoutingTable,
        facts: RequestFacts,
        headers: Mapping[str, str],
        attempt: Callable[[RouteDecision], Awaitable[T]],
    ) -> Awaitable[T]:
        """Route and run `attempt`, waiting in the route's queue while capacity is exhausted.

        Returns the queue's coroutine itself: one frame less on every request.
        """
        return self.queues.run(
            table, facts, self.health.states, priority_from_headers(headers), attempt
        )
