"""The dashboard's operations (``/ui``): its page, assets and data endpoints."""

from __future__ import annotations

from router.http.openapi.paths import Operation, _op, _path, _query
from router.http.openapi.schemas import ref

__all__ = ["DASHBOARD_PATHS"]

_CSRF = {
    "name": "X-Nexus-CSRF",
    "in": "header",
    "required": True,
    "description": "The token `GET /ui/api/session` answers (a session's, or the anonymous one)",
    "schema": {"type": "string"},
}
_SESSION = {"type": "object", "required": ["auth_required", "logged_in", "csrf"]}
_LOGIN = {
    "type": "object",
    "required": ["key"],
    "properties": {"key": {"type": "string", "minLength": 1}},
}
_STATE = {
    "type": "object",
    "required": ["config", "zones", "routes", "feed", "charts"],
}
_HTML = {"text/html": {"schema": {"type": "string"}}}
_DATA_ERRORS = ("401", "403")


def _page(operation_id: str, summary: str) -> Operation:
    operation = _op(operation_id, summary, "dashboard", ("200", "The page", None), public=True)
    operation["responses"]["200"]["content"] = _HTML
    return operation


DASHBOARD_PATHS: dict[str, dict[str, Operation]] = {
    "/ui": {"get": _page("dashboard", "The dashboard page (read-only; no key in the URL)")},
    "/ui/index.html": {"get": _page("dashboardIndex", "The dashboard page, by its file name")},
    "/ui/static/{name}": {
        "get": _op(
            "dashboardAsset",
            "The page's script or style sheet, from the package",
            "dashboard",
            ("200", "The file", None),
            ("404",),
            params=(_path("name", "`app.js` or `app.css`"),),
            public=True,
        )
    },
    "/ui/api/session": {
        "get": _op(
            "dashboardSession",
            "Whether a login is needed, who is logged in, and the CSRF token for POSTs",
            "dashboard",
            ("200", "The session", _SESSION),
            public=True,
        )
    },
    "/ui/api/login": {
        "post": _op(
            "dashboardLogin",
            "Exchange an admin key for an HttpOnly, SameSite=Strict session cookie (Path=/ui)",
            "dashboard",
            ("200", "Logged in; the answer's `csrf` is the session's token", _SESSION),
            _DATA_ERRORS,
            params=(_CSRF,),
            public=True,
        )
    },
    "/ui/api/logout": {
        "post": _op(
            "dashboardLogout",
            "End this browser's session",
            "dashboard",
            ("200", "Logged out", {"type": "object"}),
            _DATA_ERRORS,
            params=(_CSRF,),
        )
    },
    "/ui/api/state": {
        "get": _op(
            "dashboardState",
            "Config status, topology, routes, the last 200 requests and 15 minutes of charts",
            "dashboard",
            ("200", "Everything the page shows", _STATE),
            _DATA_ERRORS,
            params=(
                _query(
                    "status",
                    {"type": "string"},
                    "Feed filter: `ok`, `error`, `rejected` or a status code",
                ),
                _query("route", {"type": "string"}, "Feed filter: a route's name"),
            ),
        )
    },
    "/ui/api/explain": {
        "post": _op(
            "dashboardExplain",
            "The explain form: the same answer as `POST /v1/route/explain`",
            "dashboard",
            ("200", "The decision", ref("Explanation")),
            (*_DATA_ERRORS, "404"),
            body="ExplainRequest",
            params=(_CSRF,),
        )
    },
}
DASHBOARD_PATHS["/ui/api/login"]["post"]["requestBody"] = {
    "required": True,
    "content": {"application/json": {"schema": _LOGIN}},
}
