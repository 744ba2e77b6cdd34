"""Shared fixtures: config files on disk, waiting on observable state, free ports."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "nexus.yaml"


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout` seconds.

    Used to wait on state the router reports (a version, a counter), never as a sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


MINIMAL = """\
version: 1
providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:9/v1
    models:
      - name: small
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
