"""Incremental parsers for the two streaming framings providers use: SSE and NDJSON."""

from __future__ import annotations

import attrs

__all__ = ["NdjsonDecoder", "SseDecoder", "SseEvent"]


@attrs.frozen
class SseEvent:
    event: str | None
    data: str


@attrs.define
class SseDecoder:
    """Split a byte stream into server-sent events (WHATWG framing, any line ending)."""

    _buffer: bytes = b""
    _event: str | None = None
    _data: list[str] = attrs.Factory(list)

    def feed(self, chunk: bytes) -> list[SseEvent]:
        self._buffer += chunk
        events: list[SseEvent] = []
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                return events
            end, skip = cut
            line = self._buffer[:end].decode("utf-8")
            self._buffer = self._buffer[end + skip :]
            if not line:
                if self._data or self._event is not None:
                    events.append(SseEvent(self._event, "\n".join(self._data)))
                self._event, self._data = None, []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)

    def close(self) -> list[SseEvent]:
        """Flush an event the stream ended without a blank line after."""
        events = self.feed(b"\n\n") if self._buffer.strip() else []
        if self._data:
            events.append(SseEvent(self._event, "\n".join(self._data)))
            self._event, self._data = None, []
        return events


def _line_end(buffer: bytes) -> tuple[int, int] | None:
    for i, byte in enumerate(buffer):
        if byte == 0x0A:  # \n
            return i, 1
        if byte == 0x0D:  # \r or \r\n
            if i + 1 == len(buffer):
                return None  # wait: it may be the first half of \r\n
            return i, 2 if buffer[i + 1] == 0x0A else 1
    return None


@attrs.define
class NdjsonDecoder:
    """Split a byte stream into complete lines (Ollama's streaming format)."""

    _buffer: bytes = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [line for line in lines if line.strip()]

    def close(self) -> list[bytes]:
        rest, self._buffer = self._buffer, b""
        return [rest] if rest.strip() else []
