"""Messages API answers to clients: a Chat Completions answer written as an Anthropic message.

Also the Messages API's error envelope, which every error on these endpoints
wears (``router.http.errors`` picks it by path), and its stream's error event.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

import msgspec

__all__ = [
    "STOP_REASONS",
    "error_body",
    "error_event",
    "error_type",
    "message_body",
    "message_id",
    "usage_of",
]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

#: Chat Completions finish reasons and the Messages API's stop reasons.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}

#: HTTP status -> the Messages API's error type (the SDKs pick their exception by status).
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "invalid_request_error",
    409: "invalid_request_error",
    413: "request_too_large",
    415: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def message_id() -> str:
    """A ``msg_…`` id (no secret, so no getrandom() call for it)."""
    return f"msg_{random.getrandbits(96):024x}"


def error_type(status: int) -> str:
    return _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


def error_body(status: int, message: str, **fields: Any) -> dict[str, Any]:
    """``{"type": "error", "error": {"type", "message", ...}}``; `fields` go in ``error``."""
    return {"type": "error", "error": {"type": error_type(status), "message": message, **fields}}


def error_event(message: str, status: int = 500) -> bytes:
    """A stream's last event when its provider failed midway: the SDKs raise it."""
    return b"event: error\ndata: " + _encode(error_body(status, message)) + b"\n\n"


def usage_of(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """Chat usage as Messages usage: ``input_tokens`` excludes cached tokens, as Anthropic's."""
    usage = usage or {}
    prompt = int(usage.get("prompt_tokens") or 0)
    out: dict[str, Any] = {"input_tokens": prompt, "output_tokens": 0}
    details = usage.get("prompt_tokens_details")
    if isinstance(details, Mapping) and details.get("cached_tokens") is not None:
        cached = int(details["cached_tokens"])
        out["input_tokens"] = max(prompt - cached, 0)
        out["cache_read_input_tokens"] = cached
    out["output_tokens"] = int(usage.get("completion_tokens") or 0)
    return out


def _input(arguments: Any) -> dict[str, Any]:
    """A tool call's arguments as the object ``tool_use.input`` must be (else malformed)."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    value = json.loads(arguments) if arguments else {}
    if not isinstance(value, dict):
        raise ValueError("tool call arguments are not a JSON object")
    return value


def message_body(chat: bytes, model: str, message_id: str) -> bytes:
    """A ``chat.completion`` body as a Messages API ``message`` named `model`."""
    body = _decode(chat)
    choice = body["choices"][0]
    message = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
    text = message.get("content")
    if isinstance(text, str) and text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or f"toolu_{random.getrandbits(96):024x}",
                "name": function.get("name") or "",
                "input": _input(function.get("arguments")),
            }
        )
    stop = STOP_REASONS.get(str(choice.get("finish_reason")), "end_turn")
    if message.get("tool_calls") and stop == "end_turn":
        stop = "tool_use"  # some servers finish a tool call with "stop"
    return _encode(
        {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage_of(body.get("usage")),
        }
    )
