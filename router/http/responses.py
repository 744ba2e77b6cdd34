"""The Responses API: create, retrieve, delete, cancel, list input items."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery

from router.auth.access import require_model_access
from router.dialects.requests import ResponsesRequest, check, check_metadata
from router.errors import RequestInvalid
from router.http.body import json_object
from router.http.deps import ContextDep, RequestContext
from router.http.fast import inference_route
from router.http.inference import require_model
from router.http.pages import page_body, page_params
from router.http.sse import event_stream

__all__ = ["RESPONSE_HANDLERS"]


@inference_route("/v1/responses", "/responses")
async def create_response(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Create a response: JSON, an SSE event stream (``stream``) or queued (``background``)."""
    table, services, identity = ctx.table, ctx.services, ctx.identity
    body = await json_object(request, limit=table.config.server.max_body_bytes)
    require_model_access(identity, require_model(body))
    check(body, ResponsesRequest)
    check_metadata(body.get("metadata"))
    created = await services.responses.create(table, body, request.headers, identity)
    headers = dict(created.headers)
    if created.events is not None:
        return event_stream(created.events, headers)
    return Response(created.body, headers=headers)


@get(["/v1/responses/{response_id:str}", "/responses/{response_id:str}"])
async def retrieve_response(
    ctx: ContextDep,
    response_id: FromPath[str],
    stream: FromQuery[str | None] = None,
    starting_after: FromQuery[str | None] = None,
) -> Response[Any]:
    """A stored response; with ``stream=true`` a background response's events, replayed
    after ``starting_after`` and then followed live (from any replica)."""
    services, identity = ctx.services, ctx.identity
    if _flag(stream, "stream"):
        after = _sequence(starting_after)
        events = await services.responses.follow(response_id, identity, after=after)
        return event_stream(events, {})
    return Response(dict((await services.responses.get(response_id, identity)).body))


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise RequestInvalid(f"'{name}' must be true or false", param=name)


def _sequence(value: str | None) -> int:
    if value is None:
        return -1
    try:
        number = int(value)
    except ValueError:
        number = -2
    if number < -1:
        raise RequestInvalid(
            "'starting_after' must be an event sequence number (an integer >= 0)",
            param="starting_after",
        )
    return number


@delete(["/v1/responses/{response_id:str}", "/responses/{response_id:str}"], status_code=204)
async def delete_response(ctx: ContextDep, response_id: FromPath[str]) -> None:
    services, identity = ctx.services, ctx.identity
    await services.responses.delete(response_id, identity)


@post(
    ["/v1/responses/{response_id:str}/cancel", "/responses/{response_id:str}/cancel"],
    status_code=200,
)
async def cancel_response(ctx: ContextDep, response_id: FromPath[str]) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    return dict(await services.responses.cancel(response_id, identity))


@get(["/v1/responses/{response_id:str}/input_items", "/responses/{response_id:str}/input_items"])
async def list_input_items(
    ctx: ContextDep,
    response_id: FromPath[str],
    after: FromQuery[str | None] = None,
    limit: FromQuery[str | None] = None,
    order: FromQuery[str | None] = None,
) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    size, direction = page_params(limit, order)
    page = await services.responses.input_items(
        response_id, identity, after=after, limit=size, order=direction
    )
    return page_body(list(page.items), page.has_more)


RESPONSE_HANDLERS = [
    create_response,
    retrieve_response,
    delete_response,
    cancel_response,
    list_input_items,
]
