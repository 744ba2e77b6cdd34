"""What the dashboard (`/ui`) shows, built from values: the table, provider states, activity.

Pure functions: the HTTP layer hands in the routing table, each provider's run-time
description (`HealthMonitor.describe`) and the recorded activity, and gets JSON-ready
dictionaries back. Nothing here reads a key: providers are shown by their
``display_url`` (credentials masked, ``${VAR}`` unexpanded) and never their ``api_key``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from router.config.model import Tiers
from router.routing.decision import (
    ProviderState,
    Rejection,
    RequestFacts,
    RouteDecision,
    route,
)
from router.routing.table import ModelSpec, ProviderEntry, RoutingTable

__all__ = ["provider_view", "routes_view", "topology_view"]

Describe = Callable[[str], Mapping[str, object]]


def _tiers(tiers: Tiers | None) -> dict[str, int] | None:
    return None if tiers is None else {"reasoning": tiers.reasoning, "coding": tiers.coding}


def _model(spec: ModelSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "tiers": _tiers(spec.tiers),
        "context_window": spec.context_window,
        "capabilities": [
            name
            for name, present in (
                ("vision", spec.vision),
                ("tools", spec.tools),
                ("reasoning", spec.reasoning),
                ("documents", spec.documents),
                ("embeddings", spec.embeddings),
                ("images", spec.images),
            )
            if present
        ],
        #: Served because the backend listed it (``discover: true``), not declared in the file.
        "discovered": spec.discovered,
    }


def provider_view(entry: ProviderEntry, state: Mapping[str, object]) -> dict[str, Any]:
    """One provider: configuration (no secrets) and run-time state."""
    discovered = state.get("discovered_models")
    return {
        "name": entry.name,
        "id": entry.id,
        "kind": entry.kind,
        "base_url": entry.display_url,
        "zone": entry.zone,
        "enabled": entry.enabled,
        "disabled_reason": entry.disabled_reason,
        "status": state.get("status", "unknown") if entry.enabled else "disabled",
        "in_flight": state.get("in_flight", 0),
        "max_concurrency": entry.max_concurrency,
        "circuit": {
            "open": state.get("circuit_open", False),
            "opens": state.get("circuit_opens", 0),
            "consecutive_failures": state.get("consecutive_failures", 0),
            "half_open_in_s": state.get("half_open_in_s"),
            "open_models": state.get("open_models") or {},
        },
        "cooling_down_s": state.get("cooling_down_s", 0.0),
        "last_error": state.get("last_error"),
        "recent_error_rate": state.get("recent_error_rate"),
        "rpm": entry.rpm,
        "declared_models": sorted(n for n, spec in entry.models.items() if not spec.discovered),
        #: What the backend listed at its last probe (None: it does not list, or not yet).
        "listed_models": discovered,
        "models": [_model(spec) for _, spec in sorted(entry.models.items())],
    }


def topology_view(table: RoutingTable, describe: Describe) -> list[dict[str, Any]]:
    """Zones, most private first, each with its providers and their models."""
    zones: list[dict[str, Any]] = [{"name": zone, "providers": []} for zone in table.zones]
    by_name = {zone["name"]: zone for zone in zones}
    for name, entry in table.providers.items():
        state = describe(name) if entry.enabled else {}
        zone = by_name.get(entry.zone)
        if zone is None:  # cannot happen after compile; shown rather than dropped
            zone = by_name[entry.zone] = {"name": entry.zone, "providers": []}
            zones.append(zone)
        zone["providers"].append(provider_view(entry, state))
    return zones


def _serving(table: RoutingTable, name: str, live: Mapping[str, ProviderState]) -> dict[str, Any]:
    """Which target a plain request for `name` (no history, no tools) would go to now."""
    result = route(table, RequestFacts(model=name), live)
    if isinstance(result, RouteDecision) and result.candidates:
        first = result.candidates[0]
        return {"target": first.target.key, "reason": first.reason.value}
    if isinstance(result, Rejection):
        return {"target": None, "rejection_reason": result.reason}
    return {"target": None, "rejection_reason": "unknown_model"}  # pragma: no cover


def routes_view(table: RoutingTable, live: Mapping[str, ProviderState]) -> list[dict[str, Any]]:
    """Each public name: its targets in order, its constraints, and who would serve it now.

    Declared routes come first, then the models served directly under their own name.
    """
    out = []
    for name, r in sorted(table.routes.items(), key=lambda item: (item[1].direct, item[0])):
        out.append(
            {
                "model": name,
                "direct": r.direct,
                "description": r.description,
                "zone": r.zone,
                "overflow": r.overflow.value,
                "min_tiers": _tiers(r.min_tiers),
                "cached": r.cache is not None,
                "targets": [
                    {"target": t.key, "rank": t.rank, "zone": t.zone, "tiers": _tiers(t.spec.tiers)}
                    for t in r.targets
                ],
                "serving": _serving(table, name, live),
            }
        )
    return out
