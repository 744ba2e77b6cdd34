"""What an OpenAI-compatible ``/v1/models`` says about each model.

OpenAI itself lists ids only. vLLM adds ``max_model_len`` (the context it serves);
llama.cpp's server adds ``meta.n_ctx_train`` (the context the model was trained
for, an upper bound of what it serves). Anything else comes from the config.
"""

from __future__ import annotations

from typing import Any

import msgspec

from router.routing.discovered import DiscoveredModel

__all__ = ["listed_models"]


def _positive(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _window(item: dict[str, Any]) -> int | None:
    window = _positive(item.get("max_model_len"))
    meta = item.get("meta")
    if window is None and isinstance(meta, dict):
        window = _positive(meta.get("n_ctx_train"))
    return window


def listed_models(data: bytes) -> tuple[DiscoveredModel, ...]:
    """The models a ``{"data": [{"id": ...}]}`` list names (ValueError if it is none)."""
    body = msgspec.json.decode(data)
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValueError("no 'data' list")
    out = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]:
            out[item["id"]] = DiscoveredModel(item["id"], context_window=_window(item))
    return tuple(out[name] for name in sorted(out))
