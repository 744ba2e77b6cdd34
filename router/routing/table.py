"""The compiled, frozen routing table every request reads."""

from __future__ import annotations

import re
from collections.abc import Mapping

import attrs

from router.auth.keys import AuthTable
from router.config.diagnostics import Diagnostic
from router.config.model import CacheConfig, NexusConfig, Overflow, Price, RoutingConfig, Tiers
from router.redact import NOTHING, Redactor
from router.routing.budgets import Budget

__all__ = ["ModelSpec", "ProviderEntry", "Route", "RoutingTable", "Target"]


@attrs.frozen
class ModelSpec:
    """What one model at one provider can do."""

    name: str
    tiers: Tiers
    context_window: int | None
    vision: bool
    tools: bool
    embeddings: bool
    description: str | None = None
    images: bool = False
    documents: bool = False
    #: Takes a reasoning effort (extended thinking, Ollama's think).
    reasoning: bool = False
    #: Served because the backend listed it, not because the file declares it.
    discovered: bool = False
    #: None: free (a local model).
    price: Price | None = None


@attrs.frozen
class ProviderEntry:
    """A provider with its references resolved; `api_key` is the secret itself."""

    id: str
    name: str
    kind: str
    base_url: str
    api_key: str | None = attrs.field(repr=False)
    zone: str
    zone_rank: int
    enabled: bool
    disabled_reason: str | None
    max_concurrency: int | None
    timeout_s: float
    models: Mapping[str, ModelSpec]
    description: str | None = None
    rpm: int | None = None
    first_byte_timeout_s: float | None = None
    #: The provider's secrets (its key, a password in its URL), to scrub from what it says.
    secrets: Redactor = NOTHING
    #: The base URL as written (``${VAR}`` unexpanded), without credentials: what pages,
    #: errors and logs show.
    display_url: str = ""
    #: ``Basic ...`` for a base URL written with ``user:password@`` (taken out of the URL).
    basic_auth: str | None = attrs.field(default=None, repr=False)
    #: ``discover: true``: the health probe also asks the backend what it serves.
    discover: bool = False
    #: ``auto``: the system prompt and tools go to Anthropic's prompt cache on every request.
    prompt_cache: str = "off"

    def authorization(self) -> str | None:
        """The Authorization header for OpenAI-style providers: the key, else URL credentials."""
        if self.api_key:
            return f"Bearer {self.api_key}"
        return self.basic_auth


@attrs.frozen
class Target:
    """One (provider, model) a route may use; lower `rank` is more preferred."""

    provider: str
    model: str
    rank: int
    zone: str
    zone_rank: int
    spec: ModelSpec

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"


@attrs.frozen
class Route:
    """A public model name with its expanded targets and constraints."""

    name: str
    targets: tuple[Target, ...]
    zone: str
    zone_rank: int
    min_tiers: Tiers | None
    overflow: Overflow
    direct: bool
    description: str | None = None
    cache: CacheConfig | None = None


@attrs.frozen
class RoutingTable:
    """An immutable snapshot of one config version, with indexes built once at compile time.

    `by_tiers` groups every offered (provider, model) by its tiers, closest-first
    lookups for flexible routing scan at most 121 groups instead of every model.
    """

    version: str
    digest: str
    loaded_at: float
    source: str
    zones: tuple[str, ...]
    providers: Mapping[str, ProviderEntry]
    providers_by_id: Mapping[str, ProviderEntry]
    routes: Mapping[str, Route]
    by_tiers: tuple[tuple[Tiers, tuple[Target, ...]], ...]
    public_models: tuple[str, ...]
    settings: RoutingConfig
    config: NexusConfig
    warnings: tuple[Diagnostic, ...] = ()
    #: None: no ``auth`` section (loopback only); otherwise the compiled keys.
    auth: AuthTable | None = None
    #: Routes whose name is a glob (`router.routing.patterns`), longest first, each with its
    #: compiled expression; `resolve` tries them when no route has the exact name.
    patterns: tuple[tuple[str, re.Pattern[str]], ...] = ()

    def resolve(self, name: str) -> Route | None:
        """The route serving model `name`: its own, else the longest pattern matching it."""
        found = self.routes.get(name)
        if found is None and self.patterns:
            for pattern, expression in self.patterns:
                if expression.fullmatch(name):
                    return self.routes[pattern]
        return found

    budgets: tuple[Budget, ...] = ()

    def routable_models(self) -> tuple[str, ...]:
        """Public names with at least one target on an enabled provider."""
        return tuple(
            name
            for name, route in self.routes.items()
            if any(self.providers[t.provider].enabled for t in route.targets)
        )
