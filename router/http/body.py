"""Read a request's JSON body with precise errors: 413 over the limit, 415 not JSON, 400 malformed."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException

from router.errors import PayloadTooLarge, RequestInvalid, UnsupportedMediaType

__all__ = ["ADMIN_BODY_LIMIT", "BODY_TIMED_OUT", "INFERENCE_BODY_LIMIT", "json_object"]

#: The seed's limit for the admin API.
ADMIN_BODY_LIMIT = 1024 * 1024
#: Inference bodies carry images and long histories.
INFERENCE_BODY_LIMIT = 16 * 1024 * 1024
#: Set in the scope's state by the server (router.http.server) when the body is late; it
#: then wakes the reader with an empty message.
BODY_TIMED_OUT = "nexus.body_timed_out"

_decode = msgspec.json.decode


async def _read(request: Request[Any, Any, Any], limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(limit)  # refuse before reading a byte
    chunks: list[bytes] = []
    size = 0
    # From the ASGI messages, not request.stream(): that needs an HTTP route handler's
    # settings, and the inference routes are raw ASGI ones (router.http.fast).
    while True:
        message: Any = await request.receive()
        if message["type"] != "http.request":
            raise RequestInvalid(  # nobody reads the answer; the access line records it
                "The client disconnected before sending the whole body", code="client_disconnected"
            )
        chunk = message.get("body", b"")
        if not chunk and message.get("more_body") and request.scope["state"].get(BODY_TIMED_OUT):
            raise HTTPException(detail="The request body did not arrive in time", status_code=408)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def json_object(
    request: Request[Any, Any, Any], *, limit: int = INFERENCE_BODY_LIMIT, any_type: bool = False
) -> dict[str, Any]:
    """Return the body as a JSON object, or raise with what is wrong.

    `any_type`: read the body as JSON whatever its Content-Type, as Ollama does
    (``curl -d`` sends ``application/x-www-form-urlencoded``).
    """
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if (
        content_type
        and not any_type
        and not (content_type == "application/json" or content_type.endswith("+json"))
    ):
        raise UnsupportedMediaType(f"Content-Type must be application/json, got '{content_type}'")
    raw = await _read(request, limit)
    if not raw.strip():
        raise RequestInvalid("Request body is empty: expected a JSON object", code="invalid_json")
    try:
        body = _decode(raw)
    except msgspec.DecodeError as exc:
        raise RequestInvalid(f"Malformed JSON body: {exc}", code="invalid_json") from exc
    except RecursionError:  # msgspec stops at the interpreter's recursion limit
        raise RequestInvalid(
            "Malformed JSON body: nested more deeply than the router accepts",
            code="invalid_json",
        ) from None
    if not isinstance(body, dict):
        raise RequestInvalid(
            f"Expected a JSON object, got {type(body).__name__}", code="invalid_json"
        )
    return body
