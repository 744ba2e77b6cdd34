"""Authentication and authorization for every non-public route.

It runs as the app's ``before_request`` hook rather than as a guard: Litestar
copies the route handler for every guard call, which cost ~6% of a chat
completion's CPU (py-spy, bench/). `assert_every_route_authorizes` checks at
start-up that no layer replaced the hook, so a route can never skip it.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request

from router.auth.keys import Identity, presented_key
from router.errors import AuthenticationRequired, PermissionDenied, RateLimited
from router.http.observe import current_info
from router.routing.table import RoutingTable
from router.upstream.limits import RateLimiter
from router.upstream.shared import SharedState

__all__ = [
    "SHARED_STATE_KEY",
    "assert_every_route_authorizes",
    "authorize",
]

#: Where the app's state keeps the shared state (per-key rate limits span processes).
SHARED_STATE_KEY = "nexus.shared"


async def authorize(connection: Request[Any, Any, Any]) -> None:
    """Resolve the caller's identity; enforce roles and per-key rate limits.

    Handlers marked ``opt={"public": True}`` (health, readiness, metrics) skip it;
    ``opt={"admin": True}`` (the admin APIs) needs the admin role.
    """
    handler = connection.route_handler
    if handler.opt.get("public"):
        return
    table: RoutingTable = connection.scope["state"]["nexus.table"]
    auth = table.auth
    identity: Identity | None = None
    if auth is not None and auth.required:
        key = presented_key(connection.headers)
        if key is None:
            raise AuthenticationRequired("Authentication required")
        identity = auth.authenticate(key)
        if identity is None:
            raise AuthenticationRequired("Invalid API key")
        info = current_info()
        if info is not None:
            info.key = identity.name
        if handler.opt.get("admin") and not identity.admin:
            raise PermissionDenied("Insufficient permissions: this endpoint needs an admin key")
        if identity.rpm is not None:
            shared: SharedState = connection.app.state[SHARED_STATE_KEY]
            wait = await shared.take(f"key:{identity.name}", identity.rpm)
            if wait:
                raise RateLimited(
                    "Rate limit exceeded. Try again later",
                    retry_after=RateLimiter.retry_after(wait),
                )
    connection.scope["state"]["nexus.identity"] = identity


def assert_every_route_authorizes(app: Litestar) -> None:
    """Fail at start-up if a route would run without `authorize` (a layer overrode it).

    Raw inference routes (router.http.fast) have no hooks and call it themselves.
    """
    for route in app.routes:
        # HTTP routes hold one handler per method; ASGI and websocket routes hold one.
        handlers = getattr(route, "route_handlers", None) or [route.route_handler]  # type: ignore[union-attr]
        for handler in handlers:
            if getattr(handler.fn, "authorizes_itself", False) is True:
                continue
            hook = getattr(handler, "resolve_before_request", lambda: None)()
            if hook is not authorize:
                raise RuntimeError(f"route {route.path} does not run authorize()")
