"""The OpenAI APIs' exchanges (chat, embeddings, images) with any provider kind."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects import adapter_for
from router.dialects.base import ImageAdapter, StreamTranslator, UpstreamRequest, Usage
from router.dialects.chat.answers import Completion, Embeddings
from router.dialects.chat.chunks import ResponseContext
from router.dialects.chat.usage import UsageTap, asking_for_usage, estimate_chat_usage
from router.routing.table import ProviderEntry

__all__ = ["ChatExchange", "EmbeddingsExchange", "ImagesExchange", "sse_error"]

_encode = msgspec.json.Encoder().encode


def sse_error(message: str, code: str) -> bytes:
    """A terminal SSE event the openai SDKs raise as an APIError."""
    error = {"message": message, "type": "upstream_error", "code": code, "param": None}
    return b"data: " + _encode({"error": error}) + b"\n\n"


def _priced(entry: ProviderEntry, model: str) -> bool:
    spec = entry.models.get(model)
    return spec is not None and spec.price is not None


def _usage(shape: Completion | Embeddings) -> Usage | None:
    usage = shape.usage
    if usage is None:
        return None
    details = usage.prompt_tokens_details
    cached = None if details is None else details.cached_tokens
    return Usage(usage.prompt_tokens, usage.completion_tokens, cached)


@attrs.frozen
class ChatExchange:
    """A Chat Completions body (our internal dialect), to any provider kind."""

    body: Mapping[str, Any]
    stream: bool = False
    include_usage: bool = False

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        body = self.body
        if self.stream and not self.include_usage and _priced(entry, model):
            body = asking_for_usage(body)  # to price the stream; UsageTap drops the extra chunk
        return adapter_for(entry.kind).chat_request(entry, model, body, stream=self.stream)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        body = adapter_for(entry.kind).chat_response(data, ResponseContext(model=model))
        return body, _usage(msgspec.json.decode(body, type=Completion))

    def estimate(self, answer: bytes) -> Usage:
        """The usage of a whole answer whose provider reported none, estimated."""
        return estimate_chat_usage(self.body, answer)

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        adapter = adapter_for(entry.kind)
        spec = entry.models.get(model)
        if spec is None or spec.price is None:  # free: its cost is 0 whatever its usage
            return adapter.chat_stream(
                ResponseContext(model=model), include_usage=self.include_usage
            )
        inner = adapter.chat_stream(ResponseContext(model=model), include_usage=True)
        return UsageTap(inner, self.include_usage, spec.price)

    def error_event(self, message: str, code: str) -> bytes:
        return sse_error(message, code)


@attrs.frozen
class EmbeddingsExchange:
    body: Mapping[str, Any]
    stream: bool = False

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        return adapter_for(entry.kind).embeddings_request(entry, model, self.body)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        body = adapter_for(entry.kind).embeddings_response(data, model, self.body)
        return body, _usage(msgspec.json.decode(body, type=Embeddings))

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        raise NotImplementedError("embeddings do not stream")

    def error_event(self, message: str, code: str) -> bytes:
        return sse_error(message, code)


@attrs.frozen
class ImagesExchange:
    body: Mapping[str, Any]
    stream: bool = False

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        adapter = adapter_for(entry.kind)
        assert isinstance(adapter, ImageAdapter), "compile allows images on openai only"
        return adapter.images_request(entry, model, self.body)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        if not isinstance(msgspec.json.decode(data), dict):
            raise ValueError("the answer is not a JSON object")
        return data, None

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        raise NotImplementedError("image generation does not stream here")

    def error_event(self, message: str, code: str) -> bytes:
        return sse_error(message, code)
