"""Ollama's API at Ollama's own paths: every Ollama client gets routing, zones and failover.

``/api/chat`` and ``/api/generate`` go through the same route runner, dispatcher,
cache and queue as Chat Completions, with `OllamaExchange` choosing per candidate
between passing the body through (Ollama-kind providers) and translating it.
Embeddings go through the same batching as ``/v1/embeddings``. The listings come
from the routing table. Errors take Ollama's envelope (router.http.errors).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from litestar import Request, Response, delete, get, head, post

from router.auth.access import require_model_access
from router.dialects.ollama.answers import Endpoint, Writer, embed_answer
from router.dialects.ollama.catalog import API_VERSION, listed, running, shown
from router.dialects.ollama.client import chat_body, embed_body, generate_body, wants_stream
from router.dialects.ollama.exchange import OllamaExchange
from router.dialects.ollama.requests import (
    ChatRequest,
    EmbeddingsRequest,
    EmbedRequest,
    GenerateRequest,
    ModelRequest,
)
from router.dialects.ollama.wire import MANAGEMENT_PATHS
from router.dialects.requests import check
from router.errors import ModelNotFound, RequestInvalid, Unsupported
from router.http.body import json_object
from router.http.deps import ContextDep, RequestContext
from router.http.fast import inference_route
from router.http.inference import require_model, routed
from router.http.sse import event_stream
from router.routing.decision import RequestFacts, routable
from router.routing.facts import chat_facts, preference_from_headers
from router.routing.table import RoutingTable
from router.upstream.headers import routing_headers

__all__ = ["OLLAMA_HANDLERS"]

NDJSON = "application/x-ndjson"


def _resolve(table: RoutingTable, name: str) -> str:
    """Ollama's implicit tag: ``chat:latest`` is the route ``chat`` when no route (or
    pattern) serves the tagged name."""
    if table.resolve(name) is None and name.endswith(":latest"):
        bare = name.removesuffix(":latest")
        if table.resolve(bare) is not None:
            return bare
    return name


async def _read(request: Request[Any, Any, Any], ctx: RequestContext) -> tuple[dict[str, Any], str]:
    body = await json_object(request, limit=ctx.table.config.server.max_body_bytes, any_type=True)
    model = _resolve(ctx.table, require_model(body))
    require_model_access(ctx.identity, model)
    return body, model


def _visible(ctx: RequestContext) -> list[str]:
    """Public models this key may use that can be routed right now (as ``/v1/models``)."""
    table, identity, live = ctx.table, ctx.identity, ctx.services.health.states
    return [
        name
        for name in table.public_models
        if (identity is None or identity.may_use(name)) and routable(table, name, live)
    ]


def _loaded(
    request: Request[Any, Any, Any], ctx: RequestContext, body: Mapping[str, Any], model: str
) -> Response[Any]:
    """Ollama's "load the model" call (no prompt, no messages): done at once, if it routes."""
    facts = RequestFacts(model=model, preference=preference_from_headers(request.headers))
    ctx.services.runner.decide(ctx.table, facts)  # 404 unknown, 503 nothing may serve it
    endpoint: Endpoint = "chat" if request.url.path == "/api/chat" else "generate"
    reason = "unload" if body.get("keep_alive") in (0, "0", "0s") else "load"
    answer = Writer(model, endpoint, time.perf_counter_ns()).loaded(reason)
    return Response(answer, media_type="application/json")


async def _generation(
    request: Request[Any, Any, Any],
    ctx: RequestContext,
    exchange: OllamaExchange,
) -> Response[Any]:
    chat = exchange.chat
    options = exchange.body.get("options") or {}
    # What the cache keys on: the client's body, its stream flag and temperature explicit.
    view = {
        **exchange.body,
        "model": exchange.model,
        "stream": exchange.stream,
        "temperature": options.get("temperature"),
    }
    answer = await routed(
        ctx,
        request.headers,
        view,
        chat_facts(chat, request.headers),
        exchange,
        dialect=f"ollama/{exchange.endpoint}",
    )
    if answer.served is not None and answer.served.stream is not None:
        return event_stream(answer.served.stream, answer.headers, media_type=NDJSON)
    return Response(answer.body, media_type="application/json", headers=answer.headers)


@inference_route("/api/chat")
async def ollama_chat(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Ollama chat, NDJSON (the default) or one object, routed and failed over."""
    body, model = await _read(request, ctx)
    check(body, ChatRequest)
    if not body.get("messages"):
        return _loaded(request, ctx, body, model)
    exchange = OllamaExchange("chat", body, chat_body(body, model), model, wants_stream(body))
    return await _generation(request, ctx, exchange)


@inference_route("/api/generate")
async def ollama_generate(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Ollama completion from a prompt (and system, images, suffix), routed and failed over."""
    body, model = await _read(request, ctx)
    check(body, GenerateRequest)
    if not body.get("prompt") and not body.get("suffix"):
        return _loaded(request, ctx, body, model)
    chat = generate_body(body, model)
    exchange = OllamaExchange("generate", body, chat, model, wants_stream(body))
    return await _generation(request, ctx, exchange)


async def _embed(
    request: Request[Any, Any, Any], ctx: RequestContext, *, legacy: bool
) -> Response[Any]:
    started = time.perf_counter_ns()
    table, services = ctx.table, ctx.services
    body, model = await _read(request, ctx)
    check(body, EmbeddingsRequest if legacy else EmbedRequest)
    if legacy and not body["prompt"]:
        return Response({"embedding": []}, media_type="application/json")
    internal = embed_body(body, model)
    facts = RequestFacts(
        model=model, needs_embeddings=True, preference=preference_from_headers(request.headers)
    )
    served = await services.runner.serve(
        table,
        facts,
        request.headers,
        lambda decision: services.embeddings.embed(table, decision, internal),
    )
    assert served.body is not None
    answer = embed_answer(
        served.body, model, legacy=legacy, total_ns=time.perf_counter_ns() - started
    )
    return Response(answer, media_type="application/json", headers=routing_headers(table, served))


@inference_route("/api/embed")
async def ollama_embed(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Ollama embeddings (one or many inputs), batched like ``/v1/embeddings``."""
    return await _embed(request, ctx, legacy=False)


@inference_route("/api/embeddings")
async def ollama_embeddings(request: Request[Any, Any, Any], ctx: RequestContext) -> Response[Any]:
    """Ollama's legacy embeddings call: one ``prompt``, one ``embedding``."""
    return await _embed(request, ctx, legacy=True)


@get("/api/tags")
async def ollama_tags(ctx: ContextDep) -> dict[str, Any]:
    """The models a client may ask for now, as Ollama lists pulled models."""
    return listed(ctx.table, _visible(ctx))


@get("/api/ps")
async def ollama_ps(ctx: ContextDep) -> dict[str, Any]:
    """The models that can serve now, as Ollama lists loaded ones."""
    return running(ctx.table, _visible(ctx))


@post("/api/show", status_code=200)
async def ollama_show(request: Request[Any, Any, Any], ctx: ContextDep) -> dict[str, Any]:
    """A model's capabilities and context length, from the config's model metadata."""
    body = await json_object(request, any_type=True)
    asked = check(body, ModelRequest)
    name = asked.model or asked.name
    if not name:
        raise RequestInvalid("Invalid request: missing model parameter", param="model")
    name = _resolve(ctx.table, name)
    visible = _visible(ctx)
    if name not in visible:
        raise ModelNotFound(name, visible)
    return shown(ctx.table, name)


@get("/api/version", opt={"public": True})
async def ollama_version() -> dict[str, str]:
    """The Ollama API version this router speaks (clients enable features by it)."""
    return {"version": API_VERSION}


@get("/", opt={"public": True}, media_type="text/plain")
async def ollama_root() -> str:
    """What Ollama answers at its root, and what its clients probe for."""
    return "Ollama is running"


@head("/", opt={"public": True}, media_type="text/plain")
async def ollama_root_head() -> None:
    """The probe of clients that only ask whether a server is there."""


_UNSUPPORTED = (
    "{what} is not available here: Nexus routes requests to the models its backends "
    "serve and does not manage them; {how} on the backend itself"
)


def _refuse(what: str, how: str) -> Unsupported:
    return Unsupported(_UNSUPPORTED.format(what=what, how=how))


_MANAGE = {
    "pull": "pull the model (`ollama pull`)",
    "push": "push the model (`ollama push`)",
    "create": "create the model (`ollama create`)",
    "copy": "copy the model (`ollama cp`)",
}


@post([p for p in MANAGEMENT_PATHS if p != "/api/delete"], status_code=501)
async def ollama_manage(request: Request[Any, Any, Any]) -> None:
    """Model management: models live on the backends, so these answer 501 with the reason."""
    verb = request.url.path.removeprefix("/api/")
    raise _refuse(f"Model {verb}", _MANAGE[verb])


@delete("/api/delete", status_code=501)
async def ollama_delete() -> None:
    """Model management: models live on the backends, so this answers 501 with the reason."""
    raise _refuse("Model delete", "delete the model (`ollama rm`)")


@post("/api/blobs/{digest:str}", status_code=501)
async def ollama_blobs() -> None:
    """Blob uploads (for ``create``): models live on the backends."""
    raise _refuse("Blob upload", "create the model (`ollama create`)")


OLLAMA_HANDLERS = [
    ollama_chat,
    ollama_generate,
    ollama_embed,
    ollama_embeddings,
    ollama_tags,
    ollama_ps,
    ollama_show,
    ollama_version,
    ollama_root,
    ollama_root_head,
    ollama_manage,
    ollama_delete,
    ollama_blobs,
]
