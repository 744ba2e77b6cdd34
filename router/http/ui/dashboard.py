"""The web dashboard at ``/ui``: a static page from the package and its JSON data endpoints.

Read-only by design (the YAML file, or the provider API, is where changes are made).
The page (``index.html``, ``app.js``, ``app.css``) ships inside the package, needs no
CDN and no build step, and polls ``GET /ui/api/state`` once a second.

Access: a router without ``auth`` (or with ``mode: none``) shows the page to anyone
who can reach it. With keys, the data endpoints need a session (`router.http.ui.session`)
opened by ``POST /ui/api/login`` with an admin key, or an admin key in the request's
own ``Authorization`` header; the session cookie is scoped to ``/ui`` and is never
a credential for the API (`router.http.security.authorize` reads keys only).
"""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

import attrs
from litestar import Request, Response, Router, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, ResponseHeader
from litestar.handlers.base import BaseRouteHandler
from litestar.params import FromPath, FromQuery

from router.auth.keys import presented_key
from router.errors import AuthenticationRequired, NotFound, PermissionDenied, RequestInvalid
from router.http.body import json_object
from router.http.deps import ContextDep
from router.http.inference import explain_request
from router.http.observe import current_info
from router.http.ui.session import COOKIE, CSRF_HEADER, Session, Sessions
from router.routing.table import RoutingTable
from router.services.activity import Activity, chart_series, feed_rows, status_filter
from router.services.dashboard import routes_view, topology_view

__all__ = ["UI_STATE_KEY", "Dashboard", "ui_router"]

#: Where the app's state keeps the `Dashboard`.
UI_STATE_KEY = "nexus.ui"
_LOGIN_BODY_LIMIT = 4096

#: No inline script or style, nothing from elsewhere, never framed, no Referer sent.
_SECURITY_HEADERS = [
    ResponseHeader(
        name="content-security-policy",
        value=(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        ),
    ),
    ResponseHeader(name="x-frame-options", value="DENY"),
    ResponseHeader(name="referrer-policy", value="no-referrer"),
    ResponseHeader(name="x-content-type-options", value="nosniff"),
    ResponseHeader(name="cache-control", value="no-store"),
]

_STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


def _asset(name: str) -> bytes:
    return resources.files("router.http.ui").joinpath("static", name).read_bytes()


@attrs.define
class Dashboard:
    """The dashboard's per-app state: recorded activity and the login sessions."""

    activity: Activity
    sessions: Sessions = attrs.Factory(Sessions)
    #: The page and its assets, read from the package once.
    assets: dict[str, bytes] = attrs.Factory(
        lambda: {name: _asset(name) for name in ("index.html", *_STATIC_TYPES)}
    )


@attrs.frozen
class Viewer:
    """Who is looking: an admin's key name (None when the router has no keys)."""

    name: str | None
    session: Session | None


def _dashboard(request: ASGIConnection[Any, Any, Any, Any]) -> Dashboard:
    dashboard: Dashboard = request.app.state[UI_STATE_KEY]
    return dashboard


def _keys_required(table: RoutingTable) -> bool:
    return table.auth is not None and table.auth.required


def _viewer(request: ASGIConnection[Any, Any, Any, Any]) -> Viewer:
    """Resolve who may see the data; raise 401/403 otherwise."""
    table: RoutingTable = request.scope["state"]["nexus.table"]
    auth = table.auth
    if auth is None or not auth.required:
        return Viewer(None, None)
    session = _dashboard(request).sessions.find(request.cookies.get(COOKIE), auth)
    if session is not None:
        return Viewer(session.name, session)
    key = presented_key(request.headers)
    if key is None:
        raise AuthenticationRequired("Log in with an admin key to see the dashboard")
    identity = auth.authenticate(key)
    if identity is None:
        raise AuthenticationRequired("Invalid API key")
    if not identity.admin:
        raise PermissionDenied("Insufficient permissions: the dashboard needs an admin key")
    return Viewer(identity.name, None)


def _same_origin(request: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Refuse a POST another site's page sent (browsers always send Origin on POST)."""
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin not in (f"http://{host}", f"https://{host}"):
        raise PermissionDenied(
            "Cross-origin request refused by the dashboard", code="cross_origin_refused"
        )


def ui_guard(request: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Every dashboard endpoint except the page, its assets and the session/login calls."""
    if handler.opt.get("ui_open"):
        if request.scope.get("method") == "POST":
            _same_origin(request)
        return
    viewer = _viewer(request)
    info = current_info()
    if info is not None:
        info.key = viewer.name
    if request.scope.get("method") == "POST":
        _same_origin(request)
        bearer = viewer.session is None and viewer.name is not None
        presented = request.headers.get(CSRF_HEADER)
        if not bearer and not _dashboard(request).sessions.csrf_ok(viewer.session, presented):
            raise PermissionDenied(
                "Missing or wrong X-Nexus-CSRF header: reload the page", code="csrf_failed"
            )


@get(["/", "/index.html"], opt={"ui_open": True}, media_type="text/html")
async def page(request: Request[Any, Any, Any]) -> bytes:
    """The dashboard page (it shows the login form itself when a session is needed)."""
    return _dashboard(request).assets["index.html"]


@get("/static/{name:str}", opt={"ui_open": True})
async def static(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    media = _STATIC_TYPES.get(name)
    if media is None:
        raise NotFound(f"No dashboard asset named {name!r}")
    return Response(_dashboard(request).assets[name], media_type=media)


@get("/api/session", opt={"ui_open": True})
async def session(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Whether a login is needed, who is logged in, and the CSRF token for POSTs."""
    table: RoutingTable = request.scope["state"]["nexus.table"]
    sessions = _dashboard(request).sessions
    if not _keys_required(table):
        return {
            "auth_required": False,
            "logged_in": True,
            "name": None,
            "csrf": sessions.anonymous_csrf,
        }
    assert table.auth is not None
    found = sessions.find(request.cookies.get(COOKIE), table.auth)
    if found is None:
        return {
            "auth_required": True,
            "logged_in": False,
            "name": None,
            "csrf": sessions.anonymous_csrf,
        }
    return {"auth_required": True, "logged_in": True, "name": found.name, "csrf": found.csrf}


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        path="/ui",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@post("/api/login", opt={"ui_open": True}, status_code=200)
async def login(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Exchange an admin key (JSON body ``{"key": ...}``) for a session cookie."""
    table: RoutingTable = request.scope["state"]["nexus.table"]
    sessions = _dashboard(request).sessions
    if not sessions.csrf_ok(None, request.headers.get(CSRF_HEADER)):
        raise PermissionDenied(
            "Missing or wrong X-Nexus-CSRF header: reload the page", code="csrf_failed"
        )
    body = await json_object(request, limit=_LOGIN_BODY_LIMIT)
    key = body.get("key")
    if not isinstance(key, str) or not key.strip():
        raise RequestInvalid("'key' must be a non-empty string", param="key", code="missing_key")
    if not _keys_required(table):
        raise RequestInvalid(
            "This router has no keys: the dashboard needs no login", code="no_login"
        )
    assert table.auth is not None
    identity = table.auth.authenticate(key.strip())
    if identity is None:
        raise AuthenticationRequired("Invalid API key")
    if not identity.admin:
        raise PermissionDenied("Insufficient permissions: the dashboard needs an admin key")
    info = current_info()
    if info is not None:
        info.key = identity.name
    sid, opened = sessions.open(identity, key.strip())
    return Response(
        {"logged_in": True, "name": opened.name, "csrf": opened.csrf},
        cookies=[_cookie(request, sid, int(sessions.ttl_s))],
    )


@post("/api/logout", status_code=200)
async def logout(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """End this browser's session."""
    _dashboard(request).sessions.close(request.cookies.get(COOKIE))
    return Response({"logged_in": False}, cookies=[_cookie(request, "", 0)])


@get("/api/state")
async def state(
    request: Request[Any, Any, Any],
    ctx: ContextDep,
    status: FromQuery[str | None] = None,
    route: FromQuery[str | None] = None,
) -> dict[str, Any]:
    """Everything the page shows, in one answer: config, topology, routes, feed, charts."""
    table, services = ctx.table, ctx.services
    activity = _dashboard(request).activity
    health = services.health
    return {
        "config": ctx.holder.status(),
        "zones": topology_view(table, health.describe),
        "routes": routes_view(table, health.states),
        "feed": feed_rows(activity.feed, status=status_filter(status), route=route or None),
        "charts": chart_series(activity.buckets, activity.clock()),
        "probe_interval_s": table.settings.health.interval_s,
        "now": time.time(),
    }


@post("/api/explain", status_code=200)
async def explain(request: Request[Any, Any, Any], ctx: ContextDep) -> dict[str, Any]:
    """The explain form: the same answer as ``POST /v1/route/explain``."""
    body = await json_object(request, limit=_LOGIN_BODY_LIMIT * 16)
    return explain_request(ctx, body, {})


ui_router = Router(
    path="/ui",
    route_handlers=[page, static, session, login, logout, state, explain],
    # Bearer keys are not this router's business (sessions are): `ui_guard` checks access.
    opt={"public": True},
    guards=[ui_guard],
    response_headers=_SECURITY_HEADERS,
)
