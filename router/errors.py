"""The one exception tree of Nexus.

Every error the router raises on purpose is a `NexusError`; `router.http.errors`
maps each class to a status code and an error envelope in one place::

    NexusError
    ├── ConfigInvalid           a config file failed to parse, validate or compile
    ├── ConfigUnavailable       a config file could not be read at all
    ├── RequestInvalid          the client sent something malformed (400)
    ├── AuthenticationRequired  no key, or an unknown key (401)
    ├── PermissionDenied        a valid key that may not do this (403)
    ├── RateLimited             a key's or every candidate provider's budget is spent (429)
    │   └── BudgetExceeded      the key's spend budget for this period is spent (429)
    ├── PayloadTooLarge         the body exceeds the endpoint's limit (413)
    ├── UnsupportedMediaType    the body is not JSON (415)
    ├── NotFound                an id the client named does not exist (404)
    │   └── ModelNotFound       no route or provider serves the requested model
    ├── Conflict                the resource's state forbids the operation (409)
    ├── Unsupported             an operation this router does not offer (501)
    ├── RoutingRejected         no candidate may serve the request (503 contract)
    ├── ProvidersBusy           every candidate is at max_concurrency counting all router
    │                           processes (the capacity queue turns it into the 503 contract)
    ├── StoreUnavailable        the database does not answer (503 store_unavailable)
    ├── AdminError              the admin APIs' own errors (their envelope's codes)
    │   ├── MissingField            400  MISSING_FIELD
    │   ├── InvalidUrl              422  INVALID_URL
    │   ├── ProviderNotFound        404  PROVIDER_NOT_FOUND
    │   ├── NoProvidersFound        404  NO_PROVIDERS_FOUND
    │   ├── ProviderNameExists      409  PROVIDER_NAME_EXISTS
    │   ├── ProviderInUse           409  PROVIDER_IN_USE
    │   ├── EnvNotAllowed           422  ENV_NOT_ALLOWED (a ${VAR} outside admin.env_allow)
    │   ├── ConfigChangedOnDisk     409  CONFIG_CHANGED_ON_DISK
    │   ├── ConfigReadOnly          409  CONFIG_READ_ONLY
    │   ├── PreconditionFailed      412  PRECONDITION_FAILED
    │   ├── ConfigWriteFailed       503  STORE_UNAVAILABLE (the config file could not be written)
    │   └── ModelListError          asking a provider for its models failed
    │       ├── ProviderTimeout         408  PROVIDER_TIMEOUT (connected, no answer in time)
    │       ├── GatewayTimeout          504  GATEWAY_TIMEOUT (could not connect in time)
    │       ├── ProviderConfigInvalid   422  PROVIDER_CONFIG_INVALID (401/403, disabled)
    │       ├── InvalidProviderResponse 502  INVALID_PROVIDER_RESPONSE
    │       └── ProviderUnavailable     503  PROVIDER_UNAVAILABLE
    └── UpstreamError           a provider failed; the dispatcher may fail over
        ├── UpstreamTimeout         no answer within the provider's timeout (504)
        ├── UpstreamUnavailable     connection refused or reset (503)
        ├── UpstreamProtocolError   the answer was not the wire format promised (502)
        └── UpstreamStatusError     the provider answered with an error status
            ├── UpstreamNotFound         404: provider_not_found (e.g. the model is not there)
            ├── UpstreamAuthError        401/403: provider_auth_error (our key was refused)
            ├── UpstreamRateLimited      429: provider_rate_limit_error
            └── UpstreamApiError         any other error status: provider_api_error

Besides its message, an error knows what its envelope carries (`fields`), the
headers its answer needs (`headers`) and, where it differs from its class's
mapping, its status (`http_status`), code and param: the mapping in
`router.http.errors` applies them without asking what kind of error it has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol

__all__ = [
    "AdminError",
    "AuthenticationRequired",
    "BudgetExceeded",
    "ConfigChangedOnDisk",
    "ConfigInvalid",
    "ConfigReadOnly",
    "ConfigUnavailable",
    "ConfigWriteFailed",
    "Conflict",
    "EnvNotAllowed",
    "Finding",
    "GatewayTimeout",
    "InvalidProviderResponse",
    "InvalidUrl",
    "MissingField",
    "ModelListError",
    "ModelNotFound",
    "NexusError",
    "NoProvidersFound",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "PreconditionFailed",
    "ProviderConfigInvalid",
    "ProviderInUse",
    "ProviderNameExists",
    "ProviderNotFound",
    "ProviderTimeout",
    "ProviderUnavailable",
    "ProvidersBusy",
    "RateLimited",
    "Refusal",
    "RequestInvalid",
    "RoutingRejected",
    "StoreUnavailable",
    "Unsupported",
    "UnsupportedMediaType",
    "UpstreamApiError",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamNotFound",
    "UpstreamProtocolError",
    "UpstreamRateLimited",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "provider_status_error",
]


class Finding(Protocol):
    """A located config problem (``router.config.diagnostics.Diagnostic``)."""

    @property
    def severity(self) -> str: ...

    def format(self) -> str: ...

    def to_dict(self) -> dict[str, object]: ...


class Refusal(Protocol):
    """Why routing refused a request (``router.routing.decision.Rejection``)."""

    @property
    def permanent(self) -> bool: ...

    @property
    def message(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def retry_after_s(self) -> int: ...

    def context(self) -> dict[str, Any]: ...


class NexusError(Exception):
    """Base of every error Nexus raises on purpose; the message is safe to show clients."""

    #: The error's code in every envelope (``error.code``, ``error_code`` upper-cased).
    kind: ClassVar[str] = "internal_error"
    #: An instance's own code where it differs from its class's, and the offending param.
    code: str | int | None = None
    param: str | None = None

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def fields(self) -> dict[str, Any]:
        """What the error envelope carries besides message, type, code and param."""
        return {}

    def headers(self) -> dict[str, str]:
        """Headers the answer needs (``Retry-After``)."""
        return {}

    def http_status(self, mapped: int) -> int:
        """The status to answer with; `mapped` is the class's."""
        return mapped


class ConfigInvalid(NexusError):
    """A config file failed to parse, validate or compile; `diagnostics` say where and why."""

    kind = "config_invalid"

    def __init__(self, diagnostics: Sequence[Any]) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        first = errors[0].format() if errors else "invalid configuration"
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        super().__init__(first + more)
        #: `Finding`s (typed `Any` so the tree imports nothing from above it).
        self.diagnostics: tuple[Any, ...] = tuple(diagnostics)

    def fields(self) -> dict[str, Any]:
        return {"errors": [d.to_dict() for d in self.diagnostics if d.severity == "error"]}


class ConfigUnavailable(NexusError):
    """A config file could not be read (missing, unreadable, not a file)."""

    kind = "config_unavailable"


class RequestInvalid(NexusError):
    """The client's request is malformed; `param` names the offending field when known."""

    kind = "invalid_request"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class NotFound(NexusError):
    """Something the client named by id does not exist."""

    kind = "not_found"


class Conflict(NexusError):
    """The resource is in a state that forbids the operation (e.g. cancelling a finished response)."""

    kind = "conflict"


class Unsupported(NexusError):
    """An operation of a client's API that the router does not offer, and why (501)."""

    kind = "not_supported"


class ModelNotFound(NotFound):
    """No route and no provider serves the requested model."""

    kind = "model_not_found"

    def __init__(self, model: str, available: Sequence[str]) -> None:
        shown = ", ".join(available[:50]) + (", ..." if len(available) > 50 else "")
        super().__init__(f"Model '{model}' not found. Available models: {shown or '(none)'}")
        self.model = model
        self.available = tuple(available)


class RoutingRejected(NexusError):
    """No candidate may serve the request; carries the structured rejection."""

    kind = "insufficient_capacity"

    code = 503  # the seed contract's numeric code

    def __init__(self, rejection: Refusal, *, route: str | None = None) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection
        #: The model the request named (the dashboard's feed shows rejections by route).
        self.route = route

    def fields(self) -> dict[str, Any]:
        return {"context": self.rejection.context()}

    def headers(self) -> dict[str, str]:
        retry = {"Retry-After": str(self.rejection.retry_after_s)}  # the seed contract's
        if self.rejection.permanent:
            # No retry can fix it: the OpenAI and Anthropic SDKs obey x-should-retry, the
            # Vercel AI SDK retry-after-ms; without these every client waited Retry-After
            # twice (60 s) before it raised.
            retry["x-should-retry"] = "false"
            retry["retry-after-ms"] = "0"
        return retry


class UpstreamError(NexusError):
    """A provider failed to serve a request."""

    kind = "upstream_error"

    def __init__(self, message: str, *, provider: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable

    def fields(self) -> dict[str, Any]:
        return {"provider": self.provider}


class UpstreamTimeout(UpstreamError):
    """The provider did not answer within its timeout; `phase` says whether it even connected."""

    kind = "upstream_timeout"

    def __init__(self, message: str, *, provider: str, phase: str = "read") -> None:
        super().__init__(message, provider=provider)
        self.phase = phase


class UpstreamUnavailable(UpstreamError):
    """The provider could not be reached (refused, reset, DNS)."""

    kind = "upstream_unavailable"


class UpstreamProtocolError(UpstreamError):
    """The provider answered with something that is not its documented wire format."""

    kind = "upstream_protocol_error"


class UpstreamStatusError(UpstreamError):
    """The provider answered with an error status; `body` is its parsed error, if any."""

    kind = "upstream_error"

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int,
        body: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, provider=provider, retryable=status == 429 or status >= 500)
        self.status = status
        self.body = body
        self.retry_after = retry_after
        #: The provider's own error ``code`` / ``param`` / ``type``, redacted.
        self.details: Mapping[str, str] = details or {}

    def headers(self) -> dict[str, str]:
        if self.status == 429 and self.retry_after:
            return {"Retry-After": str(max(1, round(self.retry_after)))}
        return {}


class StoreUnavailable(NexusError):
    """The database does not answer; every store call is one transaction, so nothing is half-done."""

    kind = "store_unavailable"


class ProvidersBusy(NexusError):
    """Every candidate is at its max_concurrency across all router processes (shared state)."""

    kind = "capacity_exhausted"

    def __init__(self, route: str, *, retry_after: float = 0.05) -> None:
        super().__init__(f"All backends for model '{route}' are at capacity")
        self.route = route
        self.retry_after = retry_after


class AuthenticationRequired(NexusError):
    """No API key was presented, or it is not a configured key."""

    kind = "invalid_api_key"


class PermissionDenied(NexusError):
    """The key is valid but its role or model list does not allow this."""

    kind = "insufficient_permissions"

    def __init__(self, message: str, *, code: str = "insufficient_permissions") -> None:
        super().__init__(message)
        self.code = code


class RateLimited(NexusError):
    """A rate limit is spent; `retry_after` says when to try again (seconds)."""

    kind = "rate_limit_exceeded"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def fields(self) -> dict[str, Any]:
        return {"retry_after_seconds": int(self.retry_after)}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(int(self.retry_after))}


class BudgetExceeded(RateLimited):
    """The caller's key has spent its budget for this period; it resets at `resets_at`."""

    kind = "budget_exceeded"

    def __init__(self, message: str, *, retry_after: float, fields: Mapping[str, Any]) -> None:
        super().__init__(message, retry_after=retry_after)
        self._fields = dict(fields)

    def fields(self) -> dict[str, Any]:
        return {**self._fields, "retry_after_seconds": int(self.retry_after)}


class PayloadTooLarge(NexusError):
    """The request body is larger than the endpoint accepts."""

    kind = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds maximum size limit of {limit} bytes")
        self.limit = limit

    def fields(self) -> dict[str, Any]:
        return {"max_size_bytes": self.limit}


class UnsupportedMediaType(NexusError):
    """The request body is not JSON."""

    kind = "unsupported_media_type"


class AdminError(NexusError):
    """An error of the admin API; `details` appear in the seed envelope's ``details``."""

    kind = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def fields(self) -> dict[str, Any]:
        return dict(self.details)


class MissingField(AdminError):
    """A required field is absent."""

    kind = "missing_field"


class InvalidUrl(AdminError):
    """``base_url`` is not an http(s) URL."""

    kind = "invalid_url"


class ProviderNotFound(AdminError):
    """No provider of this kind has that id."""

    kind = "provider_not_found"


class NoProvidersFound(AdminError):
    """The list of providers of this kind is empty (the seed answers 404)."""

    kind = "no_providers_found"


class ProviderNameExists(AdminError):
    """Another provider already has that name."""

    kind = "provider_name_exists"


class ProviderInUse(AdminError):
    """Routes still target the provider."""

    kind = "provider_in_use"


class EnvNotAllowed(AdminError):
    """A provider API write references an environment variable outside ``admin.env_allow``."""

    kind = "env_not_allowed"


class ConfigChangedOnDisk(AdminError):
    """The file on disk is not the version that is loaded (someone edited it)."""

    kind = "config_changed_on_disk"


class ConfigReadOnly(AdminError):
    """``admin.write_back: false``: git is the only writer."""

    kind = "config_read_only"


class PreconditionFailed(AdminError):
    """``If-Match`` does not match the current ETag."""

    kind = "precondition_failed"


class ConfigWriteFailed(AdminError):
    """The config file could not be read or written for an admin API edit."""

    kind = "store_unavailable"


class ModelListError(AdminError):
    """Asking a provider for its models failed."""

    kind = "model_list_failed"


class ProviderTimeout(ModelListError):
    """The provider accepted the connection but did not answer in time."""

    kind = "provider_timeout"


class GatewayTimeout(ModelListError):
    """The provider could not even be connected to in time."""

    kind = "gateway_timeout"


class ProviderConfigInvalid(ModelListError):
    """The provider refused our credentials, or is disabled."""

    kind = "provider_config_invalid"


class InvalidProviderResponse(ModelListError):
    """The provider's model list is not its documented format."""

    kind = "invalid_provider_response"


class ProviderUnavailable(ModelListError):
    """The provider could not be reached."""

    kind = "provider_unavailable"


class UpstreamNotFound(UpstreamStatusError):
    """The provider answered 404 (typically: it does not have the model)."""

    kind = "provider_not_found"


class UpstreamAuthError(UpstreamStatusError):
    """The provider refused our credentials (401/403)."""

    kind = "provider_auth_error"


class UpstreamRateLimited(UpstreamStatusError):
    """The provider answered 429."""

    kind = "provider_rate_limit_error"


class UpstreamApiError(UpstreamStatusError):
    """The provider answered another error status."""

    kind = "provider_api_error"

    def http_status(self, mapped: int) -> int:
        # The client's own mistake as the provider saw it (a 4xx) is passed through.
        return self.status if 400 <= self.status < 500 else mapped


def provider_status_error(status: int) -> type[UpstreamStatusError]:
    """The typed error class for a provider's error status."""
    if status == 404:
        return UpstreamNotFound
    if status in {401, 403}:
        return UpstreamAuthError
    if status == 429:
        return UpstreamRateLimited
    return UpstreamApiError
