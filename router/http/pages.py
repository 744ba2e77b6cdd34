"""Cursor pagination shared by list endpoints: ``after``, ``limit`` (1-100), ``order``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from router.errors import RequestInvalid
from router.store.base import Order

__all__ = ["page_body", "page_params"]


def page_params(limit: str | None, order: str | None) -> tuple[int, Order]:
    """Validate the query parameters; limit defaults to 20 and order to desc."""
    try:
        size = 20 if limit is None else int(limit)
    except ValueError:
        raise RequestInvalid(
            "'limit' must be an integer between 1 and 100", param="limit"
        ) from None
    if not 1 <= size <= 100:
        raise RequestInvalid("'limit' must be an integer between 1 and 100", param="limit")
    if order in (None, "desc"):
        return size, "desc"
    if order == "asc":
        return size, "asc"
    raise RequestInvalid("'order' must be 'asc' or 'desc'", param="order")


def page_body(items: Sequence[Mapping[str, Any]], has_more: bool) -> dict[str, Any]:
    """OpenAI's list shape; ``has_more`` is always present."""
    return {
        "object": "list",
        "data": list(items),
        "first_id": items[0]["id"] if items else None,
        "last_id": items[-1]["id"] if items else None,
        "has_more": has_more,
    }
