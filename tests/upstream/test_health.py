"""Provider health state: circuits on a fake clock, per-model circuits, survival across reloads."""

from __future__ import annotations

import asyncio
import time

import pytest

from router.routing.decision import Health
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes
from router.upstream.health import HealthMonitor

CONFIG = """\
version: 1
providers:
  - {{name: a, kind: openai, base_url: "{url}", models: [{{name: m}}, {{name: n}}]}}
  - {{name: b, kind: ollama, base_url: "http://127.0.0.1:9", models: [{{name: m}}]}}
routing:
  health: {{failure_threshold: 2, cooldown_s: 10}}
# {comment}
"""


def table(url: str = "http://127.0.0.1:9/v1", comment: str = "") -> RoutingTable:
    text = CONFIG.format(url=url, comment=comment)
    return load_bytes(text.encode(), source="t", env={}, loaded_at=0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def monitor(clock: Clock) -> HealthMonitor:
    monitor = HealthMonitor(None, probe=False, clock=clock, jitter=lambda: 1.0)
    monitor.sync(table())
    return monitor


@pytest.mark.anyio
async def test_consecutive_failures_open_the_circuit_which_half_opens_after_cooldown(
    monitor: HealthMonitor, clock: Clock
) -> None:
    monitor.record_failure("a", "boom")
    assert monitor.states["a"].status is Health.UNKNOWN  # one failure is below the threshold
    monitor.record_failure("a", "boom")
    assert monitor.states["a"].status is Health.UNHEALTHY
    clock.now += 10
    monitor.refresh()
    assert monitor.states["a"].status is Health.UNKNOWN  # half-open: one trial
    monitor.record_failure("a", "still down")
    assert monitor.states["a"].status is Health.UNHEALTHY  # the trial failed: open again
    assert monitor.describe("a")["half_open_in_s"] == 20.0  # for twice as long
    clock.now += 20
    monitor.refresh()
    monitor.record_success("a")
    assert monitor.states["a"].status is Health.HEALTHY
    assert monitor.describe("a")["circuit_open"] is False
    assert monitor.describe("a")["circuit_opens"] == 0
    await monitor.close()


@pytest.mark.anyio
async def test_a_model_that_fails_does_not_take_its_provider_down(
    monitor: HealthMonitor, clock: Clock
) -> None:
    """Three chat failures of one model left the same provider's other models answering 503."""
    monitor.record_failure("a", "HTTP 500", model="m")
    monitor.record_failure("a", "HTTP 500", model="m")
    state = monitor.states["a"]
    assert state.open_models == {"m"}
    assert state.status is not Health.UNHEALTHY  # n is still served
    assert monitor.describe("a")["open_models"] == {"m": 10.0}
    clock.now += 10
    monitor.refresh()
    assert monitor.states["a"].open_models == frozenset()
    await monitor.close()


@pytest.mark.anyio
async def test_state_survives_a_reload_unless_the_provider_changed(
    monitor: HealthMonitor,
) -> None:
    monitor.record_failure("a", "x")
    monitor.record_failure("a", "x")
    monitor.acquire("b")
    monitor.sync(table(comment="an unrelated edit"))
    assert monitor.states["a"].status is Health.UNHEALTHY
    assert monitor.states["b"].in_flight == 1
    monitor.sync(table(url="http://127.0.0.2:9/v1"))  # a's URL changed: start afresh
    assert monitor.states["a"].status is Health.UNKNOWN
    assert monitor.states["b"].in_flight == 1
    await monitor.close()


@pytest.mark.anyio
async def test_the_timer_half_opens_a_circuit_without_anyone_asking() -> None:
    """On the real loop's timer (the one wall-clock test): route() sees it routable again."""
    monitor = HealthMonitor(None, probe=False)  # the real monotonic clock
    text = CONFIG.format(url="http://127.0.0.1:9/v1", comment="").replace(
        "cooldown_s: 10", "cooldown_s: 0.05"
    )
    monitor.sync(load_bytes(text.encode(), source="t", env={}, loaded_at=0.0))
    monitor.record_failure("a", "x")
    monitor.record_failure("a", "x")
    assert monitor.states["a"].status is Health.UNHEALTHY
    deadline = time.monotonic() + 5
    while monitor.states["a"].status is Health.UNHEALTHY and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert monitor.states["a"].status is Health.UNKNOWN
    await monitor.close()
