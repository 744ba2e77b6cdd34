"""Ollama's API as clients speak it, read into our internal dialect (Chat Completions).

`chat_body` and `generate_body` turn an ``/api/chat`` or ``/api/generate`` body
into the Chat Completions body every provider adapter takes; `embed_body` does the
same for ``/api/embed`` and ``/api/embeddings``. Pure: the bodies are already
checked against `router.dialects.ollama.requests`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from router.dialects.ollama.wire import image_media_type
from router.errors import RequestInvalid

__all__ = ["chat_body", "embed_body", "generate_body", "reasoning_effort", "wants_stream"]

#: Ollama ``options`` that have an internal (OpenAI) name; the others (top_k, num_ctx,
#: repeat_penalty...) reach Ollama-kind providers only, in the passed-through body.
_OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
_EFFORTS = frozenset({"low", "medium", "high"})


def wants_stream(body: Mapping[str, Any]) -> bool:
    """Ollama streams unless told ``"stream": false``."""
    return body.get("stream") is not False


def reasoning_effort(think: Any) -> str | None:
    """``think`` as the internal ``reasoning_effort`` (None: the model's default)."""
    if think is True:
        return "medium"
    if think is False:
        return "none"
    return think if think in _EFFORTS else None


def _content(text: str, images: Sequence[str] | None, where: str) -> str | list[dict[str, Any]]:
    if not images:
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for i, data in enumerate(images):
        media_type = image_media_type(data)
        if media_type is None:
            raise RequestInvalid(
                f"Invalid request: {where}.images[{i}] is not base64 image data",
                param=f"{where}.images[{i}]",
            )
        parts.append(
            {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}
        )
    return parts


def _arguments(arguments: Any) -> str:
    return arguments if isinstance(arguments, str) else json.dumps(arguments or {})


def _messages(given: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Ollama messages as Chat Completions messages, tool results tied to their calls.

    Ollama names a tool result by its tool (``tool_name``), not by a call id; each
    result takes the id of the earliest unanswered call of that name in the assistant
    turn before it (or of the earliest unanswered call, when it names none).
    """
    out: list[dict[str, Any]] = []
    open_calls: list[tuple[str, str | None]] = []  # (id, name) awaiting their result
    for i, message in enumerate(given):
        role = message["role"]
        where = f"messages[{i}]"
        text = message.get("content") or ""
        if role == "tool":
            name = message.get("tool_name")
            match = next((c for c in open_calls if c[1] == name), None) or (
                open_calls[0] if open_calls else None
            )
            if match is not None:
                open_calls.remove(match)
            tool: dict[str, Any] = {
                "role": "tool",
                "tool_call_id": match[0] if match else f"call_{i}",
                "content": text,
            }
            if name:
                tool["name"] = name
            out.append(tool)
            continue
        item: dict[str, Any] = {
            "role": role,
            "content": _content(text, message.get("images"), where),
        }
        calls = message.get("tool_calls") or ()
        if role == "assistant" and calls:
            open_calls = []
            item["tool_calls"] = []
            for j, call in enumerate(calls):
                function = call["function"]
                call_id = f"call_{i}_{j}"
                open_calls.append((call_id, function.get("name")))
                item["tool_calls"].append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": function.get("name"),
                            "arguments": _arguments(function.get("arguments")),
                        },
                    }
                )
            if not text:
                item["content"] = None
        out.append(item)
    return out


def _format(fmt: Any) -> dict[str, Any] | None:
    if fmt == "json":
        return {"type": "json_object"}
    if isinstance(fmt, Mapping):
        return {"type": "json_schema", "json_schema": {"name": "response", "schema": dict(fmt)}}
    return None  # "" or absent: plain text


def _common(body: Mapping[str, Any], model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    chat: dict[str, Any] = {"model": model, "messages": messages}
    stream = wants_stream(body)
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}  # the final line's counts
    options = body.get("options") or {}
    for source, target in _OPTIONS.items():
        if options.get(source) is not None:
            chat[target] = options[source]
    limit = options.get("num_predict")
    if isinstance(limit, int) and limit > 0:  # -1 (until done) and -2 (fill context): no limit
        chat["max_tokens"] = limit
    stop = options.get("stop")
    if stop:
        chat["stop"] = [stop] if isinstance(stop, str) else list(stop)
    fmt = _format(body.get("format"))
    if fmt is not None:
        chat["response_format"] = fmt
    effort = reasoning_effort(body.get("think"))
    if effort is not None:
        chat["reasoning_effort"] = effort
    return chat


def chat_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An ``/api/chat`` body (with at least one message) as a Chat Completions body."""
    chat = _common(body, model, _messages(body.get("messages") or ()))
    if body.get("tools"):
        chat["tools"] = list(body["tools"])
    return chat


def generate_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An ``/api/generate`` body (with a prompt) as a Chat Completions body.

    ``system`` becomes a system message and ``prompt`` (with ``images``) the user's;
    ``raw``, ``template`` and ``context`` only mean something to Ollama itself.
    """
    messages: list[dict[str, Any]] = []
    if body.get("system"):
        messages.append({"role": "system", "content": body["system"]})
    prompt = {"role": "user", "content": body.get("prompt") or "", "images": body.get("images")}
    messages.extend(_messages([prompt]))
    return _common(body, model, messages)


def embed_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """An ``/api/embed`` body (``input``) or a legacy ``/api/embeddings`` one (``prompt``)."""
    given = body["input"] if "input" in body else body.get("prompt")
    if isinstance(given, list) and not given:
        raise RequestInvalid("Invalid request: 'input' is an empty list", param="input")
    out: dict[str, Any] = {"model": model, "input": given}
    if body.get("dimensions") is not None:
        out["dimensions"] = body["dimensions"]
    return out
