"""Provider health: active probes, a passive circuit breaker and in-flight counts.

This is mutable run-time state that lives outside the routing table and survives
reloads: a provider that still exists (same name, kind and URL) keeps its state.
`states` is what `route()` reads.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable

import attrs
import httpx

from router.config.model import HealthConfig
from router.dialects import adapter_for
from router.routing.decision import Health, ProviderState
from router.routing.table import ProviderEntry, RoutingTable
from router.upstream.shared import Event

__all__ = ["HealthMonitor"]

log = logging.getLogger("nexus.health")


@attrs.define
class _Tracker:
    fingerprint: tuple[str, str, str | None]
    failures: int = 0
    successes: int = 0
    open_until: float | None = None
    last_error: str | None = None
    task: asyncio.Task[None] | None = None
    reopen: asyncio.TimerHandle | None = None
    cooling_until: float = 0.0
    opens: int = 0  # consecutive circuit openings without a success in between
    half_open: bool = False  # the cool-down passed: the next request is the trial
    outcomes: collections.deque[bool] = attrs.Factory(lambda: collections.deque(maxlen=100))


@attrs.define
class HealthMonitor:
    """Track each provider's health; probe actively when `probe` is true."""

    client: httpx.AsyncClient
    settings: HealthConfig = attrs.field(factory=HealthConfig)
    probe: bool = True
    clock: Callable[[], float] = time.monotonic
    #: Called whenever a request finishes on any provider (capacity queues listen).
    on_release: Callable[[], None] = lambda: None
    #: Tells other router processes what this one observed (`SharedState.publish`).
    publish: Callable[[Event], None] = lambda event: None
    states: dict[str, ProviderState] = attrs.field(factory=dict)
    _trackers: dict[str, _Tracker] = attrs.field(factory=dict)
    _entries: dict[str, ProviderEntry] = attrs.field(factory=dict)

    # -- reconciliation with the routing table -------------------------------------------

    def sync(self, table: RoutingTable) -> None:
        """Follow a new table: keep state of unchanged providers, reset changed ones."""
        self.settings = table.settings.health
        wanted = {name: e for name, e in table.providers.items() if e.enabled}
        for name in list(self._trackers):
            entry = wanted.get(name)
            if entry is None or self._trackers[name].fingerprint != _fingerprint(entry):
                self._forget(name)
        for name, entry in wanted.items():
            self._entries[name] = entry
            if name not in self._trackers:
                self._trackers[name] = _Tracker(_fingerprint(entry))
                in_flight = self.states.get(name, ProviderState()).in_flight
                self.states[name] = ProviderState(Health.UNKNOWN, in_flight)
                if self.probe:
                    self._trackers[name].task = asyncio.create_task(
                        self._probe_loop(name), name=f"nexus-probe-{name}"
                    )

    def _forget(self, name: str) -> None:
        tracker = self._trackers.pop(name)
        if tracker.task is not None:
            tracker.task.cancel()
        if tracker.reopen is not None:
            tracker.reopen.cancel()
        self._entries.pop(name, None)
        state = self.states.pop(name, None)
        if state is not None and state.in_flight:
            # requests still running keep counting until they finish
            self.states[name] = ProviderState(Health.UNKNOWN, state.in_flight)

    async def close(self) -> None:
        tasks = [t.task for t in self._trackers.values() if t.task is not None]
        for name in list(self._trackers):
            self._forget(name)
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- in-flight accounting -----------------------------------------------------------

    def acquire(self, name: str) -> None:
        state = self.states.get(name, ProviderState())
        self.states[name] = attrs.evolve(state, in_flight=state.in_flight + 1)

    def release(self, name: str) -> None:
        state = self.states.get(name)
        if state is not None:
            self.states[name] = attrs.evolve(state, in_flight=max(0, state.in_flight - 1))
        self.on_release()

    # -- observations -------------------------------------------------------------------

    def _set(self, name: str, status: Health) -> None:
        state = self.states.get(name, ProviderState())
        if state.status is not status:
            log.info("provider %s is now %s", name, status.value)
            self.states[name] = attrs.evolve(state, status=status)

    def record_success(self, name: str) -> None:
        """A request succeeded: close a half-open circuit."""
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        was_open = tracker.open_until is not None
        self._close(tracker)
        tracker.outcomes.append(True)
        self._set(name, Health.HEALTHY)
        if was_open:
            self.publish({"type": "health", "provider": name, "status": "healthy"})

    @staticmethod
    def _close(tracker: _Tracker) -> None:
        tracker.failures = 0
        tracker.open_until = None
        tracker.half_open = False
        tracker.last_error = None
        tracker.opens = 0
        if tracker.reopen is not None:
            tracker.reopen.cancel()
            tracker.reopen = None

    def record_failure(self, name: str, error: str) -> None:
        """A request failed for a provider-side reason; enough in a row open the circuit."""
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        tracker.failures += 1
        tracker.successes = 0
        tracker.last_error = error
        tracker.outcomes.append(False)
        if tracker.open_until is not None:
            if tracker.half_open:  # the trial failed: open again, for longer
                self._open(name, tracker)
            return  # already open: requests that started earlier do not count again
        if tracker.failures >= self.settings.failure_threshold:
            self._open(name, tracker)

    def cool_down(self, name: str, seconds: float) -> None:
        """The provider said 429 (with Retry-After): skip it until then."""
        tracker = self._trackers.get(name)
        if tracker is not None:
            tracker.cooling_until = max(tracker.cooling_until, self.clock() + seconds)
            tracker.outcomes.append(False)
            log.info("provider %s asked us to wait %.1fs (429)", name, seconds)
            self.publish({"type": "cool", "provider": name, "seconds": seconds})

    def cooling(self, name: str) -> float:
        """Seconds the provider still asked us to wait, or 0."""
        tracker = self._trackers.get(name)
        return max(0.0, tracker.cooling_until - self.clock()) if tracker else 0.0

    def _open(self, name: str, tracker: _Tracker) -> None:
        # Exponential backoff with jitter: each opening without a success in between waits
        # twice as long (up to 16x), +-20% so replicas do not retry in lockstep.
        tracker.opens += 1
        base = self.settings.cooldown_s * min(16, 2 ** (tracker.opens - 1))
        cooldown = base * random.uniform(0.8, 1.2)
        self._open_for(name, tracker, cooldown)
        self.publish({"type": "open", "provider": name, "seconds": cooldown})

    def _open_for(self, name: str, tracker: _Tracker, cooldown: float) -> None:
        tracker.open_until = self.clock() + cooldown
        tracker.half_open = False
        if tracker.reopen is not None:
            tracker.reopen.cancel()
        tracker.reopen = asyncio.get_running_loop().call_later(cooldown, self._half_open, name)
        self._set(name, Health.UNHEALTHY)

    def apply(self, event: Event) -> None:
        """Adopt what another router process observed (an `Event` from shared state)."""
        name = event.get("provider")
        tracker = self._trackers.get(name) if isinstance(name, str) else None
        if tracker is None or not isinstance(name, str):
            return
        kind = event.get("type")
        if kind == "open":
            self._open_for(name, tracker, float(event["seconds"]))
        elif kind == "cool":
            tracker.cooling_until = max(
                tracker.cooling_until, self.clock() + float(event["seconds"])
            )
        elif kind == "health" and event.get("status") == Health.HEALTHY.value:
            self._close(tracker)
            self._set(name, Health.HEALTHY)
        elif (
            kind == "health"
            and event.get("status") == Health.UNHEALTHY.value
            and tracker.open_until is None
        ):
            self._set(name, Health.UNHEALTHY)

    def _half_open(self, name: str) -> None:
        tracker = self._trackers.get(name)
        if tracker is not None and tracker.open_until is not None:
            tracker.reopen = None
            tracker.half_open = True
            self._set(name, Health.UNKNOWN)  # routable again: the next request is the trial

    def _probe_result(self, name: str, error: str | None) -> None:
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        if error is None:
            tracker.successes += 1
            tracker.failures = 0
            tracker.last_error = None
            if tracker.open_until is not None:
                return  # an open circuit closes through a successful request, not a probe
            status = self.states.get(name, ProviderState()).status
            if (
                status is not Health.UNHEALTHY
                or tracker.successes >= self.settings.recovery_threshold
            ):
                self._set(name, Health.HEALTHY)
                if status is Health.UNHEALTHY:
                    self.publish({"type": "health", "provider": name, "status": "healthy"})
        else:
            tracker.failures += 1
            tracker.successes = 0
            tracker.last_error = error
            if tracker.failures >= self.settings.failure_threshold:
                if self.states.get(name, ProviderState()).status is not Health.UNHEALTHY:
                    self.publish({"type": "health", "provider": name, "status": "unhealthy"})
                self._set(name, Health.UNHEALTHY)

    async def _probe_loop(self, name: str) -> None:
        while True:
            entry = self._entries.get(name)
            if entry is None:
                return
            error, models = await self._probe_once(entry)
            self._probe_result(name, error)
            if error is None:
                state = self.states.get(name, ProviderState())
                if state.models != models:
                    self.states[name] = attrs.evolve(state, models=models)
            interval = self.settings.interval_s
            await asyncio.sleep(interval * random.uniform(0.9, 1.1))

    async def _probe_once(self, entry: ProviderEntry) -> tuple[str | None, frozenset[str] | None]:
        """Probe once: (error or None, the models the provider lists or None)."""
        adapter = adapter_for(entry.kind)
        url, headers = adapter.probe(entry)
        try:
            response = await self.client.get(url, headers=headers, timeout=self.settings.timeout_s)
        except httpx.TimeoutException:
            return f"health probe timed out after {self.settings.timeout_s:g}s", None
        except httpx.HTTPError as exc:
            return f"health probe failed: {type(exc).__name__}", None
        if response.status_code >= 400:
            return f"health probe answered HTTP {response.status_code}", None
        try:
            return None, adapter.probe_models(response.content)
        except (ValueError, TypeError, AttributeError):
            return "health probe answered with a malformed body", None

    def describe(self, name: str) -> dict[str, object]:
        """The operator's view of one provider's run-time state."""
        state = self.states.get(name, ProviderState())
        tracker = self._trackers.get(name)
        return {
            "status": state.status.value,
            "in_flight": state.in_flight,
            "consecutive_failures": tracker.failures if tracker else 0,
            "circuit_open": bool(tracker and tracker.open_until is not None),
            "circuit_opens": tracker.opens if tracker else 0,
            "half_open_in_s": (
                round(max(0.0, tracker.open_until - self.clock()), 3)
                if tracker and tracker.open_until is not None
                else None
            ),
            "last_error": tracker.last_error if tracker else None,
            "discovered_models": sorted(state.models) if state.models is not None else None,
            "cooling_down_s": round(self.cooling(name), 3),
            "recent_requests": len(tracker.outcomes) if tracker else 0,
            "recent_error_rate": (
                round(tracker.outcomes.count(False) / len(tracker.outcomes), 3)
                if tracker and tracker.outcomes
                else None
            ),
        }


def _fingerprint(entry: ProviderEntry) -> tuple[str, str, str | None]:
    return (entry.kind, entry.base_url, entry.api_key)
