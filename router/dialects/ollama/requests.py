"""Typed shapes of the Ollama request fields the router reads, checked before routing.

As `router.dialects.requests` does for the OpenAI APIs: an object where a string
belongs is a 400 naming the field, before any provider is paid for. Fields not
listed (``keep_alive``, ``raw``, ``template``, options the router does not read)
are not checked here and reach Ollama-kind providers as they came.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

__all__ = [
    "ChatRequest",
    "EmbedRequest",
    "EmbeddingsRequest",
    "GenerateRequest",
    "ModelRequest",
]

Think = bool | Literal["low", "medium", "high"]
#: ``"json"``, a JSON Schema, or ``""`` (plain text, as some clients send).
Format = Literal["", "json"] | dict[str, Any]


class _Options(msgspec.Struct):
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int | None = None
    num_predict: int | None = None
    num_ctx: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    stop: str | list[str] | None = None


class _Function(msgspec.Struct):
    name: str
    arguments: dict[str, Any] | str | None = None


class _ToolCall(msgspec.Struct):
    function: _Function


class _Message(msgspec.Struct):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | None = None
    thinking: str | None = None
    images: list[str] | None = None
    tool_calls: list[_ToolCall] | None = None
    tool_name: str | None = None


class _FunctionDef(msgspec.Struct):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class _Tool(msgspec.Struct):
    type: str = "function"
    function: _FunctionDef | None = None


class ChatRequest(msgspec.Struct):
    model: str
    messages: list[_Message] | None = None
    tools: list[_Tool] | None = None
    format: Format | None = None
    options: _Options | None = None
    stream: bool | None = None
    think: Think | None = None


class GenerateRequest(msgspec.Struct):
    model: str
    prompt: str | None = None
    suffix: str | None = None
    system: str | None = None
    images: list[str] | None = None
    format: Format | None = None
    options: _Options | None = None
    stream: bool | None = None
    think: Think | None = None
    raw: bool | None = None


class EmbedRequest(msgspec.Struct):
    model: str
    input: str | list[str]
    dimensions: int | None = None
    truncate: bool | None = None


class EmbeddingsRequest(msgspec.Struct):
    """The legacy ``/api/embeddings``: one ``prompt``, one vector."""

    model: str
    prompt: str


class ModelRequest(msgspec.Struct):
    """``/api/show``: ``model`` (older clients send ``name``)."""

    model: str | None = None
    name: str | None = None
    verbose: bool | None = None
