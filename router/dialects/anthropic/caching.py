"""Prompt caching on the Messages API: where the ``cache_control`` breakpoints go.

Anthropic caches a prompt's prefix up to each block marked ``cache_control`` (at most
four marks a request). A Chat request marks what it wants cached with the same
field, Nexus's documented extension: on a message (``{"role": "system", "content":
..., "cache_control": {"type": "ephemeral"}}``), on a content part, or on a tool. A
mark on a part counts for its whole message (text parts become one block). With a
provider's ``prompt_cache: auto`` the system prompt and the tools are marked on every
request. When more than four marks result, the last four are kept: they cache the
longest prefixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import RequestInvalid

__all__ = ["MAX_BREAKPOINTS", "cache_mark", "keep_last_breakpoints"]

#: Anthropic refuses a request with more.
MAX_BREAKPOINTS = 4
_EPHEMERAL = {"type": "ephemeral"}


def _valid(value: Any, where: str) -> dict[str, Any]:
    if (
        not isinstance(value, Mapping)
        or value.get("type") != "ephemeral"
        or value.get("ttl", "5m") not in {"5m", "1h"}
    ):
        raise RequestInvalid(
            f'{where}.cache_control must be {{"type": "ephemeral"}} with an optional '
            "ttl of '5m' or '1h'",
            param=f"{where}.cache_control",
        )
    return {k: value[k] for k in ("type", "ttl") if k in value}


def cache_mark(item: Mapping[str, Any], where: str, *, auto: bool = False) -> dict[str, Any] | None:
    """The breakpoint a message or tool asks for (its own, or one of its parts'), if any."""
    if item.get("cache_control") is not None:
        return _valid(item["cache_control"], where)
    content = item.get("content")
    if isinstance(content, list):
        for j, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("cache_control") is not None:
                return _valid(part["cache_control"], f"{where}.content[{j}]")
    return dict(_EPHEMERAL) if auto else None


def keep_last_breakpoints(payload: dict[str, Any]) -> None:
    """Drop the earliest marks beyond Anthropic's four, in prompt order (tools, system, messages)."""
    marked: list[dict[str, Any]] = [t for t in payload.get("tools") or () if "cache_control" in t]
    system = payload.get("system")
    if isinstance(system, list):
        marked += [b for b in system if "cache_control" in b]
    for message in payload.get("messages") or ():
        marked += [b for b in message["content"] if "cache_control" in b]
    for block in marked[: max(0, len(marked) - MAX_BREAKPOINTS)]:
        del block["cache_control"]
