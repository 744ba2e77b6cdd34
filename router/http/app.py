"""The app factory: `create_app(holder, ...) -> Litestar`, with no module-level state."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any, cast

import attrs
from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide

from router.app import Services
from router.http.admin import admin_router
from router.http.conversations import CONVERSATION_HANDLERS
from router.http.deps import RequestContext
from router.http.errors import exception_handlers
from router.http.fast import CONTEXT_STATE_KEY
from router.http.inference import chat_completions, embeddings, images, route_explain
from router.http.models import MODEL_HANDLERS
from router.http.observe import RequestObserver
from router.http.openapi import OPENAPI_HANDLERS
from router.http.ops import OPS_HANDLERS
from router.http.providers import provider_router
from router.http.responses import RESPONSE_HANDLERS
from router.http.security import assert_every_route_authorizes, authorize
from router.snapshot.holder import ConfigHolder
from router.snapshot.watcher import watch_config

__all__ = ["AppOptions", "create_app"]

log = logging.getLogger("nexus.http")


@attrs.frozen
class AppOptions:
    """Tunables of one app instance (tests shorten them; nothing is monkeypatched)."""

    watch: bool = True
    watch_debounce_ms: int = 300
    watch_step_ms: int = 30
    handle_sighup: bool = True
    health_probes: bool = True


def create_app(holder: ConfigHolder, *, options: AppOptions | None = None) -> Litestar:
    """Build the app around an already loaded config `holder` (tests run fake upstreams on loopback)."""
    opts = options or AppOptions()
    services = Services(holder, probe=opts.health_probes)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await services.start()
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []
        if opts.watch:
            tasks.append(
                asyncio.create_task(
                    watch_config(
                        holder,
                        stop=stop,
                        debounce_ms=opts.watch_debounce_ms,
                        step_ms=opts.watch_step_ms,
                    ),
                    name="nexus-config-watcher",
                )
            )
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
            await services.stop()

    def request_context(request: Request[Any, Any, Any]) -> RequestContext:
        state = request.scope["state"]
        return RequestContext(
            table=state["nexus.table"],  # read once, at the start
            services=services,
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
            *MODEL_HANDLERS,
            *CONVERSATION_HANDLERS,
        ],
        dependencies={"ctx": Provide(request_context, sync_to_thread=False)},
        exception_handlers=exception_handlers(),
        lifespan=[lifespan],
        openapi_config=None,
        logging_config=None,  # logging is the process's business (router.logs), not the app's
        request_max_body_size=None,  # each endpoint enforces its own limit (router.http.body)
        before_request=authorize,
        state=State({"shared": services.shared, CONTEXT_STATE_KEY: request_context}),
    )
    assert_every_route_authorizes(app)
    # Outermost, so 404s and 405s get a request id and an access line too.
    app.asgi_handler = cast("Any", RequestObserver(app.asgi_handler, holder, services.metrics))
    return app
