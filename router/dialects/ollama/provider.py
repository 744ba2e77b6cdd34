"""Ollama's native API: ``/api/chat`` (NDJSON streaming), ``/api/tags``, ``/api/embed``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.base import UpstreamRequest, UpstreamStreamError
from router.dialects.chat.chunks import ChunkWriter, ResponseContext, completion_body
from router.dialects.chat.content import arguments_object, data_url, image_urls, text_of
from router.dialects.chat.embeddings import embedding_list, text_inputs
from router.dialects.chat.params import refuse_beyond_one_text_choice
from router.dialects.chat.reasoning import effort_for, thinking_of
from router.dialects.framing import NdjsonDecoder
from router.dialects.ollama import models as listing
from router.dialects.ollama.wire import OPTIONS, finish_reason, openai_tool_calls, server_headers
from router.errors import RequestInvalid
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = ["OllamaAdapter"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def _message(message: Mapping[str, Any], index: int) -> dict[str, Any]:
    role = message.get("role")
    out: dict[str, Any] = {
        "role": "system" if role == "developer" else role,
        "content": text_of(message.get("content")),
    }
    images = []
    for url in image_urls(message.get("content")):
        parsed = data_url(url)
        if parsed is None:
            raise RequestInvalid(
                f"messages[{index}]: Ollama providers accept images only as base64 data: URLs",
                param=f"messages[{index}].content",
            )
        images.append(parsed[1])
    if images:
        out["images"] = images
    calls = message.get("tool_calls")
    if isinstance(calls, list) and calls:
        out["tool_calls"] = [
            {
                "function": {
                    "name": c.get("function", {}).get("name"),
                    "arguments": arguments_object(
                        c.get("function", {}).get("arguments"), f"messages[{index}].tool_calls[{j}]"
                    ),
                }
            }
            for j, c in enumerate(calls)
            if isinstance(c, Mapping)
        ]
    if role == "tool" and isinstance(message.get("name"), str):
        out["tool_name"] = message["name"]
    if role == "assistant":
        thinking = thinking_of(message)
        if thinking:  # an earlier turn's thinking, which Ollama takes back as history
            out["thinking"] = thinking
    return out


def _thinking(message: Mapping[str, Any]) -> str:
    """What a thinking model thought (``message.thinking``; empty when it did not think)."""
    thinking = message.get("thinking")
    return thinking if isinstance(thinking, str) else ""


def _think(effort: str) -> bool | str:
    """Ollama's ``think``: off, or a level (gpt-oss reads it; other thinking models think)."""
    if effort == "none":
        return False
    if effort == "minimal":
        return "low"
    return "high" if effort == "xhigh" else effort


def _format(response_format: Any) -> Any:
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = response_format.get("json_schema")
        return schema.get("schema") if isinstance(schema, Mapping) else None
    return None


def _usage(body: Mapping[str, Any]) -> dict[str, int]:
    prompt = int(body.get("prompt_eval_count") or 0)
    completion = int(body.get("eval_count") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@attrs.define
class _Stream:
    writer: ChunkWriter
    lines: NdjsonDecoder = attrs.Factory(NdjsonDecoder)
    tools: int = 0
    done: bool = False

    def _line(self, raw: bytes) -> list[bytes]:
        body = _decode(raw)
        if not isinstance(body, dict):
            raise UpstreamStreamError("Ollama sent a stream line that is not an object")
        if "error" in body:
            raise UpstreamStreamError(f"Ollama reported an error: {body['error']}")
        message = body.get("message") or {}
        out = self.writer.start()
        out += self.writer.reasoning(_thinking(message))
        out += self.writer.content(message.get("content") or "")
        for call in openai_tool_calls(message):
            out += self.writer.tool_call(
                self.tools, call["id"], call["function"]["name"], call["function"]["arguments"]
            )
            self.tools += 1
        if body.get("done"):
            self.done = True
            out += self.writer.finish(
                finish_reason(body.get("done_reason"), self.tools > 0), _usage(body)
            )
        return out

    def feed(self, data: bytes) -> list[bytes]:
        return [chunk for line in self.lines.feed(data) for chunk in self._line(line)]

    def close(self) -> list[bytes]:
        out = [chunk for line in self.lines.close() for chunk in self._line(line)]
        if not self.done:
            raise UpstreamStreamError("Ollama's stream ended before its final message")
        return out


class OllamaAdapter:
    kind = "ollama"
    serves_embeddings = True

    def probe(self, entry: ProviderEntry) -> tuple[str, dict[str, str]]:
        authorization = entry.authorization()
        headers = {"authorization": authorization} if authorization else {}
        return f"{entry.base_url}/api/tags", headers

    def model_list(self, data: bytes) -> list[tuple[str, str]]:
        items = _decode(data)["models"]
        return [(str(m["name"]), str(m["name"])) for m in items]

    def probe_models(self, data: bytes) -> frozenset[str] | None:
        """The models ``/api/tags`` lists (with and without the implicit ``:latest``)."""
        body = _decode(data)
        names: set[str] = set()
        for model in body.get("models") or () if isinstance(body, dict) else ():
            name = model.get("name") or model.get("model") if isinstance(model, dict) else None
            if isinstance(name, str):
                names.add(name)
                names.add(name.removesuffix(":latest"))
        return frozenset(names)

    def discovered(self, data: bytes) -> tuple[DiscoveredModel, ...]:
        return listing.tags(data)

    def detail_request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        return listing.show_request(entry, model)

    def detailed(self, model: DiscoveredModel, data: bytes) -> DiscoveredModel:
        return listing.shown(model, data)

    def chat_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        refuse_beyond_one_text_choice(body, "Ollama")
        messages = body.get("messages") or []
        payload: dict[str, Any] = {
            "model": model,
            "messages": [_message(m, i) for i, m in enumerate(messages) if isinstance(m, Mapping)],
            "stream": stream,
        }
        options = {
            target: body[source]
            for source, target in OPTIONS.items()
            if body.get(source) is not None
        }
        stop = body.get("stop")
        if stop is not None:
            options["stop"] = [stop] if isinstance(stop, str) else stop
        if options:
            payload["options"] = options
        if body.get("tools") and body.get("tool_choice") != "none":  # Ollama has no tool_choice
            payload["tools"] = body["tools"]
        fmt = _format(body.get("response_format"))
        if fmt is not None:
            payload["format"] = fmt
        effort = effort_for(entry, model, body)
        if effort is not None:
            payload["think"] = _think(effort)
        return UpstreamRequest(
            "POST", f"{entry.base_url}/api/chat", server_headers(entry), _encode(payload)
        )

    def chat_response(self, data: bytes, ctx: ResponseContext) -> bytes:
        body = _decode(data)
        message = body["message"]
        calls = openai_tool_calls(message)
        return completion_body(
            ctx,
            content=message.get("content") or ("" if not calls else None),
            tool_calls=calls,
            finish_reason=finish_reason(body.get("done_reason"), bool(calls)),
            usage=_usage(body),
            reasoning=_thinking(message) or None,
        )

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> _Stream:
        return _Stream(ChunkWriter(ctx, include_usage))

    def embeddings_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        payload: dict[str, Any] = {"model": model, "input": text_inputs(body)}
        if body.get("dimensions") is not None:
            payload["dimensions"] = body["dimensions"]
        return UpstreamRequest(
            "POST", f"{entry.base_url}/api/embed", server_headers(entry), _encode(payload)
        )

    def embeddings_response(self, data: bytes, model: str, body: Mapping[str, Any]) -> bytes:
        answer = _decode(data)
        vectors = answer["embeddings"]
        if not isinstance(vectors, list) or not all(isinstance(v, list) for v in vectors):
            raise ValueError("embeddings is not a list of vectors")
        return embedding_list(
            vectors,
            model=model,
            prompt_tokens=int(answer.get("prompt_eval_count") or 0),
            encoding=str(body.get("encoding_format") or "float"),
        )
