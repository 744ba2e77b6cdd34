"""The storage interface the API layer uses; SQLite implements it (PostgreSQL can follow)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

__all__ = [
    "ConversationStore",
    "ItemPage",
    "ResponseStore",
    "Store",
    "StoredConversation",
    "StoredResponse",
]

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
class StoredConversation:
    id: str
    created_at: float
    metadata: Mapping[str, str]
    owner: str | None = None
    model: str | None = None  # set when created the seed's way ({model, messages})


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

    async def ping(self) -> bool:
        """True when the database answers."""
        ...

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


class ConversationStore(Protocol):
    """Conversations and their items, appended atomically."""

    async def create_conversation(
        self, conversation: StoredConversation, items: Sequence[Mapping[str, Any]]
    ) -> None: ...

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None: ...

    async def update_conversation(
        self, conversation_id: str, metadata: Mapping[str, str]
    ) -> StoredConversation | None: ...

    async def delete_conversation(self, conversation_id: str) -> bool: ...

    async def append_items(
        self, conversation_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """Append in one transaction, contiguously; an id already used gets a fresh one.

        Returns the items as stored, or None when the conversation does not exist.
        """
        ...

    async def conversation_items(
        self,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage: ...

    async def get_item(self, conversation_id: str, item_id: str) -> Mapping[str, Any] | None: ...

    async def delete_item(self, conversation_id: str, item_id: str) -> bool: ...


class Store(ResponseStore, ConversationStore, Protocol):
    """Everything the API layer persists."""
