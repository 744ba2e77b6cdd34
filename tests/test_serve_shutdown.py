"""SIGTERM drains: requests in flight finish, within `server.shutdown_grace_s`, then the process exits.

Real `nexus serve` processes in front of a fake provider that holds each request
until the test opens its gate.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import serve

CONFIG = """\
version: 1
server: {{shutdown_grace_s: {grace}}}
storage: 'sqlite:///:memory:'
providers:
  - name: up
    kind: openai
    base_url: {url}/v1
    models: [{{name: gpt-4o}}]
"""


@attrs.define
class Call:
    """One chat completion sent from a thread; `response` or `error` when it ends."""

    url: str
    response: httpx.Response | None = None
    error: Exception | None = None
    done: threading.Event = attrs.Factory(threading.Event)

    def start(self) -> Call:
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self) -> None:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "slow one"}]}
        try:
            self.response = httpx.post(f"{self.url}/v1/chat/completions", json=body, timeout=60)
        except httpx.HTTPError as exc:
            self.error = exc
        finally:
            self.done.set()


@contextlib.contextmanager
def router(tmp_path: Path, grace: float) -> Iterator[tuple[subprocess.Popen[str], str, FakeOpenAI]]:
    fake = FakeOpenAI(gate=threading.Event())
    with serve(fake) as upstream:
        config = tmp_path / "nexus.yaml"
        config.write_text(CONFIG.format(grace=grace, url=upstream))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "router", "serve", "-c", str(config), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: _answers(url), what="the router to serve", timeout=30)
            yield proc, url, fake
        finally:
            assert fake.gate is not None
            fake.gate.set()
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _exit_within(proc: subprocess.Popen[str], seconds: float) -> float:
    """Wait for the process to end; return how long it took."""
    started = time.monotonic()
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {seconds}s after SIGTERM")
    return time.monotonic() - started


def test_a_request_in_flight_completes_after_sigterm(tmp_path: Path) -> None:
    with router(tmp_path, grace=20) as (proc, url, fake):
        call = Call(url).start()
        wait_for(lambda: fake.requests, what="the request to reach the provider")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        wait_for(lambda: not _answers(url), what="the router to stop accepting connections")
        assert fake.gate is not None
        fake.gate.set()  # the provider answers only now, while the router is shutting down
        assert call.done.wait(timeout=30)
        assert call.error is None, call.error
        assert call.response is not None
        assert call.response.status_code == 200
        assert call.response.json()["choices"][0]["message"]["content"]
        _exit_within(proc, 20)
        assert time.monotonic() - sent < 20  # it left as soon as the request was done
        assert proc.returncode == -signal.SIGTERM  # uvicorn re-raises the signal it drained on


def test_the_drain_is_bounded_by_shutdown_grace_s(tmp_path: Path) -> None:
    with router(tmp_path, grace=1) as (proc, url, fake):
        call = Call(url).start()
        wait_for(lambda: fake.requests, what="the request to reach the provider")
        proc.send_signal(signal.SIGTERM)
        took = _exit_within(proc, 10)
        assert 0.9 <= took < 6, f"exited {took:.1f}s after SIGTERM with a 1 s grace period"
        assert call.done.wait(timeout=10)
        assert call.response is None or call.response.status_code != 200
