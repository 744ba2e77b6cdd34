"""The Models API: what clients may ask for right now."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.params import FromPath

from router.errors import ModelNotFound
from router.http.deps import ContextDep
from router.routing.decision import Health, ProviderState
from router.routing.table import Route, RoutingTable

__all__ = ["MODEL_HANDLERS"]


def _routable(table: RoutingTable, route: Route, live: dict[str, ProviderState]) -> bool:
    """At least one target's provider is enabled, not unhealthy and has the model."""
    for target in route.targets:
        state = live.get(target.provider, ProviderState())
        if not table.providers[target.provider].enabled or state.status is Health.UNHEALTHY:
            continue
        if state.models is not None and target.model not in state.models:
            continue
        return True
    return False


def _model(table: RoutingTable, route: Route) -> dict[str, Any]:
    owner = route.targets[0].provider if route.direct and route.targets else "nexus"
    return {"id": route.name, "object": "model", "created": int(table.loaded_at), "owned_by": owner}


@get(["/v1/models", "/models"])
async def list_models(ctx: ContextDep) -> dict[str, Any]:
    """Every route and directly served model that can be routed right now (and this key may use)."""
    table, services, identity = ctx.table, ctx.services, ctx.identity
    live = services.health.states
    data = [
        _model(table, r)
        for name in table.public_models
        if (identity is None or identity.may_use(name))
        and _routable(table, r := table.routes[name], live)
    ]
    return {"object": "list", "data": data}


@get(["/v1/models/{model_id:path}", "/models/{model_id:path}"])
async def retrieve_model(model_id: FromPath[str], ctx: ContextDep) -> dict[str, Any]:
    table, identity = ctx.table, ctx.identity
    name = model_id.lstrip("/")
    route = table.routes.get(name)
    if route is None or (identity is not None and not identity.may_use(name)):
        raise ModelNotFound(name, table.public_models)
    return _model(table, route)


MODEL_HANDLERS = [list_models, retrieve_model]
