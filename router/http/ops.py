"""Operational endpoints, open without a key: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from typing import Any

from litestar import Response, get

from router import __version__
from router.http.deps import ContextDep
from router.routing.decision import Verdict, availability

__all__ = ["OPS_HANDLERS"]


@get("/health", opt={"public": True})
async def health() -> dict[str, str]:
    """Liveness: the process answers, and which release it runs."""
    return {"status": "ok", "version": __version__}


@get("/ready", opt={"public": True})
async def ready(ctx: ContextDep) -> Response[dict[str, Any]]:
    """Readiness: config loaded, store reachable, at least one provider routable.

    Lost shared state (Redis) does not make a process unready: it keeps serving with
    per-process state, so the status says ``degraded`` with HTTP 200. Taking every
    replica out of the load balancer because Redis is down would be worse.
    """
    table, services = ctx.table, ctx.services
    pings = {name: await ping() for name, ping in services.pings}
    live = services.health.states
    routable = [
        name
        for name, e in table.providers.items()
        if name in live and availability(e, live[name], None) in {Verdict.USABLE, Verdict.FULL}
    ]
    checks: dict[str, dict[str, Any]] = {
        "config": {"ok": True, "version": table.version},
        **{name: {"ok": ok} for name, ok in pings.items()},
        "providers": {"ok": bool(routable), "routable": routable},
    }
    ok = all(check["ok"] for check in checks.values())
    shared = services.shared.describe()
    checks["shared"] = shared
    status = "not_ready" if not ok else ("ready" if shared["ok"] else "degraded")
    return Response({"status": status, "checks": checks}, status_code=200 if ok else 503)


@get("/metrics", opt={"public": True}, media_type="text/plain; version=0.0.4; charset=utf-8")
async def metrics(ctx: ContextDep) -> bytes:
    services = ctx.services
    return services.metrics.render()


OPS_HANDLERS = [health, ready, metrics]
