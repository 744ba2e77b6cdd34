"""Anthropic's Messages API (``/v1/messages``) and its SSE events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.anthropic.caching import cache_mark, keep_last_breakpoints
from router.dialects.anthropic.structured import ANSWER_TOOL, answer_tool, answer_tool_choice
from router.dialects.base import UpstreamRequest, UpstreamStreamError
from router.dialects.chat.chunks import ChunkWriter, ResponseContext, completion_body
from router.dialects.chat.content import (
    arguments_object,
    data_url,
    document_urls,
    image_urls,
    text_of,
)
from router.dialects.chat.params import refuse_beyond_one_text_choice
from router.dialects.chat.reasoning import THINKING_BLOCKS, effort_for, signed_blocks
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


def _mark(blocks: list[dict[str, Any]], message: Mapping[str, Any], where: str) -> None:
    """Put a message's cache breakpoint on its last block (its prefix ends there)."""
    mark = cache_mark(message, where)
    if mark is not None and blocks:
        blocks[-1]["cache_control"] = mark


def _messages(
    messages: list[Any], *, cache_system: bool = False
) -> tuple[str | list[dict[str, Any]] | None, list[dict[str, Any]]]:
    """Split out the system prompt and merge turns so roles alternate, as Anthropic requires.

    The system prompt is one string, or text blocks when part of it is marked for the cache.
    """
    system: list[dict[str, Any]] = []
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
            text = text_of(m.get("content"))
            if text:
                system.append({"type": "text", "text": text})
                _mark(system, m, f"messages[{i}]")
        elif role == "user":
            blocks = _blocks(m.get("content"))
            _mark(blocks, m, f"messages[{i}]")
            add("user", blocks)
        elif role == "assistant":
            # Signed thinking comes first, as Anthropic sent it (LiteLLM's thinking_blocks).
            blocks = [*signed_blocks(m.get(THINKING_BLOCKS)), *_blocks(m.get("content"))]
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
            _mark(blocks, m, f"messages[{i}]")
            add("assistant", blocks)
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": m.get("tool_call_id"),
                "content": text_of(m.get("content")),
            }
            _mark([result], m, f"messages[{i}]")
            add("user", [result])
    if cache_system and system:
        system[-1].setdefault("cache_control", {"type": "ephemeral"})
    if not system:
        return None, out
    if any("cache_control" in block for block in system):
        return system, out
    return "\n\n".join(block["text"] for block in system), out


#: Extended thinking's token budget for each reasoning effort (Anthropic's least is 1024).
BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 16384, "xhigh": 32000}
_LEAST_BUDGET = 1024


def _unsigned_tool_turn(messages: list[dict[str, Any]]) -> bool:
    """The last assistant turn called a tool without a signed thinking block before it.

    With thinking on, Anthropic refuses such a history (the block must come back as it
    was sent); a Chat client's history never has one, so that turn is answered without.
    """
    for message in reversed(messages):
        if message["role"] == "assistant":
            kinds = [block.get("type") for block in message["content"]]
            return "tool_use" in kinds and not {"thinking", "redacted_thinking"} & set(kinds)
    return False


def _thinking(
    effort: str | None, asked: int | None, messages: list[dict[str, Any]]
) -> tuple[dict[str, Any] | None, int]:
    """The ``thinking`` parameter for an effort (None: think not) and the max_tokens to send.

    A forced tool call (the caller passes no effort then) cannot be combined with it.
    The budget counts against max_tokens as OpenAI's reasoning tokens count against
    max_completion_tokens: a client's limit holds, and one too small to think in turns
    thinking off. Without a limit the answer keeps its default room after the budget.
    """
    if effort is None or effort == "none":
        return None, asked or DEFAULT_MAX_TOKENS
    if _unsigned_tool_turn(messages):
        return None, asked or DEFAULT_MAX_TOKENS
    budget = BUDGETS.get(effort, BUDGETS["high"])
    if asked is None:
        return {"type": "enabled", "budget_tokens": budget}, budget + DEFAULT_MAX_TOKENS
    budget = min(budget, asked - 1)
    if budget < _LEAST_BUDGET:
        return None, asked
    return {"type": "enabled", "budget_tokens": budget}, asked


def _tools(tools: Any, *, cache: bool = False) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools or ()):
        function = tool.get("function", tool) if isinstance(tool, Mapping) else {}
        converted = {
            "name": function.get("name"),
            "description": function.get("description", ""),
            "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
        }
        mark = cache_mark(tool, f"tools[{i}]") if isinstance(tool, Mapping) else None
        if mark is not None:
            converted["cache_control"] = mark
        out.append(converted)
    if cache and out:
        out[-1].setdefault("cache_control", {"type": "ephemeral"})
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
        # Read from and written to Anthropic's prompt cache, in OpenAI's fields.
        "prompt_tokens_details": {"cached_tokens": cached, "cache_write_tokens": created},
    }


@attrs.define
class _Stream:
    writer: ChunkWriter
    events: SseDecoder = attrs.Factory(SseDecoder)
    usage: dict[str, Any] = attrs.Factory(dict)
    tool_index: dict[int, int] = attrs.Factory(dict)  # content block index -> tool call index
    #: The content block of the structured answer's tool call, streamed as content.
    answer_block: int | None = None
    #: Thinking blocks being streamed: content block index -> [the block, its text so far].
    thinking: dict[int, list[Any]] = attrs.Factory(dict)
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
            if block.get("type") == "tool_use" and block.get("name") == ANSWER_TOOL:
                self.answer_block = body["index"]
                return self.writer.start()
            if block.get("type") == "tool_use":
                index = self.tool_index[body["index"]] = len(self.tool_index)
                return self.writer.tool_call(index, block.get("id"), block.get("name"), "")
            if block.get("type") == "redacted_thinking":
                return self.writer.start() + self.writer.thinking_blocks(signed_blocks([block]))
            if block.get("type") == "thinking":
                self.thinking[body["index"]] = [dict(block), str(block.get("thinking") or "")]
                return self.writer.start() + self.writer.reasoning(block.get("thinking") or "")
            return self.writer.content(block.get("text") or "")
        if kind == "content_block_delta":
            delta = body.get("delta") or {}
            if delta.get("type") == "text_delta":
                return self.writer.content(delta.get("text") or "")
            if delta.get("type") == "thinking_delta":
                text = str(delta.get("thinking") or "")
                if body["index"] in self.thinking:
                    self.thinking[body["index"]][1] += text
                return self.writer.reasoning(text)
            if delta.get("type") == "signature_delta" and body["index"] in self.thinking:
                self.thinking[body["index"]][0]["signature"] = delta.get("signature")
                return []
            if delta.get("type") == "input_json_delta" and body["index"] == self.answer_block:
                return self.writer.content(delta.get("partial_json") or "")
            if delta.get("type") == "input_json_delta":
                index = self.tool_index[body["index"]]
                return self.writer.tool_call(index, None, None, delta.get("partial_json") or "")
            return []
        if kind == "message_delta":
            self.usage.update(body.get("usage") or {})
            reason = (body.get("delta") or {}).get("stop_reason")
            self.finish = _STOP.get(str(reason), "stop")
            if self.finish == "tool_calls" and not self.tool_index:
                self.finish = "stop"  # the only call was the structured answer
            return []
        if kind == "message_stop":
            self.done = True
            return self.writer.finish(self.finish, _usage(self.usage))
        if kind == "error":
            error = body.get("error") or {}
            raise UpstreamStreamError(
                f"Anthropic reported an error: {error.get('message', 'unknown')}"
            )
        if kind == "content_block_stop" and body.get("index") in self.thinking:
            block, text = self.thinking.pop(body["index"])
            signed = signed_blocks([{**block, "thinking": text}])
            return self.writer.thinking_blocks(signed) if signed else []
        return []  # ping and future event types

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
        refuse_beyond_one_text_choice(body, "Anthropic")
        auto = entry.prompt_cache == "auto"
        system, messages = _messages(list(body.get("messages") or ()), cache_system=auto)
        tools = _tools(body["tools"], cache=auto) if body.get("tools") else []
        choice = _tool_choice(body.get("tool_choice")) if tools else None
        answer = answer_tool(body.get("response_format"))
        if answer is not None:
            choice = answer_tool_choice(choice, client_tools=bool(tools))
            tools.append(answer)
        forced = choice is not None and choice["type"] in {"any", "tool"}
        asked = body.get("max_completion_tokens") or body.get("max_tokens")
        effort = effort_for(entry, model, body)
        thinking, max_tokens = _thinking(None if forced else effort, asked, messages)
        payload: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": messages}
        if system:
            payload["system"] = system
        if thinking is not None:
            # Thinking takes no sampling changes (Anthropic answers 400 to them).
            payload["thinking"] = thinking
        else:
            for key in ("temperature", "top_p"):
                if body.get(key) is not None:
                    payload[key] = body[key]
        stop = body.get("stop")
        if stop:
            payload["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if tools:
            payload["tools"] = tools
            if body.get("parallel_tool_calls") is False:
                choice = {**(choice or {"type": "auto"})}
                if choice["type"] != "none":
                    choice["disable_parallel_tool_use"] = True
        if choice is not None:
            payload["tool_choice"] = choice
        if isinstance(body.get("user"), str) and body["user"]:
            payload["metadata"] = {"user_id": body["user"]}
        keep_last_breakpoints(payload)
        if stream:
            payload["stream"] = True
        return UpstreamRequest(
            "POST", f"{_root(entry)}/v1/messages", _headers(entry), _encode(payload)
        )

    def chat_response(self, data: bytes, ctx: ResponseContext) -> bytes:
        body = _decode(data)
        texts: list[str] = []
        thoughts: list[str] = []
        signed: list[dict[str, str]] = []
        calls: list[dict[str, Any]] = []
        answer: str | None = None
        for block in body["content"]:
            if block.get("type") == "tool_use" and block.get("name") == ANSWER_TOOL:
                answer = json.dumps(block.get("input", {}))
            elif block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") in {"thinking", "redacted_thinking"}:
                # Redacted thinking is opaque: never shown, only kept to be sent back.
                signed += signed_blocks([block])
                if block.get("type") == "thinking":
                    thoughts.append(str(block.get("thinking") or ""))
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
        finish = _STOP.get(body.get("stop_reason"), "stop")
        if answer is not None:
            texts = [answer]  # the structured answer is the content, any preamble aside
            finish = "stop" if finish == "tool_calls" and not calls else finish
        return completion_body(
            ctx,
            content="".join(texts) if texts or not calls else None,
            tool_calls=calls,
            finish_reason=finish,
            usage=_usage(body.get("usage") or {}),
            reasoning="".join(thoughts) or None,
            thinking_blocks=signed,
        )

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> _Stream:
        return _Stream(ChunkWriter(ctx, include_usage))

    def embeddings_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        raise NotImplementedError("Anthropic has no embeddings API")  # unreachable: see compile

    def embeddings_response(self, data: bytes, model: str, body: Mapping[str, Any]) -> bytes:
        raise NotImplementedError("Anthropic has no embeddings API")
