"""The composition root: build every service once, wire them, and serve them with Litestar.

This is the top of the import graph. `assemble` creates the run-time services
inside one `AsyncExitStack`, each registered with how it stops (and, where it
has one, the ping `/ready` asks), and yields them as one frozen `Services`; the
app's lifespan enters it before the first request and leaves it after the last.
The routing table is not here: it lives in the config holder, and a request
keeps the one it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import attrs
from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide

from router.config.envvars import expand
from router.errors import StoreUnavailable
from router.http.admin import admin_router
from router.http.conversations import CONVERSATION_HANDLERS
from router.http.deps import RequestContext
from router.http.errors import exception_handlers
from router.http.fast import CONTEXT_STATE_KEY
from router.http.inference import chat_completions, embeddings, images, route_explain
from router.http.messages import MESSAGE_HANDLERS
from router.http.models import MODEL_HANDLERS
from router.http.observe import RequestObserver, current_info, record_attempt
from router.http.ollama import OLLAMA_HANDLERS
from router.http.openapi import OPENAPI_HANDLERS
from router.http.ops import OPS_HANDLERS
from router.http.providers import provider_router
from router.http.responses import RESPONSE_HANDLERS
from router.http.security import SHARED_STATE_KEY, assert_every_route_authorizes, authorize
from router.http.ui import UI_STATE_KEY, Dashboard, ui_router
from router.routing.table import RoutingTable
from router.services.activity import Activity
from router.services.conversations import ConversationsService
from router.services.metrics import Metrics
from router.services.registry import Services
from router.services.responses import ResponsesService
from router.services.spend import SpendLedger
from router.snapshot.holder import ConfigHolder
from router.snapshot.watcher import watch_config
from router.store import Store, open_store
from router.upstream.batching import EmbeddingBatcher
from router.upstream.cache import ResponseCache
from router.upstream.discovery import Discoverer
from router.upstream.dispatch import Dispatcher
from router.upstream.health import HealthMonitor
from router.upstream.queue import CapacityQueues
from router.upstream.runner import RouteRunner
from router.upstream.shared import Event, LocalState, SharedState, new_instance_id
from router.upstream.transport import Pool

__all__ = ["AppOptions", "assemble", "create_app"]

log = logging.getLogger("nexus")


@attrs.frozen
class AppOptions:
    """Tunables of one app instance (tests shorten them; nothing is monkeypatched)."""

    watch: bool = True
    watch_debounce_ms: int = 300
    watch_step_ms: int = 30
    handle_sighup: bool = True
    health_probes: bool = True
    #: Seconds between store heartbeats (and sweeps of dead processes' unfinished work).
    heartbeat_s: float = 5.0
    #: Seconds between spend ledger syncs (write this process's spend, read everyone's).
    spend_sync_s: float = 1.0
    #: Wall clock (Unix seconds) for budget periods; tests move it.
    clock: Callable[[], float] = time.time


def _shared_state(holder: ConfigHolder, instance: str) -> SharedState:
    url = holder.current.config.shared
    if url is None:
        return LocalState(instance)
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
    return RedisState(expanded.value, instance)


async def _open_store(holder: ConfigHolder, instance: str, heartbeat_s: float) -> Store:
    url = expand(holder.current.config.storage, os.environ)
    if url.value is None:
        raise StoreUnavailable(f"storage: environment variable {', '.join(url.missing)} is not set")
    store = open_store(url.value, base_dir=holder.path.parent, instance=instance)
    await store.open()
    await store.heartbeat()
    stale = await store.fail_unfinished(
        "the router restarted before this response finished", stale_after_s=heartbeat_s * 6
    )
    if stale:
        log.warning("marked %d unfinished background response(s) as failed", stale)
    return store


async def _beat(store: Store, heartbeat_s: float) -> None:
    """Heartbeat; fail unfinished work of processes that stopped beating."""
    while True:
        await asyncio.sleep(heartbeat_s)
        try:
            await store.heartbeat()
            stale = await store.fail_unfinished(
                "the router process running this response stopped",
                stale_after_s=heartbeat_s * 6,
            )
        except StoreUnavailable as exc:
            log.warning("store heartbeat failed: %s", exc.message)
            continue
        except Exception:  # a bug, not an outage: log it, and keep beating
            log.exception("store heartbeat failed")
            continue
        if stale:
            log.warning("failed %d response(s) of a router process that stopped", stale)


@contextlib.asynccontextmanager
async def _running_store(
    holder: ConfigHolder, instance: str, heartbeat_s: float
) -> AsyncIterator[Store]:
    """The store, open and beating; it says goodbye and closes when the block ends."""
    store = await _open_store(holder, instance, heartbeat_s)
    heartbeat = asyncio.create_task(_beat(store, heartbeat_s), name="nexus-heartbeat")
    try:
        yield store
    finally:
        heartbeat.cancel()
        await asyncio.gather(heartbeat, return_exceptions=True)
        with contextlib.suppress(StoreUnavailable):
            await store.leave()
        await store.close()


async def _ping(store: Store) -> bool:
    try:
        return await store.ping()
    except Exception:  # any failure means not ready; /ready reports it
        return False


def _request_key() -> str | None:
    """The API key name of the request being served (for the spend ledger)."""
    info = current_info()
    return None if info is None else info.key


async def _stop_spend(spend: SpendLedger, syncing: asyncio.Task[None]) -> None:
    """Stop syncing, then write what is left (the store closes after this)."""
    syncing.cancel()
    await asyncio.gather(syncing, return_exceptions=True)
    try:
        await spend.flush()
    except Exception as exc:  # an outage at shutdown: say what is lost
        log.warning("spend of the last moments not written: %s", exc)


@contextlib.asynccontextmanager
async def assemble(
    holder: ConfigHolder, metrics: Metrics, options: AppOptions | None = None
) -> AsyncIterator[Services]:
    """Build every run-time service; stop them in reverse order when the block ends."""
    opts = options or AppOptions()
    table = holder.current
    instance = new_instance_id()
    async with contextlib.AsyncExitStack() as stack:
        store = await stack.enter_async_context(_running_store(holder, instance, opts.heartbeat_s))

        shared = _shared_state(holder, instance)
        queues = CapacityQueues()
        queues.on_wait = lambda route, s: metrics.queue_wait.labels(route).observe(s)
        pool = Pool.create()
        stack.push_async_callback(pool.close)
        health = HealthMonitor(
            pool,
            table.settings.health,
            opts.health_probes,
            on_release=queues.capacity_freed,
            publish=shared.publish,
            discoverer=Discoverer(pool, holder.adiscovered),
        )
        health.sync(table)
        stack.push_async_callback(health.close)
        cache = ResponseCache(max_bytes=int(table.settings.cache_max_mb * 1024 * 1024))
        spend = SpendLedger(
            store,
            lambda: holder.current,
            key_of=_request_key,
            clock=opts.clock,
            observe=metrics.spend,
        )
        await spend.sync()
        syncing = asyncio.create_task(spend.run(opts.spend_sync_s), name="nexus-spend")
        stack.push_async_callback(_stop_spend, spend, syncing)
        runner = RouteRunner(health, queues, spend.spent, opts.clock)
        queues.retry_hint = runner.retry_hint
        queues.spent = spend.spent
        dispatcher = Dispatcher(
            pool, health, shared, hooks=(metrics.attempt, record_attempt, spend.record)
        )
        stack.push_async_callback(dispatcher.deadlines.close)

        async def broadcast_cancel(response_id: str) -> None:
            shared.publish({"type": "cancel", "id": response_id})

        responses = ResponsesService(
            store, dispatcher, runner, cache, broadcast_cancel=broadcast_cancel
        )
        stack.push_async_callback(responses.close)
        loop = asyncio.get_running_loop()

        def follow(new: RoutingTable) -> None:  # called from the reloading thread
            loop.call_soon_threadsafe(health.sync, new)
            cache.max_bytes = int(new.settings.cache_max_mb * 1024 * 1024)
            if new.config.storage != table.config.storage:
                log.warning("'storage' changed: the new database is used after a restart")

        holder.subscribe(follow)
        stack.callback(holder.unsubscribe, follow)

        stopping: set[asyncio.Task[bool]] = set()

        def on_event(event: Event) -> None:
            """Another router process observed something (shared state)."""
            if event.get("type") == "cancel" and isinstance(event.get("id"), str):
                task = loop.create_task(responses.stop_local(event["id"]))
                stopping.add(task)
                task.add_done_callback(stopping.discard)
            else:
                health.apply(event)

        await shared.start(on_event, lambda: list(holder.current.providers))
        stack.push_async_callback(shared.close)
        services = Services(
            holder=holder,
            store=store,
            pool=pool,
            shared=shared,
            health=health,
            queues=queues,
            runner=runner,
            dispatcher=dispatcher,
            cache=cache,
            embeddings=EmbeddingBatcher(dispatcher),
            responses=responses,
            conversations=ConversationsService(store),
            metrics=metrics,
            spend=spend,
            pings=(("store", lambda: _ping(store)),),
        )
        metrics.watch(holder, health, queues.depths, shared.describe)
        yield services


@contextlib.asynccontextmanager
async def _config_follower(holder: ConfigHolder, opts: AppOptions) -> AsyncIterator[None]:
    """Watch the file and take SIGHUP, until the block ends."""
    stop = asyncio.Event()
    tasks: list[asyncio.Task[Any]] = []
    if opts.watch:
        watcher = watch_config(
            holder, stop=stop, debounce_ms=opts.watch_debounce_ms, step_ms=opts.watch_step_ms
        )
        tasks.append(asyncio.create_task(watcher, name="nexus-config-watcher"))
    loop = asyncio.get_running_loop()
    sighup = False
    if opts.handle_sighup and hasattr(signal, "SIGHUP"):
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            loop.add_signal_handler(
                signal.SIGHUP,
                lambda: tasks.append(
                    asyncio.create_task(holder.areload(), name="nexus-sighup-reload")
                ),
            )
            sighup = True
    try:
        yield
    finally:
        stop.set()
        if sighup:
            loop.remove_signal_handler(signal.SIGHUP)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def create_app(holder: ConfigHolder, *, options: AppOptions | None = None) -> Litestar:
    """Build the app around an already loaded config `holder` (tests run fake upstreams on loopback)."""
    opts = options or AppOptions()
    metrics = Metrics.create()
    dashboard = Dashboard(Activity())
    built: list[Services] = []  # the lifespan's one value, read by every request

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with assemble(holder, metrics, opts) as services, _config_follower(holder, opts):
            built.append(services)
            app.state[SHARED_STATE_KEY] = services.shared
            try:
                yield
            finally:
                built.clear()

    def request_context(request: Request[Any, Any, Any]) -> RequestContext:
        state = request.scope["state"]
        return RequestContext(
            table=state["nexus.table"],  # read once, at the start
            services=built[0],
            identity=state.get("nexus.identity"),
            holder=holder,
        )

    app = Litestar(
        route_handlers=[
            *OPS_HANDLERS,
            *OPENAPI_HANDLERS,
            admin_router,
            provider_router,
            chat_completions,
            embeddings,
            images,
            route_explain,
            *RESPONSE_HANDLERS,
            *MESSAGE_HANDLERS,
            *MODEL_HANDLERS,
            *CONVERSATION_HANDLERS,
            ui_router,
            *OLLAMA_HANDLERS,
        ],
        dependencies={"ctx": Provide(request_context, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,  # logging is the process's business (router.logs), not the app's
        request_max_body_size=None,  # each endpoint enforces its own limit (router.http.body)
        before_request=authorize,
        state=State({CONTEXT_STATE_KEY: request_context, UI_STATE_KEY: dashboard}),
    )
    assert_every_route_authorizes(app)
    # Outermost, so 404s and 405s get a request id and an access line too.
    app.asgi_handler = cast(
        "Any", RequestObserver(app.asgi_handler, holder, metrics, dashboard.activity)
    )
    return app
