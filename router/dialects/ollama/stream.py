"""Ollama NDJSON streams for clients: translated from chat chunks, or relayed from Ollama.

`ChatToNdjson` sits behind a provider adapter's stream translator (which speaks
our internal dialect, ``chat.completion.chunk`` events) and writes one NDJSON
line per piece of text or thinking; tool calls, whose arguments arrive in pieces,
go out whole in one line when the model finishes, as Ollama sends them.
`NdjsonPassThrough` relays an Ollama server's stream untouched, whole lines at a
time, after checking that it is one.
"""

from __future__ import annotations

from typing import Any

import attrs
import msgspec

from router.dialects.base import StreamTranslator, UpstreamStreamError, Usage, error_message
from router.dialects.framing import LineSplitter, SseDecoder
from router.dialects.ollama.answers import Writer, tool_calls

__all__ = ["ChatToNdjson", "NdjsonPassThrough"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


@attrs.define
class ChatToNdjson:
    """Internal chat chunks (from `inner`) in, Ollama NDJSON lines out."""

    inner: StreamTranslator
    writer: Writer
    _events: SseDecoder = attrs.Factory(SseDecoder)
    #: Tool calls by their chunk index: [name, argument pieces].
    _calls: dict[int, list[Any]] = attrs.Factory(dict)
    _finish: str | None = None
    _usage: Usage | None = None
    _done: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        return self._translate(self.inner.feed(data))

    def close(self) -> list[bytes]:
        out = self._translate(self.inner.close())
        out += self._lines(event.data for event in self._events.close())
        if not self._done:
            if self._finish is None:
                raise UpstreamStreamError("the stream ended before the model finished")
            out.append(self._final())
        return out

    def _translate(self, chunks: list[bytes]) -> list[bytes]:
        out: list[bytes] = []
        for chunk in chunks:
            out += self._lines(event.data for event in self._events.feed(chunk))
        return out

    def _lines(self, payloads: Any) -> list[bytes]:
        out: list[bytes] = []
        for data in payloads:
            if self._done:
                continue
            if data == "[DONE]":
                if self._finish is None:
                    raise UpstreamStreamError("the stream ended before the model finished")
                out.append(self._final())
                continue
            chunk = _decode(data)
            if not isinstance(chunk, dict):
                raise UpstreamStreamError("a stream event is not a JSON object")
            if "error" in chunk:
                raise UpstreamStreamError(error_message(chunk) or "the provider reported an error")
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                self._usage = Usage(usage.get("prompt_tokens"), usage.get("completion_tokens"))
            for choice in chunk.get("choices") or ():
                out += self._choice(choice)
        return out

    def _choice(self, choice: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = choice.get("delta") or {}
        text, thinking = delta.get("content") or "", delta.get("reasoning_content") or None
        if text or thinking:
            out.append(self.writer.piece(text, thinking))
        for call in delta.get("tool_calls") or ():
            held = self._calls.setdefault(call.get("index", 0), [None, []])
            function = call.get("function") or {}
            if function.get("name"):
                held[0] = function["name"]
            if function.get("arguments"):
                held[1].append(function["arguments"])
        if choice.get("finish_reason"):
            self._finish = choice["finish_reason"]
            if self._calls:
                calls = tool_calls(
                    [(name, "".join(pieces)) for name, pieces in self._calls.values()]
                )
                self._calls.clear()
                out.append(self.writer.piece("", calls=calls))
        return out

    def _final(self) -> bytes:
        self._done = True
        return _encode(self.writer.final(self._finish, self._usage)) + b"\n"


@attrs.define
class NdjsonPassThrough:
    """Relay an Ollama server's NDJSON stream as it is, whole lines at a time.

    The first line must be a JSON object and not an error (so a failure before any
    text fails over), and the last must say ``done``: a stream cut short ends with
    an error line instead of looking finished.
    """

    _lines: LineSplitter = attrs.Factory(LineSplitter)
    _started: bool = False
    #: The last whole piece relayed: its last line is checked when the stream ends.
    _last: bytes = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._started and self._lines.idle and chunk.endswith(b"\n"):
            self._last = chunk
            return [chunk]  # whole lines, as nearly every upstream read is
        lines = [line for line in self._lines.feed(chunk) if line.strip()]
        if not lines:
            return []
        if not self._started:
            _first(lines[0])
            self._started = True
        self._last = b"\n".join(lines) + b"\n"
        return [self._last]

    def close(self) -> list[bytes]:
        rest = [line for line in self._lines.close() if line.strip()]
        out: list[bytes] = []
        if rest:
            if not self._started:
                _first(rest[0])
                self._started = True
            self._last = b"\n".join(rest) + b"\n"
            out.append(self._last)
        last = self._last.rstrip().rsplit(b"\n", 1)[-1]
        try:
            final = _decode(last) if last else None
        except msgspec.DecodeError:
            final = None
        if not (isinstance(final, dict) and (final.get("done") is True or "error" in final)):
            raise UpstreamStreamError("Ollama's stream ended before its final message")
        return out


def _first(line: bytes) -> None:
    try:
        body = _decode(line)
    except msgspec.DecodeError:
        raise UpstreamStreamError("the answer is not an NDJSON stream") from None
    if not isinstance(body, dict):
        raise UpstreamStreamError("the answer is not an NDJSON stream of objects")
    if "error" in body:
        raise UpstreamStreamError(f"Ollama reported an error: {error_message(body)}")
