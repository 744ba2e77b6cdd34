"""Messages API requests from clients: their shape, and their translation to Chat Completions.

Clients such as Claude Code and the Anthropic SDKs send ``POST /v1/messages``.
An Anthropic-kind provider gets the body as it came (`router.dialects.anthropic.
exchange`); every other provider gets the Chat Completions body (our internal
dialect) that `chat_body` makes of it. The translation is pure and raises
`RequestInvalid`, naming the field, for what another provider cannot be sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import msgspec

from router.dialects.chat.files import chat_file_part
from router.errors import RequestInvalid

__all__ = ["MessagesRequest", "TokenCountRequest", "chat_body", "reasoning_effort"]

# -- the shape of a request: every field the router reads, typed ------------------------


class _Source(msgspec.Struct):
    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class _Block(msgspec.Struct):
    type: str
    text: str | None = None
    source: _Source | None = None
    id: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None
    tool_use_id: str | None = None
    content: str | list[_Block] | None = None
    is_error: bool | None = None
    thinking: str | None = None
    signature: str | None = None
    title: str | None = None


class _Message(msgspec.Struct):
    role: Literal["user", "assistant"]
    content: str | list[_Block]


class _Tool(msgspec.Struct):
    name: str
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None


class _ToolChoice(msgspec.Struct):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class _Thinking(msgspec.Struct):
    type: str
    budget_tokens: int | None = None


class _OutputFormat(msgspec.Struct):
    type: Literal["json_schema"]
    schema: dict[str, Any]


class _OutputConfig(msgspec.Struct):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    format: _OutputFormat | None = None


class _Metadata(msgspec.Struct):
    user_id: str | None = None


class _SystemBlock(msgspec.Struct):
    type: str
    text: str | None = None


class MessagesRequest(msgspec.Struct):
    model: str
    messages: list[_Message]
    max_tokens: int
    system: str | list[_SystemBlock] | None = None
    tools: list[_Tool] | None = None
    tool_choice: _ToolChoice | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    metadata: _Metadata | None = None
    thinking: _Thinking | None = None
    output_config: _OutputConfig | None = None


class TokenCountRequest(msgspec.Struct):
    """``/v1/messages/count_tokens``: a Messages body without ``max_tokens``."""

    model: str
    messages: list[_Message]
    system: str | list[_SystemBlock] | None = None
    tools: list[_Tool] | None = None
    tool_choice: _ToolChoice | None = None
    thinking: _Thinking | None = None


# -- translation to Chat Completions -----------------------------------------------------


def _text(blocks: Any) -> str:
    if isinstance(blocks, str):
        return blocks
    return "\n".join(
        str(b.get("text") or "")
        for b in blocks or ()
        if isinstance(b, Mapping) and b.get("type") == "text"
    )


def _image(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    source = block.get("source") or {}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type') or 'image/png'};base64,{source.get('data') or ''}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise RequestInvalid(
            f"{where}.source: only base64 and url image sources can be sent to this model",
            param=f"{where}.source",
        )
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A document block as the chat part a file becomes: text inlined, a PDF as a file part."""
    source = block.get("source") or {}
    title = block.get("title") if isinstance(block.get("title"), str) else None
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        label = f' name="{title}"' if title else ""
        return {"type": "text", "text": f"<file{label}>\n{source['data']}\n</file>"}
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type') or 'application/pdf'};base64,{source.get('data') or ''}"
        return chat_file_part({"filename": title, "file_data": url}, f"{where}.source")
    raise RequestInvalid(
        f"{where}.source: only base64 and text documents can be sent to this model",
        param=f"{where}.source",
    )


def _unsupported(kind: Any, where: str) -> RequestInvalid:
    return RequestInvalid(
        f"{where}: content blocks of type {kind!r} can only be sent to Anthropic models",
        param=f"{where}.type",
    )


def _tool_result(block: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[Any]]:
    """The chat ``tool`` message of a tool_result block, and the images and files it carried."""
    content = block.get("content")
    images: list[Any] = []
    if isinstance(content, list):
        for j, part in enumerate(content):
            if part.get("type") == "image":
                images.append(_image(part, f"{where}.content[{j}]"))
            elif part.get("type") == "document":
                images.append(_document(part, f"{where}.content[{j}]"))
            elif part.get("type") != "text":
                raise _unsupported(part.get("type"), f"{where}.content[{j}]")
    text = _text(content) if content is not None else ""
    if block.get("is_error"):
        # Chat has no error flag on a tool result: the model reads it in the text.
        text = f"Error: {text}" if text else "Error"
    message = {"role": "tool", "tool_call_id": block.get("tool_use_id"), "content": text}
    return message, images


def _user(message: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
    content = message["content"]
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = block.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text") or ""})
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "document":
            parts.append(_document(block, at))
        elif kind == "tool_result":
            tool, images = _tool_result(block, at)
            tools.append(tool)
            parts.extend(images)  # a tool message carries text only: its files follow it
        elif kind in ("thinking", "redacted_thinking"):
            continue
        else:
            raise _unsupported(kind, at)
    out = list(tools)  # tool results answer the previous turn's calls: they come first
    if parts:
        if all(p["type"] == "text" for p in parts):
            out.append({"role": "user", "content": "\n".join(p["text"] for p in parts)})
        else:
            out.append({"role": "user", "content": parts})
    return out


def _assistant(message: Mapping[str, Any], where: str) -> dict[str, Any]:
    content = message["content"]
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(content):
        kind = block.get("type")
        if kind == "text":
            texts.append(block.get("text") or "")
        elif kind == "tool_use":
            calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": json.dumps(block.get("input") or {}),
                    },
                }
            )
        elif kind in ("thinking", "redacted_thinking"):
            continue  # signed by Anthropic, meaningless to another model
        else:
            raise _unsupported(kind, f"{where}.content[{j}]")
    out: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom") or tool.get("input_schema") is None:
            raise RequestInvalid(
                f"tools[{i}]: Anthropic's server tool {tool.get('type')!r} can only be used "
                "with Anthropic models",
                param=f"tools[{i}].type",
            )
        function = {"name": tool["name"], "parameters": tool["input_schema"]}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Mapping[str, Any]) -> Any:
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}
    return {"auto": "auto", "any": "required", "none": "none"}[str(kind)]


#: The Messages API's output_config.effort levels, as the internal reasoning_effort.
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}


def reasoning_effort(thinking: Any, output: Any = None) -> str | None:
    """The internal ``reasoning_effort`` a request asks for (None: leave the model's default).

    ``output_config.effort`` names it (``xhigh`` and ``max`` are ``high``); otherwise an
    ``enabled`` thinking budget maps by size: up to 2k tokens is ``low``, up to 16k
    ``medium``, more ``high``. ``disabled`` sets nothing: a model that does not reason
    would refuse even ``none``, and one that does keeps its own default.
    """
    effort = output.get("effort") if isinstance(output, Mapping) else None
    if isinstance(effort, str) and effort in _EFFORTS:
        return _EFFORTS[effort]
    if not isinstance(thinking, Mapping) or thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int):
        return "medium"
    return "low" if budget <= 2048 else "medium" if budget <= 16384 else "high"


def chat_body(body: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    """The Chat Completions body for a Messages body already checked as a `MessagesRequest`.

    ``metadata`` (its ``user_id`` names the end user) is not sent: it is Anthropic's, and
    the router logs it. ``top_k`` has no Chat Completions field and is left out.
    """
    messages: list[dict[str, Any]] = []
    system = body.get("system")
    if system:
        messages.append({"role": "system", "content": _text(system)})
    for i, message in enumerate(body["messages"]):
        where = f"messages[{i}]"
        if message["role"] == "user":
            messages.extend(_user(message, where))
        else:
            messages.append(_assistant(message, where))
    out: dict[str, Any] = {
        "model": body["model"],
        "messages": messages,
        "max_tokens": body["max_tokens"],
    }
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    if body.get("tools"):
        out["tools"] = _tools(body["tools"])
    choice = body.get("tool_choice")
    if choice and body.get("tools"):
        out["tool_choice"] = _tool_choice(choice)
        if choice.get("disable_parallel_tool_use"):
            out["parallel_tool_calls"] = False
    output = body.get("output_config") or {}
    effort = reasoning_effort(body.get("thinking"), output)
    if effort is not None:
        out["reasoning_effort"] = effort
    if output.get("format"):
        schema = {"name": "output", "schema": output["format"]["schema"], "strict": True}
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    return out
