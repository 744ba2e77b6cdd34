"""Read deadlines and the connection budget, against a real `nexus serve` on real sockets."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from router.config.model import ServerConfig
from router.http.server import (
    FD_RESERVE,
    GuardedHttpToolsProtocol,
    ServerLimits,
    connection_budget,
    http_protocol,
)
from tests.conftest import REPO, free_port, wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import serve

CONFIG = """\
version: 1
server: {{header_timeout_s: {header}, body_timeout_s: {body}}}
providers:
  - {{name: lab, kind: openai, base_url: "{upstream}/v1", models: [{{name: gpt-x}}]}}
"""
CHAT = {"model": "gpt-x", "messages": [{"role": "user", "content": "hi"}]}


@attrs.frozen
class Nexus:
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def lines(self, needle: str) -> list[dict[str, Any]]:
        """The router's log lines whose message contains `needle`."""
        parsed = [json.loads(line) for line in self.log.read_text().splitlines() if line]
        return [line for line in parsed if needle in line.get("message", "")]

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


@contextlib.contextmanager
def nexus(
    tmp_path: Path,
    *,
    header: float = 10,
    body: float = 30,
    nofile: tuple[int, int] | None = None,
    upstream: FakeOpenAI | None = None,
) -> Iterator[Nexus]:
    """`nexus serve` in a subprocess (with RLIMIT_NOFILE set to `nofile`) before a fake upstream."""
    with serve(upstream or FakeOpenAI(models=("gpt-x",))) as url:
        config = tmp_path / "nexus.yaml"
        config.write_text(CONFIG.format(header=header, body=body, upstream=url))
        port, log = free_port(), tmp_path / "nexus.log"
        command = ["-m", "router", "serve", "-c", str(config), "--no-watch"]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                with_nofile(nofile, *command, "--port", str(port), "--log-format", "json"),
                cwd=REPO,
                env=os.environ,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            server = Nexus(port, log)
            try:
                wait_for(lambda: _healthy(server, proc), timeout=30, what="nexus serve to start")
                yield server
            finally:
                proc.terminate()
                proc.wait(15)


def with_nofile(nofile: tuple[int, int] | None, *args: str) -> list[str]:
    """``python args...``, with RLIMIT_NOFILE set to `nofile` first (no preexec_fn: threads)."""
    if nofile is None:
        return [sys.executable, *args]
    start = (
        "import os, resource, sys; "
        f"resource.setrlimit(resource.RLIMIT_NOFILE, {nofile!r}); "
        "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    )
    return [sys.executable, "-c", start, *args]


def _healthy(server: Nexus, proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        pytest.fail(f"nexus serve exited: {server.log.read_text()}")
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"{server.url}/health").status_code == 200
    return False


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server closes `sock` (EOF or reset) within `within` seconds."""
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def read_response(sock: socket.socket, within: float) -> bytes:
    """What the server sends until it closes the connection, or `within` seconds pass."""
    sock.settimeout(within)
    data = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_stalled_headers_are_cut_off_while_normal_requests_keep_their_latency(
    tmp_path: Path,
) -> None:
    with nexus(tmp_path, header=0.5) as server, httpx.Client(base_url=server.url) as client:
        assert client.post("/v1/chat/completions", json=CHAT).status_code == 200  # warm
        started = time.monotonic()
        loris = [server.connect() for _ in range(200)]
        for i, sock in enumerate(loris):
            if i % 2:  # half say nothing at all, half stop in the middle of the headers
                sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-")
        latencies = []
        while time.monotonic() - started < 0.4:  # while every slow connection is still open
            sent = time.perf_counter()
            assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
            latencies.append(time.perf_counter() - sent)
        assert len(latencies) >= 5
        assert statistics.median(latencies) < 0.05
        assert all(closed_by_server(sock, within=3) for sock in loris)
        assert time.monotonic() - started < 3.5
        for sock in loris:
            sock.close()
    closed = server.lines("no complete request headers")
    assert closed
    assert closed[0]["level"] == "warn"
    assert len(closed) <= 2  # rate-limited: not one line per connection


def test_a_request_whose_headers_take_their_time_within_the_deadline_is_served(
    tmp_path: Path,
) -> None:
    with nexus(tmp_path, header=1.0) as server:
        sock = server.connect()
        for part in (b"GET /health HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n\r\n"):
            sock.sendall(part)
            time.sleep(0.2)
        assert read_response(sock, within=3).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/v1/chat/completions", lambda body: body["error"]["code"] == "request_timeout"),
        ("/api/v1/llm-provider/openai", lambda body: body["error_code"] == "REQUEST_TIMEOUT"),
    ],
    ids=["openai-envelope", "seed-envelope"],
)
def test_a_stalled_body_gets_408_in_the_paths_envelope_and_the_connection_closes(
    tmp_path: Path, path: str, code: Callable[[Any], bool]
) -> None:
    with nexus(tmp_path, body=0.5) as server:
        sock = server.connect()
        started = time.monotonic()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b'{"model": '  # 10 of the 1,000 bytes promised, then nothing
        )
        answer = read_response(sock, within=5)  # returns once the server closes
        elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert code(json.loads(body))
    assert 0.4 < elapsed < 3
    assert server.lines("body did not arrive within")


def test_a_body_sent_in_pieces_within_the_deadline_is_served(tmp_path: Path) -> None:
    body = json.dumps(CHAT).encode()
    with nexus(tmp_path, body=1.0) as server:
        sock = server.connect()
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for piece in (body[:10], body[10:30], body[30:]):
            time.sleep(0.2)
            sock.sendall(piece)
        assert read_response(sock, within=5).startswith(b"HTTP/1.1 200")


def test_past_the_budget_new_connections_are_refused_and_requests_in_flight_still_reach_upstream(
    tmp_path: Path,
) -> None:
    """With 256 descriptors, 300 idle clients would leave none for new upstream connections."""
    soft = 256
    budget = connection_budget(soft)
    assert budget == (soft - FD_RESERVE) // 2 == 64
    upstream = FakeOpenAI(models=("gpt-x",), delay_s=0.3)  # overlapping: one connection each
    with (
        nexus(tmp_path, nofile=(soft, soft), upstream=upstream) as server,
        contextlib.ExitStack() as stack,
    ):
        clients = [stack.enter_context(httpx.Client(base_url=server.url)) for _ in range(6)]
        for client in clients:  # kept-alive connections, opened before the flood
            assert client.get("/health").status_code == 200
        idle = []
        for _ in range(300):
            with contextlib.suppress(OSError):
                idle.append(stack.enter_context(server.connect()))
        time.sleep(1)  # the server has accepted (or refused) every one it will by now
        # The kept-alive clients are still served, and their concurrent requests can open
        # new upstream connections: the budget left the descriptors for them.
        with ThreadPoolExecutor(len(clients)) as pool:
            answers = list(pool.map(lambda c: c.post("/v1/chat/completions", json=CHAT), clients))
        assert [a.status_code for a in answers] == [200] * len(clients), answers[0].text
        refused = [s for s in idle if read_response(s, within=0.02).startswith(b"HTTP/1.1 503")]
        assert len(refused) >= len(idle) - budget
    log = server.lines("refused")
    assert log
    assert "the most this process serves" in log[0]["message"]
    assert len(log) <= 2  # rate-limited
    assert server.lines(f"serving at most {budget} client connections")


def test_the_soft_descriptor_limit_is_raised_to_the_hard_limit() -> None:
    probe = "from router.http.server import raise_fd_limit; print(raise_fd_limit())"
    command = with_nofile((200, 300), "-c", probe)
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "300"


@pytest.mark.parametrize(
    ("fd_limit", "budget"),
    [(256, 64), (1024, 448), (20_000, 9_936), (1_048_576, 524_224), (100, 16)],
)
def test_the_budget_leaves_a_reserve_and_half_for_upstream_connections(
    fd_limit: int, budget: int
) -> None:
    assert connection_budget(fd_limit) == budget


def test_the_protocol_pickles_for_worker_processes() -> None:
    """`nexus serve --workers N` hands uvicorn's config, protocol included, to spawned children."""
    protocol = http_protocol(ServerConfig(header_timeout_s=2, max_connections=50))
    copy = pickle.loads(pickle.dumps(protocol))
    assert copy.func is GuardedHttpToolsProtocol
    assert copy.keywords["guard"].limits == ServerLimits(2, 30, 50)
