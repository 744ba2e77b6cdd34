"""Ollama's own vocabulary, read and written in both directions (provider and client side).

Its ``options`` and their OpenAI names, its stop reasons, tool calls whose
arguments are objects, base64 images without a media type, timestamps and the
request headers sent to an Ollama server live here once; `provider` (Ollama
as a backend) and `client` (Ollama's API served to clients) both use them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import random
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from router.dialects.base import UpstreamStreamError
from router.routing.table import ProviderEntry

__all__ = [
    "MANAGEMENT_PATHS",
    "OPTIONS",
    "PATHS",
    "call_id",
    "done_reason",
    "error_body",
    "error_line",
    "finish_reason",
    "image_media_type",
    "is_api_path",
    "object_arguments",
    "openai_tool_calls",
    "server_headers",
    "timestamp",
]

_encode = msgspec.json.Encoder().encode

#: OpenAI sampling parameters and their names in Ollama's ``options``.
OPTIONS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "max_tokens": "num_predict",
    "max_completion_tokens": "num_predict",
}

#: Ollama's model-management calls: models are managed on the backends, not here.
MANAGEMENT_PATHS = ("/api/pull", "/api/push", "/api/create", "/api/copy", "/api/delete")
#: Every path of Ollama's API (served at the root, as clients expect of an Ollama host).
PATHS = frozenset(
    {
        "/api/chat",
        "/api/generate",
        "/api/embed",
        "/api/embeddings",
        "/api/tags",
        "/api/show",
        "/api/ps",
        "/api/version",
        *MANAGEMENT_PATHS,
    }
)

#: The first bytes of the image formats clients send, and their media types.
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def server_headers(entry: ProviderEntry) -> dict[str, str]:
    """The headers of a request to an Ollama server (one behind a proxy may want a key)."""
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    authorization = entry.authorization()
    if authorization:
        headers["authorization"] = authorization
    return headers


@functools.lru_cache(maxsize=8)
def _second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def timestamp(now: float) -> str:
    """Ollama's ``created_at``: RFC 3339 in UTC with microseconds and a ``Z``.

    Every answer and stream line carries one: the date and time are formatted once
    per second (strftime was a fifth of a translated answer's cost).
    """
    second = int(now)
    return f"{_second(second)}.{int((now - second) * 1_000_000):06d}Z"


def finish_reason(done: Any, tool_calls: bool) -> str:
    """An OpenAI ``finish_reason`` for Ollama's ``done_reason``."""
    if tool_calls:
        return "tool_calls"
    return "length" if done == "length" else "stop"


def done_reason(finish: Any) -> str:
    """Ollama's ``done_reason`` for an OpenAI ``finish_reason`` (a tool call stops too)."""
    return "length" if finish == "length" else "stop"


def call_id() -> str:
    """Ollama gives tool calls no ids; clients match results to calls by id across turns."""
    return f"call_{random.getrandbits(96):024x}"


def openai_tool_calls(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """An Ollama message's tool calls (object arguments) in OpenAI's shape (JSON strings)."""
    out = []
    for call in message.get("tool_calls") or ():
        function = call.get("function", {})
        arguments = function.get("arguments", {})
        out.append(
            {
                "id": call.get("id") or call_id(),
                "type": "function",
                "function": {
                    "name": function.get("name"),
                    "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
                },
            }
        )
    return out


def object_arguments(arguments: Any) -> dict[str, Any]:
    """A provider's tool-call arguments (a JSON string, or already an object) as an object.

    Arguments that are no JSON object are the provider's fault: the answer is malformed.
    """
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if arguments is None or arguments == "":
        return {}
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        raise UpstreamStreamError("a tool call's arguments are not valid JSON") from None
    if not isinstance(value, dict):
        raise UpstreamStreamError("a tool call's arguments are not a JSON object")
    return value


def image_media_type(data: str) -> str | None:
    """The media type of a base64 image, from its first bytes (None: not base64)."""
    try:
        head = base64.b64decode(data[:24], validate=True)
    except (binascii.Error, ValueError):
        return None
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"  # what Ollama assumes of an image it cannot name


def is_api_path(path: str) -> bool:
    """Whether `path` is one of Ollama's (its errors then take Ollama's envelope)."""
    return path in PATHS or path.startswith("/api/blobs/")


def error_body(message: str, context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Ollama's error envelope; a routing rejection adds the contract's ``context``."""
    body: dict[str, Any] = {"error": message}
    if context is not None:
        body["context"] = context
    return body


def error_line(message: str) -> bytes:
    """Ollama's last stream line when a generation fails midway."""
    return _encode({"error": message}) + b"\n"
