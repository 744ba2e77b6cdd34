"""Each upstream attempt, reported as a value to hooks when it ends.

The dispatcher does not know who watches: the metrics count failures per
provider, the request's log line adds up upstream time, tokens and the time to
first byte. Hooks are handed in by the composition root (`router.app`).
"""

from __future__ import annotations

from collections.abc import Callable

from router.config.model import Price

__all__ = ["Attempt", "AttemptHook"]


class Attempt:
    """One try of one provider for one request.

    Filled in by the dispatcher as the attempt goes and handed to the hooks when it
    ends; hooks read it and must not keep it (one is made per request, so it is a
    plain slotted class rather than a frozen value copied at the end).
    """

    __slots__ = (
        "cached_tokens",
        "completion_tokens",
        "cost_usd",
        "error",
        "estimated",
        "model",
        "number",
        "price",
        "prompt_tokens",
        "provider",
        "route",
        "route_reason",
        "started",
        "ttfb_s",
        "upstream_s",
        "zone",
    )

    def __init__(
        self, route: str, provider: str, model: str, zone: str, number: int, started: float
    ) -> None:
        self.route = route
        self.provider = provider
        self.model = model
        self.zone = zone
        self.number = number
        #: ``time.perf_counter()`` when it was sent.
        self.started = started
        #: Seconds waiting on the provider, from sending to the end of its answer.
        self.upstream_s = 0.0
        #: The error's code (its ``kind``, e.g. ``upstream_timeout``) when it failed.
        self.error: str | None = None
        #: Seconds to the first byte of a stream.
        self.ttfb_s: float | None = None
        self.prompt_tokens: int | None = None
        self.completion_tokens: int | None = None
        #: Why this candidate was tried (``primary``, ``failover``, ``overflow``, ``alternative``).
        self.route_reason: str | None = None
        self.cached_tokens: int | None = None
        #: The model's price (None: free), and what the answer cost once its usage is known.
        self.price: Price | None = None
        self.cost_usd: float | None = None
        #: The provider reported no usage: the tokens and cost are estimates.
        self.estimated = False


AttemptHook = Callable[[Attempt], None]
