"""The provider admin API (seed §3.3): CRUD whose writes go back into the YAML file."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, post, put
from litestar.params import FromPath

from router.admin.listing import provider_models
from router.admin.providers import (
    create_edit,
    delete_edit,
    etag,
    find,
    list_etag,
    update_edit,
    view,
)
from router.config.model import PROVIDER_KINDS
from router.errors import ConfigReadOnly, NoProvidersFound, ProviderNotFound
from router.http.body import ADMIN_BODY_LIMIT, json_object
from router.http.deps import ContextDep
from router.routing.table import RoutingTable

__all__ = ["provider_router"]

KINDS = frozenset(PROVIDER_KINDS)


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ProviderNotFound(f"Unknown provider kind '{kind}'", kind=kind)
    return kind


def _writable(table: RoutingTable) -> None:
    if not table.config.admin.write_back:
        raise ConfigReadOnly(
            "The provider API is read-only here (admin.write_back: false); "
            "edit the config in git instead"
        )


@get("/{kind:str}")
async def list_providers(kind: FromPath[str], ctx: ContextDep) -> Response[dict[str, Any]]:
    table = ctx.table
    entries = [e for e in table.providers.values() if e.kind == _kind(kind)]
    if not entries:
        raise NoProvidersFound("No providers configured", kind=kind)
    return Response(
        {"providers": [view(table, e) for e in entries]},
        headers={"etag": list_etag(table, entries)},
    )


@post("/{kind:str}", status_code=201)
async def create_provider(
    ctx: ContextDep, kind: FromPath[str], request: Request[Any, Any, Any]
) -> Response[dict[str, Any]]:
    table, holder = ctx.table, ctx.holder
    body = await json_object(request, limit=ADMIN_BODY_LIMIT)
    _writable(table)
    provider_id, edit = create_edit(body, _kind(kind), holder.clock())
    new = await holder.awrite(edit)
    entry = new.providers_by_id[provider_id]
    return Response(
        view(new, entry),
        status_code=201,
        headers={
            "etag": etag(new, entry),
            "location": f"{request.url.path.rstrip('/')}/{provider_id}",
        },
    )


@get("/{kind:str}/{provider_id:str}")
async def get_provider(
    ctx: ContextDep, kind: FromPath[str], provider_id: FromPath[str]
) -> Response[dict[str, Any]]:
    table = ctx.table
    entry = find(table, _kind(kind), provider_id)
    return Response(view(table, entry), headers={"etag": etag(table, entry)})


@put("/{kind:str}/{provider_id:str}", status_code=200)
async def update_provider(
    ctx: ContextDep,
    kind: FromPath[str],
    provider_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> Response[dict[str, Any]]:
    table, holder = ctx.table, ctx.holder
    body = await json_object(request, limit=ADMIN_BODY_LIMIT)
    _writable(table)
    find(table, _kind(kind), provider_id)
    edit = update_edit(body, kind, provider_id, holder.clock(), request.headers.get("if-match"))
    new = await holder.awrite(edit)
    entry = new.providers_by_id[provider_id]
    return Response(view(new, entry), headers={"etag": etag(new, entry)})


@delete("/{kind:str}/{provider_id:str}", status_code=204)
async def delete_provider(
    ctx: ContextDep,
    kind: FromPath[str],
    provider_id: FromPath[str],
    request: Request[Any, Any, Any],
) -> None:
    table, holder = ctx.table, ctx.holder
    _writable(table)
    find(table, _kind(kind), provider_id)
    await holder.awrite(delete_edit(kind, provider_id, request.headers.get("if-match")))


@get("/{kind:str}/{provider_id:str}/models")
async def list_provider_models(
    ctx: ContextDep, kind: FromPath[str], provider_id: FromPath[str]
) -> dict[str, Any]:
    table, services = ctx.table, ctx.services
    return await provider_models(services.pool, find(table, _kind(kind), provider_id))


provider_router = Router(
    path="/api/v1/llm-provider",
    opt={"admin": True},
    route_handlers=[
        list_providers,
        create_provider,
        get_provider,
        update_provider,
        delete_provider,
        list_provider_models,
    ],
)
