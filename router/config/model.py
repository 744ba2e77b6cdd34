"""The config model: frozen attrs classes mirroring ``schemas/nexus.schema.json``.

Values are exactly what the file says (``${VAR}`` references are kept); resolving
them is `router.routing.compile`'s job, so the model can be written back unchanged.
"""

from __future__ import annotations

import enum
from typing import ClassVar

import attrs

__all__ = [
    "PROVIDER_KINDS",
    "AdminConfig",
    "AnthropicProvider",
    "AuthConfig",
    "BudgetConfig",
    "CacheConfig",
    "HealthConfig",
    "KeyConfig",
    "ModelConfig",
    "ModelDefaults",
    "NexusConfig",
    "OllamaProvider",
    "OpenAIProvider",
    "Overflow",
    "Period",
    "Preference",
    "Price",
    "ProviderConfig",
    "QueueConfig",
    "Role",
    "RouteConfig",
    "RoutingConfig",
    "ServerConfig",
    "Tiers",
    "Zone",
]


class Overflow(enum.StrEnum):
    """May a request spill into a less private zone when nothing in zone is usable?"""

    NEVER = "never"
    FRESH_ONLY = "fresh-only"
    ALWAYS = "always"


class Preference(enum.StrEnum):
    """Strict: only a route's own targets. Flexible: may add equally capable alternatives."""

    STRICT = "strict"
    FLEXIBLE = "flexible"


@attrs.frozen
class Tiers:
    reasoning: int = 0
    coding: int = 0

    def meets(self, required: Tiers) -> bool:
        return self.reasoning >= required.reasoning and self.coding >= required.coding


@attrs.frozen
class Price:
    """USD per million tokens; ``cached_input`` defaults to the ``input`` price."""

    input: float = 0.0
    output: float = 0.0
    cached_input: float | None = None


@attrs.frozen
class ModelConfig:
    name: str
    tiers: Tiers = Tiers()
    context_window: int | None = None
    vision: bool = False
    tools: bool = False
    embeddings: bool = False
    reasoning: bool = False
    images: bool = False
    documents: bool = False
    description: str | None = None
    #: None: a local model, free.
    price: Price | None = None
    #: The keys the file wrote for this model (the converter records them): with
    #: discovery, a declared value wins field by field over what the backend says.
    given: frozenset[str] = attrs.field(default=frozenset(), eq=False, repr=False)


@attrs.frozen
class ModelDefaults:
    """What a discovering provider assumes of a model where neither file nor backend says.

    The same keys as a model entry but its name; None means "not given".
    """

    tiers: Tiers | None = None
    context_window: int | None = None
    vision: bool | None = None
    tools: bool | None = None
    embeddings: bool | None = None
    reasoning: bool | None = None
    images: bool | None = None
    documents: bool | None = None
    description: str | None = None
    #: None: a local model, free.
    price: Price | None = None


@attrs.frozen(kw_only=True)
class _ProviderBase:
    kind: ClassVar[str]

    name: str
    base_url: str
    id: str | None = None
    api_key: str | None = attrs.field(default=None, repr=False)
    description: str | None = None
    zone: str | None = None
    enabled: bool = True
    max_concurrency: int | None = None
    timeout_s: float = 60.0
    first_byte_timeout_s: float | None = None
    rpm: int | None = None
    #: ``auto``: Anthropic caches the system prompt and tools of every request.
    prompt_cache: str = "off"
    models: tuple[ModelConfig, ...] = ()
    #: Ask the backend what it serves (on the health probe's schedule) and serve that too.
    discover: bool = False
    model_defaults: ModelDefaults | None = None
    #: Glob patterns limiting which discovered models are exposed (None: all of them).
    include: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    created_at: str | None = None
    updated_at: str | None = None


@attrs.frozen(kw_only=True)
class OllamaProvider(_ProviderBase):
    kind: ClassVar[str] = "ollama"


@attrs.frozen(kw_only=True)
class OpenAIProvider(_ProviderBase):
    kind: ClassVar[str] = "openai"


@attrs.frozen(kw_only=True)
class AnthropicProvider(_ProviderBase):
    kind: ClassVar[str] = "anthropic"


ProviderConfig = OllamaProvider | OpenAIProvider | AnthropicProvider

#: Every provider kind, declared once (its config class): the schema's enum, the
#: adapters and the admin API follow it, and tests/test_declared_once.py checks they do.
PROVIDER_KINDS: tuple[str, ...] = tuple(
    c.kind for c in (OllamaProvider, OpenAIProvider, AnthropicProvider)
)


@attrs.frozen
class Zone:
    name: str
    description: str | None = None


@attrs.frozen
class CacheConfig:
    ttl_s: float
    any_temperature: bool = False


@attrs.frozen
class QueueConfig:
    size: int = 0
    max_wait_s: float = 30.0


@attrs.frozen
class RouteConfig:
    model: str
    targets: tuple[str, ...]
    description: str | None = None
    zone: str | None = None
    min_tiers: Tiers | None = None
    overflow: Overflow | None = None
    cache: CacheConfig | None = None


@attrs.frozen
class HealthConfig:
    interval_s: float = 10.0
    timeout_s: float = 3.0
    failure_threshold: int = 3
    recovery_threshold: int = 2
    cooldown_s: float = 30.0


@attrs.frozen
class RoutingConfig:
    preference: Preference = Preference.STRICT
    overflow: Overflow = Overflow.NEVER
    retry_after_s: int = 30
    max_attempts: int = 3
    health: HealthConfig = HealthConfig()
    queue: QueueConfig = QueueConfig()
    cache_max_mb: float = 64.0
    embeddings_batch_ms: float = 3.0


@attrs.frozen
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    max_body_bytes: int = 16 * 1024 * 1024
    max_upstream_bytes: int = 64 * 1024 * 1024
    shutdown_grace_s: float = 25.0
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int | None = None  # None: derived from the file descriptor limit


class Role(enum.StrEnum):
    ADMIN = "admin"
    USER = "user"


@attrs.frozen
class KeyConfig:
    name: str
    role: Role
    key: str | None = attrs.field(default=None, repr=False)
    sha256: str | None = None
    rpm: int | None = None
    models: tuple[str, ...] | None = None


@attrs.frozen
class AuthConfig:
    mode: str = "keys"
    keys: tuple[KeyConfig, ...] = ()


@attrs.frozen
class AdminConfig:
    write_back: bool = True
    env_allow: tuple[str, ...] = ()


class Period(enum.StrEnum):
    """A budget's window: a UTC calendar day, ISO week (from Monday) or month."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@attrs.frozen
class BudgetConfig:
    """A spend limit over one scope; exactly one of the scope keys is set (compile checks)."""

    name: str
    limit_usd: float
    period: Period
    zone: str | None = None
    provider: str | None = None
    route: str | None = None
    key: str | None = None


@attrs.frozen
class NexusConfig:
    version: int
    providers: tuple[ProviderConfig, ...] = ()
    server: ServerConfig = ServerConfig()
    storage: str = "sqlite:///nexus.db"
    shared: str | None = None
    zones: tuple[Zone, ...] = (Zone("default"),)
    routes: tuple[RouteConfig, ...] = ()
    routing: RoutingConfig = RoutingConfig()
    admin: AdminConfig = AdminConfig()
    auth: AuthConfig | None = None
    budgets: tuple[BudgetConfig, ...] = ()
