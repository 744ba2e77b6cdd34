"""Write OpenAI ``chat.completion`` bodies and ``chat.completion.chunk`` SSE events."""

from __future__ import annotations

import random
import time
from typing import Any

import attrs
import msgspec

__all__ = ["ChunkWriter", "ResponseContext", "completion_body"]

_encode = msgspec.json.Encoder().encode


class ResponseContext:
    """What a translation needs that is not in the upstream answer: the completion's id,
    its time and the model name. The id and time are made on first use: a pass-through
    answer never needs them (a completion id is no secret: no getrandom() for it).
    """

    __slots__ = ("_created", "_id", "model")

    def __init__(self, id: str | None = None, created: int | None = None, model: str = "") -> None:
        self._id = id
        self._created = created
        self.model = model

    @property
    def id(self) -> str:
        if self._id is None:
            self._id = f"chatcmpl-{random.getrandbits(96):024x}"
        return self._id

    @property
    def created(self) -> int:
        if self._created is None:
            self._created = int(time.time())
        return self._created


def completion_body(
    ctx: ResponseContext,
    *,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    finish_reason: str,
    usage: dict[str, Any] | None,
    reasoning: str | None = None,
    thinking_blocks: list[dict[str, str]] | None = None,
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning  # the field OpenAI-compatible clients read
    if thinking_blocks:
        message["thinking_blocks"] = thinking_blocks  # signed, to send back next turn
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": ctx.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
    }
    if usage is not None:
        body["usage"] = usage
    return _encode(body)


@attrs.define
class ChunkWriter:
    """Emit OpenAI stream chunks for one choice; remembers whether the role was sent."""

    ctx: ResponseContext
    include_usage: bool
    _started: bool = False

    def _chunk(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": self.ctx.id,
            "object": "chat.completion.chunk",
            "created": self.ctx.created,
            "model": self.ctx.model,
            "choices": choices,
        }
        if usage is not None:
            body["usage"] = usage
        return b"data: " + _encode(body) + b"\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        if not self._started:
            delta = {"role": "assistant", **delta}
            self._started = True
        return self._chunk(
            [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        )

    def start(self) -> list[bytes]:
        return [] if self._started else [self._delta({"content": ""})]

    def content(self, text: str) -> list[bytes]:
        return [self._delta({"content": text})] if text else []

    def reasoning(self, text: str) -> list[bytes]:
        """A piece of the model's thinking, as ``delta.reasoning_content``."""
        return [self._delta({"reasoning_content": text})] if text else []

    def thinking_blocks(self, blocks: list[dict[str, str]]) -> list[bytes]:
        """Whole signed thinking blocks (their text was streamed as reasoning_content)."""
        return [self._delta({"thinking_blocks": blocks})]

    def tool_call(
        self, index: int, call_id: str | None, name: str | None, arguments: str
    ) -> list[bytes]:
        call: dict[str, Any] = {"index": index}
        if call_id is not None:
            call["id"] = call_id
            call["type"] = "function"
        function: dict[str, Any] = {"arguments": arguments}
        if name is not None:
            function["name"] = name
        call["function"] = function
        return [self._delta({"tool_calls": [call]})]

    def finish(self, reason: str, usage: dict[str, Any] | None) -> list[bytes]:
        out = [self._delta({}, reason)]
        if self.include_usage and usage is not None:
            out.append(self._chunk([], usage))
        out.append(b"data: [DONE]\n\n")
        return out
