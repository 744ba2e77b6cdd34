"""Anthropic's Messages API (``/v1/messages``) and its SSE events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.base import UpstreamRequest, UpstreamStreamError
from router.dialects.chat.chunks import ChunkWriter, ResponseContext, completion_body
from router.dialects.chat.content import (
    arguments_object,
    data_url,
    document_urls,
    image_urls,
    text_of,
)
from router.dialects.framing import SseDecoder
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicAdapter"]

ANTHROPIC_VERSION = "2023-06-01"
#: Anthropic requires max_tokens; used when the client did not set one.
DEFAULT_MAX_TOKENS = 4096

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "pause_turn": "stop",
    "refusal": "content_filter",
}


def _root(entry: ProviderEntry) -> str:
    # Accept both https://api.anthropic.com and https://api.anthropic.com/v1.
    return entry.base_url.removesuffix("/v1")


def _headers(entry: ProviderEntry) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
        "accept-encoding": "identity",
    }
    if entry.api_key:
        headers["x-api-key"] = entry.api_key
    if entry.basic_auth:  # a proxy in front, with credentials in the URL
        headers["authorization"] = entry.basic_auth
    return headers


def _blocks(content: Any) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = text_of(content)
    if text:
        blocks.append({"type": "text", "text": text})
    for url in image_urls(content):
        parsed = data_url(url)
        if parsed is None:
            blocks.append({"type": "image", "source": {"type": "url", "url": url}})
        else:
            blocks.append(
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": parsed[0], "data": parsed[1]},
                }
            )
    for name, url in document_urls(content):
        parsed = data_url(url)
        if parsed is not None:  # normalized on the way in: always a base64 data: URL
            source = {"type": "base64", "media_type": parsed[0], "data": parsed[1]}
            blocks.append({"type": "document", "source": source, "title": name})
    return blocks


def _messages(messages: list[Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """Split out the system prompt and merge turns so roles alternate, as Anthropic requires."""
    system: list[str] = []
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for i, m in enumerate(messages):
        if not isinstance(m, Mapping):
            continue
        role = m.get("role")
        if role in {"system", "developer"}:
            system.append(text_of(m.get("content")))
        elif role == "user":
            add("user", _blocks(m.get("content")))
        elif role == "assistant":
            blocks = _blocks(m.get("content"))
            for j, call in enumerate(m.get("tool_calls") or ()):
                function = call.get("function", {})
                blocks.append(
                    {
                        "type": "tool_use",
                        "id": call.get("id"),
                        "name": function.get("name"),
                        "input": arguments_object(
                            function.get("arguments"), f"messages[{i}].tool_calls[{j}]"
                        ),
                    }
                )
            add("assistant", blocks)
        elif role == "tool":
            add(
                "user",
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": m.get("tool_call_id"),
                        "content": text_of(m.get("content")),
                    }
                ],
            )
    return ("\n\n".join(system) or None), out


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools or ():
        function = tool.get("function", tool) if isinstance(tool, Mapping) else {}
        out.append(
            {
                "name": function.get("name"),
                "description": function.get("description", ""),
                "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
            }
        )
    return out


def _tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping):
        return {"type": "tool", "name": choice["function"].get("name")}
    return None


def _usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    cached = int(usage.get("cache_read_input_tokens") or 0)
    created = int(usage.get("cache_creation_input_tokens") or 0)
    prompt = int(usage.get("input_tokens") or 0) + cached + created
    completion = int(usage.get("output_tokens") or 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
    }


@attrs.define
class _Stream:
    writer: ChunkWriter
    events: SseDecoder = attrs.Factory(SseDecoder)
    usage: dict[str, Any] = attrs.Factory(dict)
    tool_index: dict[int, int] = attrs.Factory(dict)  # content block index -> tool call index
    finish: str = "stop"
    done: bool = False

    def _event(self, name: str | None, data: str) -> list[bytes]:
        body = _decode(data) if data else {}
        kind = body.get("type", name)
        if kind == "message_start":
            self.usage.update(body.get("message", {}).get("usage") or {})
            return self.writer.start()
        if kind == "content_block_start":
            block = body.get("content_block") or {}
            if block.get("type") == "tool_use":
                index = self.tool_index[body["index"]] = len(self.tool_index)
                return self.writer.tool_call(index, block.get("id"), block.get("name"), "")
            return self.writer.content(block.get("text") or "")
        if kind == "content_block_delta":
            delta = body.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self.writer.content(delta.get("text") or "")
            if delta.get("type") == "input_json_delta":
                index = self.tool_index[body["index"]]
                return self.writer.tool_call(index, None, None, delta.get("partial_json") or "")
            return []
        if kind == "message_delta":
            self.usage.update(body.get("usage") or {})
            reason = (body.get("delta") or {}).get("stop_reason")
            self.finish = _STOP.get(str(reason), "stop")
            return []
        if kind == "message_stop":
            self.done = True
            return self.writer.finish(self.finish, _usage(self.usage))
        if kind == "error":
            error = body.get("error") or {}
            raise UpstreamStreamError(
                f"Anthropic reported an error: {error.get('message', 'unknown')}"
            )
        return []  # ping, content_block_stop and future event types

    def feed(self, data: bytes) -> list[bytes]:
        return [c for e in self.events.feed(data) for c in self._event(e.event, e.data)]

    def close(self) -> list[bytes]:
        out = [c for e in self.events.close() for c in self._event(e.event, e.data)]
        if not self.done:
            raise UpstreamStreamError("Anthropic's stream ended before message_stop")
        return out


class AnthropicAdapter:
    kind = "anthropic"
    serves_embeddings = False  # Anthropic has no embeddings API; compile rejects the flag

    def probe(self, entry: ProviderEntry) -> tuple[str, dict[str, str]]:
        headers = _headers(entry)
        del headers["content-type"]
        # The list is paged (20 a page by default); 1000 is the most one page holds.
        return f"{_root(entry)}/v1/models?limit=1000", headers

    def model_list(self, data: bytes) -> list[tuple[str, str]]:
        items = _decode(data)["data"]
        return [(str(m["id"]), str(m.get("display_name") or m["id"])) for m in items]

    def probe_models(self, data: bytes) -> frozenset[str] | None:
        # Not authoritative: aliases such as claude-sonnet-4-5 work but only dated ids are listed.
        return None

    def discovered(self, data: bytes) -> tuple[DiscoveredModel, ...]:
        """The ids ``/v1/models`` lists; it says nothing of capabilities or context."""
        items = _decode(data).get("data")
        if not isinstance(items, list):
            raise ValueError("no 'data' list")
        names = {m["id"] for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)}
        return tuple(DiscoveredModel(name) for name in sorted(names) if name)

    def detail_request(self, entry: ProviderEntry, model: str) -> None:
        return None

    def detailed(self, model: DiscoveredModel, data: bytes) -> DiscoveredModel:
        return model

    def chat_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        system, messages = _messages(list(body.get("messages") or ()))
        max_tokens = (
            body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
        )
        payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
        if system:
            payload["system"] = system
        for key in ("temperature", "top_p"):
            if body.get(key) is not None:
                payload[key] = body[key]
        stop = body.get("stop")
        if stop:
            payload["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if body.get("tools"):
            payload["tools"] = _tools(body["tools"])
            choice = _tool_choice(body.get("tool_choice"))
            if choice is not None:
                payload["tool_choice"] = choice
        if stream:
            payload["stream"] = True
        return UpstreamRequest(
            "POST", f"{_root(entry)}/v1/messages", _headers(entry), _encode(payload)
        )

    def chat_response(self, data: bytes, ctx: ResponseContext) -> bytes:
        body = _decode(data)
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in body["content"]:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append(
                    {
                        "id": block.get("id"),
                        "type": "function",
                        "function": {
                            "name": block.get("name"),
                            "arguments": json.dumps(block.get("input", {})),
                        },
                    }
                )
        return completion_body(
            ctx,
            content="".join(texts) if texts or not calls else None,
            tool_calls=calls,
            finish_reason=_STOP.get(body.get("stop_reason"), "stop"),
            usage=_usage(body.get("usage") or {}),
        )

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> _Stream:
        return _Stream(ChunkWriter(ctx, include_usage))

    def embeddings_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        raise NotImplementedError("Anthropic has no embeddings API")  # unreachable: see compile

    def embeddings_response(self, data: bytes, model: str, body: Mapping[str, Any]) -> bytes:
        raise NotImplementedError("Anthropic has no embeddings API")
