"""What every provider adapter offers: pure translation to and from one wire dialect."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import attrs

from router.dialects.chat.chunks import ResponseContext
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = [
    "Adapter",
    "Exchange",
    "ImageAdapter",
    "StreamTranslator",
    "UpstreamRequest",
    "UpstreamStreamError",
    "Usage",
    "error_message",
]


class UpstreamStreamError(ValueError):
    """A provider's stream said it failed, or broke its framing; the message is safe to show."""


@attrs.frozen
class UpstreamRequest:
    """An HTTP request to send upstream, built without I/O."""

    method: str
    url: str
    headers: Mapping[str, str] = attrs.field(repr=False)  # may carry the provider's key
    body: bytes | None = None


class StreamTranslator(Protocol):
    """Turns upstream stream bytes into OpenAI chat.completion.chunk SSE bytes, incrementally."""

    def feed(self, data: bytes) -> list[bytes]: ...

    def close(self) -> list[bytes]: ...


@attrs.frozen
class Usage:
    """Tokens an answer reports."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    #: Of the prompt tokens, those the provider served from its prompt cache.
    cached_tokens: int | None = None


class Exchange(Protocol):
    """One API operation as any provider kind can serve it, built by the client's dialect.

    The dispatcher walks candidates and moves bytes; for each candidate it asks the
    exchange what to send and how to turn the answer into the client's dialect. When
    the client's dialect is the provider's, an exchange passes bodies through.
    """

    @property
    def stream(self) -> bool: ...

    def request(self, entry: ProviderEntry, model: str) -> UpstreamRequest:
        """What to send this provider for this model."""
        ...

    def answer(self, entry: ProviderEntry, model: str, data: bytes) -> tuple[bytes, Usage | None]:
        """The provider's whole answer in the client's dialect; a ValueError (or kin) if malformed."""
        ...

    def translator(self, entry: ProviderEntry, model: str) -> StreamTranslator:
        """Turns the provider's stream into the client's, incrementally."""
        ...

    def error_event(self, message: str, code: str) -> bytes:
        """The client dialect's last event for a stream whose provider failed midway."""
        ...


class Adapter(Protocol):
    """One provider kind: ``openai``, ``ollama`` or ``anthropic``."""

    kind: str

    def probe(self, entry: ProviderEntry) -> tuple[str, dict[str, str]]:
        """The health probe's URL and headers."""
        ...

    def chat_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any], *, stream: bool
    ) -> UpstreamRequest:
        """Translate an OpenAI Chat Completions body into this provider's request."""
        ...

    def model_list(self, data: bytes) -> list[tuple[str, str]]:
        """(id, display name) of each model in a successful probe's body; ValueError if malformed."""
        ...

    def probe_models(self, data: bytes) -> frozenset[str] | None:
        """The model names a successful probe's body lists (None: the body does not say)."""
        ...

    def discovered(self, data: bytes) -> tuple[DiscoveredModel, ...]:
        """What a successful probe's body says of each model, sorted by name; ValueError if none."""
        ...

    def detail_request(self, entry: ProviderEntry, model: str) -> UpstreamRequest | None:
        """A request that tells more about one listed model, or None when there is none."""
        ...

    def detailed(self, model: DiscoveredModel, data: bytes) -> DiscoveredModel:
        """`model` with what `detail_request`'s answer says; ValueError if it is malformed."""
        ...

    def chat_response(self, data: bytes, ctx: ResponseContext) -> bytes:
        """Translate the provider's non-streaming answer into an OpenAI chat.completion body."""
        ...

    def chat_stream(self, ctx: ResponseContext, *, include_usage: bool) -> StreamTranslator:
        """A translator for the provider's streaming answer."""
        ...

    #: Whether `embeddings_request` may be called (compile rejects embeddings elsewhere).
    serves_embeddings: bool

    def embeddings_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        """Translate an OpenAI embeddings body into this provider's request."""
        ...

    def embeddings_response(self, data: bytes, model: str, body: Mapping[str, Any]) -> bytes:
        """Translate the provider's answer into an OpenAI embeddings list."""
        ...


@runtime_checkable
class ImageAdapter(Protocol):
    """Providers that generate images (OpenAI-compatible ones; compile enforces it)."""

    def images_request(
        self, entry: ProviderEntry, model: str, body: Mapping[str, Any]
    ) -> UpstreamRequest:
        """Build ``/images/generations``; the answer is passed through as is."""
        ...


def error_message(body: Any) -> str | None:
    """Extract a provider's own error message from its error body (the caller redacts it)."""
    message: Any = None
    if isinstance(body, Mapping):
        err = body.get("error")
        if isinstance(err, Mapping):
            message = err.get("message")
        elif isinstance(err, str):
            message = err
        message = message or body.get("message") or body.get("detail")
    if not isinstance(message, str):
        return None
    return message[:500]


_DETAIL_LIMIT = 100


def error_details(body: Any) -> dict[str, str]:
    """A provider's own error ``code``, ``param`` and ``type`` (OpenAI's and Anthropic's
    error objects carry them; Ollama's does not), so a client can still decode them."""
    err = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(err, Mapping):
        return {}
    return {
        key: str(err[key])[:_DETAIL_LIMIT]
        for key in ("code", "param", "type")
        if isinstance(err.get(key), str | int) and not isinstance(err.get(key), bool)
    }
