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

__all__ = ["CONTEXT_STATE_KEY", "InferenceApp", "InferenceHandler", "inference_route"]

#: Where create_app puts the function that builds a request's context (app.state).
CONTEXT_STATE_KEY = "nexus.context"

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
        client = _ClientWatch(receive, send)
        request: Request[Any, Any, Any] = Request(scope, client.receive, client.send)
        try:
            await authorize(request)
            ctx = request.app.state[CONTEXT_STATE_KEY](request)
            response = await self.handler(request, ctx)
            if _plain_json(response):
                await _send_json(client.send, response)
            else:  # streams, and anything with cookies or background tasks: Litestar's way
                asgi = response.to_asgi_response(None, request)
                await asgi(scope, client.receive, client.send)
        except asyncio.CancelledError:
            if not client.gone:
                raise  # cancelled from outside (shutdown): not ours to swallow
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            info = current_info()
            if info is not None:
                info.client_gone = True
        finally:
            client.stop()


class _ClientWatch:
    """Cancel the request's task when its client disconnects, from the end of its body on.

    Once the body has been read, the next ``receive()`` returns only when the
    client goes away, so one task waits on it for the rest of the request: a
    client that leaves while the router waits for an upstream's headers or
    answer, or in the middle of a stream, cancels that upstream call at once
    (the provider stops generating).
    """

    __slots__ = ("_receive", "_send", "_task", "_watcher", "done", "gone")

    def __init__(self, receive: Receive, send: Send) -> None:
        self._receive = receive
        self._send = send
        self._task = asyncio.current_task()
        self._watcher: asyncio.Task[None] | None = None
        self.done = False  # the response is complete: a disconnect now is the normal end
        self.gone = False

    async def receive(self) -> Any:
        if self._watcher is not None:  # a Litestar response asking: the watcher answers for it
            await asyncio.shield(self._watcher)
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request" and not message.get("more_body", False):
            self._watcher = asyncio.get_running_loop().create_task(self._watch())
        return message

    async def send(self, message: Any) -> None:
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.done = True
        await self._send(message)

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        if not self.done and self._task is not None:
            self.gone = True
            self._task.cancel()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()


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
