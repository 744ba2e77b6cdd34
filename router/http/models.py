"""The Models API: what clients may ask for right now."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromPath

from router.errors import ModelNotFound
from router.http.deps import ContextDep
from router.routing.decision import routable
from router.routing.table import Route, RoutingTable

__all__ = ["MODEL_HANDLERS"]


def _model(table: RoutingTable, route: Route, name: str | None = None) -> dict[str, Any]:
    """A model object; `name` is the one asked for when a pattern route serves it."""
    owner = route.targets[0].provider if route.direct and route.targets else "nexus"
    return {
        "id": name or route.name,
        "object": "model",
        "created": int(table.loaded_at),
        "owned_by": owner,
    }


@get(["/v1/models", "/models"])
async def list_models(ctx: ContextDep) -> dict[str, Any]:
    """Every route and directly served model that can be routed right now (and this key may use).

    A pattern route is listed as its pattern (``claude-*``).
    """
    table, services, identity = ctx.table, ctx.services, ctx.identity
    live = services.health.states
    data = [
        _model(table, table.routes[name])
        for name in table.public_models
        if (identity is None or identity.may_use(name)) and routable(table, name, live)
    ]
    return {"object": "list", "data": data}


@get(["/v1/models/{model_id:path}", "/models/{model_id:path}"])
async def retrieve_model(model_id: FromPath[str], ctx: ContextDep) -> dict[str, Any]:
    """The same rule as the list: a model that cannot be routed now is not found."""
    table, identity, live = ctx.table, ctx.identity, ctx.services.health.states
    name = model_id.lstrip("/")
    if not routable(table, name, live) or (identity is not None and not identity.may_use(name)):
        available = [n for n in table.public_models if routable(table, n, live)]
        raise ModelNotFound(name, available)
    route = table.resolve(name)
    assert route is not None  # routable
    return _model(table, route, name)


MODEL_HANDLERS = [list_models, retrieve_model]
