"""Providers that misbehave: huge, trickling, silent, garbage or HTML answers; clients that leave.

Each test reproduces a defect of the hardening issue against the real router with a
scripted upstream on a real socket, and fails on the code before its fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from router.dialects.framing import LineSplitter, StreamFramingError
from tests.conftest import wait_for
from tests.fakes.asgi import Receive, Send, send_json
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.scripted import Answer, Scripted, chunk, start
from tests.fakes.servers import serve

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
STREAM = {**CHAT, "stream": True}


@contextlib.contextmanager
def router_for(
    tmp_path: Path, *answers: Answer, provider: str = "", server: str = ""
) -> Iterator[tuple[RouterHandle, list[Scripted]]]:
    """A router whose route `m` tries one scripted upstream per answer, in order."""
    upstreams = [Scripted(answer) for answer in answers]
    with contextlib.ExitStack() as stack:
        urls = [stack.enter_context(serve(u)) for u in upstreams]
        blocks = "".join(
            f"  - {{name: p{i}, kind: openai, base_url: '{url}/v1', models: [{{name: m}}]"
            f"{provider}}}\n"
            for i, url in enumerate(urls)
        )
        targets = ", ".join(f"p{i}/m" for i in range(len(urls)))
        path = tmp_path / "nexus.yaml"
        path.write_text(
            f"version: 1\n{server}providers:\n{blocks}"
            f"routes:\n  - {{model: m, targets: [{targets}]}}\n"
        )
        router = stack.enter_context(run_router(path, health_probes=False))
        yield router, upstreams


def completion(text: str = "ok") -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


async def fine(body: dict[str, Any], receive: Receive, send: Send) -> None:
    if body.get("stream"):
        await start(send, content_type="text/event-stream")
        event = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
        for delta in ({"role": "assistant", "content": "fine"}, {}):
            data = {**event, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
            await chunk(send, b"data: " + json.dumps(data).encode() + b"\n\n")
        await chunk(send, b"data: [DONE]\n\n", more=False)
        return
    await send_json(send, 200, completion("fine"))


async def hold_until_disconnect(receive: Receive) -> None:
    """Wait (up to 30 s) for the router to drop the connection."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while (await receive())["type"] != "http.disconnect":
                pass


# -- size -------------------------------------------------------------------------------


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_an_answer_over_max_upstream_bytes_is_refused(tmp_path: Path, declared: bool) -> None:
    """Five 200 MB answers took RSS from 84 MB to 1.55 GB; now the read stops at the cap."""
    piece = b" " * (1024 * 1024)

    async def huge(body: dict[str, Any], receive: Receive, send: Send) -> None:
        size = {"content_length": str(8 * len(piece))} if declared else {}
        await start(send, **size)
        for _ in range(8):
            await chunk(send, piece)
        await chunk(send, b"", more=False)

    server = "server: {max_upstream_bytes: 1048576}\n"
    with router_for(tmp_path, huge, server=server) as (router, _):
        answer = router.http.post("/v1/chat/completions", json=CHAT)
        assert answer.status_code == 502
        assert "max_upstream_bytes (1048576 bytes)" in answer.json()["error"]["message"]
        assert "'p0'" in answer.json()["error"]["message"]


def test_a_stream_over_max_upstream_bytes_ends_with_an_error_event(tmp_path: Path) -> None:
    async def endless(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await start(send, content_type="text/event-stream")
        event = {"choices": [{"index": 0, "delta": {"content": "x" * 1000}}]}
        line = b"data: " + json.dumps(event).encode() + b"\n\n"
        for _ in range(3000):
            await chunk(send, line)
        await chunk(send, b"data: [DONE]\n\n", more=False)

    server = "server: {max_upstream_bytes: 1048576}\n"
    with router_for(tmp_path, endless, server=server) as (router, _):
        with router.http.stream("POST", "/v1/chat/completions", json=STREAM) as answer:
            text = b"".join(answer.iter_bytes())
        assert answer.status_code == 200
        assert len(text) < 2 * 1024 * 1024
        last = text.rstrip().rsplit(b"\n\n", 1)[-1]
        assert b"max_upstream_bytes" in last
        assert b'"error"' in last


def test_a_50_mb_line_is_split_in_linear_time() -> None:
    """The old splitter rescanned the buffer for every piece: 70 s of CPU for this line."""
    splitter = LineSplitter(max_line=64 * 1024 * 1024)
    piece = b"x" * 65536
    started = time.process_time()
    for _ in range(800):  # 50 MiB
        assert splitter.feed(piece) == []
    (line,) = splitter.feed(b"\n")
    assert len(line) == 800 * 65536
    assert time.process_time() - started < 5


def test_a_line_longer_than_the_cap_ends_the_stream() -> None:
    splitter = LineSplitter(max_line=1000)
    splitter.feed(b"y" * 900)
    with pytest.raises(StreamFramingError, match="longer than 1000 bytes"):
        splitter.feed(b"y" * 200)


# -- time -------------------------------------------------------------------------------


def test_timeout_s_is_a_deadline_for_a_trickling_upstream(tmp_path: Path) -> None:
    """One byte every 0.2 s never trips an inactivity timeout; the deadline ends it."""

    async def trickle(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await start(send, content_length="10000")
        for _ in range(10000):
            await chunk(send, b" ")
            await asyncio.sleep(0.2)

    with router_for(tmp_path, trickle, provider=", timeout_s: 1") as (router, _):
        started = time.monotonic()
        answer = router.http.post("/v1/chat/completions", json=CHAT)
        elapsed = time.monotonic() - started
    assert answer.status_code == 504
    assert elapsed < 4


def test_a_stream_that_sends_no_data_fails_over_after_its_first_byte_timeout(
    tmp_path: Path,
) -> None:
    """Keep-alive comments are not an answer: after first_byte_timeout_s the next provider serves."""

    async def stalls(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await start(send, content_type="text/event-stream")
        for _ in range(300):
            await chunk(send, b": still thinking\n\n")
            await asyncio.sleep(0.1)

    provider = ", timeout_s: 30, first_byte_timeout_s: 0.5"
    with router_for(tmp_path, stalls, fine, provider=provider) as (router, _):
        started = time.monotonic()
        with router.http.stream("POST", "/v1/chat/completions", json=STREAM) as answer:
            text = b"".join(answer.iter_bytes())
        elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert answer.headers["x-nexus-backend"] == "p1"
    assert answer.headers["x-nexus-route-reason"] == "failover"
    assert b"fine" in text
    assert elapsed < 5


# -- clients that leave -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole-body", "stream-before-headers"])
def test_a_client_that_leaves_cancels_the_upstream_call(tmp_path: Path, stream: bool) -> None:
    """Ten clients give up while the upstream thinks: all ten upstream calls end at once."""
    upstream_gone = 0

    async def thinks(body: dict[str, Any], receive: Receive, send: Send) -> None:
        nonlocal upstream_gone
        await hold_until_disconnect(receive)
        upstream_gone += 1

    with router_for(tmp_path, thinks) as (router, (upstream,)):

        def impatient() -> None:
            with contextlib.suppress(httpx.TimeoutException):
                httpx.post(
                    f"{router.url}/v1/chat/completions",
                    json=STREAM if stream else CHAT,
                    timeout=httpx.Timeout(30, read=0.5),
                )

        clients = [threading.Thread(target=impatient) for _ in range(10)]
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        wait_for(lambda: upstream_gone == 10, timeout=5, what="ten upstream calls cancelled")
        assert upstream.answering == 0
        # ... and the router is fine afterwards
        assert router.http.get("/health").status_code == 200


# -- answers that are not what they claim -------------------------------------------------


async def html(body: dict[str, Any], receive: Receive, send: Send) -> None:
    await start(send, content_type="text/html")
    await chunk(send, b"<!DOCTYPE html>\n<html><body>Bad gateway</body></html>\n", more=False)


async def html_as_sse(body: dict[str, Any], receive: Receive, send: Send) -> None:
    await start(send, content_type="text/event-stream")
    await chunk(send, b"<!DOCTYPE html>\n<html>\n\n<body>Bad gateway</body></html>\n", more=False)


@pytest.mark.parametrize("page", [html, html_as_sse], ids=["text/html", "html-as-event-stream"])
def test_html_answered_with_200_is_not_an_event_stream(tmp_path: Path, page: Answer) -> None:
    """Relayed as a 200 event stream before; now the next provider serves."""
    with router_for(tmp_path, page, fine) as (router, _):
        with router.http.stream("POST", "/v1/chat/completions", json=STREAM) as answer:
            text = b"".join(answer.iter_bytes())
        assert answer.status_code == 200
        assert answer.headers["x-nexus-backend"] == "p1"
        assert b"<html>" not in text
        assert b"fine" in text


def test_a_responses_stream_over_html_fails_and_stores_nothing(tmp_path: Path) -> None:
    """It ended 'response.completed' with empty output, and was stored."""
    with router_for(tmp_path, html_as_sse) as (router, _):
        body = {"model": "m", "input": "hi", "stream": True}
        with router.http.stream("POST", "/v1/responses", json=body) as answer:
            answer.read()
        assert answer.status_code == 502
        assert "not an event stream" in answer.json()["error"]["message"]


GARBAGE = {
    "a list": b"[1, 2, 3]",
    "choices of numbers": b'{"choices": [1]}',
    "no choices": b'{"choices": []}',
    "usage not numbers": json.dumps({**completion(), "usage": {"prompt_tokens": "many"}}).encode(),
    "message not an object": b'{"choices": [{"message": "hi"}]}',
}


@pytest.mark.parametrize("raw", GARBAGE.values(), ids=GARBAGE.keys())
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_garbage_answers_are_502_naming_the_provider(tmp_path: Path, raw: bytes, api: str) -> None:
    async def garbage(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, raw)

    with router_for(tmp_path, garbage) as (router, _):
        if api == "chat":
            answer = router.http.post("/v1/chat/completions", json=CHAT)
        else:
            answer = router.http.post("/v1/responses", json={"model": "m", "input": "hi"})
        assert answer.status_code == 502, answer.text
        assert "Provider 'p0' answered with a malformed body" in answer.json()["error"]["message"]
        assert router.http.get("/health").status_code == 200


def test_embeddings_without_data_are_502(tmp_path: Path) -> None:
    async def no_data(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"object": "list", "model": "emb"})

    with serve(Scripted(no_data)) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nrouting: {embeddings_batch_ms: 0}\nproviders:\n"
            f"  - {{name: e, kind: openai, base_url: '{url}/v1',"
            " models: [{name: emb, embeddings: true}]}\n"
        )
        with run_router(path, health_probes=False) as router:
            answer = router.http.post("/v1/embeddings", json={"model": "emb", "input": "x"})
    assert answer.status_code == 502
    assert "Provider 'e' answered with a malformed body" in answer.json()["error"]["message"]
