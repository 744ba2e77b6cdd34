"""Inference endpoints as raw ASGI routes: the request hot path without Litestar's per-call layers.

A Litestar ``@post`` handler builds a keyword-argument model, resolves
dependencies, validates a signature model and wraps the call in an exit stack on
every request. For the inference endpoints that machinery was about a third of
the router's own CPU (a bare ``@post`` handler serves ~10.5k requests/s on one
core, the same work as an ``@asgi`` route ~15.5k). `inference_route` keeps
everything else: Litestar's routing, the app's exception handlers (so errors
keep their one mapping), `authorize` and the one request context. An already
encoded JSON body is sent directly; any other response (streams, dict bodies)
goes through Litestar's own response machinery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response
from litestar.exceptions import MethodNotAllowedException
from litestar.handlers import ASGIRouteHandler, asgi
from litestar.types import Receive, Scope, Send

from router.http.deps import RequestContext
from router.http.observe import current_info
from router.http.security import authorize

__all__ = [
    "CLIENT_GONE_KEY",
    "CONTEXT_STATE_KEY",
    "REQUEST_TASK_KEY",
    "InferenceApp",
    "InferenceHandler",
    "inference_route",
]

#: Where create_app puts the function that builds a request's context (app.state).
CONTEXT_STATE_KEY = "nexus.context"
#: Where an inference request leaves its task, and the server protocol says its client
#: left (the request's scope state).
REQUEST_TASK_KEY = "nexus.task"
CLIENT_GONE_KEY = "nexus.client_gone"

InferenceHandler = Callable[[Request[Any, Any, Any], RequestContext], Awaitable[Response[Any]]]


def inference_route(*paths: str) -> Callable[[InferenceHandler], ASGIRouteHandler]:
    """Serve ``POST paths`` with `handler(request, ctx)`, authorized like every route."""

    def wrap(handler: InferenceHandler) -> ASGIRouteHandler:
        return asgi(list(paths), copy_scope=False, name=handler.__name__)(InferenceApp(handler))

    return wrap


class InferenceApp:
    """The ASGI callable behind an `inference_route`."""

    #: Checked at start-up by `assert_every_route_authorizes`: __call__ runs authorize().
    authorizes_itself = True

    def __init__(self, handler: InferenceHandler) -> None:
        self.handler = handler
        self.__doc__ = handler.__doc__

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":  # type: ignore[typeddict-item]
            raise MethodNotAllowedException(headers={"Allow": "POST"})
        state = scope["state"]
        # The server protocol cancels this task when the client leaves (router.http.server):
        # a task per request to watch for it cost ~12% of the throughput at 32 connections.
        state[REQUEST_TASK_KEY] = asyncio.current_task()
        request: Request[Any, Any, Any] = Request(scope, receive, send)
        try:
            await authorize(request)
            ctx = request.app.state[CONTEXT_STATE_KEY](request)
            if ctx.identity is not None:
                ctx.services.spend.check_key(ctx.identity.name)
            response = await self.handler(request, ctx)
            if _plain_json(response):
                await _send_json(send, response)
            else:  # streams, and anything with cookies or background tasks: Litestar's way
                await response.to_asgi_response(None, request)(scope, receive, send)
        except asyncio.CancelledError:
            if not state.get(CLIENT_GONE_KEY):
                raise  # cancelled from outside (shutdown): not ours to swallow
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            info = current_info()
            if info is not None:
                info.client_gone = True


def _plain_json(response: Response[Any]) -> bool:
    """A JSON body already encoded: what almost every inference answer is."""
    return (
        type(response) is Response
        and type(response.content) is bytes
        and response.media_type in (None, "application/json")
        and not response.cookies
        and response.background is None
        and response.status_code in (None, 200)
    )


async def _send_json(send: Send, response: Response[Any]) -> None:
    """Send what Litestar's ASGIResponse would, without building one (~4% of a request)."""
    body: bytes = response.content
    fields = {k.lower(): str(v) for k, v in response.headers.items()}
    fields.setdefault("content-type", "application/json")  # as Litestar: the handler's wins
    fields.setdefault("content-length", str(len(body)))
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in fields.items()]
    await send(
        {"type": "http.response.start", "status": response.status_code or 200, "headers": headers}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})
