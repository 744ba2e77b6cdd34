"""Derive `RequestFacts` from a request body and its headers (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from router.config.model import Preference
from router.routing.decision import RequestFacts
from router.routing.files import FileKind, file_kind, file_media_type

__all__ = [
    "chat_facts",
    "estimate_tokens",
    "messages_facts",
    "preference_from_headers",
    "responses_facts",
]

_HISTORY_ROLES = frozenset({"assistant", "tool", "function"})
_HISTORY_ITEMS = frozenset(
    {
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "reasoning",
    }
)
_IMAGE_PARTS = frozenset({"image_url", "input_image", "image"})
_FILE_PARTS = frozenset({"file", "input_file"})
_encode = msgspec.json.Encoder().encode
_CHARS_PER_TOKEN = 4  # the usual rough estimate; errs towards a larger window


def preference_from_headers(headers: Mapping[str, str]) -> Preference | None:
    """``X-Nexus-Strict`` (any value) wins over ``X-Nexus-Flexible: true``; neither -> None."""
    if "x-nexus-strict" in headers:
        return Preference.STRICT
    if headers.get("x-nexus-flexible", "").strip().lower() == "true":
        return Preference.FLEXIBLE
    return None


def _text_len_and_images(content: Any) -> tuple[int, bool, bool]:
    """(characters of text, has images, has documents) of a message's content."""
    if isinstance(content, str):
        return len(content), False, False
    size, images, documents = 0, False, False
    if isinstance(content, Sequence):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            kind = part.get("type")
            if kind in _IMAGE_PARTS:
                images = True
            elif kind in _FILE_PARTS:
                file = part.get("file", part) if kind == "file" else part
                if isinstance(file, Mapping):
                    found = file_kind(file_media_type(file))
                    images = images or found is FileKind.IMAGE
                    documents = documents or found is FileKind.DOCUMENT
                    data = file.get("file_data")
                    if found is FileKind.TEXT and isinstance(data, str):
                        size += len(data) * 3 // 4
            text = part.get("text")
            if isinstance(text, str):
                size += len(text)
    return size, images, documents


def estimate_tokens(chars: int) -> int:
    """The tokens `chars` characters of text count as, by the one estimate routing uses."""
    return chars // _CHARS_PER_TOKEN


def _tokens(chars: int, max_tokens: Any) -> int:
    budget = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 0
    return estimate_tokens(chars) + budget


def chat_facts(body: Mapping[str, Any], headers: Mapping[str, str]) -> RequestFacts:
    """Facts of a Chat Completions request (`body` already checked to have model and messages)."""
    users = history = chars = 0
    vision = documents = False
    counted = 0
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role == "user":
            users += 1
        elif role in _HISTORY_ROLES:
            history += 1
        if role not in {"system", "developer"}:
            counted += 1
        size, images, docs = _text_len_and_images(message.get("content"))
        chars += size
        vision = vision or images
        documents = documents or docs
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    return RequestFacts(
        model=str(body.get("model")),
        has_history=history > 0 or users > 1,
        conversation_messages=counted,
        needs_vision=vision,
        needs_documents=documents,
        needs_tools=bool(body.get("tools") or body.get("functions")),
        context_tokens=_tokens(chars, max_tokens),
        preference=preference_from_headers(headers),
    )


def responses_facts(
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    prior_items: Sequence[Mapping[str, Any]] = (),
) -> RequestFacts:
    """Facts of a Responses request; `prior_items` are a conversation's or chain's earlier items."""
    items: list[Any] = list(prior_items)
    given = body.get("input")
    if isinstance(given, str):
        items.append({"type": "message", "role": "user", "content": given})
    elif isinstance(given, Sequence):
        items.extend(given)
    users = history = chars = counted = 0
    vision = documents = False
    for item in items:
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type", "message")
        role = item.get("role")
        if kind in _HISTORY_ITEMS or (kind == "message" and role == "assistant"):
            history += 1
        elif kind == "message" and role == "user":
            users += 1
        if role not in {"system", "developer"}:
            counted += 1
        size, images, docs = _text_len_and_images(item.get("content", item.get("output")))
        chars += size
        vision = vision or images
        documents = documents or docs
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        chars += len(instructions)
    return RequestFacts(
        model=str(body.get("model")),
        has_history=history > 0 or users > 1 or bool(body.get("previous_response_id")),
        conversation_messages=counted,
        needs_vision=vision,
        needs_documents=documents,
        needs_tools=bool(body.get("tools")),
        context_tokens=_tokens(chars, body.get("max_output_tokens")),
        preference=preference_from_headers(headers),
    )


def _block_chars(content: Any) -> tuple[int, bool, bool, bool]:
    """(text characters, images, documents, tool results) of a Messages API turn's content."""
    if isinstance(content, str):
        return len(content), False, False, False
    chars, images, documents, results = 0, False, False, False
    for block in content if isinstance(content, Sequence) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "image":
            images = True
        elif kind == "document":
            source = block.get("source")
            if isinstance(source, Mapping):
                data = source.get("data")
                if source.get("type") == "text" and isinstance(data, str):
                    chars += len(data)
                else:
                    found = file_kind(source.get("media_type") or "application/pdf")
                    documents = documents or found is FileKind.DOCUMENT
                    images = images or found is FileKind.IMAGE
        elif kind == "tool_result":
            results = True
            inner, more, docs, _ = _block_chars(block.get("content"))
            chars += inner
            images, documents = images or more, documents or docs
        elif kind == "tool_use":
            chars += len(_encode(block.get("input")))
        for key in ("text", "thinking"):
            text = block.get(key)
            if isinstance(text, str):
                chars += len(text)
    return chars, images, documents, results


def messages_facts(body: Mapping[str, Any], headers: Mapping[str, str]) -> RequestFacts:
    """Facts of a Messages API request (`body` already checked to have model and messages).

    History, as on chat completions: any assistant turn, any tool result, more than
    one user turn.
    """
    users = history = chars = counted = 0
    vision = documents = False
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        size, images, docs, results = _block_chars(message.get("content"))
        if message.get("role") == "user":
            users += 1
        else:
            history += 1
        history += results
        counted += 1
        chars += size
        vision = vision or images
        documents = documents or docs
    system = body.get("system")
    if system:
        chars += _block_chars(system)[0]
    for tool in body.get("tools") or ():
        if isinstance(tool, Mapping):
            chars += len(str(tool.get("description") or "")) + len(
                _encode(tool.get("input_schema"))
            )
    return RequestFacts(
        model=str(body.get("model")),
        has_history=history > 0 or users > 1,
        conversation_messages=counted,
        needs_vision=vision,
        needs_tools=bool(body.get("tools")),
        context_tokens=_tokens(chars, body.get("max_tokens")),
        preference=preference_from_headers(headers),
        needs_documents=documents,
    )
