"""State that several router processes must agree on: rate limits, capacity, circuits, cancels.

`LocalState` keeps it in this process (one router, the default). `RedisState`
(``shared: redis://...``, in `router.upstream.redis_state`) makes it global, and
falls back to `LocalState` while Redis is unreachable: a router never stops
serving because of Redis.

Events carry what one process observed to the others:

    {"type": "cancel", "id": "resp_..."}                  stop that background response
    {"type": "open", "provider": "p", "seconds": 30.0}    p's circuit opened for that long
    {"type": "cool", "provider": "p", "seconds": 5.0}     p asked us to wait (429 + Retry-After)
    {"type": "health", "provider": "p", "status": "..."}  a probe changed p's status
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Callable, Iterable
from typing import Any, Protocol

import attrs

from router.upstream.limits import RateLimiter

__all__ = ["Event", "LocalState", "SharedState", "new_instance_id"]

Event = dict[str, Any]


def new_instance_id() -> str:
    """A name for this process, unique across restarts: host, pid-independent random part."""
    return f"{socket.gethostname()}-{secrets.token_hex(4)}"


class SharedState(Protocol):
    """What the dispatcher, authorize() and the health monitor share with other processes."""

    instance: str

    async def start(
        self, on_event: Callable[[Event], None], providers: Callable[[], Iterable[str]] = tuple
    ) -> None:
        """Connect; deliver other processes' events to `on_event` until `close`.

        `providers` names the providers whose open circuits to adopt on (re)connecting.
        """
        ...

    async def close(self) -> None: ...

    def describe(self) -> dict[str, Any]:
        """`{mode, ok, ...}` for /ready and /admin."""
        ...

    async def take(self, key: str, rpm: int) -> float:
        """Take one token from `key`'s bucket: 0.0 when allowed, else seconds to wait."""
        ...

    async def acquire(self, provider: str, limit: int) -> bool:
        """Take one of `limit` in-flight slots of `provider` across every process."""
        ...

    def release(self, provider: str) -> None:
        """Give a slot back (without waiting)."""
        ...

    def publish(self, event: Event) -> None:
        """Tell the other processes (without waiting); a no-op when alone."""
        ...


@attrs.define
class LocalState:
    """One process: buckets in memory; slots are the health monitor's in-flight counts."""

    instance: str = attrs.Factory(new_instance_id)
    limiter: RateLimiter = attrs.Factory(RateLimiter)

    async def start(
        self, on_event: Callable[[Event], None], providers: Callable[[], Iterable[str]] = tuple
    ) -> None:
        return None

    async def close(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"mode": "local", "ok": True}

    async def take(self, key: str, rpm: int) -> float:
        return self.limiter.take(key, rpm)

    async def acquire(self, provider: str, limit: int) -> bool:
        return True  # route() already skipped providers at max_concurrency in this process

    def release(self, provider: str) -> None:
        return None

    def publish(self, event: Event) -> None:
        return None
