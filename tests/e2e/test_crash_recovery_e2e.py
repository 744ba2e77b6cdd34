"""A router killed with -9 and started again: its background work is failed at once, not in 30 s."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from router.store.processes import this_process
from tests.conftest import wait_for
from tests.e2e.test_outages_e2e import config
from tests.e2e.test_replicas_e2e import replica
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import serve


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return "sqlite:///nexus.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def slow() -> Iterator[tuple[str, FakeOpenAI]]:
    """A provider that holds every call until the test ends."""
    fake = FakeOpenAI(gate=threading.Event())
    with serve(fake) as url:
        try:
            yield url, fake
        finally:
            assert fake.gate is not None
            fake.gate.set()


@pytest.mark.skipif(this_process() is None, reason="no /proc here: only heartbeats can tell")
def test_background_work_of_a_killed_router_is_failed_when_it_starts_again(
    tmp_path: Path, storage: str, slow: tuple[str, FakeOpenAI]
) -> None:
    upstream, fake = slow
    path = config(tmp_path, upstream, storage=storage, shared=None)
    with replica(path, tmp_path / "first.log") as first:
        started = first.sdk().responses.create(model="gpt-4o", input="slow", background=True)
        wait_for(lambda: len(fake.requests) == 1, what="the upstream call")
        os.kill(first.process.pid, signal.SIGKILL)
        first.process.wait()
    killed_at = time.monotonic()
    with replica(path, tmp_path / "second.log") as second:
        # start-up has run once the new process answers: no waiting for a stale heartbeat
        stored = second.get(f"/v1/responses/{started.id}").json()
        assert time.monotonic() - killed_at < 15  # well before the heartbeat's 30 s
    assert stored["status"] == "failed"
    assert stored["error"]["message"] == "the router restarted before this response finished"
