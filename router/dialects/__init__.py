"""Provider adapters, one module per wire dialect."""

from __future__ import annotations

from router.dialects.anthropic.provider import AnthropicAdapter
from router.dialects.base import Adapter
from router.dialects.chat.openai import OpenAIAdapter
from router.dialects.ollama.provider import OllamaAdapter

__all__ = ["adapter_for"]

_ADAPTERS: dict[str, Adapter] = {
    "openai": OpenAIAdapter(),
    "ollama": OllamaAdapter(),
    "anthropic": AnthropicAdapter(),
}


def adapter_for(kind: str) -> Adapter:
    """Return the adapter for a provider kind (every kind the schema allows has one)."""
    return _ADAPTERS[kind]
