"""Provider adapters, one module per wire dialect."""

from __future__ import annotations

from router.providers.anthropic import AnthropicAdapter
from router.providers.base import Adapter
from router.providers.ollama import OllamaAdapter
from router.providers.openai import OpenAIAdapter

__all__ = ["adapter_for"]

_ADAPTERS: dict[str, Adapter] = {
    "openai": OpenAIAdapter(),
    "ollama": OllamaAdapter(),
    "anthropic": AnthropicAdapter(),
}


def adapter_for(kind: str) -> Adapter:
    """Return the adapter for a provider kind (every kind the schema allows has one)."""
    return _ADAPTERS[kind]
