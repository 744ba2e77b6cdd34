"""Whole-body deadlines: one sweeping task cancels what is past due, and only that."""

from __future__ import annotations

import asyncio

import pytest

from router.upstream.deadlines import Deadlines


@pytest.mark.anyio
async def test_an_attempt_past_its_deadline_is_cancelled_and_says_so() -> None:
    deadlines = Deadlines(resolution=0.01)
    task = asyncio.current_task()
    assert task is not None
    deadlines.watch(task, 0.02)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.sleep(5)
    assert deadlines.forget(task) is True
    task.uncancel()
    await deadlines.close()


@pytest.mark.anyio
async def test_a_forgotten_deadline_never_cancels_what_comes_next() -> None:
    """The next failover attempt in the same task must not inherit the last one's deadline."""
    deadlines = Deadlines(resolution=0.01)
    task = asyncio.current_task()
    assert task is not None
    deadlines.watch(task, 0.02)
    assert deadlines.forget(task) is False
    await asyncio.sleep(0.1)  # well past the forgotten deadline: not cancelled
    await deadlines.close()
