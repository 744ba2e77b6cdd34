"""A fake Anthropic Messages API: /v1/models, /v1/messages (JSON and SSE), count_tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import attrs

from tests.fakes.asgi import Receive, Send, read_body, send_json, send_stream


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()


@attrs.define
class FakeAnthropic:
    api_key: str = "sk-ant-test"
    reply: str = "Hello from Claude"
    tool_use: dict[str, Any] | None = None
    #: With `tool_use`: a request ending in a tool_result block gets `reply` instead.
    answer_tool_results: bool = False
    error_mid_stream: bool = False
    #: Extended thinking: a signed thinking block (streamed as thinking_delta) first.
    thinking: str | None = None
    #: A redacted_thinking block after it (opaque data no client may see).
    redacted: bool = False
    #: A forced tool choice (``{"type": "tool", ...}``) is answered with this input,
    #: and, as Claude does when forced, no text or thinking before the call.
    forced_input: dict[str, Any] | None = None
    _forced: bool = False
    #: Tokens written to the prompt cache by a request that marks a cache breakpoint.
    cache_written: int = 0
    requests: list[dict[str, Any]] = attrs.Factory(list)
    models: tuple[str, ...] = ("claude-x-20250101",)
    listings: list[str] = attrs.Factory(list)  # the query string of every /v1/models request
    #: Each /v1/messages request's bytes and headers, as they arrived.
    raw: list[bytes] = attrs.Factory(list)
    headers: list[dict[str, str]] = attrs.Factory(list)
    #: Content blocks answered instead of text (and tool use), e.g. a signed thinking block.
    blocks: list[dict[str, Any]] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if headers.get("x-api-key") != self.api_key or "anthropic-version" not in headers:
            await send_json(
                send,
                401,
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
            )
            return
        if scope["path"] == "/v1/models":
            self.listings.append(scope.get("query_string", b"").decode())
            data = [{"id": m, "type": "model", "display_name": m} for m in self.models]
            await send_json(send, 200, {"data": data, "has_more": False})
            return
        if scope["path"] == "/v1/messages/count_tokens" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            self.headers.append(headers)
            await send_json(send, 200, {"input_tokens": 4242})
            return
        if scope["path"] == "/v1/messages" and scope["method"] == "POST":
            data = await read_body(receive)
            body = json.loads(data)
            self.requests.append(body)
            self.raw.append(data)
            self.headers.append(headers)
            if "max_tokens" not in body:
                await send_json(
                    send,
                    400,
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "message": "max_tokens: Field required",
                        },
                    },
                )
                return
            tool_use = self._tool_use(body)
            self.cache_written = 5 if "cache_control" in json.dumps(body) else 0
            if body.get("stream"):
                await send_stream(send, "text/event-stream", self._events(body["model"], tool_use))
            else:
                await send_json(send, 200, self._message(body["model"], tool_use))
            return
        await send_json(
            send, 404, {"type": "error", "error": {"type": "not_found_error", "message": "no"}}
        )

    def _tool_use(self, body: dict[str, Any]) -> dict[str, Any] | None:
        choice = body.get("tool_choice") or {}
        self._forced = self.forced_input is not None and choice.get("type") == "tool"
        if self._forced:
            return {"name": choice["name"], "input": self.forced_input}
        if not self.tool_use or not self.answer_tool_results:
            return self.tool_use
        last = (body.get("messages") or [{}])[-1]
        content = last.get("content")
        blocks = content if isinstance(content, list) else []
        answered = any(isinstance(b, dict) and b.get("type") == "tool_result" for b in blocks)
        return None if answered else self.tool_use

    def _thoughts(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if self._forced:
            return blocks
        if self.thinking:
            blocks.append({"type": "thinking", "thinking": self.thinking, "signature": "sig-1"})
        if self.redacted:
            blocks.append({"type": "redacted_thinking", "data": "opaque-secret-bytes"})
        return blocks

    def _content(self, tool_use: dict[str, Any] | None) -> list[dict[str, Any]]:
        if self.blocks is not None:
            return self.blocks
        text = [] if self._forced else [{"type": "text", "text": self.reply}]
        content = [*self._thoughts(), *text]
        if tool_use:
            content.append({"type": "tool_use", "id": "toolu_1", **tool_use})
        return content

    def _message(self, model: str, tool_use: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": self._content(tool_use),
            "stop_reason": "tool_use" if tool_use else "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 12,
                "output_tokens": 6,
                "cache_creation_input_tokens": self.cache_written,
                "cache_read_input_tokens": 3,
            },
        }

    async def _events(self, model: str, tool_use: dict[str, Any] | None) -> AsyncIterator[bytes]:
        start = self._message(model, tool_use) | {"content": [], "stop_reason": None}
        start["usage"] = {
            "input_tokens": 12,
            "output_tokens": 1,
            "cache_read_input_tokens": 3,
            "cache_creation_input_tokens": self.cache_written,
        }
        yield _event("message_start", {"message": start})
        base = 0
        for base, block in enumerate(self._thoughts()):
            if block["type"] == "redacted_thinking":
                yield _event("content_block_start", {"index": base, "content_block": block})
                yield _event("content_block_stop", {"index": base})
                continue
            empty = {"type": "thinking", "thinking": "", "signature": ""}
            yield _event("content_block_start", {"index": base, "content_block": empty})
            for i, word in enumerate(block["thinking"].split(" ")):
                delta = {"type": "thinking_delta", "thinking": word if i == 0 else " " + word}
                yield _event("content_block_delta", {"index": base, "delta": delta})
            delta = {"type": "signature_delta", "signature": block["signature"]}
            yield _event("content_block_delta", {"index": base, "delta": delta})
            yield _event("content_block_stop", {"index": base})
        base = len(self._thoughts())
        if not self._forced:
            async for event in self._text(base):
                yield event
            if self.error_mid_stream:
                return
            base += 1
        if tool_use:
            yield _event(
                "content_block_start",
                {
                    "index": base,
                    "content_block": {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": tool_use["name"],
                        "input": {},
                    },
                },
            )
            args = json.dumps(tool_use["input"])
            for part in (args[: len(args) // 2], args[len(args) // 2 :]):
                yield _event(
                    "content_block_delta",
                    {"index": base, "delta": {"type": "input_json_delta", "partial_json": part}},
                )
            yield _event("content_block_stop", {"index": base})
        reason = "tool_use" if tool_use else "end_turn"
        yield _event(
            "message_delta",
            {
                "delta": {"stop_reason": reason, "stop_sequence": None},
                "usage": {"output_tokens": 6},
            },
        )
        yield _event("message_stop", {})

    async def _text(self, base: int) -> AsyncIterator[bytes]:
        yield _event(
            "content_block_start", {"index": base, "content_block": {"type": "text", "text": ""}}
        )
        yield _event("ping", {})
        for i, word in enumerate(self.reply.split(" ")):
            text = word if i == 0 else " " + word
            yield _event(
                "content_block_delta",
                {"index": base, "delta": {"type": "text_delta", "text": text}},
            )
            if self.error_mid_stream:
                await asyncio.sleep(0.1)  # the first delta reaches the client before the error
                yield _event(
                    "error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}
                )
                return
        yield _event("content_block_stop", {"index": base})
