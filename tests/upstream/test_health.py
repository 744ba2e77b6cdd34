"""Provider health state: the passive circuit breaker and survival across reloads."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from router.routing.decision import Health
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes
from router.upstream.health import HealthMonitor

CONFIG = """\
version: 1
providers:
  - {{name: a, kind: openai, base_url: "{url}", models: [{{name: m}}]}}
  - {{name: b, kind: ollama, base_url: "http://127.0.0.1:9", models: [{{name: m}}]}}
routing:
  health: {{failure_threshold: 2, cooldown_s: 0.05}}
# {comment}
"""


def table(url: str = "http://127.0.0.1:9/v1", comment: str = "") -> RoutingTable:
    text = CONFIG.format(url=url, comment=comment)
    return load_bytes(text.encode(), source="t", env={}, loaded_at=0.0)


async def until(predicate: object, timeout: float = 5.0) -> None:
    async def poll() -> None:
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


@pytest.mark.anyio
async def test_consecutive_failures_open_the_circuit_which_half_opens_after_cooldown() -> None:
    async with httpx.AsyncClient() as client:
        monitor = HealthMonitor(client, probe=False)
        first = table()
        monitor.sync(first)
        monitor.record_failure("a", "boom")
        assert monitor.states["a"].status is Health.UNKNOWN  # one failure is below the threshold
        monitor.record_failure("a", "boom")
        assert monitor.states["a"].status is Health.UNHEALTHY
        await until(lambda: monitor.states["a"].status is Health.UNKNOWN)  # half-open: one trial
        monitor.record_failure("a", "still down")
        assert monitor.states["a"].status is Health.UNHEALTHY  # the trial failed: open again
        await until(lambda: monitor.states["a"].status is Health.UNKNOWN)
        monitor.record_success("a")
        assert monitor.states["a"].status is Health.HEALTHY
        assert monitor.describe("a")["circuit_open"] is False
        await monitor.close()


@pytest.mark.anyio
async def test_state_survives_a_reload_unless_the_provider_changed() -> None:
    async with httpx.AsyncClient() as client:
        monitor = HealthMonitor(client, probe=False)
        monitor.sync(table())
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
async def test_repeated_openings_back_off_exponentially_with_jitter() -> None:
    async with httpx.AsyncClient() as client:
        monitor = HealthMonitor(client, probe=False)
        monitor.sync(table())  # cooldown_s 0.05, failure_threshold 2
        waits = []
        for _ in range(3):
            monitor.record_failure("a", "x")
            monitor.record_failure("a", "x")
            half_open_in = monitor.describe("a")["half_open_in_s"]
            assert isinstance(half_open_in, float)
            waits.append(half_open_in)
            await until(lambda: monitor.states["a"].status is Health.UNKNOWN)
        assert 0.04 <= waits[0] <= 0.06
        assert 0.08 <= waits[1] <= 0.12  # twice as long, +-20%
        assert 0.16 <= waits[2] <= 0.24
        assert monitor.describe("a")["circuit_opens"] == 3
        monitor.record_success("a")
        assert monitor.describe("a")["circuit_opens"] == 0
        await monitor.close()
