"""Admission to the capacity queue: pure decisions about one routing result.

The queue (`router.upstream.queue`) is the shell: it routes, asks `admit` what to
do with the result, and attempts, waits or refuses accordingly; what the answer
is depends only on the values passed here (tests/upstream/test_admission.py).
"""

from __future__ import annotations

import enum

import attrs

from router.routing.decision import Rejection, RouteDecision

__all__ = ["Step", "admit", "after_busy"]


class Step(enum.Enum):
    ATTEMPT = "attempt"  # try the candidates now
    WAIT = "wait"  # join (or stay in) the route's queue until woken or the wait ends
    REFUSE = "refuse"  # not a capacity problem (or no queue): answer with the rejection
    FULL = "full"  # the queue has no room: the 503 contract, capacity_exhausted
    EXPIRED = "expired"  # waited max_wait_s: the 503 contract, capacity_exhausted


@attrs.frozen
class Queueing:
    """Where a request stands: the queue's settings and the request's place in it."""

    size: int  # routing.queue.size; 0: no queue
    depth: int  # requests waiting for this route now
    waiting: bool  # this request is one of them
    at_head: bool  # ... and the next to try
    remaining_s: float  # of its max_wait_s


def admit(result: RouteDecision | Rejection, q: Queueing) -> Step:
    """What to do with a routing result (`UnknownModel` is answered before this)."""
    if isinstance(result, Rejection):
        if result.reason != "capacity_exhausted" or q.size == 0:
            return Step.REFUSE  # only a full provider frees up by itself
        return _wait(q)
    if not q.waiting:
        if q.depth and q.size:
            return _wait(q)  # others are waiting: no jumping the queue
        return Step.ATTEMPT
    return Step.ATTEMPT if q.at_head else _wait(q)


def after_busy(retry_after_s: float, q: Queueing) -> Step:
    """An attempt found every candidate busy (at capacity or out of budget): wait or give up."""
    if q.size == 0 or retry_after_s > q.remaining_s:
        return Step.REFUSE  # no queue, or nothing comes back before the wait would end
    return _wait(q)


def _wait(q: Queueing) -> Step:
    if not q.waiting and q.depth >= q.size:
        return Step.FULL
    if q.remaining_s <= 0:
        return Step.EXPIRED
    return Step.WAIT
