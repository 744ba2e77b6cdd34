"""Write Ollama answers (``/api/chat`` and ``/api/generate``) from internal ones.

A `Writer` belongs to one request: it knows the model name to echo, whether the
text goes in ``message`` (chat) or ``response`` (generate), and when the request
started, for the durations Ollama reports (nanoseconds). `whole_answer` turns a
``chat.completion`` body into Ollama's final object.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

import attrs
import msgspec

from router.dialects.base import Usage
from router.dialects.ollama.wire import done_reason, object_arguments, timestamp

__all__ = ["Endpoint", "Writer", "counts", "embed_answer", "tool_calls", "whole_answer"]

Endpoint = Literal["chat", "generate"]

_encode = msgspec.json.Encoder().encode


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class _ToolCall(msgspec.Struct):
    function: _Function


class _Message(msgspec.Struct):
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[_ToolCall] | None = None


class _Choice(msgspec.Struct):
    message: _Message
    finish_reason: str | None = None


class _Usage(msgspec.Struct):
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class _Completion(msgspec.Struct):
    choices: list[_Choice]
    usage: _Usage | None = None


def tool_calls(calls: list[tuple[str | None, Any]]) -> list[dict[str, Any]]:
    """(name, arguments) pairs as Ollama's tool calls: arguments are objects."""
    return [
        {"function": {"name": name, "arguments": object_arguments(arguments)}}
        for name, arguments in calls
    ]


@attrs.define
class Writer:
    """Ollama answer objects and stream lines for one request."""

    model: str
    endpoint: Endpoint
    started_ns: int
    clock_ns: Callable[[], int] = time.perf_counter_ns
    wall: Callable[[], float] = time.time
    #: When the first piece was written (a stream): prompt evaluation ends there.
    first_ns: int | None = None

    def _created_at(self) -> str:
        return timestamp(self.wall())

    def _object(
        self, content: str, thinking: str | None, calls: list[dict[str, Any]] | None, done: bool
    ) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model, "created_at": self._created_at()}
        if self.endpoint == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            if calls:
                message["tool_calls"] = calls
            out["message"] = message
        else:
            out["response"] = content
            if thinking:
                out["thinking"] = thinking
        out["done"] = done
        return out

    def loaded(self, reason: str) -> dict[str, Any]:
        """The answer to a call that only loads (or unloads) the model: done at once."""
        return {**self._object("", None, None, True), "done_reason": reason}

    def piece(
        self, content: str, thinking: str | None = None, calls: list[dict[str, Any]] | None = None
    ) -> bytes:
        """A stream line that is not the last."""
        if self.first_ns is None:
            self.first_ns = self.clock_ns()
        if thinking is None and not calls:  # nearly every line: text only, written directly
            head = b'{"model":%b,"created_at":"%b",' % (
                _encode(self.model),
                self._created_at().encode(),
            )
            text = _encode(content)
            if self.endpoint == "chat":
                return head + b'"message":{"role":"assistant","content":%b},"done":false}\n' % text
            return head + b'"response":%b,"done":false}\n' % text
        return _encode(self._object(content, thinking, calls, False)) + b"\n"

    def final(
        self,
        finish: str | None,
        usage: Usage | None,
        *,
        content: str = "",
        thinking: str | None = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The last object: ``done``, its reason, the counts and the durations."""
        now = self.clock_ns()
        out = self._object(content, thinking, calls, True)
        out["done_reason"] = done_reason(finish)
        out["total_duration"] = max(1, now - self.started_ns)
        if usage is not None and usage.prompt_tokens is not None:
            out["prompt_eval_count"] = usage.prompt_tokens
        if self.first_ns is not None:  # a stream: evaluating the prompt ended at the first piece
            out["prompt_eval_duration"] = max(1, self.first_ns - self.started_ns)
        if usage is not None and usage.completion_tokens is not None:
            out["eval_count"] = usage.completion_tokens
        # Clients divide eval_count by it (tokens/s): never zero.
        out["eval_duration"] = max(1, now - (self.first_ns or self.started_ns))
        return out


def whole_answer(completion: bytes, writer: Writer) -> tuple[bytes, Usage | None]:
    """A ``chat.completion`` body as Ollama's answer; a ValueError if it is malformed."""
    answer = msgspec.json.decode(completion, type=_Completion)
    if not answer.choices:
        raise ValueError("the answer has no choices")
    choice = answer.choices[0]
    message: _Message = choice.message
    calls = tool_calls([(c.function.name, c.function.arguments) for c in message.tool_calls or ()])
    usage = (
        None
        if answer.usage is None
        else Usage(answer.usage.prompt_tokens, answer.usage.completion_tokens)
    )
    body = writer.final(
        choice.finish_reason,
        usage,
        content=message.content or "",
        thinking=message.reasoning_content,
        calls=calls or None,
    )
    return _encode(body), usage


def counts(body: Mapping[str, Any]) -> Usage:
    """The token counts of an Ollama answer."""
    prompt, completion = body.get("prompt_eval_count"), body.get("eval_count")
    return Usage(
        prompt if isinstance(prompt, int) else None,
        completion if isinstance(completion, int) else None,
    )


class _Vector(msgspec.Struct):
    index: int
    embedding: list[float]


class _Embeddings(msgspec.Struct):
    data: list[_Vector]
    usage: _Usage | None = None


def embed_answer(data: bytes, model: str, *, legacy: bool, total_ns: int) -> bytes:
    """An OpenAI embeddings list (floats) as ``/api/embed``'s answer, or the legacy one's."""
    answer = msgspec.json.decode(data, type=_Embeddings)
    vectors = [v.embedding for v in sorted(answer.data, key=lambda v: v.index)]
    if legacy:
        return _encode({"embedding": vectors[0] if vectors else []})
    body: dict[str, Any] = {"model": model, "embeddings": vectors, "total_duration": total_ns}
    if answer.usage is not None and answer.usage.prompt_tokens is not None:
        body["prompt_eval_count"] = answer.usage.prompt_tokens
    return _encode(body)
