"""Ollama's ``/api/chat`` and ``/api/generate`` as any provider kind serves them.

An Ollama-kind provider gets the client's body with only ``model`` replaced
(``keep_alive``, ``options``, ``think``, ``raw`` and the rest survive) and its
answer, whole or NDJSON, comes back untouched. Any other kind gets the same
request in our internal dialect, through its own adapter, and its answer is
written back in Ollama's shapes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects import adapter_for
from router.dialects.base import StreamTranslator, UpstreamRequest, Usage
from router.dialects.chat.chunks import ResponseContext
from router.dialects.ollama.answers import Endpoint, Writer, counts, whole_answer
from router.dialects.ollama.stream import ChatToNdjson, NdjsonPassThrough
from router.dialects.ollama.wire import error_line, server_headers
from router.errors import RequestInvalid
from router.routing.table import ProviderEntry

__all__ = ["OllamaExchange"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


@attrs.frozen
class OllamaExchange:
    """One ``/api/chat`` or ``/api/generate`` request, to any provider kind."""

    endpoint: Endpoint
    #: The client's body, passed through to Ollama-kind providers.
    body: Mapping[str, Any]
    #: The same request in the internal dialect, for every other kind.
    chat: Mapping[str, Any]
    #: The public model name translated answers echo, as Ollama echoes the request's.
    model: str
    stream: bool
    started_ns: int = attrs.field(factory=time.perf_counter_ns)

    def _writer(self) -> Writer:
        return Writer(self.model, self.endpoint, self.started_ns)

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        if entry.kind == "ollama":
            payload = {**self.body, "model": model}
            return UpstreamRequest(
                "POST",
                f"{entry.base_url}/api/{self.endpoint}",
                server_headers(entry),
                _encode(payload),
            )
        if self.body.get("suffix"):
            raise RequestInvalid(
                f"Invalid request: 'suffix' (fill in the middle) is served by Ollama providers "
                f"only, and '{self.model}' was routed to a {entry.kind} provider",
                param="suffix",
            )
        return adapter_for(entry.kind).chat_request(entry, model, self.chat, stream=self.stream)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        if entry.kind == "ollama":
            body = _decode(data)
            field, kind = ("message", dict) if self.endpoint == "chat" else ("response", str)
            if not isinstance(body, dict) or not isinstance(body.get(field), kind):
                raise ValueError(f"the answer has no '{field}'")
            return data, counts(body)
        completion = adapter_for(entry.kind).chat_response(data, ResponseContext(model=model))
        return whole_answer(completion, self._writer())

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        if entry.kind == "ollama":
            return NdjsonPassThrough()
        inner = adapter_for(entry.kind).chat_stream(
            ResponseContext(model=model), include_usage=True
        )
        return ChatToNdjson(inner, self._writer())

    def error_event(self, message: str, code: str) -> bytes:
        return error_line(message)
