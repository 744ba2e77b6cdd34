"""An in-memory LRU cache of non-streaming answers, bounded by bytes (opt-in per route)."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NamedTuple

import attrs
import msgspec

from router.routing.table import Route, RoutingTable
from router.upstream.dispatch import Served
from router.upstream.headers import routing_headers

__all__ = ["Lookup", "ResponseCache"]

_canonical = msgspec.json.Encoder(order="sorted").encode
_UNCACHED_KEYS = frozenset({"stream", "stream_options", "user", "metadata"})


@attrs.frozen
class _Entry:
    expires: float
    body: bytes
    headers: Mapping[str, str]


@attrs.define
class ResponseCache:
    max_bytes: int = 64 * 1024 * 1024
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[str, _Entry] = attrs.Factory(OrderedDict)
    _bytes: int = 0
    hits: int = 0
    misses: int = 0

    @staticmethod
    def key(
        owner: str | None, route: Route | None, body: Mapping[str, Any], dialect: str = "chat"
    ) -> str | None:
        """The cache key, or None when this request must not be cached.

        Cached only for routes with ``cache:``, and only when sampling is deterministic
        (temperature 0) unless the route says ``any_temperature``. The key holds the
        caller's key name (never shared across API keys) and the route's targets, so a
        reload that changes where the route goes makes old entries unreachable, and the
        client's dialect (the same body may be a chat and a Messages request).
        """
        if route is None or route.cache is None:
            return None
        if not route.cache.any_temperature and body.get("temperature") != 0:
            return None
        material = {k: v for k, v in body.items() if k not in _UNCACHED_KEYS}
        targets = ",".join(t.key for t in route.targets)
        digest = hashlib.sha256(f"{dialect}\0{owner or '-'}\0{route.name}\0{targets}\0".encode())
        digest.update(_canonical(material))
        return digest.hexdigest()

    def get(self, key: str) -> tuple[bytes, Mapping[str, str]] | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self.clock():
            if entry is not None:
                self._drop(key)
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.body, entry.headers

    def put(self, key: str, body: bytes, headers: Mapping[str, str], ttl_s: float) -> None:
        size = len(body) + sum(len(k) + len(v) for k, v in headers.items())
        if size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(self.clock() + ttl_s, body, dict(headers))
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key)
        self._bytes -= len(entry.body) + sum(len(k) + len(v) for k, v in entry.headers.items())

    @property
    def size_bytes(self) -> int:
        return self._bytes

    async def through(
        self,
        owner: str | None,
        table: RoutingTable,
        body: Mapping[str, Any],
        fetch: Callable[[], Awaitable[Served]],
        dialect: str = "chat",
    ) -> Lookup:
        """Cache-aside: the cached answer to `body`, or `fetch`'s (kept when the route caches).

        The answer's headers are the routing headers it was served with, plus
        ``x-nexus-cache: hit`` or ``miss`` where the route caches.
        """
        route = table.resolve(str(body.get("model")))
        key = None if body.get("stream") else self.key(owner, route, body, dialect)
        if key is not None and (hit := self.get(key)) is not None:
            headers = {**hit[1], "x-nexus-cache": "hit", "x-nexus-config-version": table.version}
            if "x-nexus-cost-usd" in headers:
                headers["x-nexus-cost-usd"] = "0"  # answered from memory: no provider was paid
            return Lookup(hit[0], headers, None)
        served = await fetch()
        headers = routing_headers(table, served)
        if key is not None and route is not None and route.cache is not None and served.body:
            self.put(key, served.body, headers, route.cache.ttl_s)
            headers["x-nexus-cache"] = "miss"
        return Lookup(served.body, headers, served)


class Lookup(NamedTuple):
    """An answer from the cache (`served` None) or from a provider."""

    body: bytes | None
    headers: dict[str, str]
    served: Served | None
