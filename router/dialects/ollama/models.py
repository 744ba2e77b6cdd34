"""What Ollama says about its models: ``/api/tags`` (names) and ``/api/show`` (capabilities)."""

from __future__ import annotations

from typing import Any

import attrs
import msgspec

from router.dialects.base import UpstreamRequest
from router.routing.discovered import DiscoveredModel
from router.routing.table import ProviderEntry

__all__ = ["show_request", "shown", "tags"]

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode


def tags(data: bytes) -> tuple[DiscoveredModel, ...]:
    """The models ``/api/tags`` lists, by name (ValueError if it is no model list).

    `revision` is the model's digest: a model pulled again under the same name is
    shown again.
    """
    body = _decode(data)
    items = body.get("models") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("no 'models' list")
    out = {}
    for item in items:
        if not isinstance(item, dict):
            continue
        name = item.get("name") or item.get("model")
        if isinstance(name, str) and name:
            digest = item.get("digest")
            out[name] = DiscoveredModel(name, revision=digest if isinstance(digest, str) else None)
    return tuple(out[name] for name in sorted(out))


def show_request(entry: ProviderEntry, model: str) -> UpstreamRequest:
    """``POST /api/show`` for one model."""
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    authorization = entry.authorization()
    if authorization:
        headers["authorization"] = authorization
    return UpstreamRequest("POST", f"{entry.base_url}/api/show", headers, _encode({"model": model}))


def _context_length(info: Any) -> int | None:
    """``<architecture>.context_length`` from ``model_info``, the length the model was built for."""
    if not isinstance(info, dict):
        return None
    arch = info.get("general.architecture")
    value = info.get(f"{arch}.context_length") if isinstance(arch, str) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def shown(model: DiscoveredModel, data: bytes) -> DiscoveredModel:
    """`model` with what ``/api/show`` answered (ValueError if it is no JSON object).

    Ollama names capabilities: ``completion``, ``embedding``, ``vision``, ``tools``,
    ``thinking``. An answer without the list (an older Ollama) leaves them unsaid.
    """
    body = _decode(data)
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    window = _context_length(body.get("model_info"))
    listed = body.get("capabilities")
    if not isinstance(listed, list):
        return attrs.evolve(model, context_window=window)
    caps = {c for c in listed if isinstance(c, str)}
    return attrs.evolve(
        model,
        context_window=window,
        vision="vision" in caps,
        tools="tools" in caps,
        embeddings="embedding" in caps,
        reasoning="thinking" in caps,
    )
