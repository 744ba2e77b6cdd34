"""What the dispatcher does after an attempt fails, and when it gives up: pure decisions.

The dispatcher (`router.upstream.dispatch`) only does I/O; each failure becomes
a `Consequence` here, and the end of the walk an error, so the policy can be
read and tested on its own (tests/upstream/test_failover.py).
"""

from __future__ import annotations

import attrs

from router.errors import (
    NexusError,
    ProvidersBusy,
    RateLimited,
    UpstreamError,
    UpstreamStatusError,
)
from router.upstream.limits import RateLimiter

__all__ = ["Consequence", "after_failure", "giving_up"]


@attrs.frozen
class Consequence:
    """What one failed attempt means for its provider and for the request."""

    #: Skip the provider for this long: it said it is busy (429, or 503 with Retry-After).
    cool_down_s: float | None = None
    #: Count it against the provider's circuit (a provider-side failure).
    strike: bool = False
    #: Count it against the model's circuit only: the provider answered, the model failed.
    model_strike: bool = False
    #: Try the next candidate; False ends the request with this error.
    fail_over: bool = True


def after_failure(error: UpstreamError) -> Consequence:
    """Why the attempt failed decides whom it is held against and whether to go on."""
    if isinstance(error, UpstreamStatusError):
        if error.status == 429 or (error.status == 503 and error.retry_after):
            # Fine, just busy, and it said for how long: wait that long, no strike.
            return Consequence(cool_down_s=error.retry_after or 1.0)
        if error.status < 500:
            return Consequence(fail_over=False)  # the client's own mistake: no retry fixes it
        return Consequence(model_strike=True)  # it answered: the model, not the box, failed
    return Consequence(strike=True, fail_over=error.retryable)


def giving_up(
    attempts: int, last: UpstreamError | None, *, full: int, waits: list[float], route: str
) -> NexusError:
    """The error a request ends with when no candidate answered.

    No attempt at all: every candidate was at capacity (`ProvidersBusy`, which the
    capacity queue may wait on) or out of budget (`RateLimited`, with the shortest
    wait); otherwise the last failure, naming how many candidates were tried.
    """
    if last is None:
        if full and not waits:
            return ProvidersBusy(route)
        return RateLimited(
            "Rate limit exceeded for every provider that may serve this request",
            retry_after=RateLimiter.retry_after(min(waits) if waits else 1.0),
        )
    if attempts > 1:
        last.message = f"All {attempts} candidates failed; last: {last.message}"
        last.args = (last.message,)
    return last
