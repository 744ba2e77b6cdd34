"""Read the usage of a chat completion stream as it passes, for pricing. Pure.

For a priced model the router asks the provider for a stream's usage (`stream_options.include_usage`
upstream, the usage chunk from translated kinds) so that a stream can be priced
like a whole answer. `UsageTap` sits after the provider's translator: it notes the
usage event, adds its cost to it, and drops it when the client did not ask for one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.config.model import Price
from router.dialects.base import StreamTranslator, Usage
from router.routing.pricing import cost_usd

__all__ = ["UsageTap", "asking_for_usage", "estimate_chat_usage"]

#: The usual rough estimate, as routing's context-window check uses it.
_CHARS_PER_TOKEN = 4

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def asking_for_usage(body: Mapping[str, Any]) -> dict[str, Any]:
    """`body` with ``stream_options.include_usage`` set (the client's other options kept)."""
    options = body.get("stream_options")
    merged = {**options} if isinstance(options, Mapping) else {}
    merged["include_usage"] = True
    return {**body, "stream_options": merged}


def _chars(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(part["text"])
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        )
    return 0


def _message_chars(message: Any) -> int:
    if not isinstance(message, Mapping):
        return 0
    size = _chars(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("arguments"), str):
            size += len(function["arguments"])
    return size


def estimate_chat_usage(body: Mapping[str, Any], answer: bytes) -> Usage:
    """Tokens of a request and its ``chat.completion`` answer, estimated from their text.

    For a provider that reports no usage: about four characters a token.
    """
    prompt = sum(_message_chars(m) for m in body.get("messages") or ())
    try:
        choices = _decode(answer).get("choices") or []
    except (msgspec.DecodeError, AttributeError):
        choices = []
    completion = sum(_message_chars(c.get("message")) for c in choices if isinstance(c, Mapping))
    return Usage(prompt // _CHARS_PER_TOKEN, -(-completion // _CHARS_PER_TOKEN))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _usage(found: Mapping[str, Any]) -> Usage:
    details = found.get("prompt_tokens_details")
    cached = _int(details.get("cached_tokens")) if isinstance(details, Mapping) else None
    return Usage(_int(found.get("prompt_tokens")), _int(found.get("completion_tokens")), cached)


@attrs.define
class UsageTap:
    """Wraps a chat chunk translator: `usage` is the stream's, once its usage event passed."""

    inner: StreamTranslator
    #: The client asked for the usage chunk (``stream_options.include_usage``).
    keep: bool
    price: Price | None = None
    usage: Usage | None = None

    def feed(self, data: bytes) -> list[bytes]:
        return self._tap(self.inner.feed(data))

    def close(self) -> list[bytes]:
        return self._tap(self.inner.close())

    def _tap(self, pieces: list[bytes]) -> list[bytes]:
        # A usage event is one per stream: everything else passes after a substring test.
        for piece in pieces:
            if b'"usage"' in piece:
                return [out for piece in pieces if (out := self._piece(piece))]
        return pieces

    def _piece(self, piece: bytes) -> bytes:
        if b'"usage"' not in piece:
            return piece
        events = piece.split(b"\n\n")
        kept = [e for event in events if (e := self._event(event)) is not None]
        return b"\n\n".join(kept)

    def _event(self, event: bytes) -> bytes | None:
        if not event.startswith(b"data:") or b'"usage"' not in event:
            return event
        data = event[5:].lstrip(b" ")
        if not data.startswith(b"{"):
            return event
        try:
            chunk = _decode(data)
        except msgspec.DecodeError:
            return event  # not ours to judge: relayed as it came
        found = chunk.get("usage") if isinstance(chunk, dict) else None
        if not isinstance(found, dict):
            return event  # "usage": null on a content chunk (vLLM)
        self.usage = _usage(found)
        if not self.keep and not chunk.get("choices"):
            return None  # the usage chunk the client did not ask for
        if self.price is None:
            return event
        found["cost_usd"] = round(
            cost_usd(
                self.price,
                self.usage.prompt_tokens or 0,
                self.usage.completion_tokens or 0,
                self.usage.cached_tokens or 0,
            ),
            10,
        )
        return b"data: " + _encode(chunk)
