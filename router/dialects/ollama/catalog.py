"""Ollama's model listings (``/api/tags``, ``/api/ps``, ``/api/show``) from the routing table.

A public model (a route, or a model served directly) is listed as Ollama lists a
pulled model. What Ollama reads from a model file comes from our model metadata
instead: the capabilities any of the route's targets declares (``tools``,
``vision``, ``embeddings``, ``reasoning`` as ``thinking``), and the largest
context window among them. Sizes and quantization are the backends' business and
stay empty.
"""

from __future__ import annotations

import hashlib
from typing import Any

from router.dialects.ollama.wire import timestamp
from router.routing.table import Route, RoutingTable

__all__ = ["API_VERSION", "ARCHITECTURE", "capabilities", "listed", "running", "shown"]

#: The Ollama release whose API this dialect speaks; clients enable features by it.
API_VERSION = "0.12.0"
#: What ``model_info`` names as the architecture: its ``<arch>.context_length`` is ours.
ARCHITECTURE = "nexus"

_DETAILS = {
    "parent_model": "",
    "format": "",
    "family": "",
    "families": None,
    "parameter_size": "",
    "quantization_level": "",
}


def _digest(table: RoutingTable, route: Route) -> str:
    """Stable while the route's targets are: a client that caches by digest sees a change."""
    material = "\0".join([route.name, *(t.key for t in route.targets)])
    return hashlib.sha256(material.encode()).hexdigest()


def _base(table: RoutingTable, route: Route) -> dict[str, Any]:
    return {
        "name": route.name,
        "model": route.name,
        "modified_at": timestamp(table.loaded_at),
        "size": 0,
        "digest": _digest(table, route),
        "details": dict(_DETAILS),
    }


def _context_length(route: Route) -> int | None:
    windows = [t.spec.context_window for t in route.targets if t.spec.context_window]
    return max(windows) if windows else None


def _reasons(table: RoutingTable, route: Route) -> bool:
    """Whether a target is declared ``reasoning: true`` (read from the config's model list)."""
    targets = {(t.provider, t.model) for t in route.targets}
    return any(
        model.reasoning and (provider.name, model.name) in targets
        for provider in table.config.providers
        for model in provider.models
    )


def capabilities(table: RoutingTable, route: Route) -> list[str]:
    """What at least one of the route's targets can do, in Ollama's words."""
    specs = [t.spec for t in route.targets]
    found = ["completion"]
    if any(s.tools for s in specs):
        found.append("tools")
    if any(s.vision for s in specs):
        found.append("vision")
    if any(s.embeddings for s in specs):
        found.append("embedding")
    if _reasons(table, route):
        found.append("thinking")
    return found


def listed(table: RoutingTable, names: list[str]) -> dict[str, Any]:
    """``/api/tags``: the given public models."""
    return {"models": [_base(table, table.routes[name]) for name in names]}


def running(table: RoutingTable, names: list[str]) -> dict[str, Any]:
    """``/api/ps``: the given public models, as ready as a loaded model."""
    models = []
    for name in names:
        route = table.routes[name]
        entry = {**_base(table, route), "size_vram": 0}
        del entry["modified_at"]
        window = _context_length(route)
        if window is not None:
            entry["context_length"] = window
        models.append(entry)
    return {"models": models}


def shown(table: RoutingTable, name: str) -> dict[str, Any]:
    """``/api/show``: a public model's details, capabilities and context length (`name`
    routes: a route's own name or one a pattern route serves)."""
    route = table.resolve(name)
    assert route is not None
    info: dict[str, Any] = {"general.architecture": ARCHITECTURE}
    window = _context_length(route)
    if window is not None:
        info[f"{ARCHITECTURE}.context_length"] = window
    return {
        "license": "",
        "modelfile": "",
        "parameters": "",
        "template": "",
        "details": dict(_DETAILS),
        "model_info": info,
        "capabilities": capabilities(table, route),
        "modified_at": timestamp(table.loaded_at),
    }
