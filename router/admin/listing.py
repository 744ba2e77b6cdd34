"""Ask a provider for the models it serves, merged with what the config says about them."""

from __future__ import annotations

from typing import Any

import httpx

from router.dialects import adapter_for
from router.errors import (
    GatewayTimeout,
    InvalidProviderResponse,
    ProviderConfigInvalid,
    ProviderTimeout,
    ProviderUnavailable,
)
from router.routing.table import ProviderEntry
from router.upstream.transport import failure_kind

__all__ = ["provider_models"]


async def provider_models(client: httpx.AsyncClient, entry: ProviderEntry) -> dict[str, Any]:
    """The seed's ``{provider_id, models: [...]}`` for one provider."""
    where = {"provider_id": entry.id, "provider_url": entry.display_url}
    if not entry.enabled:
        raise ProviderConfigInvalid(
            "Provider configuration invalid or API key expired",
            provider_id=entry.id,
            reason=entry.disabled_reason,
        )
    adapter = adapter_for(entry.kind)
    url, headers = adapter.probe(entry)
    timeout = httpx.Timeout(entry.timeout_s)
    try:
        response = await client.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        kind = failure_kind(exc)
        if kind == "connect_timeout":
            raise GatewayTimeout(
                "Provider did not respond in time",
                provider_id=entry.id,
                timeout_seconds=entry.timeout_s,
            ) from exc
        if kind == "read_timeout":
            raise ProviderTimeout(
                "Request to provider timed out",
                provider_id=entry.id,
                timeout_seconds=entry.timeout_s,
            ) from exc
        raise ProviderUnavailable("Provider temporarily unavailable", **where) from exc
    if response.status_code in {401, 403}:
        raise ProviderConfigInvalid(
            "Provider configuration invalid or API key expired",
            provider_id=entry.id,
            status=response.status_code,
        )
    if response.status_code >= 500:
        raise ProviderUnavailable(
            "Provider temporarily unavailable", **where, status=response.status_code
        )
    if response.status_code >= 400:
        raise InvalidProviderResponse(
            "Invalid response from provider", **where, status=response.status_code
        )
    try:
        listed = adapter.model_list(response.content)
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
                "configured": spec is not None,
                "tiers": {"reasoning": spec.tiers.reasoning, "coding": spec.tiers.coding}
                if spec
                else None,
            }
        )
    return {"provider_id": entry.id, "models": models}
