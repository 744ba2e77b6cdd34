"""The app's Prometheus metrics: its own registry, request counters, and gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest

from router.snapshot.holder import ConfigHolder
from router.upstream.attempts import Attempt
from router.upstream.health import HealthMonitor

__all__ = ["Metrics", "Observed"]


class Observed(Protocol):
    """What one request did (`router.http.observe.RequestInfo`)."""

    reason: str
    route: str | None
    provider: str | None
    model: str | None
    upstream_s: float
    ttfb_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None


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
    cost: Counter
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
    def create(cls) -> Metrics:
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
            cost=Counter(
                "nexus_cost_usd",
                "What answers cost in USD, from their usage and the models' prices",
                ["route", "provider", "zone", "key"],
                registry=registry,
            ),
        )
        return metrics

    def watch(
        self,
        config: ConfigHolder,
        health: HealthMonitor,
        queues: Callable[[], dict[str, int]],
        shared: Callable[[], dict[str, Any]],
    ) -> None:
        """Read these at every scrape (once the app's services exist)."""
        self.registry.register(_StateCollector(config, lambda: health, queues, shared))

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def attempt(self, attempt: Attempt) -> None:
        """An attempt hook: count failed attempts per provider and error type."""
        if attempt.error is not None:
            self._child(self.provider_errors, attempt.provider, attempt.error).inc()

    def spend(self, route: str, provider: str, zone: str, key: str | None, usd: float) -> None:
        """What one answer cost (the spend ledger reports it)."""
        if usd:
            self._child(self.cost, route, provider, zone, key or "").inc(usd)

    def record(self, info: Observed, status: int, elapsed: float) -> None:
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
