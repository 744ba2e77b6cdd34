"""Inference endpoints: Chat Completions (more kinds arrive with the data-plane work)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from litestar import Request, Response, post

from router.auth.access import require_model_access
from router.dialects.base import Exchange
from router.dialects.chat.exchange import ChatExchange, ImagesExchange
from router.dialects.chat.files import inline_files
from router.dialects.requests import (
    ChatRequest,
    EmbeddingsRequest,
    ExplainRequest,
    ImagesRequest,
    check,
)
from router.errors import RequestInvalid
from router.http.body import json_object
from router.http.deps import ContextDep, RequestContext
from router.http.fast import inference_route
from router.http.sse import event_stream
from router.routing.decision import RequestFacts
from router.routing.explain import explain
from router.routing.facts import chat_facts, preference_from_headers
from router.upstream.cache import Lookup
from router.upstream.headers import routing_headers

__all__ = [
    "chat_completions",
    "embeddings",
    "explain_request",
    "require_model",
    "route_explain",
]


async def routed(
    ctx: RequestContext,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    facts: RequestFacts,
    exchange: Exchange,
    dialect: str = "chat",
) -> Lookup:
    """An inference request through the cache, routing (and its queue) and dispatch: what
    every client dialect's handler does once it has its body, facts and exchange."""
    services, table, identity = ctx.services, ctx.table, ctx.identity
    return await services.cache.through(
        identity.name if identity is not None else None,
        table,
        body,
        lambda: services.runner.serve(
            table,
            facts,
            headers,
            lambda decision: services.dispatcher.run(table, decision, exchange),
        ),
        dialect=dialect,
    )


def require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestInvalid(
            "Invalid request: missing model parameter",
            param="model",
            code="missing_required_parameter",
        )
    return model


@inference_route("/v1/chat/completions", "/chat/completions")
async def chat_completions(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """OpenAI Chat Completions, JSON or SSE, routed and failed over."""
    table, identity = ctx.table, ctx.identity
    body = await json_object(request, limit=table.config.server.max_body_bytes)
    require_model_access(identity, require_model(body))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise RequestInvalid(
            "Invalid request: 'messages' must be a non-empty array",
            param="messages",
            code="invalid_value",
        )
    check(body, ChatRequest)
    files = inline_files(messages)
    if files is not None:  # text inlined, images as images, PDFs for targets that read them
        body = {**body, "messages": files}
    stream = body.get("stream") is True
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    exchange = ChatExchange(body, stream=stream, include_usage=include_usage)
    answer = await routed(ctx, request.headers, body, chat_facts(body, request.headers), exchange)
    if answer.served is not None and answer.served.stream is not None:
        return event_stream(answer.served.stream, answer.headers)
    return Response(answer.body, media_type="application/json", headers=answer.headers)


@inference_route("/v1/images/generations", "/images/generations")
async def images(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """OpenAI image generation, routed to models that declare ``images: true``."""
    table, services, identity = ctx.table, ctx.services, ctx.identity
    body = await json_object(request, limit=table.config.server.max_body_bytes)
    model = require_model(body)
    require_model_access(identity, model)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        raise RequestInvalid(
            "Missing required parameter: 'prompt'",
            param="prompt",
            code="missing_required_parameter",
        )
    check(body, ImagesRequest)
    facts = RequestFacts(
        model=model, needs_images=True, preference=preference_from_headers(request.headers)
    )
    served = await services.runner.serve(
        table,
        facts,
        request.headers,
        lambda decision: services.dispatcher.run(table, decision, ImagesExchange(body)),
    )
    return Response(
        served.body, media_type="application/json", headers=routing_headers(table, served)
    )


@inference_route("/v1/embeddings", "/embeddings")
async def embeddings(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """OpenAI embeddings, routed to models that declare ``embeddings: true``."""
    table, services, identity = ctx.table, ctx.services, ctx.identity
    body = await json_object(request, limit=table.config.server.max_body_bytes)
    model = require_model(body)
    require_model_access(identity, model)
    if "input" not in body:
        raise RequestInvalid(
            "Missing required parameter: 'input'", param="input", code="missing_required_parameter"
        )
    check(body, EmbeddingsRequest)
    facts = RequestFacts(
        model=model, needs_embeddings=True, preference=preference_from_headers(request.headers)
    )
    served = await services.runner.serve(
        table,
        facts,
        request.headers,
        lambda decision: services.embeddings.embed(table, decision, body),
    )
    return Response(
        served.body, media_type="application/json", headers=routing_headers(table, served)
    )


@post(["/v1/route/explain", "/route/explain"], status_code=200)
async def route_explain(request: Request[Any, Any, Any], ctx: ContextDep) -> dict[str, Any]:
    """What the router would do with a request, without calling any provider.

    Body: a Chat Completions body (``model``, ``messages``...) or just ``model`` plus
    ``history`` (number of earlier messages), ``strict``/``flexible`` and ``down``.
    """
    body = await json_object(request)
    return explain_request(ctx, body, request.headers)


def explain_request(
    ctx: RequestContext, body: dict[str, Any], headers: Mapping[str, str]
) -> dict[str, Any]:
    """The explain answer for a parsed body (the dashboard's explain form asks this too)."""
    table, services, identity = ctx.table, ctx.services, ctx.identity
    model = require_model(body)
    require_model_access(identity, model)
    check(body, ExplainRequest)
    body.setdefault("messages", [{"role": "user", "content": ""}])
    facts = chat_facts(body, headers)
    history = body.get("history")
    if isinstance(history, int) and history > 0:
        facts = _with_history(facts, history)
    preference = (
        preference_from_headers(
            {"x-nexus-strict": "1"}
            if body.get("strict")
            else {"x-nexus-flexible": "true"}
            if body.get("flexible")
            else {}
        )
        or facts.preference
    )
    down = body.get("down") or []
    facts = attrs.evolve(facts, model=model, preference=preference)
    return explain(
        table,
        facts,
        services.health.states,
        down=tuple(down),
        spent=services.spend.totals(),
        now=services.spend.clock(),
    )


def _with_history(facts: RequestFacts, messages: int) -> RequestFacts:
    return attrs.evolve(facts, has_history=True, conversation_messages=messages + 1)
