"""Admin routes: config status, forced reloads, provider state. Kept together so auth can wrap them."""

from __future__ import annotations

from typing import Any

from litestar import Response, Router, get, post
from litestar.params import FromQuery

from router.config.model import Period
from router.errors import ConfigInvalid, RequestInvalid
from router.http.deps import ContextDep
from router.snapshot.holder import ReloadResult

__all__ = ["admin_router"]


@get("/config")
async def config_status(ctx: ContextDep) -> dict[str, Any]:
    """Report the loaded version, where it came from and how the last reload went."""
    holder = ctx.holder
    return holder.status()


@post("/config/reload", status_code=200)
async def config_reload(ctx: ContextDep) -> Response[dict[str, Any]]:
    """Re-read the file now; 422 with every error when the file is invalid (still serving)."""
    holder = ctx.holder
    result = await holder.areload()
    if result is ReloadResult.FAILED and holder.last_error is not None:
        raise ConfigInvalid(holder.last_error.diagnostics or ())
    return Response({"result": result.value, **holder.status()})


@get("/providers")
async def providers(ctx: ContextDep) -> dict[str, Any]:
    """Each provider's configuration (without secrets) and run-time state."""
    table, services = ctx.table, ctx.services
    out = []
    for entry in table.providers.values():
        state = (
            services.health.describe(entry.name)
            if entry.enabled
            else {"status": "disabled", "in_flight": 0}
        )
        out.append(
            {
                "id": entry.id,
                "name": entry.name,
                "kind": entry.kind,
                "base_url": entry.display_url,
                "zone": entry.zone,
                "enabled": entry.enabled,
                "disabled_reason": entry.disabled_reason,
                "max_concurrency": entry.max_concurrency,
                "models": sorted(entry.models),
                "discover": entry.discover,
                # Served because the backend lists them; the file does not declare them.
                "discovered": sorted(n for n, spec in entry.models.items() if spec.discovered),
                **state,
            }
        )
    return {"config_version": table.version, "shared": services.shared.describe(), "providers": out}


@get("/spend")
async def spend(ctx: ContextDep, period: FromQuery[str] = "day") -> dict[str, Any]:
    """Spend in the current day, week or month (UTC), by dimension, and each budget's state."""
    try:
        chosen = Period(period)
    except ValueError:
        raise RequestInvalid(
            f"period must be one of day, week, month (not {period!r})", param="period"
        ) from None
    return await ctx.services.spend.report(chosen)


admin_router = Router(
    path="/admin",
    route_handlers=[config_status, config_reload, providers, spend],
    opt={"admin": True},
)
