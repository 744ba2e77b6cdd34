"""Route a request and run its attempt, queueing while capacity is exhausted."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

import attrs

from router.errors import ModelNotFound, RoutingRejected
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

    def decide(self, table: RoutingTable, facts: RequestFacts) -> RouteDecision:
        """Route now, turning 'no such model' and 'no candidate' into their errors."""
        result = route(table, facts, self.health.states)
        if isinstance(result, UnknownModel):
            raise ModelNotFound(result.model, result.available)
        if isinstance(result, Rejection):
            raise RoutingRejected(result)
        return result

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
