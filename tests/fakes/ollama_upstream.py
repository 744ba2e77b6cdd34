"""A fake Ollama server: /api/tags, /api/chat and /api/generate (JSON and NDJSON), /api/embed."""

from __future__ import annotations

import asyncio
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
    #: Stream lines are cut in pieces this many bytes long, each its own write (0: whole lines).
    split_bytes: int = 0
    #: A pause after each piece of a stream.
    chunk_delay_s: float = 0.0
    #: The stream stops (connection dropped) after this many lines.
    fail_after_lines: int | None = None
    requests: list[dict[str, Any]] = attrs.Factory(list)
    #: What /api/show says of each model (its ``capabilities``); a model not named here
    #: gets ``["completion"]``.
    capabilities: dict[str, tuple[str, ...]] = attrs.Factory(dict)
    #: ``<architecture>.context_length`` in /api/show's ``model_info``, per model.
    context_length: dict[str, int] = attrs.Factory(dict)
    shows: list[str] = attrs.Factory(list)  # the model of every /api/show request
    paths: list[str] = attrs.Factory(list)
    #: Streams whose client went away before their end.
    disconnects: int = 0

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path == "/api/tags":
            await send_json(
                send, 200, {"models": [{"name": m, "model": m, "size": 1} for m in self.models]}
            )
            return
        if path == "/api/show" and scope["method"] == "POST":
            name = json.loads(await read_body(receive))["model"]
            self.shows.append(name)
            if name not in self.models:
                await send_json(send, 404, {"error": f"model '{name}' not found"})
                return
            info: dict[str, Any] = {"general.architecture": "llama"}
            if name in self.context_length:
                info["llama.context_length"] = self.context_length[name]
            await send_json(
                send,
                200,
                {
                    "modelfile": "FROM x",
                    "parameters": "stop <|eot|>",
                    "template": "{{ .Prompt }}",
                    "details": {"format": "gguf", "family": "llama"},
                    "model_info": info,
                    "capabilities": list(self.capabilities.get(name, ("completion",))),
                },
            )
            return
        if path in ("/api/chat", "/api/generate") and scope["method"] == "POST":
            body = json.loads(await read_body(receive))
            self.requests.append(body)
            self.paths.append(path)
            name = body["model"]
            if name not in self.models and f"{name}:latest" not in self.models:
                await send_json(
                    send, 404, {"error": f"model '{name}' not found, try pulling it first"}
                )
                return
            chat = path == "/api/chat"
            call = chat and self._calls_tool(body)
            if body.get("stream", True):
                gone = asyncio.ensure_future(receive())  # completes with http.disconnect
                try:
                    lines = self._lines(name, call, chat=chat)
                    await send_stream(send, "application/x-ndjson", self._paced(lines, gone))
                finally:
                    gone.cancel()
            else:
                await send_json(send, 200, self._final(name, self.reply, call, chat=chat))
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

    def _final(
        self, model: str, content: str, call_tool: bool = True, *, chat: bool = True
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.tool_call and call_tool:
            message["tool_calls"] = [{"function": self.tool_call}]
        if self.thinking and content:
            message["thinking"] = self.thinking
        text: dict[str, Any] = {"message": message} if chat else {"response": content}
        return {
            "model": model,
            "created_at": "2026-11-23T00:00:00Z",
            **text,
            "done": True,
            "done_reason": self.done_reason,
            "prompt_eval_count": 11,
            "eval_count": 5,
        }

    async def _lines(
        self, model: str, call_tool: bool = True, *, chat: bool = True
    ) -> AsyncIterator[bytes]:
        for word in (self.thinking or "").split(" ") if self.thinking and chat else ():
            line = {
                "model": model,
                "created_at": "2026-11-23T00:00:00Z",
                "message": {"role": "assistant", "content": "", "thinking": word + " "},
                "done": False,
            }
            yield (json.dumps(line) + "\n").encode()
        for word in self.reply.split(" "):
            text: dict[str, Any] = (
                {"message": {"role": "assistant", "content": word + " "}}
                if chat
                else {"response": word + " "}
            )
            line = {"model": model, "created_at": "2026-11-23T00:00:00Z", **text, "done": False}
            yield (json.dumps(line) + "\n").encode()
        yield (json.dumps(self._final(model, "", call_tool, chat=chat)) + "\n").encode()

    async def _paced(
        self, lines: AsyncIterator[bytes], gone: asyncio.Future[Any]
    ) -> AsyncIterator[bytes]:
        """The lines as the network may deliver them: in pieces, slowly, or cut short."""
        count = 0
        async for line in lines:
            if self.fail_after_lines is not None and count >= self.fail_after_lines:
                raise ConnectionResetError("the fake Ollama died")
            count += 1
            step = self.split_bytes or len(line)
            for start in range(0, len(line), step):
                if gone.done():
                    self.disconnects += 1
                    return
                yield line[start : start + step]
                if self.chunk_delay_s:
                    await asyncio.sleep(self.chunk_delay_s)
