"""The wire dialects we speak, each in its own package, in both directions.

``chat/`` is OpenAI Chat Completions, our internal dialect (and the OpenAI-kind
providers' own, so their bodies pass through); ``responses/`` the OpenAI
Responses API; ``anthropic/`` the Messages API; ``ollama/`` Ollama's native API;
``framing`` the SSE and NDJSON framing they share. `adapter_for` gives the
provider side of each provider kind.
"""

from __future__ import annotations

from router.dialects.anthropic.provider import AnthropicAdapter
from router.dialects.base import Adapter
from router.dialects.chat.openai import OpenAIAdapter
from router.dialects.ollama.provider import OllamaAdapter

__all__ = ["ADAPTERS", "adapter_for"]

#: One adapter per provider kind (`router.config.model.PROVIDER_KINDS`; a test checks).
ADAPTERS: dict[str, Adapter] = {
    adapter.kind: adapter for adapter in (OpenAIAdapter(), OllamaAdapter(), AnthropicAdapter())
}


def adapter_for(kind: str) -> Adapter:
    """Return the adapter for a provider kind (every kind the schema allows has one)."""
    return ADAPTERS[kind]
