"""Admission to the capacity queue: what to do with a routing result, as a table."""

from __future__ import annotations

from typing import Any

import pytest

from router.routing.decision import Rejection
from router.upstream.admission import Queueing, Step, admit, after_busy

FULL = Rejection("capacity_exhausted", "full", 30, {})
ZONE = Rejection("privacy_zone_mismatch", "zone", 30, {})
ROUTED: Any = object()  # a RouteDecision: admit only asks whether it is a Rejection


def q(
    size: int = 4, depth: int = 0, waiting: bool = False, head: bool = False, left: float = 5
) -> Queueing:
    return Queueing(size=size, depth=depth, waiting=waiting, at_head=head, remaining_s=left)


@pytest.mark.parametrize(
    ("result", "queueing", "step"),
    [
        pytest.param(ROUTED, q(), Step.ATTEMPT, id="routed, nobody waiting: attempt"),
        pytest.param(ROUTED, q(depth=2), Step.WAIT, id="routed, others waiting: no jumping"),
        pytest.param(ROUTED, q(size=0, depth=2), Step.ATTEMPT, id="no queue: attempt"),
        pytest.param(ROUTED, q(depth=2, waiting=True, head=True), Step.ATTEMPT, id="at head"),
        pytest.param(ROUTED, q(depth=2, waiting=True), Step.WAIT, id="waiting, not head"),
        pytest.param(FULL, q(), Step.WAIT, id="full: join the queue"),
        pytest.param(FULL, q(size=0), Step.REFUSE, id="full without a queue: at once"),
        pytest.param(FULL, q(depth=4), Step.FULL, id="the queue has no room"),
        pytest.param(FULL, q(depth=4, waiting=True), Step.WAIT, id="already in it"),
        pytest.param(FULL, q(waiting=True, left=0), Step.EXPIRED, id="waited too long"),
        pytest.param(ZONE, q(), Step.REFUSE, id="a policy rejection is never queued"),
    ],
)
def test_admit(result: Any, queueing: Queueing, step: Step) -> None:
    assert admit(result, queueing) is step


@pytest.mark.parametrize(
    ("retry_after", "queueing", "step"),
    [
        (0.5, q(), Step.WAIT),
        (9.0, q(left=5), Step.REFUSE),  # the budget comes back after the wait would end
        (0.5, q(size=0), Step.REFUSE),
        (0.5, q(depth=4), Step.FULL),
    ],
)
def test_after_busy(retry_after: float, queueing: Queueing, step: Step) -> None:
    assert after_busy(retry_after, queueing) is step
