"""Each upstream attempt, reported as a value to hooks when it ends.

The dispatcher does not know who watches: the metrics count failures per
provider, the request's log line adds up upstream time, tokens and the time to
first byte. Hooks are handed in by the composition root (`router.app`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Attempt", "AttemptHook"]


class Attempt(NamedTuple):
    """One try of one provider for one request (a tuple: one is made per request)."""

    route: str
    provider: str
    model: str
    zone: str
    number: int
    #: Seconds waiting on the provider, from sending to the end of its answer.
    upstream_s: float
    #: The error's code (its ``kind``, e.g. ``upstream_timeout``) when it failed, else None.
    error: str | None = None
    #: Seconds to the first byte of a stream.
    ttfb_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


AttemptHook = Callable[[Attempt], None]
