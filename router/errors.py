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
    ├── PayloadTooLarge         the body exceeds the endpoint's limit (413)
    ├── UnsupportedMediaType    the body is not JSON (415)
    ├── NotFound                an id the client named does not exist (404)
    │   └── ModelNotFound       no route or provider serves the requested model
    ├── Conflict                the resource's state forbids the operation (409)
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
from typing import Any, Protocol

__all__ = [
    "AdminError",
    "AuthenticationRequired",
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
    def message(self) -> str: ...

    @property
    def reason(self) -> str: ...

    @property
    def retry_after_s(self) -> int: ...

    def context(self) -> dict[str, Any]: ...


class NexusError(Exception):
    """Base of every error Nexus raises on purpose; the message is safe to show clients."""

    #: Overrides of the class's mapped code and the offending parameter, when known.
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


class RequestInvalid(NexusError):
    """The client's request is malformed; `param` names the offending field when known."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class NotFound(NexusError):
    """Something the client named by id does not exist."""


class Conflict(NexusError):
    """The resource is in a state that forbids the operation (e.g. cancelling a finished response)."""


class ModelNotFound(NotFound):
    """No route and no provider serves the requested model."""

    def __init__(self, model: str, available: Sequence[str]) -> None:
        shown = ", ".join(available[:50]) + (", ..." if len(available) > 50 else "")
        super().__init__(f"Model '{model}' not found. Available models: {shown or '(none)'}")
        self.model = model
        self.available = tuple(available)


class RoutingRejected(NexusError):
    """No candidate may serve the request; carries the structured rejection."""

    code = 503  # the seed contract's numeric code

    def __init__(self, rejection: Refusal) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection

    def fields(self) -> dict[str, Any]:
        return {"context": self.rejection.context()}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.rejection.retry_after_s)}


class UpstreamError(NexusError):
    """A provider failed to serve a request."""

    def __init__(self, message: str, *, provider: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable

    def fields(self) -> dict[str, Any]:
        return {"provider": self.provider}


class UpstreamTimeout(UpstreamError):
    """The provider did not answer within its timeout."""


class UpstreamUnavailable(UpstreamError):
    """The provider could not be reached (refused, reset, DNS)."""


class UpstreamProtocolError(UpstreamError):
    """The provider answered with something that is not its documented wire format."""


class UpstreamStatusError(UpstreamError):
    """The provider answered with an error status; `body` is its parsed error, if any."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status: int,
        body: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, retryable=status == 429 or status >= 500)
        self.status = status
        self.body = body
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        if self.status == 429 and self.retry_after:
            return {"Retry-After": str(max(1, round(self.retry_after)))}
        return {}


class StoreUnavailable(NexusError):
    """The database does not answer; every store call is one transaction, so nothing is half-done."""


class ProvidersBusy(NexusError):
    """Every candidate is at its max_concurrency across all router processes (shared state)."""

    def __init__(self, route: str, *, retry_after: float = 0.05) -> None:
        super().__init__(f"All backends for model '{route}' are at capacity")
        self.route = route
        self.retry_after = retry_after


class AuthenticationRequired(NexusError):
    """No API key was presented, or it is not a configured key."""


class PermissionDenied(NexusError):
    """The key is valid but its role or model list does not allow this."""

    def __init__(self, message: str, *, code: str = "insufficient_permissions") -> None:
        super().__init__(message)
        self.code = code


class RateLimited(NexusError):
    """A rate limit is spent; `retry_after` says when to try again (seconds)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def fields(self) -> dict[str, Any]:
        return {"retry_after_seconds": int(self.retry_after)}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(int(self.retry_after))}


class PayloadTooLarge(NexusError):
    """The request body is larger than the endpoint accepts."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"Request body exceeds maximum size limit of {limit} bytes")
        self.limit = limit

    def fields(self) -> dict[str, Any]:
        return {"max_size_bytes": self.limit}


class UnsupportedMediaType(NexusError):
    """The request body is not JSON."""


class AdminError(NexusError):
    """An error of the admin API; `details` appear in the seed envelope's ``details``."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    def fields(self) -> dict[str, Any]:
        return dict(self.details)


class MissingField(AdminError):
    """A required field is absent."""


class InvalidUrl(AdminError):
    """``base_url`` is not an http(s) URL."""


class ProviderNotFound(AdminError):
    """No provider of this kind has that id."""


class NoProvidersFound(AdminError):
    """The list of providers of this kind is empty (the seed answers 404)."""


class ProviderNameExists(AdminError):
    """Another provider already has that name."""


class ProviderInUse(AdminError):
    """Routes still target the provider."""


class EnvNotAllowed(AdminError):
    """A provider API write references an environment variable outside ``admin.env_allow``."""


class ConfigChangedOnDisk(AdminError):
    """The file on disk is not the version that is loaded (someone edited it)."""


class ConfigReadOnly(AdminError):
    """``admin.write_back: false``: git is the only writer."""


class PreconditionFailed(AdminError):
    """``If-Match`` does not match the current ETag."""


class ConfigWriteFailed(AdminError):
    """The config file could not be read or written for an admin API edit."""


class ModelListError(AdminError):
    """Asking a provider for its models failed."""


class ProviderTimeout(ModelListError):
    """The provider accepted the connection but did not answer in time."""


class GatewayTimeout(ModelListError):
    """The provider could not even be connected to in time."""


class ProviderConfigInvalid(ModelListError):
    """The provider refused our credentials, or is disabled."""


class InvalidProviderResponse(ModelListError):
    """The provider's model list is not its documented format."""


class ProviderUnavailable(ModelListError):
    """The provider could not be reached."""


class UpstreamNotFound(UpstreamStatusError):
    """The provider answered 404 (typically: it does not have the model)."""


class UpstreamAuthError(UpstreamStatusError):
    """The provider refused our credentials (401/403)."""


class UpstreamRateLimited(UpstreamStatusError):
    """The provider answered 429."""


class UpstreamApiError(UpstreamStatusError):
    """The provider answered another error status."""

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
