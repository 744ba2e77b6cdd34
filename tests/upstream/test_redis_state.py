"""Shared state on a real Redis: two `RedisState`s stand for two router processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from router.upstream.redis_state import RedisState
from router.upstream.shared import Event
from tests.fakes.outage import Cuttable

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def process(
    url: str, name: str, events: list[Event] | None = None, providers: tuple[str, ...] = ()
) -> AsyncIterator[RedisState]:
    state = RedisState(url, name, heartbeat_s=0.5, retry_s=0.1)
    sink = events if events is not None else []
    await state.start(sink.append, lambda: providers)
    try:
        yield state
    finally:
        await state.close()


async def until(probe: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail("timed out waiting for shared state")
        await asyncio.sleep(0.01)


async def test_a_key_budget_is_one_budget_across_processes(redis_url: str) -> None:
    """rpm 10 means 10 requests a minute in total, whichever process takes them."""
    async with process(redis_url, "a") as a, process(redis_url, "b") as b:
        waits = await asyncio.gather(*((a if i % 2 else b).take("key:k", 10) for i in range(25)))
    assert sum(1 for w in waits if w == 0.0) == 10
    refused = [w for w in waits if w]
    assert refused
    assert all(0 < w <= 6.0 for w in refused)  # one token comes back every 6 s


async def test_slots_count_every_live_process_and_forget_gone_ones(redis_url: str) -> None:
    async with process(redis_url, "b") as b:
        async with process(redis_url, "a") as a:
            assert await a.acquire("gpu", 2)
            assert await b.acquire("gpu", 2)
            assert not await a.acquire("gpu", 2)  # 2 in flight across both
            b.release("gpu")
            await asyncio.sleep(0.05)  # release does not wait for Redis
            assert await a.acquire("gpu", 2)
            assert not await b.acquire("gpu", 2)
        # a went away holding 2 slots (no heartbeat any more): b may take them all
        assert await b.acquire("gpu", 2)
        assert await b.acquire("gpu", 2)
        assert not await b.acquire("gpu", 2)


async def test_events_reach_the_other_process_and_late_joiners_adopt_open_circuits(
    redis_url: str,
) -> None:
    seen_by_b: list[Event] = []
    async with process(redis_url, "a") as a, process(redis_url, "b", seen_by_b):
        a.publish({"type": "open", "provider": "flaky", "seconds": 30.0})
        a.publish({"type": "cancel", "id": "resp_1"})
        await until(lambda: len(seen_by_b) == 2)
        assert seen_by_b[0]["type"] == "open"
        assert seen_by_b[0]["provider"] == "flaky"
        assert seen_by_b[1] == {"type": "cancel", "id": "resp_1", "from": "a"}
        seen_by_c: list[Event] = []
        async with process(redis_url, "c", seen_by_c, providers=("flaky", "fine")):
            assert [e["provider"] for e in seen_by_c] == ["flaky"]
            assert 29.0 < seen_by_c[0]["seconds"] <= 30.0


async def test_lost_redis_degrades_to_local_state_and_recovers(redis_url: str) -> None:
    """Redis going away never fails a call; the process says so, and recovers by itself."""
    flips: list[bool] = []
    with Cuttable.to(redis_url, 6379).running() as link:
        url = link.url_for(redis_url)
        state = RedisState(url, "a", heartbeat_s=0.5, retry_s=0.1, on_degraded=flips.append)
        await state.start(lambda e: None)
        try:
            assert await state.take("key:k", 2) == 0.0
            assert state.describe()["ok"] is True
            link.cut()
            # the bucket is now this process's own: a fresh one, so 2 more are allowed
            assert await state.take("key:k", 2) == 0.0
            assert state.describe()["ok"] is False
            assert state.describe()["last_error"]
            assert await state.take("key:k", 2) == 0.0
            assert await state.take("key:k", 2) > 0
            assert await state.acquire("gpu", 1)  # local slots: route() already enforces them
            state.publish({"type": "cancel", "id": "resp_x"})  # dropped, not raised
            link.restore()
            await until(lambda: state.describe()["ok"])
            assert await state.take("key:k", 2) == 0.0  # Redis' bucket again: 1 token left
            assert await state.take("key:k", 2) > 0
            assert flips == [True, False]
        finally:
            await state.close()


async def test_the_password_never_appears_in_its_description(redis_url: str) -> None:
    state = RedisState("redis://:hunter2@127.0.0.1:1/0", "a", timeout_s=0.05)
    assert "hunter2" not in repr(state)
    assert "hunter2" not in str(state.describe())
    await state._redis.aclose()
