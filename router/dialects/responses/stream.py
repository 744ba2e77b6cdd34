"""Turn a Chat Completions SSE stream into the Responses API's event stream (pure state machine)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.chat.reasoning import THINKING_BLOCKS, seal, signed_blocks, thinking_of
from router.dialects.framing import SseDecoder
from router.dialects.responses.tools import ToolNames, custom_input
from router.dialects.responses.translate import (
    new_id,
    reasoning_item,
    response_error,
    response_object,
    status_of,
    usage_of,
)

__all__ = ["ResponsesStream"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


@attrs.define
class ResponsesStream:
    """Feed it chat chunk bytes; it returns Responses SSE events (with ``event:`` lines)."""

    request: Mapping[str, Any]
    response_id: str
    created_at: int
    clock: Callable[[], float] = time.time
    names: ToolNames = attrs.Factory(ToolNames)
    _seq: int = 0
    _sse: SseDecoder = attrs.Factory(SseDecoder)
    output: list[dict[str, Any]] = attrs.Factory(list)
    _message: dict[str, Any] | None = None
    _reasoning: dict[str, Any] | None = None
    _signed: list[dict[str, str]] = attrs.Factory(list)  # the open reasoning item's
    _calls: dict[int, dict[str, Any]] = attrs.Factory(dict)  # chat tool index -> open item
    _custom: dict[int, str] = attrs.Factory(dict)  # chat tool index -> a custom call's arguments
    _index: dict[str, int] = attrs.Factory(dict)  # item id -> output_index
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    final: dict[str, Any] | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + _encode(payload) + b"\n\n"

    def _snapshot(self, status: str, **extra: Any) -> dict[str, Any]:
        return response_object(
            self.request,
            response_id=self.response_id,
            created_at=self.created_at,
            status=status,
            **extra,
        )

    def start(self) -> list[bytes]:
        snapshot = self._snapshot("in_progress")
        return [
            self._event("response.created", response=snapshot),
            self._event("response.in_progress", response=snapshot),
        ]

    # -- items --------------------------------------------------------------------------

    def _open(self, item: dict[str, Any]) -> bytes:
        index = len(self.output)
        self.output.append(item)
        self._index[item["id"]] = index
        return self._event(
            "response.output_item.added", output_index=index, item={**item, "status": "in_progress"}
        )

    def _open_reasoning(self) -> list[bytes]:
        out = self._close_message()
        if self._reasoning is None:
            self._reasoning = reasoning_item("")
            out.append(self._open(self._reasoning))
        return out

    def _think(self, delta: str) -> list[bytes]:
        out = self._open_reasoning()
        item = self._reasoning
        assert item is not None
        if not item["summary"]:
            part = {"type": "summary_text", "text": ""}
            out.append(self._summary_event("response.reasoning_summary_part.added", part=part))
            item["summary"].append(part)
        item["summary"][0]["text"] += delta
        out.append(self._summary_event("response.reasoning_summary_text.delta", delta=delta))
        return out

    def _sign(self, blocks: Any) -> list[bytes]:
        out = self._open_reasoning()
        self._signed += signed_blocks(blocks)
        return out

    def _summary_event(self, kind: str, **fields: Any) -> bytes:
        assert self._reasoning is not None
        item_id = self._reasoning["id"]
        return self._event(
            kind, item_id=item_id, output_index=self._index[item_id], summary_index=0, **fields
        )

    def _close_reasoning(self) -> list[bytes]:
        item = self._reasoning
        if item is None:
            return []
        out = []
        if item["summary"]:
            part = item["summary"][0]
            out += [
                self._summary_event("response.reasoning_summary_text.done", text=part["text"]),
                self._summary_event("response.reasoning_summary_part.done", part=part),
            ]
        if self._signed:
            item["encrypted_content"], self._signed = seal(self._signed), []
        out.append(
            self._event(
                "response.output_item.done", output_index=self._index[item["id"]], item=item
            )
        )
        self._reasoning = None
        return out

    def _text(self, delta: str) -> list[bytes]:
        out = self._close_reasoning()
        if self._message is None:
            self._message = {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [],
            }
            out.append(self._open(self._message))
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            out.append(
                self._event(
                    "response.content_part.added",
                    item_id=self._message["id"],
                    output_index=self._index[self._message["id"]],
                    content_index=0,
                    part=part,
                )
            )
            self._message["content"].append(part)
        part = self._message["content"][0]
        part["text"] += delta
        out.append(
            self._event(
                "response.output_text.delta",
                item_id=self._message["id"],
                output_index=self._index[self._message["id"]],
                content_index=0,
                delta=delta,
                logprobs=[],
            )
        )
        return out

    def _close_message(self) -> list[bytes]:
        message, self._message = self._message, None
        if message is None:
            return []
        index = self._index[message["id"]]
        part = message["content"][0]
        return [
            self._event(
                "response.output_text.done",
                item_id=message["id"],
                output_index=index,
                content_index=0,
                text=part["text"],
                logprobs=[],
            ),
            self._event(
                "response.content_part.done",
                item_id=message["id"],
                output_index=index,
                content_index=0,
                part=part,
            ),
            self._event("response.output_item.done", output_index=index, item=message),
        ]

    def _call(self, delta: Mapping[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        position = int(delta.get("index", 0))
        function = delta.get("function") or {}
        item = self._calls.get(position)
        if item is None:
            out += self._close_reasoning() + self._close_message()
            chat_name = str(function.get("name") or "")
            item = self.names.call_item(chat_name, delta.get("id") or new_id("call"), "")
            self._calls[position] = item
            out.append(self._open(item))
        arguments = function.get("arguments") or ""
        if not arguments:
            return out
        if item["type"] == "custom_tool_call":
            # JSON around the input: the input is sent whole once the arguments are complete
            self._custom[position] = self._custom.get(position, "") + arguments
            return out
        item["arguments"] += arguments
        out.append(
            self._event(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=self._index[item["id"]],
                delta=arguments,
            )
        )
        return out

    def _close_calls(self) -> list[bytes]:
        out = []
        for position, item in self._calls.items():
            index = self._index[item["id"]]
            if item["type"] == "custom_tool_call":
                item["input"] = custom_input(self._custom.get(position, ""))
                out.append(
                    self._event(
                        "response.custom_tool_call_input.delta",
                        item_id=item["id"],
                        output_index=index,
                        delta=item["input"],
                    )
                )
                out.append(
                    self._event(
                        "response.custom_tool_call_input.done",
                        item_id=item["id"],
                        output_index=index,
                        input=item["input"],
                    )
                )
                out.append(self._event("response.output_item.done", output_index=index, item=item))
                continue
            out.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
            out.append(self._event("response.output_item.done", output_index=index, item=item))
        self._calls.clear()
        self._custom.clear()
        return out

    # -- input --------------------------------------------------------------------------

    def _chunk(self, chunk: Mapping[str, Any]) -> list[bytes]:
        if chunk.get("error"):
            error = chunk["error"]
            self.error = response_error(
                str(error.get("code") or "upstream_error"),
                str(error.get("message") or "the provider failed"),
            )
            return []
        if chunk.get("usage"):
            self.usage = usage_of(chunk["usage"])
        out: list[bytes] = []
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            thinking = thinking_of(delta)
            if thinking:
                out += self._think(thinking)
            if delta.get(THINKING_BLOCKS):
                out += self._sign(delta[THINKING_BLOCKS])
            if delta.get("content"):
                out += self._text(delta["content"])
            for call in delta.get("tool_calls") or ():
                out += self._call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return out

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        for event in self._sse.feed(data):
            if event.data == "[DONE]":
                continue
            out += self._chunk(_decode(event.data))
        return out

    def finish(self) -> list[bytes]:
        """Close open items and emit the terminal event; `final` is then the whole response."""
        out = self._close_reasoning() + self._close_message() + self._close_calls()
        if self.error is not None:
            self.final = self._snapshot(
                "failed", output=self.output, usage=self.usage, error=self.error
            )
            return [*out, self._event("response.failed", response=self.final)]
        status, details = status_of(self.finish_reason)
        self.final = self._snapshot(
            status,
            output=self.output,
            usage=self.usage,
            incomplete_details=details,
            completed_at=int(self.clock()),
        )
        kind = "response.completed" if status == "completed" else "response.incomplete"
        return [*out, self._event(kind, response=self.final)]
