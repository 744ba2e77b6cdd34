"""The Conversations API (under /v1 and at the seed's bare paths)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery

from router.errors import RequestInvalid
from router.http.body import INFERENCE_BODY_LIMIT, json_object
from router.http.deps import ContextDep
from router.http.pages import page_body, page_params

__all__ = ["CONVERSATION_HANDLERS"]

_ONE = ["/v1/conversations/{conversation_id:str}", "/conversations/{conversation_id:str}"]
_ITEMS = [p + "/items" for p in _ONE]
_ITEM = [p + "/{item_id:str}" for p in _ITEMS]


@post(["/v1/conversations", "/conversations"], status_code=201)
async def create_conversation(ctx: ContextDep, request: Request[Any, Any, Any]) -> dict[str, Any]:
    """OpenAI's ``{items?, metadata?}`` or the seed's ``{model, messages}``."""
    services, identity = ctx.services, ctx.identity
    return await services.conversations.create(await json_object(request), identity)


@get(_ONE)
async def retrieve_conversation(ctx: ContextDep, conversation_id: FromPath[str]) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    conversations = services.conversations
    return await conversations.view(await conversations.get(conversation_id, identity))


@post(_ONE, status_code=200)
async def update_conversation(
    ctx: ContextDep,
    conversation_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    return await services.conversations.update(
        conversation_id, await json_object(request), identity
    )


@delete(_ONE, status_code=200)
async def delete_conversation(ctx: ContextDep, conversation_id: FromPath[str]) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    return await services.conversations.delete(conversation_id, identity)


@post(_ITEMS, status_code=200)
async def create_items(
    ctx: ContextDep,
    conversation_id: FromPath[str],
    request: Request[Any, Any, Any],
    include: FromQuery[list[str] | None] = None,
) -> Response[dict[str, Any]]:
    """OpenAI's ``{items: [...]}`` returns the list shape; the seed's single item returns that item (201)."""
    services, identity = ctx.services, ctx.identity
    body = await json_object(request, limit=INFERENCE_BODY_LIMIT)
    if "items" in body:
        if not isinstance(body["items"], list) or not 1 <= len(body["items"]) <= 20:
            raise RequestInvalid("'items' must be a list of 1 to 20 items", param="items")
        stored = await services.conversations.add_items(
            conversation_id, body["items"], "items", identity
        )
        return Response(page_body(stored, False))
    [item] = await services.conversations.add_items(conversation_id, [body], "item", identity)
    return Response(
        {**item, "object": "conversation.item", "created_at": int(services.conversations.clock())},
        status_code=201,
    )


@get(_ITEMS)
async def list_items(
    ctx: ContextDep,
    conversation_id: FromPath[str],
    after: FromQuery[str | None] = None,
    limit: FromQuery[str | None] = None,
    order: FromQuery[str | None] = None,
    include: FromQuery[list[str] | None] = None,
) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    size, direction = page_params(limit, order)
    page = await services.conversations.items(
        conversation_id, identity, after=after, limit=size, order=direction
    )
    return page_body(page.items, page.has_more)


@get(_ITEM)
async def retrieve_item(
    ctx: ContextDep,
    conversation_id: FromPath[str],
    item_id: FromPath[str],
) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    return dict(await services.conversations.item(conversation_id, item_id, identity))


@delete(_ITEM, status_code=200)
async def delete_item(
    ctx: ContextDep,
    conversation_id: FromPath[str],
    item_id: FromPath[str],
) -> dict[str, Any]:
    """Returns the conversation object, which is what the openai SDK expects."""
    services, identity = ctx.services, ctx.identity
    return await services.conversations.delete_item(conversation_id, item_id, identity)


CONVERSATION_HANDLERS = [
    create_conversation,
    retrieve_conversation,
    update_conversation,
    delete_conversation,
    create_items,
    list_items,
    retrieve_item,
    delete_item,
]
