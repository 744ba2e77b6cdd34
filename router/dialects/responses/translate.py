"""Pure translation between the Responses API and Chat Completions (our internal dialect).

Every provider adapter speaks Chat Completions to us, so a Responses request is
turned into a chat body, dispatched like any chat request, and its answer turned
back into Responses output items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from router.dialects.chat.files import chat_file_part
from router.dialects.chat.reasoning import (
    CARRIES_THINKING,
    EFFORTS,
    THINKING_BLOCKS,
    seal,
    signed_blocks,
    thinking_of,
    unseal,
)
from router.dialects.requests import InputItem, check
from router.dialects.responses.tools import (
    ToolNames,
    Toolset,
    chat_tool_choice,
    custom_arguments,
    toolset,
)
from router.errors import RequestInvalid
from router.ids import new_id

__all__ = [
    "chat_request",
    "input_items",
    "new_id",
    "output_items",
    "reasoning_item",
    "response_error",
    "response_object",
    "status_of",
    "usage_of",
]

_ROLES = frozenset({"user", "assistant", "system", "developer"})


def _normalize_content(content: Any, role: str, where: str) -> list[dict[str, Any]]:
    """Message content as a list of typed parts (the seed's `text` parts are accepted too)."""
    if isinstance(content, str):
        kind = "output_text" if role == "assistant" else "input_text"
        return [{"type": kind, "text": content}]
    if not isinstance(content, list):
        raise RequestInvalid(
            f"{where}.content must be a string or a list of parts", param=f"{where}.content"
        )
    parts = []
    for j, part in enumerate(content):
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise RequestInvalid(
                f"{where}.content[{j}] must be an object with a type", param=f"{where}.content[{j}]"
            )
        kind = part["type"]
        if kind == "text":  # the seed's shape
            kind = "output_text" if role == "assistant" else "input_text"
        normal = {**part, "type": kind}
        if kind == "output_text":  # stored and echoed as an output part: annotations required
            normal.setdefault("annotations", [])
        parts.append(normal)
    return parts


def input_items(given: Any) -> list[dict[str, Any]]:
    """Validate a request's ``input`` and return it as typed items with ids (as stored).

    An ``item_reference`` stays a reference: the caller resolves it from the store.
    """
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    if not isinstance(given, list):
        raise RequestInvalid("'input' must be a string or a list of items", param="input")
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(given):
        where = f"input[{i}]"
        if not isinstance(item, Mapping):
            raise RequestInvalid(f"{where} must be an object", param=where)
        _typed(item, where)
        if isinstance(item.get("id"), str):
            if item["id"] in seen:  # the store keys items by id: refuse before paying upstream
                raise RequestInvalid(
                    f"{where}.id {item['id']!r} is used by an earlier item of this input",
                    param=f"{where}.id",
                )
            seen.add(item["id"])
        kind = item.get("type", "message")
        if kind == "message":
            items.append(_message_input(item, where))
        elif kind == "function_call":
            for key in ("call_id", "name"):
                if not isinstance(item.get(key), str):
                    raise RequestInvalid(f"{where}.{key} is required", param=f"{where}.{key}")
            call = {
                "id": item.get("id") or new_id("fc"),
                "type": "function_call",
                "call_id": item["call_id"],
                "name": item["name"],
                "arguments": item.get("arguments") or "{}",
                "status": "completed",
            }
            if isinstance(item.get("namespace"), str):
                call["namespace"] = item["namespace"]
            items.append(call)
        elif kind == "custom_tool_call":
            for key in ("call_id", "name", "input"):
                if not isinstance(item.get(key), str):
                    raise RequestInvalid(f"{where}.{key} is required", param=f"{where}.{key}")
            custom = {
                "id": item.get("id") or new_id("ctc"),
                "type": "custom_tool_call",
                "call_id": item["call_id"],
                "name": item["name"],
                "input": item["input"],
                "status": "completed",
            }
            if isinstance(item.get("namespace"), str):
                custom["namespace"] = item["namespace"]
            items.append(custom)
        elif kind in {"function_call_output", "custom_tool_call_output"}:
            if not isinstance(item.get("call_id"), str):
                raise RequestInvalid(f"{where}.call_id is required", param=f"{where}.call_id")
            output = item.get("output")
            items.append(
                {
                    "id": item.get("id")
                    or new_id("fco" if kind == "function_call_output" else "ctco"),
                    "type": kind,
                    "call_id": item["call_id"],
                    "output": output if isinstance(output, str) else _text(output),
                    "status": "completed",
                }
            )
        elif kind == "reasoning":
            items.append(_reasoning_input(item, where))
        elif kind == "item_reference":
            if not isinstance(item.get("id"), str) or not item["id"]:
                raise RequestInvalid(f"{where}.id is required", param=f"{where}.id")
            # Resolved from the store by the service (owner-checked) before translation.
            items.append({"type": "item_reference", "id": item["id"]})
        else:
            raise RequestInvalid(f"{where}.type {kind!r} is not supported", param=f"{where}.type")
    return items


def _message_input(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in _ROLES:
        raise RequestInvalid(
            f"{where}.role must be one of user, assistant, system, developer",
            param=f"{where}.role",
        )
    message = {
        "id": item.get("id") or new_id("msg"),
        "type": "message",
        "role": role,
        "status": item.get("status", "completed"),
        "content": _normalize_content(item.get("content"), str(role), where),
    }
    if item.get("cache_control") is not None:  # our extension: a prompt-cache mark
        message["cache_control"] = item["cache_control"]
    return message


def _reasoning_input(item: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A reasoning item, kept (and stored) as given; only thinking Nexus sealed goes anywhere."""
    reasoning = {
        "id": item.get("id") or new_id("rs"),
        "type": "reasoning",
        "summary": _summary(item.get("summary"), where),
    }
    if isinstance(item.get("encrypted_content"), str):
        reasoning["encrypted_content"] = item["encrypted_content"]
    return reasoning


def _summary(summary: Any, where: str) -> list[dict[str, str]]:
    if summary is None:
        return []
    if not isinstance(summary, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("text"), str) for s in summary
    ):
        raise RequestInvalid(
            f"{where}.summary must be a list of summary_text parts", param=f"{where}.summary"
        )
    return [{"type": "summary_text", "text": s["text"]} for s in summary]


def _typed(item: Mapping[str, Any], where: str) -> None:
    """Every field an item's translation reads has its type (an object is not a role)."""
    try:
        check(item, InputItem)
    except RequestInvalid as exc:
        param = f"{where}.{exc.param}" if exc.param else where
        raise RequestInvalid(
            exc.message.replace(f"at '{exc.param}'", f"at '{param}'"), param=param
        ) from None


def _text(parts: Any) -> str:
    if isinstance(parts, str):
        return parts
    if isinstance(parts, list):
        return "".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))
    return ""


def _chat_content(parts: Sequence[Mapping[str, Any]]) -> str | list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in parts:
        kind = part.get("type")
        if kind in {"input_text", "output_text"}:
            out.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise RequestInvalid(
                    "input_image parts need an image_url (file ids are not supported)",
                    param="input",
                )
            image: dict[str, Any] = {"url": url}
            if part.get("detail"):
                image["detail"] = part["detail"]
            out.append({"type": "image_url", "image_url": image})
        elif kind == "refusal":
            out.append({"type": "text", "text": part.get("refusal", "")})
        elif kind == "input_file":
            out.append(chat_file_part(part, "input"))
    if all(p["type"] == "text" for p in out):
        return "".join(p["text"] for p in out)
    return out


def _messages(items: Sequence[Mapping[str, Any]], names: ToolNames) -> list[dict[str, Any]]:
    """Chat messages for Responses items; sealed thinking goes with the assistant turn after it."""
    messages: list[dict[str, Any]] = []
    thinking: list[dict[str, str]] = []

    def assistant(message: dict[str, Any]) -> dict[str, Any]:
        nonlocal thinking
        if thinking:
            message[THINKING_BLOCKS], thinking = thinking, []
        return message

    for item in items:
        kind = item.get("type")
        if kind == "reasoning":
            thinking += unseal(item.get("encrypted_content"))
        elif kind == "message":
            role = "system" if item["role"] == "developer" else item["role"]
            message = {"role": role, "content": _chat_content(item["content"])}
            if "cache_control" in item:
                message["cache_control"] = item["cache_control"]
            messages.append(assistant(message) if role == "assistant" else message)
        elif kind in {"function_call", "custom_tool_call"}:
            arguments = (
                item["arguments"] if kind == "function_call" else custom_arguments(item["input"])
            )
            name = names.chat_name(item["name"], item.get("namespace"))
            call = {
                "id": item["call_id"],
                "type": "function",
                "function": {"name": name, "arguments": arguments},
            }
            last = messages[-1] if messages else None
            if last is not None and last["role"] == "assistant" and "tool_calls" in last:
                last["tool_calls"].append(call)  # parallel calls share one assistant turn
            else:
                messages.append(
                    assistant({"role": "assistant", "content": None, "tool_calls": [call]})
                )
        elif kind in {"function_call_output", "custom_tool_call_output"}:
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            )
    return messages


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, Mapping) else None
    if not isinstance(fmt, Mapping) or fmt.get("type") in {None, "text"}:
        return None
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise RequestInvalid(
        f"text.format.type {fmt['type']!r} is not supported", param="text.format.type"
    )


def chat_request(
    body: Mapping[str, Any], items: Sequence[Mapping[str, Any]], *, stream: bool
) -> tuple[dict[str, Any], Toolset]:
    """The Chat Completions body for a Responses request whose whole context is `items`,
    and its tools (to map calls back, and the offered tools Chat cannot carry)."""
    tools = toolset(body.get("tools"), body.get("tool_choice"))
    messages = _messages(items, tools.names)
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    chat: dict[str, Any] = {"model": body["model"], "messages": messages}
    if any(THINKING_BLOCKS in m for m in messages):
        chat[CARRIES_THINKING] = True
    if tools.chat:
        chat["tools"] = tools.chat
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = chat_tool_choice(body["tool_choice"], tools.names)
        if body.get("parallel_tool_calls") is not None:
            chat["parallel_tool_calls"] = body["parallel_tool_calls"]
    fmt = _response_format(body.get("text"))
    if fmt is not None:
        chat["response_format"] = fmt
    if body.get("max_output_tokens") is not None:
        chat["max_tokens"] = body["max_output_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            chat[key] = body[key]
    effort = _reasoning(body).get("effort")
    if effort in EFFORTS:
        chat["reasoning_effort"] = effort
    if stream:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat, tools


def _reasoning(body: Mapping[str, Any]) -> Mapping[str, Any]:
    reasoning = body.get("reasoning")
    return reasoning if isinstance(reasoning, Mapping) else {}


def reasoning_item(thinking: str, signed: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A ``reasoning`` output item showing a model's thinking as its summary text.

    Open models' thinking is their whole chain of thought, not a summary; it is still
    what clients of the Responses API (Codex, the Agents SDK) show as "thinking".
    Anthropic's signed thinking rides along sealed in ``encrypted_content``, so a client
    that sends the item back (``store: false``) keeps Claude thinking through a tool loop.
    """
    item: dict[str, Any] = {
        "id": new_id("rs"),
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": thinking}] if thinking else [],
    }
    if signed:
        item["encrypted_content"] = seal(signed)
    return item


def output_items(
    completion: Mapping[str, Any], names: ToolNames | None = None
) -> list[dict[str, Any]]:
    """Output items (reasoning, a message and/or tool calls) of a chat.completion body."""
    names = names or ToolNames()
    message = (completion.get("choices") or [{}])[0].get("message") or {}
    items: list[dict[str, Any]] = []
    thinking = thinking_of(message)
    signed = signed_blocks(message.get(THINKING_BLOCKS))
    if thinking or signed:
        items.append(reasoning_item(thinking, signed))
    text = message.get("content")
    if isinstance(text, str) and text:
        items.append(
            {
                "id": new_id("msg"),
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
                ],
            }
        )
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        items.append(
            names.call_item(
                str(function.get("name") or ""),
                call.get("id") or new_id("call"),
                function.get("arguments") or "",
            )
        )
    return items


def status_of(finish_reason: str | None) -> tuple[str, dict[str, str] | None]:
    """(status, incomplete_details) for a chat finish_reason."""
    if finish_reason == "length":
        return "incomplete", {"reason": "max_output_tokens"}
    if finish_reason == "content_filter":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def usage_of(usage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    cached = int(details.get("cached_tokens") or 0)
    written = int(details.get("cache_write_tokens") or 0)
    reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    out: dict[str, Any] = {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": written},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }
    if "cost_usd" in usage:  # a priced stream's (router.dialects.chat.usage)
        out["cost_usd"] = usage["cost_usd"]
    return out


def response_object(
    body: Mapping[str, Any],
    *,
    response_id: str,
    created_at: int,
    status: str,
    output: Sequence[Mapping[str, Any]] = (),
    usage: Mapping[str, Any] | None = None,
    error: Mapping[str, Any] | None = None,
    incomplete_details: Mapping[str, Any] | None = None,
    completed_at: int | None = None,
) -> dict[str, Any]:
    """A Responses API object with every field the spec marks required."""
    text = (
        body.get("text") if isinstance(body.get("text"), Mapping) else {"format": {"type": "text"}}
    )
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "completed_at": completed_at,
        "error": error,
        "incomplete_details": incomplete_details,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": body["model"],
        "output": list(output),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": {
            "effort": _reasoning(body).get("effort"),
            "summary": _reasoning(body).get("summary"),
        },
        "store": body.get("store", True),
        "background": bool(body.get("background", False)),
        "conversation": body.get("conversation"),
        "temperature": body.get("temperature", 1.0),
        "text": text,
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": [_echoed(tool) for tool in body.get("tools") or ()],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": dict(body.get("metadata") or {}),
    }


def _echoed(tool: Any) -> Any:
    """A request's tool as the response object echoes it (OpenAI's schema requires these)."""
    if isinstance(tool, Mapping) and tool.get("type") == "function" and "function" not in tool:
        return {"parameters": None, "strict": None, **tool}
    return tool


#: Our error kinds that OpenAI's ``ResponseError.code`` enum has a word for; the rest
#: are ``server_error`` there.
_RESPONSE_CODES = {
    "rate_limit_exceeded": "rate_limit_exceeded",
    "provider_rate_limit_error": "rate_limit_exceeded",
}


def response_error(kind: str, message: str) -> dict[str, str]:
    """The ``error`` of a failed response: a ``code`` from OpenAI's enum, so clients can
    decode it, and our own classification as ``nexus_code``."""
    return {
        "code": _RESPONSE_CODES.get(kind, "server_error"),
        "message": message,
        "nexus_code": kind,
    }
