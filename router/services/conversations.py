"""Conversations: create (OpenAI's body or the seed's), read, update, delete, items."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from router.auth.access import visible
from router.auth.keys import Identity
from router.dialects.requests import check_metadata
from router.dialects.responses.translate import input_items
from router.errors import NotFound, RequestInvalid
from router.ids import new_id
from router.store.base import ItemPage, Order, Store, StoredConversation

__all__ = ["ConversationsService", "conversation_object", "seed_message"]


def seed_message(item: Mapping[str, Any], created_at: float) -> dict[str, Any]:
    """A message item in the seed's flat shape: ``{id, role, content: "text", created_at}``."""
    text = "".join(
        str(p.get("text", "")) for p in item.get("content") or () if isinstance(p, Mapping)
    )
    return {
        "id": item["id"],
        "role": item.get("role"),
        "content": text,
        "created_at": int(created_at),
    }


def conversation_object(
    conversation: StoredConversation, messages: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": conversation.id,
        "object": "conversation",
        "created_at": int(conversation.created_at),
        "metadata": dict(conversation.metadata),
    }
    if conversation.model is not None:  # created the seed's way: show it the seed's way
        body["model"] = conversation.model
        body["messages"] = [
            seed_message(m, conversation.created_at)
            for m in messages or ()
            if m.get("type") == "message"
        ]
    return body


@attrs.define
class ConversationsService:
    store: Store
    clock: Callable[[], float] = time.time

    async def get(self, conversation_id: str, who: Identity | None) -> StoredConversation:
        conversation = await self.store.get_conversation(conversation_id)
        if conversation is None or not visible(conversation.owner, who):
            raise NotFound(f"Conversation with id '{conversation_id}' not found.")
        return conversation

    async def view(self, conversation: StoredConversation) -> dict[str, Any]:
        messages = None
        if conversation.model is not None:
            messages = list((await self.store.conversation_items(conversation.id)).items)
        return conversation_object(conversation, messages)

    async def create(self, body: Mapping[str, Any], who: Identity | None) -> dict[str, Any]:
        if "messages" in body or "model" in body:  # the seed's {model, messages}
            model = body.get("model")
            if not isinstance(model, str) or not model:
                raise RequestInvalid("'model' must be a non-empty string", param="model")
            messages = body.get("messages", [])
            if not isinstance(messages, list):
                raise RequestInvalid("'messages' must be a list", param="messages")
            items = _items(messages, "messages")
        else:
            model = None
            given = body.get("items", [])
            if not isinstance(given, list) or len(given) > 20:
                raise RequestInvalid("'items' must be a list of at most 20 items", param="items")
            items = _items(given, "items")
        conversation = StoredConversation(
            id=new_id("conv"),
            created_at=self.clock(),
            metadata=check_metadata(body.get("metadata")),
            model=model,
            owner=who.name if who is not None else None,
        )
        await self.store.create_conversation(conversation, items)
        return conversation_object(conversation, items)

    async def update(
        self, conversation_id: str, body: Mapping[str, Any], who: Identity | None
    ) -> dict[str, Any]:
        await self.get(conversation_id, who)
        if "metadata" not in body:
            raise RequestInvalid(
                "Missing required parameter: 'metadata'",
                param="metadata",
                code="missing_required_parameter",
            )
        updated = await self.store.update_conversation(
            conversation_id, check_metadata(body["metadata"])
        )
        if updated is None:
            raise NotFound(f"Conversation with id '{conversation_id}' not found.")
        return await self.view(updated)

    async def delete(self, conversation_id: str, who: Identity | None) -> dict[str, Any]:
        await self.get(conversation_id, who)
        if not await self.store.delete_conversation(conversation_id):
            raise NotFound(f"Conversation with id '{conversation_id}' not found.")
        return {"id": conversation_id, "object": "conversation.deleted", "deleted": True}

    async def add_items(
        self, conversation_id: str, given: list[Any], where: str, who: Identity | None
    ) -> list[dict[str, Any]]:
        await self.get(conversation_id, who)
        stored = await self.store.append_items(conversation_id, _items(given, where))
        if stored is None:  # deleted meanwhile
            raise NotFound(f"Conversation with id '{conversation_id}' not found.")
        return stored

    async def items(
        self,
        conversation_id: str,
        who: Identity | None,
        *,
        after: str | None,
        limit: int,
        order: Order,
    ) -> ItemPage:
        await self.get(conversation_id, who)
        return await self.store.conversation_items(
            conversation_id, after=after, limit=limit, order=order
        )

    async def item(
        self, conversation_id: str, item_id: str, who: Identity | None
    ) -> Mapping[str, Any]:
        await self.get(conversation_id, who)
        item = await self.store.get_item(conversation_id, item_id)
        if item is None:
            raise NotFound(
                f"Item with id '{item_id}' not found in conversation '{conversation_id}'."
            )
        return item

    async def delete_item(
        self, conversation_id: str, item_id: str, who: Identity | None
    ) -> dict[str, Any]:
        conversation = await self.get(conversation_id, who)
        if not await self.store.delete_item(conversation_id, item_id):
            raise NotFound(
                f"Item with id '{item_id}' not found in conversation '{conversation_id}'."
            )
        return await self.view(conversation)


def _items(given: list[Any], where: str) -> list[dict[str, Any]]:
    """Validate items with the Responses input rules, naming the field in this request."""
    try:
        return input_items(given)
    except RequestInvalid as exc:
        param = (exc.param or "input").replace("input", where, 1)
        raise RequestInvalid(exc.message.replace("input", where, 1), param=param) from exc
