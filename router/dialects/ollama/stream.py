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
from router.dialects.framing import LineSplitter
from router.dialects.ollama.answers import Writer, tool_calls

__all__ = ["ChatToNdjson", "NdjsonPassThrough"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _CallDelta(msgspec.Struct):
    index: int = 0
    function: _Function | None = None


class _Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_CallDelta] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Chunk(msgspec.Struct):
    """The fields of a ``chat.completion.chunk`` (or an error event) the translation reads."""

    choices: list[_Choice] = []
    usage: _Usage | None = None
    error: Any = None


_chunk = msgspec.json.Decoder(_Chunk).decode


def _data(events: bytes) -> list[bytes]:
    """The ``data`` of each event in whole SSE events (what every chat translator emits)."""
    out = []
    for event in events.split(b"\n\n"):
        if event.startswith(b"data: ") and b"\n" not in event:
            out.append(event[6:])  # one data line: nearly every event
            continue
        data = [line[5:].lstrip(b" ") for line in event.split(b"\n") if line.startswith(b"data:")]
        if data:
            out.append(b"\n".join(data))
    return out


@attrs.define
class ChatToNdjson:
    """Internal chat chunks (from `inner`) in, Ollama NDJSON lines out.

    `inner` emits whole SSE events (an adapter's `ChunkWriter`, or `SsePassThrough`,
    which holds a partial event back), so each piece splits into events directly.
    The lines one upstream read produces go out as one piece: one write, not one
    per line.
    """

    inner: StreamTranslator
    writer: Writer
    #: Tool calls by their chunk index: [name, argument pieces].
    _calls: dict[int, list[Any]] = attrs.Factory(dict)
    _finish: str | None = None
    _usage: Usage | None = None
    _done: bool = False

    def feed(self, data: bytes) -> list[bytes]:
        return self._translate(self.inner.feed(data))

    def close(self) -> list[bytes]:
        out = self._translate(self.inner.close())
        if not self._done:
            if self._finish is None:
                raise UpstreamStreamError("the stream ended before the model finished")
            out.append(self._final())
        return out

    def _translate(self, pieces: list[bytes]) -> list[bytes]:
        lines: list[bytes] = []
        for piece in pieces:
            for data in _data(piece):
                if not self._done:
                    lines += self._event(data)
        joined = b"".join(lines)
        return [joined] if joined else []

    def _event(self, data: bytes) -> list[bytes]:
        if data == b"[DONE]":
            if self._finish is None:
                raise UpstreamStreamError("the stream ended before the model finished")
            return [self._final()]
        chunk = _chunk(data)
        if chunk.error is not None:
            raise UpstreamStreamError(
                error_message({"error": chunk.error}) or "the provider reported an error"
            )
        if chunk.usage is not None:
            self._usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        out: list[bytes] = []
        for choice in chunk.choices:
            out += self._choice(choice)
        return out

    def _choice(self, choice: _Choice) -> list[bytes]:
        out: list[bytes] = []
        delta = choice.delta
        if delta is not None:
            if delta.content or delta.reasoning_content:
                out.append(self.writer.piece(delta.content or "", delta.reasoning_content or None))
            for call in delta.tool_calls or ():
                held = self._calls.setdefault(call.index, [None, []])
                if call.function is not None:
                    if call.function.name:
                        held[0] = call.function.name
                    if call.function.arguments:
                        held[1].append(call.function.arguments)
        if choice.finish_reason:
            self._finish = choice.finish_reason
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
