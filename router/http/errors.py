"""Map the exception tree to HTTP status codes and error envelopes: the only place that does.

Two envelopes: OpenAI's ``{"error": {message, type, param, code}}`` on the
inference API, and ``{message, error_code, details}`` on the admin APIs
(``/api/...`` and ``/admin/...``). The 503 routing contract carries ``context``.
"""

from __future__ import annotations

import logging
from typing import Any

import attrs
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from router.errors import (
    AdminError,
    AuthenticationRequired,
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

__all__ = ["ERROR_MAP", "ErrorSpec", "exception_handlers", "is_admin_path"]

log = logging.getLogger("nexus.http")


@attrs.frozen
class ErrorSpec:
    """How one error class looks on the wire."""

    status: int
    type: str  # OpenAI envelope "type"
    code: str  # OpenAI envelope "code" (lower case) / admin "error_code" (upper case)
    admin_code: str | None = None  # where the admin envelope names it differently


#: Most specific first; `spec_for` walks the class's MRO, so subclasses inherit a mapping.
ERROR_MAP: dict[type[NexusError], ErrorSpec] = {
    ConfigInvalid: ErrorSpec(422, "invalid_config", "config_invalid"),
    ConfigUnavailable: ErrorSpec(503, "config_unavailable", "config_unavailable"),
    RequestInvalid: ErrorSpec(400, "invalid_request_error", "invalid_request"),
    ModelNotFound: ErrorSpec(404, "invalid_request_error", "model_not_found"),
    NotFound: ErrorSpec(404, "invalid_request_error", "not_found"),
    Conflict: ErrorSpec(409, "invalid_request_error", "conflict"),
    RoutingRejected: ErrorSpec(503, "insufficient_capacity", "insufficient_capacity"),
    ProvidersBusy: ErrorSpec(503, "insufficient_capacity", "capacity_exhausted"),
    UpstreamTimeout: ErrorSpec(504, "upstream_error", "upstream_timeout"),
    UpstreamUnavailable: ErrorSpec(503, "upstream_error", "upstream_unavailable"),
    UpstreamProtocolError: ErrorSpec(502, "upstream_error", "upstream_protocol_error"),
    UpstreamNotFound: ErrorSpec(404, "invalid_request_error", "provider_not_found"),
    UpstreamAuthError: ErrorSpec(502, "upstream_error", "provider_auth_error"),
    UpstreamRateLimited: ErrorSpec(429, "rate_limit_exceeded", "provider_rate_limit_error"),
    UpstreamApiError: ErrorSpec(502, "upstream_error", "provider_api_error"),
    UpstreamStatusError: ErrorSpec(502, "upstream_error", "upstream_error"),
    UpstreamError: ErrorSpec(502, "upstream_error", "upstream_error"),
    AuthenticationRequired: ErrorSpec(
        401, "invalid_request_error", "invalid_api_key", "authentication_required"
    ),
    PermissionDenied: ErrorSpec(
        403, "permission_error", "insufficient_permissions", "insufficient_permissions"
    ),
    RateLimited: ErrorSpec(429, "rate_limit_exceeded", "rate_limit_exceeded"),
    PayloadTooLarge: ErrorSpec(413, "invalid_request_error", "payload_too_large"),
    UnsupportedMediaType: ErrorSpec(415, "invalid_request_error", "unsupported_media_type"),
    MissingField: ErrorSpec(400, "invalid_request_error", "missing_field"),
    InvalidUrl: ErrorSpec(422, "invalid_request_error", "invalid_url"),
    ProviderNotFound: ErrorSpec(404, "invalid_request_error", "provider_not_found"),
    NoProvidersFound: ErrorSpec(404, "invalid_request_error", "no_providers_found"),
    ProviderNameExists: ErrorSpec(409, "invalid_request_error", "provider_name_exists"),
    ProviderInUse: ErrorSpec(409, "invalid_request_error", "provider_in_use"),
    EnvNotAllowed: ErrorSpec(422, "invalid_request_error", "env_not_allowed"),
    ConfigChangedOnDisk: ErrorSpec(409, "invalid_request_error", "config_changed_on_disk"),
    ConfigReadOnly: ErrorSpec(409, "invalid_request_error", "config_read_only"),
    PreconditionFailed: ErrorSpec(412, "invalid_request_error", "precondition_failed"),
    StoreUnavailable: ErrorSpec(503, "server_error", "store_unavailable"),
    ConfigWriteFailed: ErrorSpec(503, "server_error", "store_unavailable"),
    ProviderTimeout: ErrorSpec(408, "upstream_error", "provider_timeout"),
    GatewayTimeout: ErrorSpec(504, "upstream_error", "gateway_timeout"),
    ProviderConfigInvalid: ErrorSpec(422, "upstream_error", "provider_config_invalid"),
    InvalidProviderResponse: ErrorSpec(502, "upstream_error", "invalid_provider_response"),
    ProviderUnavailable: ErrorSpec(503, "upstream_error", "provider_unavailable"),
    AdminError: ErrorSpec(500, "server_error", "internal_error"),
    NexusError: ErrorSpec(500, "server_error", "internal_error"),
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
    return path.startswith(("/api/", "/admin"))


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
    code = exc.code if exc.code is not None else spec.code
    fields = exc.fields()
    if isinstance(exc, RoutingRejected):  # observed, for the access log and the metrics
        info = current_info()
        if info is not None:
            info.reason, info.rejection = exc.rejection.reason, exc.rejection
    elif spec.status >= 500 and not isinstance(exc, UpstreamError):
        log.error("request failed: %s", exc.message)
    if is_admin_path(request.url.path):
        admin_code = spec.admin_code or (code if isinstance(code, str) else spec.code)
        body = _admin(exc.message, admin_code, fields)
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
    if is_admin_path(request.url.path):
        body = _admin(message, code, dict(exc.extra) if isinstance(exc.extra, dict) else None)
    else:
        body = _openai(message, _HTTP_TYPES.get(status, "server_error"), code)
    return Response(body, status_code=status, headers=headers)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    message = "Internal server error"
    if is_admin_path(request.url.path):
        return Response(_admin(message, "internal_error"), status_code=500)
    return Response(_openai(message, "server_error", "internal_error"), status_code=500)


def exception_handlers() -> ExceptionHandlersMap:
    """The app's handlers: Litestar finds the most specific one along each error's MRO."""
    return {NexusError: _nexus_error, HTTPException: _http_error, Exception: _unexpected}
