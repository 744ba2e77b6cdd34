"""Per-request observation: request ids, the access log line, the request's metrics.

One `RequestInfo` per request lives in a context variable; the HTTP layer fills
it in (authorization, routing headers, the error mapping), the dispatcher's
attempts reach it through `record_attempt` (an attempt hook), and the ASGI
wrapper reads it when the response ends.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import time
from typing import Any

import attrs

from router.errors import Refusal
from router.services.activity import Activity
from router.services.metrics import Metrics
from router.upstream.attempts import Attempt

__all__ = ["CURRENT", "RequestInfo", "RequestObserver", "current_info", "record_attempt"]

access = logging.getLogger("nexus.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@attrs.define
class RequestInfo:
    """What one request did; filled in as it goes."""

    request_id: str
    started: float
    key: str | None = None
    route: str | None = None
    provider: str | None = None
    model: str | None = None
    zone: str | None = None
    reason: str = ""  # the rejection reason, if any
    rejection: Refusal | None = None
    upstream_s: float = 0.0
    ttfb_s: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    #: What the answer cost (USD), when its usage is known.
    cost_usd: float | None = None
    cost_estimated: bool = False
    #: The client disconnected before its answer was complete (logged as status 499).
    client_gone: bool = False
    #: Why the provider that answered was chosen (``primary``, ``failover``...).
    route_reason: str | None = None
    #: The model a rejected request named (``route`` is what an attempt was made for).
    rejected_route: str | None = None
    #: The end user a client names (the Messages API's ``metadata.user_id``), for the log.
    end_user: str | None = None


CURRENT: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "nexus_request", default=None
)


def current_info() -> RequestInfo | None:
    return CURRENT.get()


def record_attempt(attempt: Attempt) -> None:
    """An attempt hook: what an upstream attempt of this request did goes on its log line."""
    info = CURRENT.get()
    if info is None:  # a batch sent on behalf of several requests: each records its own
        return
    info.route, info.provider = attempt.route, attempt.provider
    info.model, info.zone = attempt.model, attempt.zone
    info.route_reason = attempt.route_reason
    info.upstream_s += attempt.upstream_s
    if attempt.ttfb_s is not None:
        info.ttfb_s = attempt.ttfb_s
    if attempt.prompt_tokens is not None or attempt.completion_tokens is not None:
        info.prompt_tokens = attempt.prompt_tokens
        info.completion_tokens = attempt.completion_tokens
    if attempt.cost_usd is not None:
        info.cost_usd = attempt.cost_usd
        info.cost_estimated = attempt.estimated


def _request_id(scope: dict[str, Any]) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text: str = value.decode("latin-1")
            if _REQUEST_ID.match(text):
                return text
    # Not a secret, so no getrandom() syscall per request as uuid4 makes (2% of a chat
    # completion's CPU); the random module reseeds itself in forked workers.
    return f"{random.getrandbits(128):032x}"


class RequestObserver:
    """ASGI wrapper: request id in and out, one access log line and metrics per request."""

    def __init__(self, app: Any, current: Any, metrics: Metrics, activity: Activity) -> None:
        self.app = app
        #: The config holder: ``current`` is the table this request will keep.
        self.current = current
        self.metrics = metrics
        #: The dashboard's feed and charts.
        self.activity = activity

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(_request_id(scope), time.perf_counter())
        token = CURRENT.set(info)
        # The one read of the snapshot for this request: authorize() and handlers use it.
        scope["state"]["nexus.table"] = self.current.current
        status = 500
        header = (b"x-request-id", info.request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            CURRENT.reset(token)
            elapsed = time.perf_counter() - info.started
            if info.client_gone:
                status = 499  # nginx's "client closed request": nobody got an answer
            try:
                self.metrics.record(info, status, elapsed)
                self.activity.record(info, scope["method"], scope["path"], status, elapsed)
                _log(info, scope, status, elapsed)
            except Exception:  # observing must never break the connection it observes
                access.exception("could not record request %s", info.request_id)


def _log(info: RequestInfo, scope: dict[str, Any], status: int, elapsed: float) -> None:
    fields: dict[str, Any] = {
        "request_id": info.request_id,
        "key": info.key,
        "end_user": info.end_user,
        "method": scope.get("method"),
        "path": scope.get("path"),
        "route": info.route,
        "provider": info.provider,
        "zone": info.zone,
        "status": status,
        "reason": info.reason or None,
        "latency_ms": round(elapsed * 1000, 3),
        "upstream_ms": round(info.upstream_s * 1000, 3) if info.provider else None,
        "prompt_tokens": info.prompt_tokens,
        "completion_tokens": info.completion_tokens,
        "cost_usd": info.cost_usd,
    }
    if info.cost_estimated:
        fields["cost_estimated"] = True
    access.info("request", extra={"fields": fields})
    if info.rejection is not None:  # the seed's rejection line
        context = info.rejection.context()
        backends = context.get("available_backends")
        access.warning(
            "Request rejected",
            extra={
                "fields": {
                    "request_id": info.request_id,
                    "status": status,
                    "rejection_reason": info.rejection.reason,
                    "required_tier": context.get("required_tier"),
                    "available_backends": len(backends) if isinstance(backends, list) else 0,
                }
            },
        )
