"""Run-time services shared by all requests: the httpx client, health, dispatcher, store.

Lives outside the routing table (and survives reloads); started and stopped by
the app's lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TypeVar

import attrs
import httpx

from router.config.envvars import expand
from router.errors import ModelNotFound, RoutingRejected, StoreUnavailable
from router.http.observe import Metrics
from router.routing.decision import Rejection, RequestFacts, RouteDecision, UnknownModel, route
from router.routing.table import RoutingTable
from router.services.conversations import ConversationsService
from router.services.responses import ResponsesService
from router.snapshot.holder import ConfigHolder
from router.store import Store, open_store
from router.upstream.batching import EmbeddingBatcher
from router.upstream.cache import ResponseCache
from router.upstream.dispatch import Dispatcher
from router.upstream.health import HealthMonitor
from router.upstream.queue import CapacityQueues, priority_from_headers
from router.upstream.shared import Event, LocalState, SharedState, new_instance_id
from router.upstream.transport import make_upstream

__all__ = ["Services"]

T = TypeVar("T")

log = logging.getLogger("nexus")


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: one provider's Set-Cookie must never reach another."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@attrs.define
class Services:
    config: ConfigHolder
    probe: bool = True
    _client: httpx.AsyncClient | None = None
    _health: HealthMonitor | None = None
    _dispatcher: Dispatcher | None = None
    _store: Store | None = None
    _responses: ResponsesService | None = None
    _conversations: ConversationsService | None = None
    _embeddings: EmbeddingBatcher | None = None
    #: Names this process in the database and in Redis.
    instance: str = attrs.Factory(new_instance_id)
    #: Seconds between store heartbeats (and sweeps of dead processes' unfinished work).
    heartbeat_s: float = 5.0
    shared: SharedState = attrs.field(init=False)
    metrics: Metrics = attrs.field(init=False)
    queues: CapacityQueues = attrs.field(init=False)
    _heartbeat: asyncio.Task[None] | None = None

    cache: ResponseCache = attrs.Factory(ResponseCache)

    def __attrs_post_init__(self) -> None:
        self.cache.max_bytes = int(self.config.current.settings.cache_max_mb * 1024 * 1024)
        self.queues = CapacityQueues()
        self.shared = self._shared_state()
        self.metrics = Metrics.create(
            self.config, lambda: self._health, self.queues.depths, self.shared.describe
        )
        self.queues.on_wait = lambda route, s: self.metrics.queue_wait.labels(route).observe(s)

    def _shared_state(self) -> SharedState:
        url = self.config.current.config.shared
        if url is None:
            return LocalState(self.instance)
        expanded = expand(url, os.environ)
        if expanded.value is None:
            raise StoreUnavailable(
                f"shared: environment variable {', '.join(expanded.missing)} is not set"
            )
        try:
            from router.upstream.redis_state import RedisState  # redis loads only when used
        except ModuleNotFoundError as exc:
            raise StoreUnavailable(
                "shared: redis:// needs the redis package: pip install 'nexus-router[redis]'"
            ) from exc

        return RedisState(expanded.value, self.instance)

    async def serve(
        self,
        table: RoutingTable,
        facts: RequestFacts,
        headers: Mapping[str, str],
        attempt: Callable[[RouteDecision], Awaitable[T]],
    ) -> T:
        """Route and run `attempt`, queueing while capacity is exhausted (routing.queue)."""
        return await self.queues.run(
            table, facts, self.health.states, priority_from_headers(headers), attempt
        )

    @property
    def health(self) -> HealthMonitor:
        assert self._health is not None, "Services.start() has not run"
        return self._health

    @property
    def dispatcher(self) -> Dispatcher:
        assert self._dispatcher is not None, "Services.start() has not run"
        return self._dispatcher

    @property
    def client(self) -> httpx.AsyncClient:
        assert self._client is not None, "Services.start() has not run"
        return self._client

    @property
    def responses(self) -> ResponsesService:
        assert self._responses is not None, "Services.start() has not run"
        return self._responses

    @property
    def embeddings(self) -> EmbeddingBatcher:
        assert self._embeddings is not None, "Services.start() has not run"
        return self._embeddings

    @property
    def conversations(self) -> ConversationsService:
        assert self._conversations is not None, "Services.start() has not run"
        return self._conversations

    async def store_reachable(self) -> bool:
        try:
            return self._store is not None and await self._store.ping()
        except Exception:  # any failure means not ready; /ready reports it
            return False

    def decide(self, table: RoutingTable, facts: RequestFacts) -> RouteDecision:
        """Route, turning 'no such model' and 'no candidate' into their errors."""
        result = route(table, facts, self.health.states)
        if isinstance(result, UnknownModel):
            raise ModelNotFound(result.model, result.available)
        if isinstance(result, Rejection):
            raise RoutingRejected(result)
        return result

    def _on_event(self, event: Event) -> None:
        """Another router process observed something (shared state)."""
        if event.get("type") == "cancel" and isinstance(event.get("id"), str):
            if self._responses is not None:
                asyncio.get_running_loop().create_task(self._responses.stop_local(event["id"]))
        elif self._health is not None:
            self._health.apply(event)

    async def _broadcast_cancel(self, response_id: str) -> None:
        self.shared.publish({"type": "cancel", "id": response_id})

    async def _beat(self, store: Store) -> None:
        """Heartbeat; fail unfinished work of processes that stopped beating."""
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await store.heartbeat()
                stale = await store.fail_unfinished(
                    "the router process running this response stopped",
                    stale_after_s=self.heartbeat_s * 6,
                )
            except StoreUnavailable as exc:
                log.warning("store heartbeat failed: %s", exc.message)
                continue
            except Exception:  # a bug, not an outage: log it, and keep beating
                log.exception("store heartbeat failed")
                continue
            if stale:
                log.warning("failed %d response(s) of a router process that stopped", stale)

    async def start(self) -> None:
        table = self.config.current
        url = expand(table.config.storage, os.environ)
        if url.value is None:
            raise StoreUnavailable(
                f"storage: environment variable {', '.join(url.missing)} is not set"
            )
        self._store = open_store(
            url.value, base_dir=self.config.path.parent, instance=self.instance
        )
        await self._store.open()
        await self._store.heartbeat()
        stale = await self._store.fail_unfinished(
            "the router restarted before this response finished",
            stale_after_s=self.heartbeat_s * 6,
        )
        if stale:
            log.warning("marked %d unfinished background response(s) as failed", stale)
        self._heartbeat = asyncio.create_task(self._beat(self._store), name="nexus-heartbeat")
        upstream = make_upstream()
        self._client = httpx.AsyncClient(
            transport=upstream.transport,
            cookies=_no_cookies(),  # httpx's own jar; aiohttp's under it keeps none either
            follow_redirects=False,
            trust_env=False,  # never send provider keys through an ambient proxy
        )
        self._health = HealthMonitor(
            self._client,
            table.settings.health,
            self.probe,
            on_release=self.queues.capacity_freed,
            publish=self.shared.publish,
        )
        self._health.sync(table)
        loop = asyncio.get_running_loop()

        def follow(new: RoutingTable) -> None:  # called from the reloading thread
            loop.call_soon_threadsafe(self.health.sync, new)
            self.cache.max_bytes = int(new.settings.cache_max_mb * 1024 * 1024)
            if new.config.storage != table.config.storage:
                log.warning("'storage' changed: the new database is used after a restart")

        self.config.subscribe(follow)
        errors = self.metrics.provider_errors
        self._dispatcher = Dispatcher(
            upstream.session,
            self._health,
            self.shared,
            on_error=lambda provider, kind: errors.labels(provider, kind).inc(),
        )
        self._responses = ResponsesService(
            self._store,
            self._dispatcher,
            self.decide,
            self.serve,
            self.cache,
            broadcast_cancel=self._broadcast_cancel,
        )
        self._conversations = ConversationsService(self._store)
        self._embeddings = EmbeddingBatcher(self._dispatcher)
        await self.shared.start(self._on_event, lambda: list(self.config.current.providers))

    async def stop(self) -> None:
        await self.shared.close()
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        if self._responses is not None:
            await self._responses.close()
        if self._health is not None:
            await self._health.close()
        if self._client is not None:
            await self._client.aclose()
        if self._store is not None:
            with contextlib.suppress(StoreUnavailable):
                await self._store.leave()
            await self._store.close()
