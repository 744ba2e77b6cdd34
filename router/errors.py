"""The one exception tree of Nexus.

Every error the router raises on purpose is a `NexusError`; `router.http.errors`
maps each class to a status code and an error envelope in one place::

    NexusError
    ├── ConfigInvalid           a config file failed to parse, validate or compile
    ├── ConfigUnavailable       a config file could not be read at all
    ├── RequestInvalid          the client sent something malformed (400)
    ├── NotFound                an id the client named does not exist (404)
    │   └── ModelNotFound       no route or provider serves the requested model
    ├── Conflict                the resource's state forbids the operation (409)
    ├── RoutingRejected         no candidate may serve the request (503 contract)
    └── UpstreamError           a provider failed; the dispatcher may fail over
        ├── UpstreamTimeout         no answer within the provider's timeout (504)
        ├── UpstreamUnavailable     connection refused or reset (503)
        ├── UpstreamProtocolError   the answer was not the wire format promised (502)
        └── UpstreamStatusError     the provider answered with an error status
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from router.config.diagnostics import Diagnostic
    from router.routing.decision import Rejection

__all__ = [
    "ConfigInvalid",
    "ConfigUnavailable",
    "Conflict",
    "ModelNotFound",
    "NexusError",
    "NotFound",
    "RequestInvalid",
    "RoutingRejected",
    "UpstreamError",
    "UpstreamProtocolError",
    "UpstreamStatusError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
]


class NexusError(Exception):
    """Base of every error Nexus raises on purpose; the message is safe to show clients."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigInvalid(NexusError):
    """A config file failed to parse, validate or compile; `diagnostics` say where and why."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        errors = [d for d in diagnostics if d.severity == "error"]
        first = errors[0].format() if errors else "invalid configuration"
        more = f" (and {len(errors) - 1} more error(s))" if len(errors) > 1 else ""
        super().__init__(first + more)
        self.diagnostics = tuple(diagnostics)


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

    def __init__(self, rejection: Rejection) -> None:
        super().__init__(rejection.message)
        self.rejection = rejection


class UpstreamError(NexusError):
    """A provider failed to serve a request."""

    def __init__(self, message: str, *, provider: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.provider = provider
        self.retryable = retryable


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
