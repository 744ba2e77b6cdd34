"""The circuit breaker as pure transitions on a value, with the clock and jitter passed in.

A circuit counts consecutive failures; at ``failure_threshold`` it opens for
``cooldown_s``, doubling with each opening that is not followed by a success (up
to 16x), with +-20% jitter so replicas do not retry in lockstep. Once the
cool-down has passed it is half-open: requests may go, the next success closes
it, the next failure opens it again for longer. `router.upstream.health` keeps
one circuit per provider (transport failures) and one per (provider, model)
(a model's 5xx answers), and owns the timers; nothing here sleeps.
"""

from __future__ import annotations

import enum

import attrs

__all__ = ["CLOSED", "Circuit", "Position", "failed", "position", "succeeded"]

#: The longest cool-down, as a multiple of ``cooldown_s``.
MAX_BACKOFF = 16


class Position(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"  # the cool-down passed: the next request is the trial


@attrs.frozen
class Circuit:
    failures: int = 0  # consecutive failures
    opens: int = 0  # consecutive openings without a success in between
    open_until: float | None = None
    last_error: str | None = None


def position(circuit: Circuit, now: float) -> Position:
    if circuit.open_until is None:
        return Position.CLOSED
    return Position.OPEN if now < circuit.open_until else Position.HALF_OPEN


def failed(
    circuit: Circuit,
    now: float,
    error: str,
    *,
    threshold: int,
    cooldown_s: float,
    jitter: float = 1.0,
) -> Circuit:
    """A request failed for a reason of this circuit's; `jitter` is drawn from [0.8, 1.2]."""
    failures = circuit.failures + 1
    where = position(circuit, now)
    opening = where is Position.HALF_OPEN or (where is Position.CLOSED and failures >= threshold)
    if not opening:  # below the threshold, or already open (requests that started earlier)
        return attrs.evolve(circuit, failures=failures, last_error=error)
    opens = circuit.opens + 1
    cooldown = cooldown_s * min(MAX_BACKOFF, 2 ** (opens - 1)) * jitter
    return Circuit(failures, opens, now + cooldown, error)


CLOSED = Circuit()


def succeeded(circuit: Circuit) -> Circuit:
    """A request succeeded: the circuit closes and forgets its history."""
    return CLOSED
