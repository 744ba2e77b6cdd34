"""The storage interface the API layer uses; SQLite implements it (PostgreSQL can follow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

__all__ = ["ItemPage", "ResponseStore", "StoredResponse"]

Order = Literal["asc", "desc"]


@attrs.frozen
class StoredResponse:
    """A response as stored: its full API object plus what the store indexes."""

    id: str
    created_at: float
    status: str
    background: bool
    body: Mapping[str, Any]
    owner: str | None = None
    previous_response_id: str | None = None


@attrs.frozen
class ItemPage:
    items: tuple[Mapping[str, Any], ...]
    has_more: bool


class ResponseStore(Protocol):
    """Stored responses and their input items. All methods are safe to call concurrently."""

    async def open(self) -> None:
        """Create or migrate the schema."""
        ...

    async def close(self) -> None: ...

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """Insert or replace a response; `input_items` are written only with the first put."""
        ...

    async def get_response(self, response_id: str) -> StoredResponse | None: ...

    async def delete_response(self, response_id: str) -> bool:
        """Delete a response and its items; False when there was none."""
        ...

    async def input_items(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        """A page of a response's input items (all of them when `limit` is None)."""
        ...

    async def fail_unfinished(self, message: str) -> int:
        """Mark responses still queued or in progress as failed; return how many."""
        ...
