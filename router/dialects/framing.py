"""Incremental parsers for the two streaming framings providers use: SSE and NDJSON.

Each chunk is scanned once: a partial line waits as a list of pieces and is
joined only when its end arrives, so a long line costs linear time (one 50 MB
line used to take 70 s of event-loop CPU). A line longer than `MAX_LINE_BYTES`
ends the stream with an error instead of growing the buffer without bound.
"""

from __future__ import annotations

import attrs

__all__ = [
    "MAX_LINE_BYTES",
    "LineSplitter",
    "NdjsonDecoder",
    "SseDecoder",
    "SseEvent",
    "SsePassThrough",
    "StreamFramingError",
]

#: The longest line a provider's stream may send (a base64 image chunk fits easily).
MAX_LINE_BYTES = 16 * 1024 * 1024

_LINE_ENDS = (b"\n", b"\r")
_FIELDS = frozenset({b"data", b"event", b"id", b"retry"})


class StreamFramingError(ValueError):
    """The stream broke its framing: a line too long, or not an event stream at all."""


@attrs.define
class LineSplitter:
    """Split bytes into lines ending in ``\\n``, ``\\r\\n`` or ``\\r`` (as SSE allows), linearly."""

    max_line: int = MAX_LINE_BYTES
    _pending: list[bytes] = attrs.Factory(list)
    _size: int = 0
    #: The last line ended with \r: a \n that starts the next chunk belongs to it.
    _cr: bool = False

    @property
    def idle(self) -> bool:
        """Nothing is held back: the bytes fed so far ended on a line end."""
        return not self._pending

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes, without their endings."""
        if self._cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._cr = False
        if b"\n" not in chunk and b"\r" not in chunk:
            self._hold(chunk)
            return []
        data = b"".join((*self._pending, chunk)) if self._pending else chunk
        self._pending, self._size = [], 0
        lines = data.splitlines()  # on bytes: \n, \r\n and \r only
        if data.endswith(b"\r"):
            self._cr = True
        elif not data.endswith(b"\n"):
            self._hold(lines.pop())
        for line in lines:
            if len(line) > self.max_line:
                raise StreamFramingError(f"a stream line is longer than {self.max_line} bytes")
        return lines

    def _hold(self, piece: bytes) -> None:
        if not piece:
            return
        self._size += len(piece)
        if self._size > self.max_line:
            raise StreamFramingError(f"a stream line is longer than {self.max_line} bytes")
        self._pending.append(piece)

    def close(self) -> list[bytes]:
        """The last line, if the stream ended without a line end."""
        rest = b"".join(self._pending)
        self._pending, self._size, self._cr = [], 0, False
        return [rest] if rest else []


@attrs.frozen
class SseEvent:
    event: str | None
    data: str


@attrs.define
class SseDecoder:
    """Split a byte stream into server-sent events (WHATWG framing, any line ending)."""

    _lines: LineSplitter = attrs.Factory(LineSplitter)
    _event: str | None = None
    _data: list[str] = attrs.Factory(list)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        return self._events(self._lines.feed(chunk))

    def _events(self, lines: list[bytes]) -> list[SseEvent]:
        events: list[SseEvent] = []
        for raw in lines:
            if not raw:
                if self._data or self._event is not None:
                    events.append(SseEvent(self._event, "\n".join(self._data)))
                self._event, self._data = None, []
                continue
            if raw.startswith(b":"):
                continue
            name, _, value = raw.decode("utf-8").partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
        return events

    def close(self) -> list[SseEvent]:
        """Flush an event the stream ended without a blank line after."""
        events = self._events(self._lines.close())
        if self._data:
            events.append(SseEvent(self._event, "\n".join(self._data)))
            self._event, self._data = None, []
        return events


@attrs.define
class SsePassThrough:
    """Relay an OpenAI-style event stream unchanged, whole events at a time.

    The bytes are not translated, but they are checked: until the first ``data:``
    line, every line must be an SSE field, and that data must be a JSON object or
    ``[DONE]`` — an HTML error page answered with status 200 is not an event
    stream. Keep-alive comments before the first data are dropped, so the router
    commits to a provider (and stops failing over) only once it really answers.
    A partial event waits for its end, so each piece relayed is whole events
    (which is also what makes each piece safe to scan for secrets).
    """

    _lines: LineSplitter = attrs.Factory(LineSplitter)
    _event: list[bytes] = attrs.Factory(list)
    _valid: bool = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if (
            self._lines.idle
            and not self._event
            and chunk.endswith(b"\n\n")
            and b"\r" not in chunk
            and (self._valid or chunk.startswith((b"data: {", b"data:{")))
        ):
            self._valid = True
            return [chunk]  # whole events, as nearly every upstream read is
        out: list[bytes] = []
        for line in self._lines.feed(chunk):
            if line:
                self._event.append(line)
            elif self._event:
                out.append(self._flush())
        joined = b"".join(out)
        return [joined] if joined else []

    def _flush(self) -> bytes:
        lines, self._event = self._event, []
        if not self._valid:
            self._check(lines)
            if not self._valid:
                return b""  # keep-alive comments before the first data: nothing to commit to
        return b"\n".join(lines) + b"\n\n"

    def _check(self, lines: list[bytes]) -> None:
        for line in lines:
            if line.startswith(b":"):
                continue  # a comment (keep-alive)
            name, colon, value = line.partition(b":")
            if not colon or name not in _FIELDS:
                raise StreamFramingError(
                    "the answer is not an event stream (a line that is no SSE field)"
                )
            if name == b"data":
                value = value.removeprefix(b" ")
                if not (value.startswith(b"{") or value == b"[DONE]"):
                    raise StreamFramingError("the answer is not an event stream of JSON objects")
                self._valid = True
                return

    def close(self) -> list[bytes]:
        self._event += self._lines.close()
        last = self._flush() if self._event else b""
        if not self._valid:
            raise StreamFramingError("the stream ended without a single data event")
        return [last] if last else []


@attrs.define
class NdjsonDecoder:
    """Split a byte stream into complete lines (Ollama's streaming format)."""

    _lines: LineSplitter = attrs.Factory(LineSplitter)

    def feed(self, chunk: bytes) -> list[bytes]:
        return [line for line in self._lines.feed(chunk) if line.strip()]

    def close(self) -> list[bytes]:
        return [line for line in self._lines.close() if line.strip()]
