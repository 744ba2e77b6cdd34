"""The store heartbeat: it survives the database being out of reach, and resumes after."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from router.app import Services
from router.snapshot.holder import ConfigHolder
from tests.conftest import MINIMAL


async def until(probe: Callable[[], object], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


@pytest.mark.anyio
async def test_a_locked_database_never_stops_the_heartbeat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "nexus.yaml"
    config.write_text(MINIMAL + 'storage: "sqlite:///nexus.db"\n')
    services = Services(ConfigHolder.open(config), probe=False, heartbeat_s=0.05)
    await services.start()
    db = sqlite3.connect(tmp_path / "nexus.db", isolation_level=None)

    def seen_at() -> float:
        row = db.execute("SELECT seen_at FROM replicas WHERE id = ?", (services.instance,))
        return float(row.fetchone()[0])

    try:
        caplog.set_level(logging.WARNING, logger="nexus")
        db.execute("BEGIN EXCLUSIVE")  # another process holds the write lock past the timeout
        await until(
            lambda: "store heartbeat failed" in caplog.text, "a heartbeat to fail (5 s timeout)"
        )
        db.execute("ROLLBACK")
        released = time.time()
        await until(lambda: seen_at() > released, "the heartbeat to resume")
    finally:
        db.close()
        await services.stop()
