"""deploy/Caddyfile in front of two real routers: both serve, and one stopping loses nothing.

The compose file's service names become loopback ports; every directive is the file's
own. Skips where Caddy is not installed (Debian package: caddy).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.deploy.files import DEPLOY
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import serve

CADDY = shutil.which("caddy")
pytestmark = pytest.mark.skipif(CADDY is None, reason="caddy is not installed (Debian: caddy)")

CONFIG = """\
version: 1
storage: 'sqlite:///:memory:'
server: {{shutdown_grace_s: 5}}
providers:
  - {{name: up, kind: openai, base_url: "{url}/v1", models: [{{name: gpt-4o}}]}}
"""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def process(command: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def caddyfile(tmp_path: Path, listen: int, upstreams: dict[str, int]) -> Path:
    """The compose file's addresses replaced by loopback ports, nothing else changed."""
    text = (DEPLOY / "Caddyfile").read_text()
    replacements = {"\n:8000 {": f"\nhttp://127.0.0.1:{listen} {{"}
    replacements |= {f"{name}:8000": f"127.0.0.1:{port}" for name, port in upstreams.items()}
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "Caddyfile"
    path.write_text("{\n\tadmin off\n}\n\n" + text)  # no admin port on this shared machine
    return path


def test_both_replicas_serve_and_a_stopping_one_loses_no_request(tmp_path: Path) -> None:
    assert CADDY is not None
    ports = {"nexus-a": free_port(), "nexus-b": free_port()}
    listen = free_port()
    proxy = f"http://127.0.0.1:{listen}"
    with contextlib.ExitStack() as stack:
        upstream = stack.enter_context(serve(FakeOpenAI()))
        config = tmp_path / "nexus.yaml"
        config.write_text(CONFIG.format(url=upstream))
        nexus = [sys.executable, "-m", "router", "serve", "-c", str(config), "--no-watch"]
        routers = {
            name: stack.enter_context(
                process([*nexus, "--port", str(port)], tmp_path / f"{name}.log")
            )
            for name, port in ports.items()
        }
        for port in ports.values():
            wait_for(lambda p=port: _answers(f"http://127.0.0.1:{p}/ready"), what="a replica")
        run = [CADDY, "run", "--config", str(caddyfile(tmp_path, listen, ports))]
        stack.enter_context(process([*run, "--adapter", "caddyfile"], tmp_path / "caddy.log"))
        wait_for(lambda: _answers(f"{proxy}/health"), what="caddy to proxy", timeout=30)

        with httpx.Client(base_url=proxy, timeout=30) as client:
            for _ in range(10):
                assert client.get("/v1/models").status_code == 200
            routers["nexus-a"].send_signal(signal.SIGTERM)
            statuses = [client.get("/v1/models").status_code for _ in range(10)]
            routers["nexus-a"].wait(timeout=30)
            statuses += [client.get("/v1/models").status_code for _ in range(10)]
        assert statuses == [200] * 20
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ports}
    assert all(log.count("/v1/models") >= 3 for log in logs.values()), "round robin"
