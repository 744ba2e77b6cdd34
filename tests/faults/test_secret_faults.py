"""Provider keys never reach a client, a log line, the store or a page — whole or in pieces.

The attack run found keys relayed in in-stream error chunks (and stored in a failed
Response), in Anthropic ``event: error`` and Ollama ``{"error": ...}`` lines, and not
redacted at all when echoed minus one character, split or upper-cased; an admin key
could send any environment variable to a URL of its choosing; pages showed ``${VAR}``
expanded. Each test fails on the code before its fix.
"""

from __future__ import annotations

import contextlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.asgi import Receive, Send, send_json
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.scripted import Answer, Scripted, chunk, start
from tests.fakes.servers import serve

KEY = "sk-proj-Zq8vN3xR7tLk2Wm9Yp4Hc6Jd1Fs5Gb0Q"
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

#: How an upstream may echo the key back.
ECHOES = {
    "whole": KEY,
    "minus its last character": KEY[:-1],
    "split in two": f"{KEY[:20]} ... {KEY[20:]}",
    "upper-cased": KEY.upper(),
    "quoted in JSON": json.dumps({"key": KEY}),
}


def leaks(text: str) -> list[str]:
    """Every 8+ character prefix or suffix of the key found in `text`, any case."""
    lowered, key = text.lower(), KEY.lower()
    return [
        piece for n in range(8, len(key) + 1) for piece in (key[:n], key[-n:]) if piece in lowered
    ]


@contextlib.contextmanager
def router_with(
    tmp_path: Path, answer: Answer, *, kind: str = "openai", extra: str = ""
) -> Iterator[RouterHandle]:
    with serve(Scripted(answer)) as url:
        base = f"{url}/v1" if kind == "openai" else url
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n"
            f"  - {{name: p, kind: {kind}, base_url: '{base}', api_key: '${{KEY}}',"
            " models: [{name: m}]}\n" + extra
        )
        with run_router(path, env={"KEY": KEY}, health_probes=False) as router:
            yield router


@pytest.mark.parametrize("echo", ECHOES.values(), ids=ECHOES.keys())
@pytest.mark.parametrize("kind", ["openai", "anthropic", "ollama"])
def test_an_error_status_that_echoes_the_key(
    tmp_path: Path, echo: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def refuses(body: dict[str, Any], receive: Receive, send: Send) -> None:
        message = f"Incorrect API key provided: {echo}"
        error = {"error": message} if kind == "ollama" else {"error": {"message": message}}
        await send_json(send, 401, error)

    caplog.set_level(logging.DEBUG)
    with router_with(tmp_path, refuses, kind=kind) as router:
        answer = router.http.post("/v1/chat/completions", json=CHAT)
    assert answer.status_code == 502
    assert "[redacted]" in answer.text
    assert not leaks(answer.text)
    assert not leaks(caplog.text)


async def openai_error_chunk(body: dict[str, Any], receive: Receive, send: Send) -> None:
    await start(send, content_type="text/event-stream")
    first = {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "so"}}]}
    await chunk(send, b"data: " + json.dumps(first).encode() + b"\n\n")
    error = {"error": {"message": f"quota exceeded for key {KEY[:-1]}", "type": "x"}}
    await chunk(send, b"data: " + json.dumps(error).encode() + b"\n\n", more=False)


async def anthropic_error_event(body: dict[str, Any], receive: Receive, send: Send) -> None:
    await start(send, content_type="text/event-stream")
    error = {"type": "error", "error": {"type": "api_error", "message": f"bad key {KEY.upper()}"}}
    await chunk(send, b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n", more=False)


async def ollama_error_line(body: dict[str, Any], receive: Receive, send: Send) -> None:
    await start(send, content_type="application/x-ndjson")
    await chunk(send, json.dumps({"error": f"upstream said {KEY}"}).encode() + b"\n", more=False)


STREAMS = {
    "openai": openai_error_chunk,
    "anthropic": anthropic_error_event,
    "ollama": ollama_error_line,
}


@pytest.mark.parametrize("kind", STREAMS)
@pytest.mark.parametrize("api", ["chat", "responses"])
def test_an_error_inside_a_stream_that_echoes_the_key(
    tmp_path: Path, kind: str, api: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Not in the stream, not in the logs, not in the stored (failed) response."""
    caplog.set_level(logging.DEBUG)
    with router_with(tmp_path, STREAMS[kind], kind=kind) as router:
        if api == "chat":
            body: dict[str, Any] = {**CHAT, "stream": True}
            path = "/v1/chat/completions"
        else:
            body = {"model": "m", "input": "hi", "stream": True}
            path = "/v1/responses"
        with router.http.stream("POST", path, json=body) as answer:
            text = answer.read().decode()
        stored = ""
        if api == "responses" and answer.status_code == 200:
            ids = [
                json.loads(line[5:])["response"]["id"]
                for line in text.splitlines()
                if line.startswith("data:") and '"response.created"' in line
            ]
            stored = router.http.get(f"/v1/responses/{ids[0]}").text
    assert not leaks(text), text
    assert not leaks(stored)
    assert not leaks(caplog.text)


def test_the_provider_api_may_reference_only_allowed_variables(tmp_path: Path) -> None:
    """An admin key could send ${ANY_VAR} to its own server as the provider's api_key."""

    async def fine(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"choices": [{"message": {"content": "ok"}}]})

    extra = "admin: {env_allow: ['OPENAI_*']}\n"
    with router_with(tmp_path, fine, extra=extra) as router:
        api = "/api/v1/llm-provider/openai"
        stolen = router.http.post(
            api, json={"name": "evil", "base_url": "http://attacker/v1", "api_key": "${KEY}"}
        )
        assert stolen.status_code == 422
        assert stolen.json()["error_code"] == "ENV_NOT_ALLOWED"
        assert "admin.env_allow" in stolen.json()["message"]
        via_url = router.http.post(api, json={"name": "evil", "base_url": "${KEY}"})
        assert via_url.status_code == 422
        allowed = router.http.post(
            api, json={"name": "ok", "base_url": "http://x/v1", "api_key": "${OPENAI_TEAM}"}
        )
        assert allowed.status_code == 201, allowed.text
        assert "evil" not in router.holder.current.providers


def test_pages_show_references_unexpanded_and_urls_without_credentials(tmp_path: Path) -> None:
    async def fine(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"choices": [{"message": {"content": "ok"}}]})

    with serve(Scripted(fine)) as url:
        host = url.removeprefix("http://")
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n"
            "  - {name: a, kind: openai, base_url: '${UPSTREAM}', api_key: '${KEY}',"
            " models: [{name: m}]}\n"
            f"  - {{name: b, kind: openai, base_url: 'http://bob:{KEY}@{host}/v1',"
            " models: [{name: n}]}\n"
            f"  - {{name: c, kind: openai, base_url: 'http://{host}/v1',"
            f" api_key: '${{UNSET_VAR:-{KEY}}}', models: [{{name: o}}]}}\n"
        )
        env = {"UPSTREAM": f"http://{host}/v1", "KEY": KEY}
        with run_router(path, env=env, health_probes=False) as router:
            pages = [
                router.http.get("/admin/providers").text,
                router.http.get("/api/v1/llm-provider/openai").text,
                router.http.get("/admin/config").text,
            ]
            ids = {p["name"]: p["id"] for p in json.loads(pages[1])["providers"]}
            listing = router.http.get(f"/api/v1/llm-provider/openai/{ids['b']}/models")
            chat = router.http.post("/v1/chat/completions", json={**CHAT, "model": "n"})
    providers = {p["name"]: p for p in json.loads(pages[0])["providers"]}
    assert providers["a"]["base_url"] == "${UPSTREAM}"
    assert providers["b"]["base_url"] == f"http://bob:***@{host}/v1"
    for page in pages:
        assert host not in page or "${UPSTREAM}" in page
        assert not leaks(page)
    assert listing.status_code == 200, listing.text  # a 500 before
    assert chat.status_code == 200, chat.text


def test_check_never_prints_what_a_reference_expands_to(tmp_path: Path) -> None:
    path = tmp_path / "nexus.yaml"
    path.write_text(
        "version: 1\nproviders:\n"
        "  - {name: a, kind: openai, base_url: '${WRONG}', models: [{name: m}]}\n"
    )
    check = subprocess.run(
        [sys.executable, "-m", "router", "check", str(path)],
        capture_output=True,
        text=True,
        env={"WRONG": KEY, "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=False,
    )
    assert check.returncode == 1
    assert "${WRONG}" in check.stderr
    assert not leaks(check.stdout + check.stderr)


def test_a_key_limited_by_models_is_told_only_its_models(tmp_path: Path) -> None:
    async def fine(body: dict[str, Any], receive: Receive, send: Send) -> None:
        await send_json(send, 200, {"choices": [{"message": {"content": "ok"}}]})

    with serve(Scripted(fine)) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n"
            f"  - {{name: p, kind: openai, base_url: '{url}/v1',"
            " models: [{name: llama3}, {name: secret-project-model}]}\n"
            "auth:\n  keys:\n    - {name: ci, role: user, key: '${CI}', models: ['llama*']}\n"
        )
        with run_router(path, env={"CI": "ci-key-123456"}, health_probes=False) as router:
            answer = router.http.post(
                "/v1/chat/completions",
                json={**CHAT, "model": "llama-nope"},
                headers={"authorization": "Bearer ci-key-123456"},
            )
    assert answer.status_code == 404
    assert "llama3" in answer.json()["error"]["message"]
    assert "secret-project-model" not in answer.text
