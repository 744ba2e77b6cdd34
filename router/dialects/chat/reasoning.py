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

from collections.abc import Mapping
from typing import Any

from router.routing.table import ProviderEntry

__all__ = ["EFFORTS", "effort_for", "thinking_of", "thinks"]

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
