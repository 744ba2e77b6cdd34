"""Token-bucket rate limits (requests per minute), per key and per provider."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import attrs

__all__ = ["RateLimiter"]


@attrs.define
class _Bucket:
    rpm: int
    tokens: float
    at: float


@attrs.define
class RateLimiter:
    """Each key holds up to `rpm` tokens and regains rpm/60 per second."""

    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = attrs.Factory(dict)

    def take(self, key: str, rpm: int) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rpm != rpm:  # new, or the config changed its limit
            bucket = self._buckets[key] = _Bucket(rpm, float(rpm), now)
        rate = rpm / 60.0
        bucket.tokens = min(float(rpm), bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / rate

    @staticmethod
    def retry_after(seconds: float) -> int:
        """Whole seconds for a Retry-After header (never 0 while limited)."""
        return max(1, math.ceil(seconds))
