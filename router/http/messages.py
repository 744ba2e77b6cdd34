"""The Anthropic Messages API for clients: create (JSON or SSE) and count_tokens.

Routed like every inference request (zones, tiers, overflow, failover, queue,
cache); errors wear Anthropic's envelope (`router.http.errors`, by path).
"""

from __future__ import annotations

from typing import Any

import attrs
import msgspec
from litestar import Request, Response

from router.auth.access import require_model_access
from router.dialects.anthropic.exchange import (
    CountTokensExchange,
    MessagesExchange,
    client_headers,
)
from router.dialects.anthropic.messages import MessagesRequest, TokenCountRequest
from router.dialects.requests import check
from router.errors import RequestInvalid
from router.http.body import json_object
from router.http.deps import RequestContext
from router.http.fast import inference_route
from router.http.inference import require_model, routed
from router.http.observe import current_info
from router.http.sse import event_stream
from router.routing.facts import messages_facts
from router.upstream.headers import routing_headers

__all__ = ["MESSAGES_PATHS", "MESSAGE_HANDLERS"]

#: Where the Messages API is served (and so where errors wear its envelope).
MESSAGES_PATHS = ("/v1/messages", "/messages")

_encode = msgspec.json.Encoder().encode


def _messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid("messages: at least one message is required", param="messages")


@inference_route(*MESSAGES_PATHS)
async def create_message(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Anthropic Messages, JSON or SSE; passed through to Anthropic-kind providers."""
    body = await _body(request, ctx)
    _messages(body)
    checked = check(body, MessagesRequest)
    if checked.metadata is not None and checked.metadata.user_id:
        info = current_info()
        if info is not None:
            info.end_user = checked.metadata.user_id  # logged; sent only to Anthropic
    stream = checked.stream is True
    exchange = MessagesExchange(body, client_headers(request.headers), stream=stream)
    facts = messages_facts(body, request.headers)
    answer = await routed(ctx, request.headers, body, facts, exchange, dialect="messages")
    if answer.served is not None and answer.served.stream is not None:
        return event_stream(answer.served.stream, answer.headers)
    return Response(answer.body, media_type="application/json", headers=answer.headers)


@inference_route(*(f"{path}/count_tokens" for path in MESSAGES_PATHS))
async def count_tokens(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """The prompt's tokens: the Anthropic-kind provider's own count, else the routing estimate."""
    table, services = ctx.table, ctx.services
    body = await _body(request, ctx)
    _messages(body)
    check(body, TokenCountRequest)
    facts = messages_facts({**body, "max_tokens": 0}, request.headers)
    decision = services.runner.decide(table, facts)
    first = table.providers[decision.candidates[0].provider]
    if first.kind != "anthropic":
        count = _encode({"input_tokens": facts.context_tokens})
        return Response(count, media_type="application/json", headers={"x-nexus-estimate": "true"})
    anthropic = tuple(
        c for c in decision.candidates if table.providers[c.provider].kind == "anthropic"
    )
    served = await services.dispatcher.run(
        table,
        attrs.evolve(decision, candidates=anthropic),
        CountTokensExchange(body, client_headers(request.headers)),
    )
    return Response(
        served.body, media_type="application/json", headers=routing_headers(table, served)
    )


async def _body(request: Request[Any, Any, Any], ctx: RequestContext) -> dict[str, Any]:
    """The body as a JSON object with a model this key may use."""
    body = await json_object(request, limit=ctx.table.config.server.max_body_bytes)
    require_model_access(ctx.identity, require_model(body))
    return body


MESSAGE_HANDLERS = [create_message, count_tokens]
