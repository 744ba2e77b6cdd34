"""The circuit breaker's transitions, on a fake clock: no sleeps, no timers."""

from __future__ import annotations

import pytest

from router.upstream.breaker import CLOSED, Circuit, Position, failed, position, succeeded

SETTINGS = {"threshold": 3, "cooldown_s": 10.0}


def fail(circuit: Circuit, now: float, jitter: float = 1.0) -> Circuit:
    return failed(circuit, now, "boom", jitter=jitter, **SETTINGS)  # type: ignore[arg-type]


def test_it_opens_at_the_threshold_of_consecutive_failures() -> None:
    circuit = fail(fail(CLOSED, 0.0), 1.0)
    assert position(circuit, 1.0) is Position.CLOSED
    assert circuit.failures == 2
    opened = fail(circuit, 2.0)
    assert position(opened, 2.0) is Position.OPEN
    assert opened.open_until == 12.0
    assert opened.last_error == "boom"


def test_it_half_opens_when_the_cooldown_has_passed() -> None:
    opened = fail(fail(fail(CLOSED, 0.0), 0.0), 0.0)
    assert position(opened, 9.999) is Position.OPEN
    assert position(opened, 10.0) is Position.HALF_OPEN


def test_failures_while_open_do_not_extend_it() -> None:
    """Requests that started before it opened report late: they do not count again."""
    opened = fail(fail(fail(CLOSED, 0.0), 0.0), 0.0)
    again = fail(opened, 5.0)
    assert again.open_until == opened.open_until
    assert again.opens == 1


@pytest.mark.parametrize(
    ("opens", "cooldown"), [(1, 10.0), (2, 20.0), (3, 40.0), (5, 160.0), (6, 160.0), (9, 160.0)]
)
def test_a_failed_trial_opens_it_again_twice_as_long_up_to_16x(opens: int, cooldown: float) -> None:
    circuit, now = CLOSED, 0.0
    for _ in range(3):
        circuit = fail(circuit, now)
    for _ in range(opens - 1):
        now = circuit.open_until or now  # half-open: the next request is the trial
        circuit = fail(circuit, now)
    assert circuit.opens == opens
    assert circuit.open_until == pytest.approx(now + cooldown)


@pytest.mark.parametrize("jitter", [0.8, 1.2])
def test_jitter_scales_the_cooldown(jitter: float) -> None:
    opened = fail(fail(fail(CLOSED, 0.0), 0.0), 0.0, jitter)
    assert opened.open_until == pytest.approx(10.0 * jitter)


def test_a_success_closes_it_and_forgets() -> None:
    opened = fail(fail(fail(CLOSED, 0.0), 0.0), 0.0)
    assert succeeded(opened) is CLOSED
    assert position(succeeded(opened), 1.0) is Position.CLOSED
