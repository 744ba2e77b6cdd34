"""Provider health: active probes, circuit breakers and in-flight counts (the shell).

Mutable run-time state that lives outside the routing table and survives
reloads: a provider that still exists (same kind, URL and key) keeps its state.
`states` is what `route()` reads. The decisions are pure (`router.upstream.breaker`
for the circuits); this module owns the clock, the timers, the probe tasks and
the events other router processes hear about.

Each provider has one circuit for failures of the provider itself (refused,
timed out, malformed) and one per model for that model's 5xx answers, so a
failing model does not take its provider's other models down with it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from collections.abc import Callable, Iterable

import attrs

from router.config.model import HealthConfig
from router.dialects import adapter_for
from router.dialects.base import UpstreamRequest
from router.errors import UpstreamError
from router.routing.decision import Health, ProviderState
from router.routing.table import ProviderEntry, RoutingTable
from router.upstream import breaker
from router.upstream.breaker import Circuit, Position
from router.upstream.discovery import Discoverer
from router.upstream.shared import Event
from router.upstream.transport import Pool, Timeouts

__all__ = ["HealthMonitor"]

log = logging.getLogger("nexus.health")

#: The most a probe's answer may be (a model list).
_PROBE_LIMIT = 8 * 1024 * 1024


#: The one closed circuit every tracker starts with and returns to (compared by identity).
_CLOSED = breaker.CLOSED


def _jitter() -> float:
    return random.uniform(0.8, 1.2)


@attrs.define
class _Tracker:
    fingerprint: tuple[str, str, str | None]
    circuit: Circuit = _CLOSED
    models: dict[str, Circuit] = attrs.Factory(dict)
    probe_failures: int = 0
    probe_successes: int = 0
    probed_down: bool = False  # failure_threshold probes in a row failed
    seen_ok: bool = False  # a probe or a request succeeded since it was (re)started
    cooling_until: float = 0.0
    last_error: str | None = None
    listed: frozenset[str] | None = None  # what the provider's own list says it serves
    next_probe_at: float | None = None  # the clock's time of the next probe, when probing
    probed: bool = False  # its first probe has answered (and was logged)
    #: How long its requests take (exponentially weighted), for a queue's estimate.
    typical_s: float | None = None
    task: asyncio.Task[None] | None = None
    timer: asyncio.TimerHandle | None = None
    outcomes: collections.deque[bool] = attrs.Factory(lambda: collections.deque(maxlen=100))


@attrs.define
class HealthMonitor:
    """Track each provider's health; probe actively when `probe` is true."""

    pool: Pool | None
    settings: HealthConfig = attrs.field(factory=HealthConfig)
    probe: bool = True
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = _jitter
    #: Called whenever a request finishes on any provider (capacity queues listen).
    on_release: Callable[[], None] = lambda: None
    #: Tells other router processes what this one observed (`SharedState.publish`).
    publish: Callable[[Event], None] = lambda event: None
    #: Follows discovering providers' model lists (None: discovery is off).
    discoverer: Discoverer | None = None
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
                tracker = self._trackers[name] = _Tracker(_fingerprint(entry))
                self._refresh(name)
                if self.probe and self.pool is not None:
                    tracker.task = asyncio.create_task(
                        self._probe_loop(name), name=f"nexus-probe-{name}"
                    )

    def _forget(self, name: str) -> None:
        tracker = self._trackers.pop(name)
        if tracker.task is not None:
            tracker.task.cancel()
        if tracker.timer is not None:
            tracker.timer.cancel()
        self._entries.pop(name, None)
        if self.discoverer is not None:
            self.discoverer.forget(name)
        state = self.states.pop(name, None)
        if state is not None and state.in_flight:
            # requests still running keep counting until they finish
            self.states[name] = ProviderState(Health.UNKNOWN, state.in_flight)

    async def close(self) -> None:
        tasks = [t.task for t in self._trackers.values() if t.task is not None]
        for name in list(self._trackers):
            self._forget(name)
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- what route() reads ---------------------------------------------------------------

    def _status(self, tracker: _Tracker, now: float) -> Health:
        where = breaker.position(tracker.circuit, now)
        if where is Position.OPEN or tracker.probed_down:
            return Health.UNHEALTHY
        if where is Position.HALF_OPEN or not tracker.seen_ok:
            return Health.UNKNOWN  # routable: not probed yet, or the next request is a trial
        return Health.HEALTHY

    def refresh(self) -> None:
        """Recompute every provider's state at the clock's now (timers do it when circuits end)."""
        for name in list(self._trackers):
            self._refresh(name)

    def _refresh(self, name: str) -> None:
        """Recompute the provider's state, and wake up when an open circuit half-opens."""
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        now = self.clock()
        old = self.states.get(name, ProviderState())
        open_models = frozenset(
            model
            for model, circuit in tracker.models.items()
            if breaker.position(circuit, now) is Position.OPEN
        )
        new = ProviderState(self._status(tracker, now), old.in_flight, tracker.listed, open_models)
        if new.status is not old.status:
            log.info("provider %s is now %s", name, new.status.value)
        self.states[name] = new
        if tracker.timer is not None:
            tracker.timer.cancel()
            tracker.timer = None
        ends = [
            c.open_until
            for c in (tracker.circuit, *tracker.models.values())
            if c.open_until is not None and c.open_until > now
        ]
        if ends:
            tracker.timer = asyncio.get_running_loop().call_later(
                min(ends) - now, self._refresh, name
            )

    # -- in-flight accounting -----------------------------------------------------------

    def acquire(self, name: str) -> None:
        state = self.states.get(name, ProviderState())
        # A constructor call, not attrs.evolve: twice per request, evolve was ~1% of it.
        self.states[name] = ProviderState(
            state.status, state.in_flight + 1, state.models, state.open_models
        )

    def release(self, name: str, seconds: float | None = None) -> None:
        """A request on `name` ended (after `seconds`, when it reached the provider)."""
        tracker = self._trackers.get(name)
        if seconds is not None and tracker is not None:
            old = tracker.typical_s
            tracker.typical_s = seconds if old is None else 0.8 * old + 0.2 * seconds
        state = self.states.get(name)
        if state is not None:
            self.states[name] = ProviderState(
                state.status, max(0, state.in_flight - 1), state.models, state.open_models
            )
        self.on_release()

    # -- what requests observed ------------------------------------------------------------

    def record_success(self, name: str, model: str | None = None) -> None:
        """A request succeeded: its provider's circuit (and its model's) closes."""
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        tracker.outcomes.append(True)
        if tracker.seen_ok and tracker.circuit is _CLOSED and not tracker.models:
            return  # the common case, on every request: nothing changes
        was_open = tracker.circuit.open_until is not None
        tracker.circuit = breaker.succeeded(tracker.circuit)
        if model is not None and model in tracker.models:
            del tracker.models[model]
        tracker.seen_ok, tracker.probed_down = True, False
        tracker.last_error = None
        self._refresh(name)
        if was_open:
            self.publish({"type": "health", "provider": name, "status": "healthy"})

    def record_failure(self, name: str, error: str, model: str | None = None) -> None:
        """A request failed for a provider-side reason (or, with `model`, that model's)."""
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        now = self.clock()
        before = tracker.models.get(model, Circuit()) if model else tracker.circuit
        after = breaker.failed(
            before,
            now,
            error,
            threshold=self.settings.failure_threshold,
            cooldown_s=self.settings.cooldown_s,
            jitter=self.jitter(),
        )
        if model:
            tracker.models[model] = after
        else:
            tracker.circuit = after
        tracker.last_error = error
        tracker.outcomes.append(False)
        self._refresh(name)
        if after.opens != before.opens and after.open_until is not None:
            event: Event = {"type": "open", "provider": name, "seconds": after.open_until - now}
            if model:
                event["model"] = model
            self.publish(event)

    def cool_down(self, name: str, seconds: float) -> None:
        """The provider said 429 (or 503 with Retry-After): skip it until then."""
        tracker = self._trackers.get(name)
        if tracker is not None:
            tracker.cooling_until = max(tracker.cooling_until, self.clock() + seconds)
            tracker.outcomes.append(False)
            log.info("provider %s asked us to wait %.1fs", name, seconds)
            self.publish({"type": "cool", "provider": name, "seconds": seconds})

    def cooling(self, name: str) -> float:
        """Seconds the provider still asked us to wait, or 0."""
        tracker = self._trackers.get(name)
        return max(0.0, tracker.cooling_until - self.clock()) if tracker else 0.0

    def back_in(self, names: Iterable[str]) -> float | None:
        """Seconds until the first of these providers may serve again, as far as we know.

        An open circuit half-opens when its cool-down ends, a provider that asked us to
        wait said for how long, one that probes found down is probed again on schedule,
        and one at capacity frees a slot in about one of its typical requests.
        """
        now = self.clock()
        times = []
        for name in names:
            tracker = self._trackers.get(name)
            if tracker is None:
                continue
            ends = [c.open_until for c in (tracker.circuit, *tracker.models.values())]
            times += [end - now for end in ends if end is not None and end > now]
            if tracker.cooling_until > now:
                times.append(tracker.cooling_until - now)
            if tracker.probed_down and tracker.next_probe_at is not None:
                times.append(max(0.0, tracker.next_probe_at - now))
            state = self.states.get(name)
            if state is not None and state.in_flight and tracker.typical_s is not None:
                times.append(tracker.typical_s)
        return min(times) if times else None

    def apply(self, event: Event) -> None:
        """Adopt what another router process observed (an `Event` from shared state)."""
        name = event.get("provider")
        tracker = self._trackers.get(name) if isinstance(name, str) else None
        if tracker is None or not isinstance(name, str):
            return
        kind, now = event.get("type"), self.clock()
        if kind == "open":
            until = now + float(event["seconds"])
            model = event.get("model")
            if isinstance(model, str):
                circuit = tracker.models.get(model, Circuit())
                tracker.models[model] = attrs.evolve(circuit, open_until=until)
            else:
                tracker.circuit = attrs.evolve(tracker.circuit, open_until=until)
        elif kind == "cool":
            tracker.cooling_until = max(tracker.cooling_until, now + float(event["seconds"]))
        elif kind == "health" and event.get("status") == Health.HEALTHY.value:
            tracker.circuit = breaker.succeeded(tracker.circuit)
            tracker.seen_ok, tracker.probed_down = True, False
        elif kind == "health" and event.get("status") == Health.UNHEALTHY.value:
            tracker.probed_down = True
        self._refresh(name)

    # -- probes ---------------------------------------------------------------------------

    def _probe_result(self, name: str, error: str | None, listed: frozenset[str] | None) -> None:
        tracker = self._trackers.get(name)
        if tracker is None:
            return
        was = self.states.get(name, ProviderState()).status
        if error is None:
            tracker.probe_successes += 1
            tracker.probe_failures = 0
            tracker.listed = listed
            if not tracker.probed_down or (
                tracker.probe_successes >= self.settings.recovery_threshold
            ):
                tracker.probed_down = False
                tracker.seen_ok = True
                if tracker.circuit.open_until is None:
                    tracker.last_error = None
        else:
            tracker.probe_failures += 1
            tracker.probe_successes = 0
            tracker.last_error = error
            if tracker.probe_failures >= self.settings.failure_threshold:
                tracker.probed_down = True
        self._refresh(name)
        if not tracker.probed:
            tracker.probed = True
            self._first_probe(name, error, listed)
        now = self.states[name].status
        if now is not was and Health.UNHEALTHY in (now, was):
            self.publish({"type": "health", "provider": name, "status": now.value})

    def _first_probe(self, name: str, error: str | None, listed: frozenset[str] | None) -> None:
        """Say at start-up (and for each new provider) whether it answered, and why not."""
        entry = self._entries.get(name)
        where = f"{entry.display_url}, zone {entry.zone}" if entry is not None else "?"
        if error is None:
            served = f"lists {len(listed)} model(s)" if listed is not None else "answers"
            log.info("provider %s (%s): first probe ok, %s", name, where, served)
        else:
            log.warning("provider %s (%s): first probe failed: %s", name, where, error)

    async def _probe_loop(self, name: str) -> None:
        while True:
            entry = self._entries.get(name)
            if entry is None:
                return
            error, listed = await self._probe_once(entry)
            self._probe_result(name, error, listed)
            pause = self.settings.interval_s * random.uniform(0.9, 1.1)
            tracker = self._trackers.get(name)
            if tracker is not None:
                tracker.next_probe_at = self.clock() + pause
            await asyncio.sleep(pause)

    async def _probe_once(self, entry: ProviderEntry) -> tuple[str | None, frozenset[str] | None]:
        """Probe once: (error or None, the models the provider lists or None)."""
        assert self.pool is not None
        adapter = adapter_for(entry.kind)
        url, headers = adapter.probe(entry)
        seconds = self.settings.timeout_s
        timeouts = Timeouts(connect=seconds, idle=seconds)
        try:
            answer = await self.pool.send(
                UpstreamRequest("GET", url, headers), entry, timeouts, _PROBE_LIMIT
            )
        except UpstreamError as exc:
            return f"health probe: {exc.message}", None
        if answer.status >= 400:
            return f"health probe: {entry.display_url} answered HTTP {answer.status}", None
        try:
            listed = adapter.probe_models(answer.body)
            if entry.discover and self.discoverer is not None:
                await self.discoverer.listed(entry, answer.body, timeouts)
        except (ValueError, TypeError, AttributeError):
            return "health probe: the answer is not a model list", None
        return None, listed

    def describe(self, name: str) -> dict[str, object]:
        """The operator's view of one provider's run-time state."""
        state = self.states.get(name, ProviderState())
        tracker = self._trackers.get(name)
        now = self.clock()
        circuit = tracker.circuit if tracker else Circuit()
        return {
            "status": state.status.value,
            "in_flight": state.in_flight,
            "consecutive_failures": circuit.failures,
            "circuit_open": circuit.open_until is not None,
            "circuit_opens": circuit.opens,
            "half_open_in_s": (
                round(max(0.0, circuit.open_until - now), 3)
                if circuit.open_until is not None
                else None
            ),
            "open_models": {
                model: round(c.open_until - now, 3)
                for model, c in (tracker.models.items() if tracker else ())
                if c.open_until is not None and c.open_until > now
            },
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
