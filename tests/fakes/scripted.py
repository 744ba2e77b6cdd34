"""An upstream whose answer to each inference request is a coroutine the test writes.

For fault tests: trickling bodies, HTML pages with status 200, huge answers,
garbage JSON, keys echoed back. It counts the requests it is answering and the
clients that went away while it was.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from tests.fakes.asgi import Receive, Send, read_body, send_json

Answer = Callable[[dict[str, Any], Receive, Send], Awaitable[None]]


@attrs.define
class Scripted:
    answer: Answer
    models: tuple[str, ...] = ("m",)
    calls: int = 0
    answering: int = 0
    disconnected: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET":  # model listings and health probes
            data = [{"id": m, "object": "model"} for m in self.models]
            await send_json(send, 200, {"object": "list", "data": data, "models": data})
            return
        raw = await read_body(receive)
        self.calls += 1
        self.answering += 1
        try:
            await self.answer(json.loads(raw or b"{}"), receive, send)
        finally:
            self.answering -= 1


async def start(
    send: Send, status: int = 200, content_type: str = "application/json", **headers: str
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                *((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()),
            ],
        }
    )


async def chunk(send: Send, data: bytes, *, more: bool = True) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": more})
