"""Telling from another process whether a router process on this machine is gone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from router.store.processes import ProcessId, gone, this_process
from tests.conftest import wait_for

here = this_process()
pytestmark = pytest.mark.skipif(here is None, reason="no /proc here: only heartbeats can tell")


def started(pid: int) -> int:
    raw = Path(f"/proc/{pid}/stat").read_bytes()
    return int(raw[raw.rindex(b")") + 2 :].split()[19])


def test_this_process_is_not_gone() -> None:
    assert here is not None
    assert not gone(here, here)


def test_a_reused_pid_is_told_apart_by_its_start_time() -> None:
    assert here is not None
    assert gone(attrs.evolve(here, started=here.started - 1), here)


def test_nothing_is_concluded_about_another_pid_space() -> None:
    """Another host or container: its pid may name anything here."""
    assert here is not None
    elsewhere = attrs.evolve(here, space="another-boot/pid:[1]", pid=2**22 + 1)
    assert not gone(elsewhere, here)


def test_a_killed_process_is_gone_before_and_after_it_is_reaped() -> None:
    assert here is not None
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        process = ProcessId(here.space, child.pid, started(child.pid))
        assert not gone(process, here)
        child.kill()
        # until its parent waits for it, a killed process is a zombie with the same pid
        wait_for(lambda: gone(process, here), what="the zombie to count as gone")
    finally:
        child.wait()
    assert gone(process, here)
