"""A Messages API request from a client, to any provider kind.

To an Anthropic-kind provider the client's body goes as it came, with only
``model`` replaced (``cache_control``, ``thinking`` and its signatures, betas all
survive), and the answer comes back untranslated. To any other kind it goes as
the Chat Completions body `chat_body` makes, and the answer is translated back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects import adapter_for
from router.dialects.anthropic.events import MessagesStream, Translated
from router.dialects.anthropic.messages import chat_body
from router.dialects.anthropic.provider import ANTHROPIC_VERSION, _headers, _root
from router.dialects.anthropic.reply import error_event, message_body, message_id
from router.dialects.base import StreamTranslator, UpstreamRequest, UpstreamStreamError, Usage
from router.dialects.chat.answers import Completion
from router.dialects.chat.chunks import ResponseContext
from router.dialects.framing import SsePassThrough
from router.routing.table import ProviderEntry

__all__ = ["CLIENT_HEADERS", "CountTokensExchange", "MessagesExchange", "client_headers"]

_encode = msgspec.json.Encoder().encode

#: The client's headers an Anthropic-kind provider is given as they came.
CLIENT_HEADERS = ("anthropic-version", "anthropic-beta")


def client_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in CLIENT_HEADERS if name in headers}


def _passthrough(
    entry: ProviderEntry, path: str, body: Mapping[str, Any], model: str, given: Mapping[str, str]
) -> UpstreamRequest:
    headers = _headers(entry)
    headers["anthropic-version"] = given.get("anthropic-version") or ANTHROPIC_VERSION
    if "anthropic-beta" in given:
        headers["anthropic-beta"] = given["anthropic-beta"]
    payload = {**body, "model": model}
    return UpstreamRequest("POST", f"{_root(entry)}{path}", headers, _encode(payload))


class _Usage(msgspec.Struct):
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    cache_creation_input_tokens: int | None = None


class _Message(msgspec.Struct):
    """The fields of an Anthropic message the router reads (the rest passes untouched)."""

    content: list[dict[str, Any]]
    usage: _Usage | None = None


def _last_event(events: bytes) -> bool:
    """Whether `events` hold a stream's last event: message_stop, or an error.

    Matched as an ``event:`` line (a JSON string cannot hold a raw newline, so a text
    delta that mentions them cannot match).
    """
    for name in (b"event: message_stop", b"event: error"):
        if events.startswith(name) or b"\n" + name in events:
            return True
    return False


@attrs.define
class _Relay:
    """Relay an Anthropic event stream unchanged, checking it is one and that it ends."""

    events: SsePassThrough = attrs.Factory(SsePassThrough)
    ended: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        out = self.events.feed(data)
        if not self.ended:
            self.ended = any(_last_event(piece) for piece in out)
        return out

    def close(self) -> list[bytes]:
        out = self.events.close()
        self.ended = self.ended or any(_last_event(piece) for piece in out)
        if not self.ended:
            raise UpstreamStreamError("Anthropic's stream ended before message_stop")
        return out


@attrs.define
class MessagesExchange:
    """A Messages API body (already checked), to any provider kind."""

    body: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.Factory(dict)  # the client's anthropic-* headers
    stream: bool = False
    _chat: dict[str, Any] | None = None
    _id: str | None = None

    @property
    def message_id(self) -> str:
        if self._id is None:
            self._id = message_id()
        return self._id

    def chat(self) -> dict[str, Any]:
        """The Chat Completions body, translated once for however many candidates need it."""
        if self._chat is None:
            self._chat = chat_body(self.body, stream=self.stream)
        return self._chat

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        if entry.kind == "anthropic":
            return _passthrough(entry, "/v1/messages", self.body, model, self.headers)
        body = self.chat()
        spec = entry.models.get(model)
        if "reasoning_effort" in body and not (spec is not None and spec.reasoning):
            # A model not declared to reason may refuse the field outright.
            body = {k: v for k, v in body.items() if k != "reasoning_effort"}
        return adapter_for(entry.kind).chat_request(entry, model, body, stream=self.stream)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        if entry.kind == "anthropic":
            usage = msgspec.json.decode(data, type=_Message).usage
            if usage is None:
                return data, None
            cached = (usage.cache_read_input_tokens or 0) + (usage.cache_creation_input_tokens or 0)
            return data, Usage((usage.input_tokens or 0) + cached, usage.output_tokens)
        chat = adapter_for(entry.kind).chat_response(data, ResponseContext(model=model))
        shape = msgspec.json.decode(chat, type=Completion)  # the fields read below, typed
        body = message_body(chat, str(self.body["model"]), self.message_id)
        tokens = shape.usage
        return body, (
            None if tokens is None else Usage(tokens.prompt_tokens, tokens.completion_tokens)
        )

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        if entry.kind == "anthropic":
            return _Relay()
        adapter = adapter_for(entry.kind)
        chat = adapter.chat_stream(ResponseContext(model=model), include_usage=True)
        return Translated(chat, MessagesStream(str(self.body["model"]), self.message_id))

    def error_event(self, message: str, code: str) -> bytes:
        return error_event(message)


@attrs.frozen
class CountTokensExchange:
    """``/v1/messages/count_tokens`` at an Anthropic-kind provider: its own count."""

    body: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.Factory(dict)
    stream: bool = False

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        return _passthrough(entry, "/v1/messages/count_tokens", self.body, model, self.headers)

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        count = msgspec.json.decode(data)
        if not isinstance(count, dict) or not isinstance(count.get("input_tokens"), int):
            raise ValueError("the answer has no input_tokens count")
        return data, None

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        raise NotImplementedError("token counts do not stream")

    def error_event(self, message: str, code: str) -> bytes:
        return error_event(message)
