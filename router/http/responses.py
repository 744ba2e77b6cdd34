"""The Responses API: create, retrieve, delete, cancel, list input items."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath, FromQuery

from router.auth.access import require_model_access
from router.dialects.requests import ResponsesRequest, check, check_metadata
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
async def retrieve_response(ctx: ContextDep, response_id: FromPath[str]) -> dict[str, Any]:
    services, identity = ctx.services, ctx.identity
    return dict((await services.responses.get(response_id, identity)).body)


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
