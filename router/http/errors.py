"""Map the exception tree to HTTP status codes and error envelopes: the only place that does.

Four envelopes: OpenAI's ``{"error": {message, type, param, code}}`` on the
inference API, Anthropic's ``{"type": "error", "error": {type, message}}`` on the
Messages API (``/v1/messages...``), Ollama's ``{"error": message}`` on Ollama's
paths, and ``{message, error_code, details}`` on the admin APIs (the rest of
``/api/...``, ``/admin/...`` and ``/ui``). The 503 routing contract carries
``context`` in each.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from router.dialects.anthropic.reply import error_body as anthropic_error
from router.dialects.ollama.wire import error_body as ollama_error
from router.dialects.ollama.wire import is_api_path as is_ollama_path
from router.errors import (
    AdminError,
    AuthenticationRequired,
    BudgetExceeded,
    ConfigChangedOnDisk,
    ConfigInvalid,
    ConfigReadOnly,
    ConfigUnavailable,
    ConfigWriteFailed,
    Conflict,
    EnvNotAllowed,
    GatewayTimeout,
    InvalidProviderResponse,
    InvalidUrl,
    MissingField,
    ModelListError,
    ModelNotFound,
    NexusError,
    NoProvidersFound,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PreconditionFailed,
    ProviderConfigInvalid,
    ProviderInUse,
    ProviderNameExists,
    ProviderNotFound,
    ProvidersBusy,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
    RequestInvalid,
    RoutingRejected,
    StoreUnavailable,
    Unsupported,
    UnsupportedMediaType,
    UpstreamApiError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamNotFound,
    UpstreamProtocolError,
    UpstreamRateLimited,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from router.http.observe import current_info

__all__ = ["ERROR_MAP", "ErrorSpec", "exception_handlers", "is_admin_path", "is_messages_path"]

log = logging.getLogger("nexus.http")


@attrs.frozen
class ErrorSpec:
    """How one error class looks on the wire."""

    status: int
    type: str  # OpenAI envelope "type"
    admin_code: str | None = None  # where the admin envelope's error_code differs from the kind


#: Most specific first; `spec_for` walks the class's MRO, so subclasses inherit a mapping.
ERROR_MAP: dict[type[NexusError], ErrorSpec] = {
    ConfigInvalid: ErrorSpec(422, "invalid_config"),
    ConfigUnavailable: ErrorSpec(503, "config_unavailable"),
    RequestInvalid: ErrorSpec(400, "invalid_request_error"),
    ModelNotFound: ErrorSpec(404, "invalid_request_error"),
    NotFound: ErrorSpec(404, "invalid_request_error"),
    Conflict: ErrorSpec(409, "invalid_request_error"),
    Unsupported: ErrorSpec(501, "invalid_request_error"),
    RoutingRejected: ErrorSpec(503, "insufficient_capacity"),
    ProvidersBusy: ErrorSpec(503, "insufficient_capacity"),
    UpstreamTimeout: ErrorSpec(504, "upstream_error"),
    UpstreamUnavailable: ErrorSpec(503, "upstream_error"),
    UpstreamProtocolError: ErrorSpec(502, "upstream_error"),
    UpstreamNotFound: ErrorSpec(404, "invalid_request_error"),
    UpstreamAuthError: ErrorSpec(502, "upstream_error"),
    UpstreamRateLimited: ErrorSpec(429, "rate_limit_exceeded"),
    UpstreamApiError: ErrorSpec(502, "upstream_error"),
    UpstreamStatusError: ErrorSpec(502, "upstream_error"),
    UpstreamError: ErrorSpec(502, "upstream_error"),
    AuthenticationRequired: ErrorSpec(401, "invalid_request_error", "authentication_required"),
    PermissionDenied: ErrorSpec(403, "permission_error", "insufficient_permissions"),
    BudgetExceeded: ErrorSpec(429, "rate_limit_exceeded"),
    RateLimited: ErrorSpec(429, "rate_limit_exceeded"),
    PayloadTooLarge: ErrorSpec(413, "invalid_request_error"),
    UnsupportedMediaType: ErrorSpec(415, "invalid_request_error"),
    MissingField: ErrorSpec(400, "invalid_request_error"),
    InvalidUrl: ErrorSpec(422, "invalid_request_error"),
    ProviderNotFound: ErrorSpec(404, "invalid_request_error"),
    NoProvidersFound: ErrorSpec(404, "invalid_request_error"),
    ProviderNameExists: ErrorSpec(409, "invalid_request_error"),
    ProviderInUse: ErrorSpec(409, "invalid_request_error"),
    EnvNotAllowed: ErrorSpec(422, "invalid_request_error"),
    ConfigChangedOnDisk: ErrorSpec(409, "invalid_request_error"),
    ConfigReadOnly: ErrorSpec(409, "invalid_request_error"),
    PreconditionFailed: ErrorSpec(412, "invalid_request_error"),
    StoreUnavailable: ErrorSpec(503, "server_error"),
    ConfigWriteFailed: ErrorSpec(503, "server_error"),
    ProviderTimeout: ErrorSpec(408, "upstream_error"),
    GatewayTimeout: ErrorSpec(504, "upstream_error"),
    ProviderConfigInvalid: ErrorSpec(422, "upstream_error"),
    InvalidProviderResponse: ErrorSpec(502, "upstream_error"),
    ProviderUnavailable: ErrorSpec(503, "upstream_error"),
    ModelListError: ErrorSpec(502, "upstream_error"),
    AdminError: ErrorSpec(500, "server_error"),
    NexusError: ErrorSpec(500, "server_error"),
}

_HTTP_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "invalid_request_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_exceeded",
}


def spec_for(exc: NexusError) -> ErrorSpec:
    for cls in type(exc).__mro__:
        spec = ERROR_MAP.get(cls)
        if spec is not None:
            return spec
    raise AssertionError(f"no error mapping for {type(exc).__name__}")  # pragma: no cover


def is_admin_path(path: str) -> bool:
    """The admin envelope: the admin APIs and the dashboard's data endpoints."""
    return path.startswith(("/api/", "/admin", "/ui"))


def is_messages_path(path: str) -> bool:
    """The Messages API's paths, whose clients (Anthropic SDKs) read Anthropic's envelope."""
    return path.startswith(("/v1/messages", "/messages"))


def _openai(
    message: str, type_: str, code: str | int | None, param: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code, **extra}}


def _admin(message: str, code: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The admin APIs' envelope: ``{message, error_code, details}``."""
    body: dict[str, Any] = {"message": message, "error_code": code.upper()}
    if details:
        body["details"] = details
    return body


def _nexus_error(request: Request[Any, Any, Any], exc: NexusError) -> Response[Any]:
    if isinstance(exc, ModelNotFound):
        exc = _as_seen_by(request, exc)
    spec = spec_for(exc)
    status = exc.http_status(spec.status)
    code = exc.code if exc.code is not None else exc.kind
    fields = exc.fields()
    if isinstance(exc, RoutingRejected):  # observed, for the access log and the metrics
        info = current_info()
        if info is not None:
            info.reason, info.rejection = exc.rejection.reason, exc.rejection
            info.rejected_route = exc.route
    elif spec.status >= 500 and not isinstance(exc, UpstreamError | Unsupported):
        log.error("request failed: %s", exc.message)
    if is_ollama_path(request.url.path):
        body = ollama_error(exc.message, fields.get("context"))
    elif is_admin_path(request.url.path):
        admin_code = spec.admin_code or (code if isinstance(code, str) else exc.kind)
        body = _admin(exc.message, admin_code, fields)
    elif is_messages_path(request.url.path):
        where = {"param": exc.param} if exc.param is not None else {}
        body = anthropic_error(status, exc.message, code=code, **where, **fields)
    elif isinstance(exc, UpstreamStatusError) and status < 500 and exc.details:
        # The client's own mistake as the provider saw it: its code and param stay
        # decodable (context_length_exceeded, …); our classification rides beside them.
        own = exc.details
        body = _openai(
            exc.message,
            own.get("type", spec.type),
            own.get("code", code),
            own.get("param", exc.param),
            nexus_code=exc.kind,
            **fields,
        )
    else:
        body = _openai(exc.message, spec.type, code, exc.param, **fields)
    return Response(body, status_code=status, headers=exc.headers())


def _as_seen_by(request: Request[Any, Any, Any], exc: ModelNotFound) -> ModelNotFound:
    """A key limited by ``models:`` is told only the models it may use."""
    identity = request.scope.get("state", {}).get("nexus.identity")
    if identity is None or identity.models is None:
        return exc
    return ModelNotFound(exc.model, [m for m in exc.available if identity.may_use(m)])


def _http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    status = exc.status_code
    message = exc.detail or "error"
    if status == 404 and message == "Not Found":
        message = f"Unknown path {request.method} {request.url.path}"
    if status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    code = {
        404: "not_found",
        405: "method_not_allowed",
        408: "request_timeout",
        413: "payload_too_large",
        415: "unsupported_media_type",
        400: "invalid_request",
    }.get(status, "error")
    headers = dict(exc.headers or {})
    if is_ollama_path(request.url.path):
        body = ollama_error(message)
    elif is_admin_path(request.url.path):
        body = _admin(message, code, dict(exc.extra) if isinstance(exc.extra, dict) else None)
    elif is_messages_path(request.url.path):
        body = anthropic_error(status, message, code=code)
    else:
        body = _openai(message, _HTTP_TYPES.get(status, "server_error"), code)
    return Response(body, status_code=status, headers=headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Internal server error"
    if is_ollama_path(request.url.path):
        return Response(ollama_error(message), status_code=500)
    if is_admin_path(request.url.path):
        return Response(_admin(message, "internal_error"), status_code=500)
    if is_messages_path(request.url.path):
        return Response(anthropic_error(500, message, code="internal_error"), status_code=500)
    return Response(_openai(message, "server_error", "internal_error"), status_code=500)


def exception_handlers() -> ExceptionHandlersMap:
    """The app's handlers: Litestar finds the most specific one along each error's MRO."""
    return {NexusError: _nexus_error, HTTPException: _http_error, Exception: _unexpected}
