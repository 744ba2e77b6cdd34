"""The storage interface the API layer uses; SQLite and PostgreSQL implement it.

Several router processes may share one database. Each store names its process
(`instance`) and sends heartbeats; a background response records the process
running it, so start-up only fails work whose process has stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import attrs

from router.redact import redact_url

__all__ = [
    "ConversationStore",
    "ItemPage",
    "ResponseStore",
    "SpendRow",
    "SpendStore",
    "Store",
    "StoredConversation",
    "StoredResponse",
    "redact_url",
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

    async def heartbeat(self) -> None:
        """Record that this process is alive (called periodically)."""
        ...

    async def leave(self) -> None:
        """Record that this process stopped cleanly."""
        ...

    async def append_events(self, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        """Keep a background response's events (sequence number, SSE bytes); repeats are ignored."""
        ...

    async def response_events(
        self, response_id: str, *, after: int = -1, limit: int = 500
    ) -> list[tuple[int, bytes]]:
        """Its events after sequence number `after`, in order, at most `limit`."""
        ...

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        """Insert or replace a response; `input_items` are written only with the first put."""
        ...

    async def finish_response(self, response: StoredResponse) -> bool:
        """Write a final state only if the response is still queued or in progress.

        A cancel (from any process) and the process running the response race to
        finish it; whichever writes first wins, and the other learns it lost.
        """
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

    async def find_items(
        self, ids: Sequence[str]
    ) -> dict[str, tuple[str | None, Mapping[str, Any]]]:
        """Stored items by id (inputs, outputs, conversation items), each with its owner."""
        ...

    async def fail_unfinished(self, message: str, *, stale_after_s: float = 30.0) -> int:
        """Fail unfinished responses of this process or of one that stopped.

        A process has stopped when it left, when it has been silent for
        `stale_after_s`, or, on this machine, when its pid no longer runs it.
        Returns how many were failed.
        """
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


@attrs.frozen
class SpendRow:
    """What one (route, provider, zone, model, key) spent on one UTC day (`day`: its start)."""

    day: float
    route: str
    provider: str
    zone: str
    model: str
    key: str | None
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    #: Requests whose provider reported no usage: their tokens and cost are estimates.
    estimated_requests: int = 0
    estimated_usd: float = 0.0


class SpendStore(Protocol):
    """The spend ledger, shared by every router process on the database."""

    async def add_spend(self, rows: Sequence[SpendRow]) -> None:
        """Add each row to the day's totals of its dimensions, in one transaction."""
        ...

    async def spend_since(self, day: float) -> list[SpendRow]:
        """Every row of the days from `day` (a UTC day's start) on."""
        ...


class Store(ResponseStore, ConversationStore, SpendStore, Protocol):
    """Everything the API layer persists."""

    async def finish_turn(
        self,
        response: StoredResponse,
        conversation_id: str | None,
        items: Sequence[Mapping[str, Any]],
        *,
        input_items: Sequence[Mapping[str, Any]] | None = None,
    ) -> bool:
        """Write a response's final state and append its turn to a conversation, atomically.

        The response is inserted, or replaces one still queued or in progress; one
        already finished (a cancel won the race, see `finish_response`) is left as
        it is and nothing is appended. `items` (the turn's input and output; empty
        for a turn that failed) go after the conversation's last item as
        `append_items` puts them, unless `conversation_id` is None or the
        conversation is gone. `input_items` are as in `put_response`: pass them
        with a response's first write only. Returns whether the response was written.
        """
        ...
