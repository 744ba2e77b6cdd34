"""The fields of an answer the router reads, typed: anything else is a malformed answer.

An upstream may answer ``[1, 2, 3]``, ``{"choices": [1]}`` or usage counts that are
not numbers. Decoding a (translated) answer into these structs checks, in C and at
no extra cost over an untyped decode, that every field some later code reads has
the type it expects; fields not listed are left alone (and passed through).
"""

from __future__ import annotations

import msgspec

__all__ = ["Completion", "Embeddings", "Usage"]


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: _PromptDetails | None = None


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | None = None


class _ToolCall(msgspec.Struct):
    id: str | None = None
    function: _Function | None = None


class _Message(msgspec.Struct):
    content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class Completion(msgspec.Struct):
    """A ``chat.completion`` body: at least one choice with a message."""

    choices: list[_Choice]
    usage: Usage | None = None

    def __post_init__(self) -> None:
        if not self.choices:
            raise ValueError("the answer has no choices")


class _Vector(msgspec.Struct):
    index: int
    embedding: list[float] | str


class Embeddings(msgspec.Struct):
    """An embeddings ``list`` body."""

    data: list[_Vector]
    usage: Usage | None = None
