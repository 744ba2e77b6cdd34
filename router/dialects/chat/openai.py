"""OpenAI-compatible providers (OpenAI, vLLM, llama.cpp, LM Studio): Chat Completions as is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.base import UpstreamRequest
from router.dialects.chat.chunks import ResponseContext
from router.dialects.chat.models import listed_models
from router.dialects.chat.params import refuse_audio
from router.dialects.chat.reasoning import CARRIES_THINKING, THINKING_BLOCKS, thinks
from router.dialects.framing import SsePassThrough
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = ["OpenAIAdapter", "ReasoningStream", "with_reasoning_content"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

#: Only a body with this key needs a look (escaped inside a string, the quote is ``\"``).
_REASONING_KEY = b'"reasoning":'


def _rename(holder: Any) -> bool:
    """Give a message or delta that has only ``reasoning`` its ``reasoning_content`` too."""
    if (
        isinstance(holder, dict)
        and isinstance(holder.get("reasoning"), str)
        and "reasoning_content" not in holder
    ):
        holder["reasoning_content"] = holder["reasoning"]
        return True
    return False


def with_reasoning_content(data: bytes, field: str = "message") -> bytes:
    """A chat answer (or chunk) whose thinking is under ``reasoning`` (newer vLLM, Ollama's
    OpenAI endpoint, OpenRouter) with it under ``reasoning_content`` as well, the field
    most clients read. Anything else is returned as it came, without decoding it."""
    if _REASONING_KEY not in data:
        return data
    body = _decode(data)
    changed = False
    for choice in body.get("choices") or () if isinstance(body, dict) else ():
        if isinstance(choice, dict):
            changed = _rename(choice.get(field)) or changed
    return _encode(body) if changed else data


@attrs.define
class ReasoningStream(SsePassThrough):
    """`SsePassThrough`, with `with_reasoning_content` applied to the (rare) events that need it."""

    def feed(self, data: bytes) -> list[bytes]:
        out = SsePassThrough.feed(self, data)  # at most one piece: whole events
        if out and _REASONING_KEY in out[0]:
            out[0] = _events(out[0])
        return out

    def close(self) -> list[bytes]:
        out = SsePassThrough.close(self)
        if out and _REASONING_KEY in out[0]:
            out[0] = _events(out[0])
        return out


def _events(piece: bytes) -> bytes:
    lines = piece.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"data:") and _REASONING_KEY in line:
            lines[i] = b"data: " + with_reasoning_content(line[5:].strip(), "delta")
    return b"\n".join(lines)


def _unsigned(message: Any) -> Any:
    """A message without the signed thinking only Anthropic takes back."""
    if isinstance(message, dict) and THINKING_BLOCKS in message:
        return {k: v for k, v in message.items() if k != THINKING_BLOCKS}
    return message


def _headers(entry: ProviderEntry) -> dict[str, str]:
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    authorization = entry.authorization()
    if authorization:
        headers["authorization"] = authorization
    return headers


class OpenAIAdapter:
    kind = "openai"
    serves_embeddings = True
    serves_images = True

    def probe(self, entry: ProviderEntry) -> tuple[str, dict[str, str]]:
        authorization = entry.authorization()
        headers = {"authorization": authorization} if authorization else {}
        return f"{entry.base_url}/models", headers

    def chat_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        payload = dict(body)
        payload["model"] = model
        if "modalities" in payload or "audio" in payload:
            refuse_audio(payload)
        if payload.pop(CARRIES_THINKING, None):
            payload["messages"] = [_unsigned(m) for m in payload.get("messages") or ()]
        if "reasoning_effort" in payload and not thinks(entry, model):
            del payload["reasoning_effort"]  # a model that cannot think answers it with a 400
        return UpstreamRequest(
            "POST", f"{entry.base_url}/chat/completions", _headers(entry), _encode(payload)
        )

    def model_list(self, data: bytes) -> list[tuple[str, str]]:
        items = msgspec.json.decode(data)["data"]
        return [(str(m["id"]), str(m["id"])) for m in items]

    def probe_models(self, data: bytes) -> frozenset[str] | None:
        # Not authoritative: llama.cpp lists a file name yet serves any model name.
        return None

    def discovered(self, data: bytes) -> tuple[DiscoveredModel, ...]:
        return listed_models(data)

    def detail_request(self, entry: ProviderEntry, model: str) -> None:
        return None  # the list says all there is

    def detailed(self, model: DiscoveredModel, data: bytes) -> DiscoveredModel:
        return model

    def chat_response(self, data: bytes, ctx: ResponseContext) -> bytes:
        # Already the client's format (the dispatcher still checks it is JSON).
        return data if _REASONING_KEY not in data else with_reasoning_content(data)

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> ReasoningStream:
        return ReasoningStream()  # the client's format: relayed, after a validity check

    def embeddings_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        payload = {**body, "model": model}
        return UpstreamRequest(
            "POST", f"{entry.base_url}/embeddings", _headers(entry), _encode(payload)
        )

    def embeddings_response(self, data: bytes, model: str, body: Mapping[str, Any]) -> bytes:
        return data

    def images_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        payload = {**body, "model": model}
        return UpstreamRequest(
            "POST", f"{entry.base_url}/images/generations", _headers(entry), _encode(payload)
        )
