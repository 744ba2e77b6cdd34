"""The OpenAPI 3.1 document of every route the router serves, at ``GET /schema/openapi.json``.

Hand-written rather than derived: the inference endpoints are raw ASGI routes
(router.http.fast) whose bodies Litestar never sees, and the other handlers read
their bodies themselves, so Litestar's generator would describe none of them. A
test compares the document with the app's routes so the two cannot drift, and a
schemathesis run fuzzes the router against it.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from litestar import Response, get

from router import __version__
from router.http.openapi.dashboard import DASHBOARD_PATHS
from router.http.openapi.ollama import OLLAMA_PATHS, OLLAMA_SCHEMAS
from router.http.openapi.paths import PATHS, with_aliases
from router.http.openapi.schemas import SCHEMAS

__all__ = ["OPENAPI_HANDLERS", "OPENAPI_PATH", "document"]

OPENAPI_PATH = "/schema/openapi.json"

_DESCRIPTION = """\
A config-driven LLM router: one OpenAI-compatible endpoint in front of Ollama,
OpenAI-compatible servers and Anthropic. Every `/v1` path is also served without
the prefix. With an `auth` section in the config every operation but the
operational ones needs a key (`Authorization: Bearer` or `x-api-key`); the provider
and admin APIs need an admin key. Errors use OpenAI's envelope on the inference API,
Ollama's `{"error": message}` on Ollama's API (its paths, at the root, as Ollama
clients expect) and `{message, error_code, details}` on the rest of `/api`, on
`/admin` and on `/ui`. The dashboard
(`/ui`) takes an admin key once, at `POST /ui/api/login`, for a session cookie.
"""


def document() -> dict[str, Any]:
    """The document as a fresh dict (callers may change theirs)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Nexus LLM router",
            "version": __version__,
            "description": _DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "security": [{"bearer": []}, {"apiKey": []}],
        "paths": msgspec.json.decode(
            msgspec.json.encode(with_aliases({**PATHS, **DASHBOARD_PATHS, **OLLAMA_PATHS}))
        ),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A key of `auth.keys`",
                },
                "apiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
            },
            "schemas": msgspec.json.decode(msgspec.json.encode({**SCHEMAS, **OLLAMA_SCHEMAS})),
        },
    }


@functools.cache
def _encoded() -> bytes:
    return msgspec.json.encode(document())


@get(OPENAPI_PATH, opt={"public": True}, media_type="application/json")
async def openapi_document() -> Response[bytes]:
    """This router's OpenAPI document (public: it holds no secrets)."""
    return Response(_encoded(), media_type="application/json")


OPENAPI_HANDLERS = [openapi_document]
