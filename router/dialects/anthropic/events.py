"""Turn a Chat Completions SSE stream into the Messages API's event stream (pure state machine).

The sequence the SDKs and Claude Code parse: ``message_start``, ``ping``, then per
content block ``content_block_start``, its ``content_block_delta``s (``thinking_delta``,
``text_delta``, ``input_json_delta``) and ``content_block_stop``; at the end
``message_delta`` (stop reason and usage) and ``message_stop``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.anthropic.reply import STOP_REASONS, usage_of
from router.dialects.base import StreamTranslator, UpstreamStreamError

__all__ = ["MessagesStream", "Translated"]

_encode = msgspec.json.Encoder().encode


class _Delta(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class _Choice(msgspec.Struct):
    delta: _Delta | None = None
    finish_reason: str | None = None


class _Chunk(msgspec.Struct):
    """The fields of a chat.completion.chunk read here, typed (a typed decode is faster too)."""

    choices: list[_Choice] | None = None
    usage: dict[str, Any] | None = None
    error: Any = None


_decode_chunk = msgspec.json.Decoder(_Chunk).decode


def _event(kind: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + _encode({"type": kind, **payload}) + b"\n\n"


@attrs.define
class MessagesStream:
    """Feed it whole chat chunk SSE events; it returns Messages API events."""

    model: str
    message_id: str
    _started: bool = False
    _ended: bool = False
    #: The open block: its kind ("thinking", "text", "tool_use") and index, or None.
    _open: str | None = None
    _index: int = -1
    _tools: dict[int, int] = attrs.Factory(dict)  # chat tool call index -> block index
    _open_tool: int | None = None
    finish_reason: str | None = None
    usage: Mapping[str, Any] | None = None

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return [_event("message_start", {"message": message}), _event("ping", {})]

    def _close_block(self) -> list[bytes]:
        if self._open is None:
            return []
        self._open, self._open_tool = None, None
        return [_event("content_block_stop", {"index": self._index})]

    def _block(self, kind: str, block: dict[str, Any]) -> list[bytes]:
        out = self._close_block()
        self._index += 1
        self._open = kind
        out.append(_event("content_block_start", {"index": self._index, "content_block": block}))
        return out

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event("content_block_delta", {"index": index, "delta": delta})

    def _thinking(self, text: str) -> list[bytes]:
        out = (
            []
            if self._open == "thinking"
            else self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
        )
        out.append(self._delta(self._index, {"type": "thinking_delta", "thinking": text}))
        return out

    def _text(self, text: str) -> list[bytes]:
        out = [] if self._open == "text" else self._block("text", {"type": "text", "text": ""})
        # The event nearly every chunk becomes, written without a dict per chunk.
        out.append(
            b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
            b'"delta":{"type":"text_delta","text":%b}}\n\n' % (self._index, _encode(text))
        )
        return out

    def _tool(self, call: Mapping[str, Any]) -> list[bytes]:
        position = int(call.get("index") or 0)
        function = call.get("function") or {}
        out: list[bytes] = []
        index = self._tools.get(position)
        if index is None:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{self.message_id[4:]}_{position}",
                "name": function.get("name") or "",
                "input": {},
            }
            out += self._block("tool_use", block)
            index = self._tools[position] = self._index
            self._open_tool = position
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(self._delta(index, {"type": "input_json_delta", "partial_json": arguments}))
        return out

    def _chunk(self, chunk: _Chunk) -> list[bytes]:
        if chunk.error:
            error = chunk.error
            message = error.get("message") if isinstance(error, Mapping) else error
            raise UpstreamStreamError(str(message or "the provider failed mid-stream"))
        out = self._start()
        if chunk.usage:
            self.usage = chunk.usage
        for choice in chunk.choices or ():
            delta = choice.delta
            if delta is not None:
                if delta.reasoning_content:
                    out += self._thinking(delta.reasoning_content)
                if delta.content:
                    out += self._text(delta.content)
                for call in delta.tool_calls or ():
                    out += self._tool(call)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
        return out

    def _end(self) -> list[bytes]:
        self._ended = True
        out = self._start() + self._close_block()
        stop = STOP_REASONS.get(str(self.finish_reason), "end_turn")
        if self._tools and stop == "end_turn":
            stop = "tool_use"
        out.append(
            _event(
                "message_delta",
                {
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": usage_of(self.usage),
                },
            )
        )
        out.append(_event("message_stop", {}))
        return out

    def feed(self, events: bytes) -> list[bytes]:
        """Translate whole chat SSE events (what every chat `StreamTranslator` returns)."""
        out: list[bytes] = []
        for event in events.split(b"\n\n"):
            if self._ended:
                break
            if event.startswith(b"data: ") and b"\n" not in event:
                data = event[6:]  # nearly every event: one data line
            else:
                lines = (line for line in event.split(b"\n") if line.startswith(b"data:"))
                data = b"\n".join(line[5:].removeprefix(b" ") for line in lines)
            if data == b"[DONE]":
                out += self._end()
            elif data:
                out += self._chunk(_decode_chunk(data))
        return out

    def close(self) -> list[bytes]:
        if self._ended:
            return []
        if self.finish_reason is None:
            raise UpstreamStreamError("the provider's stream ended before it finished")
        return self._end()


@attrs.define
class Translated:
    """A provider's stream as chat chunks (its adapter), then as Messages events."""

    chat: StreamTranslator
    messages: MessagesStream

    def feed(self, data: bytes) -> list[bytes]:
        return [e for c in self.chat.feed(data) for e in self.messages.feed(c)]

    def close(self) -> list[bytes]:
        out = [e for c in self.chat.close() for e in self.messages.feed(c)]
        return out + self.messages.close()
