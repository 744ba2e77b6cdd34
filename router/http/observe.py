"""Per-request observation: request ids, the access log line, Prometheus metrics.

One `RequestInfo` per request lives in a context variable; handlers, the
dispatcher and the error mapping fill it in, and the ASGI wrapper reads it when
the response ends.
"""

from __future__ import annotations

import contextvars
import logging
import random
import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from router.errors import Refusal

if TYPE_CHECKING:
    from router.snapshot.holder import ConfigHolder
    from router.upstream.health import HealthMonitor

__all__ = ["CURRENT", "Metrics", "RequestInfo", "RequestObserver", "current_info"]

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
    #: The client disconnected before its answer was complete (logged as status 499).
    client_gone: bool = False


CURRENT: contextvars.ContextVar[RequestInfo | None] = contextvars.ContextVar(
    "nexus_request", default=None
)


def current_info() -> RequestInfo | None:
    return CURRENT.get()


class _StateCollector:
    """Gauges read at scrape time from the health monitor and the config store."""

    def __init__(
        self,
        config: ConfigHolder,
        health: Callable[[], HealthMonitor | None],
        queues: Callable[[], dict[str, int]],
        shared: Callable[[], dict[str, Any]],
    ) -> None:
        self._config = config
        self._health = health
        self._queues = queues
        self._shared = shared

    def collect(self) -> Iterator[Metric]:
        table = self._config.current
        info = GaugeMetricFamily(
            "nexus_config_info", "The loaded config version", labels=["version"]
        )
        info.add_metric([table.version], 1)
        yield info
        reloads = CounterMetricFamily(
            "nexus_config_reloads", "Config reloads by result", labels=["result"]
        )
        for result, count in (
            ("succeeded", self._config.succeeded),
            ("failed", self._config.failed),
            ("unchanged", self._config.unchanged),
        ):
            reloads.add_metric([result], count)
        yield reloads
        health = self._health()
        in_flight = GaugeMetricFamily(
            "nexus_provider_in_flight", "Requests in flight per provider", labels=["provider"]
        )
        states = GaugeMetricFamily(
            "nexus_provider_health",
            "1 for each provider's current state",
            labels=["provider", "state"],
        )
        for name, entry in table.providers.items():
            state = health.states.get(name) if health else None
            status = (
                "disabled" if not entry.enabled else (state.status.value if state else "unknown")
            )
            for option in ("healthy", "unhealthy", "unknown", "disabled"):
                states.add_metric([name, option], 1.0 if option == status else 0.0)
            in_flight.add_metric([name], state.in_flight if state else 0)
        yield states
        yield in_flight
        depth = GaugeMetricFamily(
            "nexus_queue_depth", "Requests waiting for capacity", labels=["route"]
        )
        for route, waiting in self._queues().items():
            depth.add_metric([route], waiting)
        yield depth
        shared = self._shared()
        degraded = GaugeMetricFamily(
            "nexus_shared_state_degraded",
            "1 while shared state (Redis) is unreachable and this process uses its own",
            labels=["mode"],
        )
        degraded.add_metric([str(shared.get("mode"))], 0.0 if shared.get("ok") else 1.0)
        yield degraded


@attrs.define
class Metrics:
    """The app's own registry (not the process-global one), so apps never share counters."""

    registry: CollectorRegistry
    http_responses: Counter
    requests: Counter
    duration: Histogram
    ttfb: Histogram
    overhead: Histogram
    tokens: Counter
    provider_errors: Counter
    queue_wait: Histogram
    #: Labelled children by (metric, label values): labels() validates and locks on
    #: every call (~1 µs, five times a request); a child, once made, never changes.
    #: It holds what the registry holds anyway, so it adds no cardinality.
    _children: dict[tuple[object, tuple[str, ...]], Any] = attrs.Factory(dict)

    def _child(self, metric: Counter | Histogram, *values: str) -> Any:
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    @classmethod
    def create(
        cls,
        config: ConfigHolder,
        health: Callable[[], HealthMonitor | None],
        queues: Callable[[], dict[str, int]] = dict,
        shared: Callable[[], dict[str, Any]] = lambda: {"mode": "local", "ok": True},
    ) -> Metrics:
        registry = CollectorRegistry()
        latency = (
            0.0005,
            0.001,
            0.0025,
            0.005,
            0.01,
            0.025,
            0.05,
            0.1,
            0.25,
            0.5,
            1,
            2.5,
            5,
            10,
            30,
            60,
            120,
        )
        metrics = cls(
            registry=registry,
            http_responses=Counter(
                "http_responses",
                "HTTP responses by status and rejection reason",
                ["status", "reason"],
                registry=registry,
            ),
            requests=Counter(
                "nexus_requests",
                "Routed requests",
                ["route", "provider", "status"],
                registry=registry,
            ),
            duration=Histogram(
                "nexus_request_duration_seconds",
                "Request duration",
                ["route"],
                registry=registry,
                buckets=latency,
            ),
            ttfb=Histogram(
                "nexus_upstream_ttfb_seconds",
                "Upstream time to first byte",
                ["provider"],
                registry=registry,
                buckets=latency,
            ),
            overhead=Histogram(
                "nexus_router_overhead_seconds",
                "Time spent in the router, excluding upstream time",
                registry=registry,
                buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
            ),
            provider_errors=Counter(
                "nexus_provider_errors",
                "Failed provider attempts by error type",
                ["provider", "type"],
                registry=registry,
            ),
            queue_wait=Histogram(
                "nexus_queue_wait_seconds",
                "Time requests waited in a capacity queue",
                ["route"],
                registry=registry,
                buckets=latency,
            ),
            tokens=Counter(
                "nexus_tokens",
                "Tokens by provider and model",
                ["provider", "model", "kind"],
                registry=registry,
            ),
        )
        registry.register(_StateCollector(config, health, queues, shared))
        return metrics

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def record(self, info: RequestInfo, status: int, elapsed: float) -> None:
        child = self._child
        code = str(status)
        child(self.http_responses, code, info.reason).inc()
        if info.route is not None:
            child(self.duration, info.route).observe(elapsed)
            child(self.requests, info.route, info.provider or "", code).inc()
        if info.provider is not None:
            self.overhead.observe(max(0.0, elapsed - info.upstream_s))
            if info.ttfb_s is not None:
                child(self.ttfb, info.provider).observe(info.ttfb_s)
            for kind, count in (
                ("prompt", info.prompt_tokens),
                ("completion", info.completion_tokens),
            ):
                if count:
                    child(self.tokens, info.provider, info.model or "", kind).inc(count)


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

    def __init__(self, app: Any, config: ConfigHolder, metrics: Metrics) -> None:
        self.app = app
        self.config = config
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = RequestInfo(_request_id(scope), time.perf_counter())
        token = CURRENT.set(info)
        # The one read of the snapshot for this request: authorize() and handlers use it.
        scope["state"]["nexus.table"] = self.config.current
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
                _log(info, scope, status, elapsed)
            except Exception:  # observing must never break the connection it observes
                access.exception("could not record request %s", info.request_id)


def _log(info: RequestInfo, scope: dict[str, Any], status: int, elapsed: float) -> None:
    fields: dict[str, Any] = {
        "request_id": info.request_id,
        "key": info.key,
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
    }
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
