"""Run-time services shared by all requests: the httpx client, health, dispatcher, store.

Lives outside the routing table (and survives reloads); started and stopped by
the app's lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from http.cookiejar import CookieJar, DefaultCookiePolicy

import attrs
import httpx

from router.config.store import ConfigStore
from router.conversations.service import ConversationsService
from router.errors import ModelNotFound, RoutingRejected
from router.responses.service import ResponsesService
from router.routing.decision import Rejection, RequestFacts, RouteDecision, UnknownModel, route
from router.routing.table import RoutingTable
from router.runtime.dispatch import Dispatcher
from router.runtime.health import HealthMonitor
from router.runtime.limits import RateLimiter
from router.runtime.observe import Metrics
from router.runtime.transport import make_transport
from router.store import Store, open_store

__all__ = ["Services"]

log = logging.getLogger("nexus")


def _no_cookies() -> CookieJar:
    """A jar that keeps nothing: one provider's Set-Cookie must never reach another."""
    return CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))


@attrs.define
class Services:
    config: ConfigStore
    transport: httpx.AsyncBaseTransport | None = None
    probe: bool = True
    _client: httpx.AsyncClient | None = None
    _health: HealthMonitor | None = None
    _dispatcher: Dispatcher | None = None
    _store: Store | None = None
    _responses: ResponsesService | None = None
    _conversations: ConversationsService | None = None
    limiter: RateLimiter = attrs.Factory(RateLimiter)
    metrics: Metrics = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.metrics = Metrics.create(self.config, lambda: self._health)

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

    async def start(self) -> None:
        table = self.config.current
        self._store = open_store(table.config.storage, base_dir=self.config.path.parent)
        await self._store.open()
        stale = await self._store.fail_unfinished(
            "the router restarted before this response finished"
        )
        if stale:
            log.warning("marked %d unfinished background response(s) as failed", stale)
        self._client = httpx.AsyncClient(
            transport=self.transport or make_transport(),
            cookies=_no_cookies(),
            limits=httpx.Limits(max_connections=1024, max_keepalive_connections=256),
            follow_redirects=False,
            trust_env=False,  # never send provider keys through an ambient proxy
        )
        self._health = HealthMonitor(self._client, table.settings.health, self.probe)
        self._health.sync(table)
        loop = asyncio.get_running_loop()

        def follow(new: RoutingTable) -> None:  # called from the reloading thread
            loop.call_soon_threadsafe(self.health.sync, new)
            if new.config.storage != table.config.storage:
                log.warning("'storage' changed: the new database is used after a restart")

        self.config.subscribe(follow)
        self._dispatcher = Dispatcher(self._client, self._health, self.limiter)
        self._responses = ResponsesService(self._store, self._dispatcher, self.decide)
        self._conversations = ConversationsService(self._store)

    async def stop(self) -> None:
        if self._responses is not None:
            await self._responses.close()
        if self._health is not None:
            await self._health.close()
        if self._client is not None:
            await self._client.aclose()
        if self._store is not None:
            await self._store.close()
