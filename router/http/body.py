"""Read a request's JSON body with precise errors (415, 400)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from router.errors import RequestInvalid

__all__ = ["json_object"]

_decode = msgspec.json.decode


async def json_object(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Return the body as a JSON object, or raise with what is wrong."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if content_type and not (content_type == "application/json" or content_type.endswith("+json")):
        raise HTTPException(
            status_code=415, detail=f"Content-Type must be application/json, got '{content_type}'"
        )
    raw = await request.body()
    if not raw.strip():
        raise RequestInvalid("Request body is empty: expected a JSON object", code="invalid_json")
    try:
        body = _decode(raw)
    except msgspec.DecodeError as exc:
        raise RequestInvalid(f"Malformed JSON body: {exc}", code="invalid_json") from exc
    if not isinstance(body, dict):
        raise RequestInvalid(
            f"Expected a JSON object, got {type(body).__name__}", code="invalid_json"
        )
    return body
