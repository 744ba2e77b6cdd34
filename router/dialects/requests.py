"""Typed shapes of the request fields the router reads, checked before anything else happens.

A body is decoded as plain JSON (it is passed upstream as it came), then
converted into these structs: every field some code reads must have the type
that code expects, so an object where a string belongs is a 400 naming the
field — never a 500 from deep inside routing, translation or the store, and
never after an upstream was already paid for. Fields not listed are not
checked here (they pass through to providers that know them).
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import msgspec

from router.errors import RequestInvalid

__all__ = [
    "ChatRequest",
    "Effort",
    "EmbeddingsRequest",
    "ExplainRequest",
    "ImagesRequest",
    "InputItem",
    "ResponsesRequest",
    "check",
    "check_metadata",
]

S = TypeVar("S")

Role = Literal["system", "developer", "user", "assistant", "tool", "function"]
#: `router.dialects.chat.reasoning.EFFORTS` (a test checks they agree).
Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]


class _ImageUrl(msgspec.Struct):
    url: str
    detail: str | None = None


class _Part(msgspec.Struct):
    type: str
    text: str | None = None
    image_url: str | _ImageUrl | None = None
    refusal: str | None = None
    detail: str | None = None


class _Function(msgspec.Struct):
    name: str | None = None
    arguments: str | dict[str, Any] | None = None


class _ToolCall(msgspec.Struct):
    id: str | None = None
    type: str | None = None
    function: _Function | None = None


class ChatMessage(msgspec.Struct):
    role: Role
    content: str | list[_Part] | None = None
    name: str | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_call_id: str | None = None


class _StreamOptions(msgspec.Struct):
    include_usage: bool | None = None


class _SchemaSpec(msgspec.Struct):
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class _ResponseFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _SchemaSpec | None = None


class _FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class _ChatTool(msgspec.Struct):
    type: str = "function"
    function: _FunctionDef | None = None


class ChatRequest(msgspec.Struct):
    model: str
    messages: list[ChatMessage]
    stream: bool | None = None
    stream_options: _StreamOptions | None = None
    tools: list[_ChatTool] | None = None
    functions: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    response_format: _ResponseFormat | None = None
    n: int | None = None
    seed: int | None = None
    user: str | None = None
    reasoning_effort: Effort | None = None
    parallel_tool_calls: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    service_tier: str | None = None
    modalities: list[str] | None = None


class ExplainRequest(msgspec.Struct):
    model: str
    messages: list[ChatMessage] | None = None
    history: int | None = None
    strict: bool | None = None
    flexible: bool | None = None
    down: list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None


class InputItem(msgspec.Struct):
    """One Responses input item (a message, a function call or its output)."""

    type: str = "message"
    id: str | None = None
    role: str | None = None
    content: str | list[_Part] | None = None
    status: str | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    output: str | list[_Part] | None = None
    input: str | None = None
    namespace: str | None = None


class _TextFormat(msgspec.Struct):
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class _Text(msgspec.Struct):
    format: _TextFormat | None = None


class _Reasoning(msgspec.Struct):
    effort: Effort | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None
    generate_summary: Literal["auto", "concise", "detailed"] | None = None


class _ConversationRef(msgspec.Struct):
    id: str


class ResponsesRequest(msgspec.Struct):
    model: str
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    text: _Text | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    stream: bool | None = None
    background: bool | None = None
    previous_response_id: str | None = None
    conversation: str | _ConversationRef | None = None
    reasoning: _Reasoning | None = None
    include: list[str] | None = None


class EmbeddingsRequest(msgspec.Struct):
    model: str
    input: str | list[Any]
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = None
    user: str | None = None


class ImagesRequest(msgspec.Struct):
    model: str
    prompt: str
    n: int | None = None
    size: str | None = None
    response_format: Literal["url", "b64_json"] | None = None


_WHERE = re.compile(r" - at `\$\.?(.*)`$")


def check(body: Any, shape: type[S]) -> S:
    """`body` as `shape`, or `RequestInvalid` naming the offending field."""
    try:
        return msgspec.convert(body, shape)
    except msgspec.ValidationError as exc:
        text = str(exc)
        where = _WHERE.search(text)
        param = where.group(1) if where else None
        message = _WHERE.sub("", text)
        if param:
            message = f"{message} at '{param}'"
        raise RequestInvalid(f"Invalid request: {message}", param=param) from None


_MAX_METADATA = 16


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """OpenAI's metadata rules: up to 16 string pairs, keys <= 64 and values <= 512 chars."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _MAX_METADATA:
        raise RequestInvalid(f"'{param}' must be an object with at most 16 keys", param=param)
    for key, item in value.items():
        if not isinstance(item, str) or len(str(key)) > 64 or len(item) > 512:
            raise RequestInvalid(
                f"{param}[{key!r}] must be a string of at most 512 characters "
                "under a key of at most 64",
                param=f"{param}.{key}",
            )
    return {str(k): v for k, v in value.items()}
