"""Run-time services shared by all requests: the httpx client, health, the dispatcher.

Lives outside the routing table (and survives reloads); started and stopped by
the app's lifespan.
"""

from __future__ import annotations

import asyncio

import attrs
import httpx

from router.config.store import ConfigStore
from router.routing.table import RoutingTable
from router.runtime.dispatch import Dispatcher
from router.runtime.health import HealthMonitor

__all__ = ["Services"]


@attrs.define
class Services:
    store: ConfigStore
    transport: httpx.AsyncBaseTransport | None = None
    probe: bool = True
    _client: httpx.AsyncClient | None = None
    _health: HealthMonitor | None = None
    _dispatcher: Dispatcher | None = None

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

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            transport=self.transport,
            limits=httpx.Limits(max_connections=1024, max_keepalive_connections=256),
            follow_redirects=False,
            trust_env=False,  # never send provider keys through an ambient proxy
        )
        self._health = HealthMonitor(self._client, self.store.current.settings.health, self.probe)
        self._health.sync(self.store.current)
        loop = asyncio.get_running_loop()

        def follow(table: RoutingTable) -> None:  # called from the reloading thread
            loop.call_soon_threadsafe(self.health.sync, table)

        self.store.subscribe(follow)
        self._dispatcher = Dispatcher(self._client, self._health)

    async def stop(self) -> None:
        if self._health is not None:
            await self._health.close()
        if self._client is not None:
            await self._client.aclose()
