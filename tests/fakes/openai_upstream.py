"""A fake OpenAI-compatible server: /v1/models, /v1/chat/completions (JSON and SSE)."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import attrs

from tests.fakes.asgi import Receive, Send, read_body, send_json, send_stream


def vector(text: str) -> list[float]:
    """A deterministic embedding the tests can predict."""
    return [float(len(text)), float(sum(map(ord, text)) % 97), 0.5]


def embeddings_body(body: dict[str, Any]) -> dict[str, Any]:
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    data = []
    for i, text in enumerate(texts):
        values = vector(text)
        encoded: Any = values
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
    }


class MidStreamFailure(Exception):
    """Raised inside the fake to drop the connection in the middle of a stream."""


@attrs.define
class FakeOpenAI:
    """Programmable behaviour; records every request it receives."""

    reply: str = "Hello from the fake upstream"
    models: tuple[str, ...] = ("gpt-4o",)
    status: int = 200
    error_body: dict[str, Any] | None = None
    retry_after: str | None = None
    delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    fail_after_chunks: int | None = None
    malformed: bool = False
    tool_call: dict[str, Any] | None = None
    #: With `tool_call`: a request whose last message is a tool result gets `reply` instead,
    #: as a model does once it has what it asked for (a function-call round trip).
    answer_tool_results: bool = False
    #: The model's thinking, sent before the answer under `reasoning_field`.
    reasoning: str | None = None
    reasoning_field: str = "reasoning_content"
    probe_status: int = 200
    #: Extra fields of a model in /v1/models (vLLM's ``max_model_len``, llama.cpp's ``meta``).
    model_fields: dict[str, dict[str, Any]] = attrs.Factory(dict)
    set_cookie: str | None = None  # a Set-Cookie header on every chat answer
    requests: list[dict[str, Any]] = attrs.Factory(list)
    headers: list[dict[str, str]] = attrs.Factory(list)
    disconnects: int = 0  # requests whose client went away while the gate held them
    gate: threading.Event | None = None  # when set, requests wait until the test opens it
    #: The usage whole chat answers report (default: 9 prompt, 7 completion tokens).
    usage: dict[str, Any] | None = None
    #: False: whole chat answers carry no usage at all (as some servers answer).
    report_usage: bool = True

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"].removeprefix("/v1")
        if path == "/models" and scope["method"] == "GET":
            if self.probe_status != 200:
                await send_json(send, self.probe_status, {"error": {"message": "probe says no"}})
                return
            data = [
                {
                    "id": m,
                    "object": "model",
                    "created": 0,
                    "owned_by": "fake",
                    **self.model_fields.get(m, {}),
                }
                for m in self.models
            ]
            await send_json(send, 200, {"object": "list", "data": data})
            return
        if path == "/chat/completions" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await self._chat(body, send, receive)
            return
        if path == "/images/generations" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            kind = body.get("response_format", "url")
            item = (
                {"b64_json": base64.b64encode(b"\x89PNG fake").decode()}
                if kind == "b64_json"
                else {"url": "https://images.example/1.png"}
            )
            await send_json(
                send,
                200,
                {
                    "created": 1,
                    "data": [
                        {**item, "revised_prompt": body["prompt"]} for _ in range(body.get("n", 1))
                    ],
                },
            )
            return
        if path == "/embeddings" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            await send_json(send, 200, embeddings_body(body))
            return
        await send_json(send, 404, {"error": {"message": f"no route {path}"}})

    async def _chat(self, body: dict[str, Any], send: Send, receive: Receive) -> None:
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.gate is not None:
            gone = asyncio.ensure_future(receive())  # completes with http.disconnect
            while not self.gate.is_set():
                if gone.done():
                    self.disconnects += 1
                    return
                await asyncio.sleep(0.005)
            gone.cancel()
        if self.status != 200:
            headers = {"retry-after": self.retry_after} if self.retry_after else None
            error = self.error_body or {
                "error": {"message": "upstream failure", "type": "server_error"}
            }
            await send_json(send, self.status, error, headers)
            return
        if self.malformed:
            await send_json(send, 200, b'{"id": "chatcmpl-1", "choices": [')
            return
        if body.get("stream"):
            gone = asyncio.ensure_future(receive())  # completes with http.disconnect
            try:
                await send_stream(send, "text/event-stream", self._chunks(body, gone))
            finally:
                gone.cancel()
            return
        cookie = {"set-cookie": self.set_cookie} if self.set_cookie else None
        await send_json(send, 200, self.completion(body["model"], self._calls_tool(body)), cookie)

    def _calls_tool(self, body: dict[str, Any]) -> bool:
        if not self.tool_call:
            return False
        messages = body.get("messages") or [{}]
        return not (self.answer_tool_results and messages[-1].get("role") == "tool")

    def completion(self, model: str, call_tool: bool = True) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": self.reply}
        finish = "stop"
        if self.tool_call and call_tool:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {
                            "name": self.tool_call["name"],
                            "arguments": json.dumps(self.tool_call["arguments"]),
                        },
                    }
                ],
            }
            finish = "tool_calls"
        if self.reasoning:
            message[self.reasoning_field] = self.reasoning
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish, "logprobs": None}
            ],
        } | ({"usage": self.usage or self._usage(9, 7)} if self.report_usage else {})

    def _usage(self, prompt: int, completion: int) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        if self.reasoning:
            thought = len(self.reasoning.split(" "))
            usage["completion_tokens_details"] = {"reasoning_tokens": thought}
            usage["completion_tokens"] += thought
            usage["total_tokens"] += thought
        return usage

    async def _chunks(
        self, body: dict[str, Any], gone: asyncio.Future[Any]
    ) -> AsyncIterator[bytes]:
        model = body["model"]
        base = {
            "id": "chatcmpl-fake",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
        }
        words = self.reply.split(" ")
        deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
        deltas += [{"content": w if i == 0 else " " + w} for i, w in enumerate(words)]
        finish = "stop"
        if self._calls_tool(body):
            deltas, finish = self._tool_deltas(), "tool_calls"
        if self.reasoning:
            thoughts = self.reasoning.split(" ")
            deltas[1:1] = [
                {self.reasoning_field: t if i == 0 else " " + t} for i, t in enumerate(thoughts)
            ]
        for i, delta in enumerate(deltas):
            if self.fail_after_chunks is not None and i >= self.fail_after_chunks:
                raise MidStreamFailure("the fake upstream died")
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if self.chunk_delay_s:
                await asyncio.sleep(self.chunk_delay_s)
            if gone.done():
                self.disconnects += 1
                return
        yield f"data: {json.dumps({**base, 'choices': [{'index': 0, 'delta': {}, 'finish_reason': finish}]})}\n\n".encode()
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = self._usage(9, len(words))
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n".encode()
        yield b"data: [DONE]\n\n"

    def _tool_deltas(self) -> list[dict[str, Any]]:
        """The tool call as OpenAI streams it: id and name first, then the arguments in pieces."""
        assert self.tool_call is not None
        args = json.dumps(self.tool_call["arguments"])
        first = {
            "index": 0,
            "id": "call_1",
            "type": "function",
            "function": {"name": self.tool_call["name"], "arguments": ""},
        }
        pieces = (args[: len(args) // 2], args[len(args) // 2 :])
        return [
            {"role": "assistant", "content": None},
            {"tool_calls": [first]},
            *({"tool_calls": [{"index": 0, "function": {"arguments": p}}]} for p in pieces),
        ]
