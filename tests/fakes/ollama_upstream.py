"""A fake Ollama server: /api/tags, /api/chat (JSON and NDJSON stream)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import attrs

from tests.fakes.asgi import Receive, Send, read_body, send_json, send_stream
from tests.fakes.openai_upstream import vector


@attrs.define
class FakeOllama:
    reply: str = "Hello from Ollama"
    models: tuple[str, ...] = ("llama3:latest",)
    tool_call: dict[str, Any] | None = None
    #: With `tool_call`: a request whose last message is a tool result gets `reply` instead.
    answer_tool_results: bool = False
    done_reason: str = "stop"
    #: A thinking model's thoughts (``message.thinking``), streamed before the answer.
    thinking: str | None = None
    requests: list[dict[str, Any]] = attrs.Factory(list)

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/api/tags":
            await send_json(
                send, 200, {"models": [{"name": m, "model": m, "size": 1} for m in self.models]}
            )
            return
        if path == "/api/chat" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            name = body["model"]
            if name not in self.models and f"{name}:latest" not in self.models:
                await send_json(
                    send, 404, {"error": f"model '{name}' not found, try pulling it first"}
                )
                return
            call = self._calls_tool(body)
            if body.get("stream", True):
                await send_stream(send, "application/x-ndjson", self._lines(name, call))
            else:
                await send_json(send, 200, self._final(name, self.reply, call))
            return
        if path == "/api/embed" and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            await send_json(
                send,
                200,
                {
                    "model": body["model"],
                    "prompt_eval_count": 2 * len(texts),
                    "embeddings": [vector(t) for t in texts],
                },
            )
            return
        await send_json(send, 404, {"error": "not found"})

    def _calls_tool(self, body: dict[str, Any]) -> bool:
        if not self.tool_call:
            return False
        messages = body.get("messages") or [{}]
        return not (self.answer_tool_results and messages[-1].get("role") == "tool")

    def _final(self, model: str, content: str, call_tool: bool = True) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.tool_call and call_tool:
            message["tool_calls"] = [{"function": self.tool_call}]
        if self.thinking and content:
            message["thinking"] = self.thinking
        return {
            "model": model,
            "created_at": "2026-11-23T00:00:00Z",
            "message": message,
            "done": True,
            "done_reason": self.done_reason,
            "prompt_eval_count": 11,
            "eval_count": 5,
        }

    async def _lines(self, model: str, call_tool: bool = True) -> AsyncIterator[bytes]:
        for word in (self.thinking or "").split(" ") if self.thinking else ():
            line = {
                "model": model,
                "created_at": "2026-11-23T00:00:00Z",
                "message": {"role": "assistant", "content": "", "thinking": word + " "},
                "done": False,
            }
            yield (json.dumps(line) + "\n").encode()
        for word in self.reply.split(" "):
            line = {
                "model": model,
                "created_at": "2026-11-23T00:00:00Z",
                "message": {"role": "assistant", "content": word + " "},
                "done": False,
            }
            yield (json.dumps(line) + "\n").encode()
        yield (json.dumps(self._final(model, "", call_tool)) + "\n").encode()
