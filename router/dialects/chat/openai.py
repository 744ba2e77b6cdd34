"""OpenAI-compatible providers (OpenAI, vLLM, llama.cpp, LM Studio): Chat Completions as is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from router.dialects.base import UpstreamRequest
from router.dialects.chat.chunks import ResponseContext
from router.dialects.chat.models import listed_models
from router.dialects.framing import SsePassThrough
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = ["OpenAIAdapter"]

_encode = msgspec.json.Encoder().encode


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
        return data  # already the client's format; the dispatcher still checks it is JSON

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> SsePassThrough:
        return SsePassThrough()  # already the client's format: relayed, after a validity check

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
