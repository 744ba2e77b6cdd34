"""Server-sent event responses that stop their upstream when the client goes away.

Litestar's streaming response watches for the client's disconnect with an anyio
task group and cancel scope per stream; their cancellation bookkeeping was ~18%
of a streamed chat completion's CPU (py-spy, bench/). Here the body only sends:
the inference route's one watcher task (router.http.fast) cancels the request
when the client leaves, which closes the upstream stream (tests/faults).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar.response import Stream
from litestar.response.streaming import ASGIStreamingResponse
from litestar.types import Receive, Send

__all__ = ["event_stream"]


def event_stream(
    events: AsyncIterator[bytes], headers: dict[str, str], media_type: str = "text/event-stream"
) -> Stream:
    """An SSE (or other event-per-chunk: NDJSON) response; proxies are asked not to buffer it."""
    headers["cache-control"] = "no-cache"
    headers["x-accel-buffering"] = "no"
    return _EventStream(events, media_type=media_type, headers=headers)


class _EventStream(Stream):
    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().to_asgi_response(*args, **kwargs)
        # Same object and fields, with the body sender below (no fields added).
        response.__class__ = _SendOnlyBody
        return response


class _SendOnlyBody(ASGIStreamingResponse):
    __slots__ = ()

    async def send_body(self, send: Send, receive: Receive) -> None:
        # The inference route cancels this task when the client leaves (router.http.fast).
        async for chunk in self.iterator:
            data = chunk if isinstance(chunk, bytes) else chunk.encode(self.encoding)
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
