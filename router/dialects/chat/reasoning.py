"""Reasoning in our internal dialect: the effort a request asks for, the thinking an answer shows.

A Chat request asks for thinking with ``reasoning_effort`` (``none`` … ``high``; OpenAI
also knows ``xhigh``); answers carry it as ``message.reasoning_content`` and stream it as
``delta.reasoning_content``, the field most OpenAI-compatible clients read. Some servers
(newer vLLM, Ollama's OpenAI endpoint, OpenRouter) call that field ``reasoning``;
`thinking_of` reads both. Each provider dialect maps the effort onto its own control,
and only for a model whose config says ``reasoning: true``: for any other the control is
dropped, since a model that cannot think answers it with a 400.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from router.routing.table import ProviderEntry

__all__ = [
    "CARRIES_THINKING",
    "EFFORTS",
    "THINKING_BLOCKS",
    "effort_for",
    "seal",
    "signed_blocks",
    "thinking_of",
    "thinks",
    "unseal",
]

#: The efforts we map, weakest first (``xhigh`` is OpenAI's newest; elsewhere it is ``high``).
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def thinks(entry: ProviderEntry, model: str) -> bool:
    """Whether `model` at `entry` takes a reasoning control (``reasoning: true``)."""
    spec = entry.models.get(model)
    return spec is not None and spec.reasoning


def effort_for(entry: ProviderEntry, model: str, body: Mapping[str, Any]) -> str | None:
    """The effort a chat body asks of this model, or None when there is nothing to send."""
    effort = body.get("reasoning_effort")
    if effort not in EFFORTS or not thinks(entry, model):
        return None
    return str(effort)


def thinking_of(message: Mapping[str, Any]) -> str:
    """The thinking in an OpenAI-style message or delta (``reasoning_content`` or ``reasoning``)."""
    text = message.get("reasoning_content")
    if not isinstance(text, str):
        text = message.get("reasoning")
    return text if isinstance(text, str) else ""


# -- signed thinking, carried across turns -----------------------------------------------------

#: An assistant message's signed thinking: Anthropic ``thinking`` (text and signature) and
#: ``redacted_thinking`` (opaque data) blocks, under the name LiteLLM gives them. An
#: Anthropic provider takes them back as they came (thinking then goes on through a tool
#: loop); every other provider never sees them.
THINKING_BLOCKS = "thinking_blocks"
#: Set on an internal chat body whose messages carry thinking blocks the client did not
#: write itself (the Responses API's reasoning items): an OpenAI-kind provider, which
#: would refuse the unknown field, gets them removed.
CARRIES_THINKING = "nexus_thinking_blocks"
#: How signed thinking travels in a Responses reasoning item's ``encrypted_content``.
_SEALED = "nexus.anthropic."


def signed_blocks(value: Any) -> list[dict[str, str]]:
    """The well-formed thinking blocks of a ``thinking_blocks`` value (others are dropped)."""
    out: list[dict[str, str]] = []
    for block in value if isinstance(value, list) else ():
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "thinking" and all(
            isinstance(block.get(k), str) for k in ("thinking", "signature")
        ):
            out.append(
                {"type": "thinking", "thinking": block["thinking"], "signature": block["signature"]}
            )
        elif kind == "redacted_thinking" and isinstance(block.get("data"), str):
            out.append({"type": "redacted_thinking", "data": block["data"]})
    return out


def seal(blocks: list[dict[str, str]]) -> str:
    """Signed thinking as a reasoning item's ``encrypted_content`` (opaque to the client)."""
    raw = json.dumps(blocks, separators=(",", ":")).encode()
    return _SEALED + base64.urlsafe_b64encode(raw).decode()


def unseal(content: Any) -> list[dict[str, str]]:
    """The thinking blocks `seal` made; nothing for anyone else's encrypted content."""
    if not isinstance(content, str) or not content.startswith(_SEALED):
        return []
    try:
        return signed_blocks(json.loads(base64.urlsafe_b64decode(content[len(_SEALED) :])))
    except ValueError:
        return []
