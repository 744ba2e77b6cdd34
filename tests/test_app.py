"""The composition root: the store heartbeat survives the database being out of reach."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from router.app import AppOptions, assemble
from router.services.metrics import Metrics
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
    options = AppOptions(health_probes=False, heartbeat_s=0.05)
    async with assemble(ConfigHolder.open(config), Metrics.create(), options):
        await _locked_then_released(tmp_path, caplog)


async def _locked_then_released(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    db = sqlite3.connect(tmp_path / "nexus.db", isolation_level=None)

    def seen_at() -> float:
        return float(db.execute("SELECT max(seen_at) FROM replicas").fetchone()[0])

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
