"""Ask a provider for the models it serves, merged with what the config says about them."""

from __future__ import annotations

from typing import Any

from router.dialects import adapter_for
from router.dialects.base import UpstreamRequest
from router.errors import (
    GatewayTimeout,
    InvalidProviderResponse,
    ProviderConfigInvalid,
    ProviderTimeout,
    ProviderUnavailable,
    UpstreamError,
    UpstreamTimeout,
)
from router.routing.table import ProviderEntry
from router.upstream.transport import CONNECT, Pool, Timeouts

__all__ = ["provider_models"]

#: The most a model list may be.
_LIST_LIMIT = 16 * 1024 * 1024


async def provider_models(pool: Pool, entry: ProviderEntry) -> dict[str, Any]:
    """``{provider_id, models: [...]}`` for one provider: what it lists, with our metadata."""
    where = {"provider_id": entry.id, "provider_url": entry.display_url}
    if not entry.enabled:
        raise ProviderConfigInvalid(
            "Provider configuration invalid or API key expired",
            provider_id=entry.id,
            reason=entry.disabled_reason,
        )
    adapter = adapter_for(entry.kind)
    url, headers = adapter.probe(entry)
    # No total deadline: a connection that never opens must read as one (504), not as a
    # slow answer (408).
    timeouts = Timeouts(connect=min(entry.timeout_s, 10.0), idle=entry.timeout_s)
    try:
        response = await pool.send(
            UpstreamRequest("GET", url, headers), entry, timeouts, _LIST_LIMIT
        )
    except UpstreamTimeout as exc:
        if exc.phase == CONNECT:
            raise GatewayTimeout(
                "Provider did not respond in time",
                provider_id=entry.id,
                timeout_seconds=entry.timeout_s,
            ) from exc
        raise ProviderTimeout(
            "Request to provider timed out",
            provider_id=entry.id,
            timeout_seconds=entry.timeout_s,
        ) from exc
    except UpstreamError as exc:
        raise ProviderUnavailable(
            "Provider temporarily unavailable", **where, reason=exc.message
        ) from exc
    if response.status in {401, 403}:
        raise ProviderConfigInvalid(
            "Provider configuration invalid or API key expired",
            provider_id=entry.id,
            status=response.status,
        )
    if response.status >= 500:
        raise ProviderUnavailable(
            "Provider temporarily unavailable", **where, status=response.status
        )
    if response.status >= 400:
        raise InvalidProviderResponse(
            "Invalid response from provider", **where, status=response.status
        )
    try:
        listed = adapter.model_list(response.body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidProviderResponse("Invalid response from provider", **where) from exc
    models = []
    for model_id, name in listed:
        spec = entry.models.get(model_id) or entry.models.get(model_id.removesuffix(":latest"))
        models.append(
            {
                "id": model_id,
                "name": name,
                "description": (spec.description if spec else None) or "",
                "context_length": spec.context_window if spec else None,
                "supports_streaming": True,
                "supports_functions": bool(spec and spec.tools),
                # declared in the file; a discovered model has a spec but was not configured
                "configured": spec is not None and not spec.discovered,
                "tiers": {"reasoning": spec.tiers.reasoning, "coding": spec.tiers.coding}
                if spec
                else None,
            }
        )
    return {"provider_id": entry.id, "models": models}
