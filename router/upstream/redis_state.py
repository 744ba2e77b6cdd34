"""Shared state in Redis: global rate limits and slots, circuit and cancel events across processes.

Every operation is one round trip (a Lua script where it must be atomic), with a
short socket timeout. When Redis fails, this process switches to `LocalState`
at once, logs it, reports ``degraded`` in /ready and in metrics, and probes
Redis every `retry_s` seconds; when it answers again the process resubscribes,
catches up on open circuits and goes back to global state.

Keys (under the configurable prefix, default ``nexus:``):

    replica:<instance>        a heartbeat with a TTL: which processes are alive
    bucket:<key>              a token bucket (hash: tokens, at, rpm)
    slots:<provider>          in-flight counts per process (hash: instance -> n)
    open:<provider>           set while the provider's circuit is open (PX = cool-down)
    cool:<provider>           set while the provider asked us to wait (PX = Retry-After)
    events                    the pub/sub channel for `Event`s
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import attrs
import msgspec
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from router.store.base import redact_url
from router.upstream.shared import Event, LocalState, new_instance_id

__all__ = ["RedisState"]

log = logging.getLogger("nexus.shared")

#: A token bucket refilled from Redis' own clock, so replicas' clocks never matter.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rpm = tonumber(ARGV[1])
local rate = rpm / 60.0
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'rpm')
local tokens, at = tonumber(b[1]), tonumber(b[2])
if tokens == nil or tonumber(b[3]) ~= rpm then tokens = rpm; at = now end
tokens = math.min(rpm, tokens + (now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now), 'rpm', rpm)
redis.call('PEXPIRE', KEYS[1], 120000)
return tostring(wait)
"""

#: Count in-flight requests of live processes only; a dead process's slots are dropped.
_ACQUIRE = """
local total = 0
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if redis.call('EXISTS', ARGV[3] .. fields[i]) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], fields[i])
  end
end
if total >= tonumber(ARGV[2]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
return total + 1
"""

_RELEASE = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def _split(url: str) -> tuple[str, str]:
    """Take our own ``prefix=`` query parameter out of a redis:// URL."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    prefix = next((v for k, v in query if k == "prefix"), "nexus:")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


@attrs.define
class RedisState:
    url: str
    instance: str = attrs.Factory(new_instance_id)
    heartbeat_s: float = 5.0
    retry_s: float = 1.0
    timeout_s: float = 0.5
    #: Called with True when Redis is lost and False when it is back (metrics).
    on_degraded: Callable[[bool], None] = lambda degraded: None
    fallback: LocalState = attrs.field(init=False)
    degraded: bool = False
    degraded_since: float | None = None
    last_error: str | None = None
    _redis: aioredis.Redis = attrs.field(init=False)
    _prefix: str = attrs.field(init=False)
    _scripts: dict[str, Any] = attrs.Factory(dict)
    _on_event: Callable[[Event], None] = lambda event: None
    _providers: Callable[[], Iterable[str]] = lambda: ()
    _outbox: asyncio.Queue[Callable[[], Awaitable[Any]]] = attrs.Factory(asyncio.Queue)
    _sender: asyncio.Task[None] | None = None
    _releases: set[asyncio.Task[None]] = attrs.Factory(set)
    _loop: asyncio.Task[None] | None = None

    def __attrs_post_init__(self) -> None:
        self.fallback = LocalState(self.instance)
        url, self._prefix = _split(self.url)
        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=self.timeout_s,
            socket_connect_timeout=self.timeout_s,
            # No retries with backoff (redis-py's default sleeps up to seconds): a
            # failure must switch this process to its own state at once.
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
            # A request may hold two at once (its acquire, and the release of the one
            # before it, sent without waiting), plus the subscription and the outbox:
            # 64 was exhausted at 32 connections (MaxConnectionsError -> degraded).
            max_connections=128,
        )
        for name, text in (("take", _TAKE), ("acquire", _ACQUIRE), ("release", _RELEASE)):
            self._scripts[name] = self._redis.register_script(text)

    def __repr__(self) -> str:
        return f"RedisState({redact_url(self.url)})"

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    # -- lifecycle --------------------------------------------------------------------------

    async def start(
        self, on_event: Callable[[Event], None], providers: Callable[[], Iterable[str]] = tuple
    ) -> None:
        self._on_event, self._providers = on_event, providers
        try:
            await self._connected()
        except (RedisError, OSError) as exc:
            self._lost(exc)
        self._loop = asyncio.create_task(self._maintain(), name="nexus-shared-state")
        self._sender = asyncio.create_task(self._send(), name="nexus-shared-outbox")

    async def close(self) -> None:
        if self._releases:
            await asyncio.wait(set(self._releases), timeout=1.0)
        if self._sender is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._outbox.join(), 1.0)  # flush what is queued
        tasks = {t for t in (self._loop, self._sender) if t is not None}
        for task in tasks:
            task.cancel()
        _, pending = await asyncio.wait(tasks, timeout=0.25) if tasks else (set(), set())
        if pending:
            # redis-py can swallow a cancellation that lands while it connects; closing
            # its sockets ends whatever call it is stuck in.
            await self._redis.connection_pool.disconnect()
            await asyncio.wait(pending, timeout=1.0)
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._key("replica", self.instance))
        await self._redis.aclose()

    def describe(self) -> dict[str, Any]:
        return {
            "mode": "redis",
            "url": redact_url(self.url),
            "ok": not self.degraded,
            "degraded_since": self.degraded_since,
            "last_error": self.last_error,
            "instance": self.instance,
        }

    async def _connected(self) -> None:
        """Announce this process, then adopt circuits other processes opened meanwhile."""
        await self._beat()
        for provider in self._providers():
            for kind in ("open", "cool"):
                ms = await self._redis.pttl(self._key(kind, provider))
                if ms > 0:
                    self._on_event({"type": kind, "provider": provider, "seconds": ms / 1000})

    def _lost(self, exc: BaseException) -> None:
        if not self.degraded:
            self.degraded, self.degraded_since = True, time.time()
            log.error(
                "shared state: Redis at %s is unreachable (%s); using per-process state",
                redact_url(self.url),
                type(exc).__name__,
            )
            self.on_degraded(True)
        self.last_error = f"{type(exc).__name__}: {exc}"[:200]

    def _back(self) -> None:
        log.warning("shared state: Redis is reachable again; state is global again")
        self.degraded, self.degraded_since, self.last_error = False, None, None
        self.on_degraded(False)

    async def _maintain(self) -> None:
        """Listen for events; heartbeat; after a loss, retry until Redis answers again."""
        while True:
            if self.degraded:
                await asyncio.sleep(self.retry_s)
                try:
                    await self._connected()
                except (RedisError, OSError) as exc:
                    self._lost(exc)
                    continue
                self._back()
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                self._lost(exc)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._key("events"))
            beat = time.monotonic()
            while True:
                message = await pubsub.get_message(timeout=self.heartbeat_s / 2)
                if message is not None:
                    self._deliver(message["data"])
                if time.monotonic() - beat >= self.heartbeat_s:
                    if self.degraded:  # a call failed, but the subscription reconnected
                        await self._connected()
                        self._back()
                    else:
                        await self._beat()
                    beat = time.monotonic()
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _beat(self) -> None:
        await self._redis.set(
            self._key("replica", self.instance), "1", px=int(self.heartbeat_s * 3000)
        )

    def _deliver(self, data: bytes) -> None:
        try:
            event = _decode(data)
        except msgspec.DecodeError:
            log.warning("shared state: ignoring a malformed event")
            return
        if isinstance(event, dict) and event.get("from") != self.instance:
            self._on_event(event)

    # -- operations -------------------------------------------------------------------------

    async def take(self, key: str, rpm: int) -> float:
        if self.degraded:
            return await self.fallback.take(key, rpm)
        try:
            wait = await self._scripts["take"](keys=[self._key("bucket", key)], args=[rpm])
        except (RedisError, OSError) as exc:
            self._lost(exc)
            return await self.fallback.take(key, rpm)
        return float(wait)

    async def acquire(self, provider: str, limit: int) -> bool:
        if self.degraded:
            return await self.fallback.acquire(provider, limit)
        try:
            total = await self._scripts["acquire"](
                keys=[self._key("slots", provider)],
                args=[self.instance, limit, self._key("replica", "")],
            )
        except (RedisError, OSError) as exc:
            self._lost(exc)
            return await self.fallback.acquire(provider, limit)
        return int(total) >= 0

    def release(self, provider: str) -> None:
        """Give the slot back at once, concurrently, as `acquire` takes one.

        Releases used to queue behind each other on the ordered outbox while
        acquires ran in parallel, so the count drifted up to the limit under load.
        Order does not matter here: this request's acquire has already completed.
        """
        if self.degraded:
            return
        task = asyncio.get_running_loop().create_task(self._release(provider))
        self._releases.add(task)
        task.add_done_callback(self._releases.discard)

    async def _release(self, provider: str) -> None:
        try:
            await self._scripts["release"](
                keys=[self._key("slots", provider)], args=[self.instance]
            )
        except (RedisError, OSError) as exc:
            self._lost(exc)

    def publish(self, event: Event) -> None:
        if self.degraded:
            return
        event = {**event, "from": self.instance}
        kind, provider = event.get("type"), event.get("provider")
        # A provider's open circuit or cool-down outlives the event, for replicas that
        # start later; a model's open circuit travels as the event only.
        if kind in {"open", "cool"} and isinstance(provider, str) and "model" not in event:
            ms = max(1, int(float(event["seconds"]) * 1000))
            key = self._key(kind, provider)
            self._later(lambda: self._redis.set(key, "1", px=ms))
        channel, data = self._key("events"), _encode(event)
        self._later(lambda: self._redis.publish(channel, data))

    def _later(self, op: Callable[[], Awaitable[Any]]) -> None:
        """Run `op` without waiting for it; operations go out in the order given."""
        self._outbox.put_nowait(op)

    async def _send(self) -> None:
        while True:
            op = await self._outbox.get()
            try:
                if not self.degraded:
                    await op()
            except (RedisError, OSError) as exc:
                self._lost(exc)
            finally:
                self._outbox.task_done()
