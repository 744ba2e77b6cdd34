"""The Anthropic Messages API for clients, with the official anthropic SDK as the client.

One router in front of three fake upstreams that speak their real wire formats:
an OpenAI-compatible server, Ollama, and Anthropic (passed through).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from router.logs import JsonFormatter
from router.snapshot.loader import load_bytes
from tests.conftest import REPO
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

KEY = "sk-ant-provider-key-0123456789"

CONFIG = """\
version: 1
zones: [{{name: private}}, {{name: open}}]
providers:
  - name: gpu
    kind: openai
    base_url: {openai}/v1
    zone: private
    models: [{{name: qwen-coder, tools: true, vision: true, reasoning: true}}]
  - name: box
    kind: ollama
    base_url: {ollama}
    zone: private
    models: [{{name: llama3, tools: true}}]
  - name: claude
    kind: anthropic
    base_url: {anthropic}
    api_key: ${{ANTHROPIC_KEY}}
    zone: open
    models: [{{name: claude-x, tools: true, vision: true, tiers: {{reasoning: 9}}}}]
  - name: dead
    kind: openai
    base_url: http://127.0.0.1:9/v1
    zone: private
    models: [{{name: gone, tiers: {{reasoning: 9}}}}]
routes:
  - {{model: local, targets: [gpu/qwen-coder]}}
  - {{model: ollama, targets: [box/llama3]}}
  - {{model: cloud, targets: [claude/claude-x]}}
  - {{model: guarded, targets: [dead/gone, claude/claude-x], zone: private, overflow: fresh-only}}
  - {{model: cached, targets: [gpu/qwen-coder], cache: {{ttl_s: 60}}}}
  - {{model: dead-route, targets: [dead/gone]}}
  - {{model: claude-*, targets: [{code}]}}
  - {{model: "*-haiku-*", targets: [box/llama3]}}
routing:
  health: {{interval_s: 0.05, failure_threshold: 1}}
"""

#: Route -> what the upstream names the model, for the three provider kinds.
KINDS = {"local": "openai", "ollama": "ollama", "cloud": "anthropic"}
WEATHER = {
    "name": "weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
HI = [{"role": "user", "content": "hi"}]
PDF = {
    "type": "document",
    "title": "report.pdf",
    "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
}


@contextlib.contextmanager
def stack(
    tmp_path: Path,
    openai_fake: FakeOpenAI | None = None,
    ollama: FakeOllama | None = None,
    claude: FakeAnthropic | None = None,
    code: str = "gpu/qwen-coder",
    auth: str = "",
) -> Iterator[tuple[RouterHandle, anthropic.Anthropic]]:
    openai_fake = openai_fake or FakeOpenAI(reply="Hello from the GPU")
    ollama = ollama or FakeOllama(models=("llama3:latest",))
    claude = claude or FakeAnthropic(api_key=KEY)
    with serve(openai_fake) as o_url, serve(ollama) as l_url, serve(claude) as a_url:
        path = tmp_path / "nexus.yaml"
        text = CONFIG.format(openai=o_url, ollama=l_url, anthropic=a_url, code=code)
        path.write_text(text + auth)
        with run_router(path, env={"ANTHROPIC_KEY": KEY}, health_probes=False) as router:
            client = anthropic.Anthropic(base_url=router.url, api_key="unused", max_retries=0)
            yield router, client


REPLIES = {
    "local": "Hello from the GPU",
    "ollama": "Hello from Ollama",
    "cloud": "Hello from Claude",
}


@pytest.mark.parametrize("route", list(KINDS))
def test_create_and_stream_against_each_kind(tmp_path: Path, route: str) -> None:
    """A message and a stream come back in Anthropic's format whatever kind serves them."""
    with stack(tmp_path) as (router, client):
        message = client.messages.create(
            model=route,
            max_tokens=64,
            system="be brief",
            messages=HI,  # type: ignore[arg-type]
        )
        assert message.type == "message"
        assert message.id.startswith("msg_")
        assert message.stop_reason == "end_turn"
        assert [b.type for b in message.content] == ["text"]
        assert message.content[0].text == REPLIES[route]  # type: ignore[union-attr]
        assert message.usage.input_tokens > 0
        assert message.usage.output_tokens > 0
        # translated answers name the model the client asked for; Anthropic's pass through
        assert message.model == ("claude-x" if route == "cloud" else route)

        with client.messages.stream(model=route, max_tokens=64, messages=HI) as stream:  # type: ignore[arg-type]
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text.strip() == REPLIES[route]
        assert final.stop_reason == "end_turn"
        assert final.usage.output_tokens > 0
        assert final.usage.input_tokens > 0
        routed = router.http.post(
            "/v1/messages", json={"model": route, "max_tokens": 5, "messages": HI}
        )
        assert routed.headers["x-nexus-backend"] == {"local": "gpu", "ollama": "box"}.get(
            route, "claude"
        )


def test_request_translation_to_an_openai_compatible_server(tmp_path: Path) -> None:
    """System blocks, images, tool history, sampling and stop sequences reach a Chat server."""
    fake = FakeOpenAI(reply="ok")
    with stack(tmp_path, openai_fake=fake) as (_, client):
        client.messages.create(
            model="local",
            max_tokens=100,
            # what Claude Code and older SDKs send; this SDK version no longer has the arguments
            extra_body={"temperature": 0.3, "top_p": 0.9, "top_k": 20},
            stop_sequences=["END"],
            metadata={"user_id": "user-42"},
            system=[{"type": "text", "text": "rule one", "cache_control": {"type": "ephemeral"}}],
            tools=[WEATHER],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": "weather"},
            thinking={"type": "enabled", "budget_tokens": 4000},
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                        },
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": "Checking."},
                        {
                            "type": "tool_use",
                            "id": "toolu_9",
                            "name": "weather",
                            "input": {"city": "Oslo"},
                        },
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_9",
                            "is_error": True,
                            "content": [{"type": "text", "text": "no network"}],
                        },
                        {"type": "text", "text": "try again"},
                    ],
                },
            ],
        )
    sent = fake.requests[0]
    assert sent["model"] == "qwen-coder"
    assert sent["messages"] == [
        {"role": "system", "content": "rule one"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
            ],
        },
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "toolu_9",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_9", "content": "Error: no network"},
        {"role": "user", "content": "try again"},
    ]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "parameters": WEATHER["input_schema"],
                "description": "Weather for a city",
            },
        }
    ]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
    assert sent["max_tokens"] == 100
    assert sent["temperature"] == 0.3
    assert sent["top_p"] == 0.9
    assert sent["stop"] == ["END"]
    assert sent["reasoning_effort"] == "medium"  # qwen-coder is declared to reason
    # Anthropic's own fields never reach another provider: no user id, no top_k
    assert not {"metadata", "user", "top_k", "system", "thinking", "stop_sequences"} & set(sent)


@pytest.mark.parametrize("route", list(KINDS))
def test_tool_round_trip(tmp_path: Path, route: str) -> None:
    """A tool_use comes back with parsed input, and its tool_result gets the final answer."""
    openai_fake = FakeOpenAI(
        reply="Sunny", tool_call={"name": "weather", "arguments": {"city": "Oslo"}}
    )
    openai_fake.answer_tool_results = True
    ollama = FakeOllama(models=("llama3:latest",), reply="Sunny")
    ollama.tool_call = {"name": "weather", "arguments": {"city": "Oslo"}}
    ollama.answer_tool_results = True
    claude = FakeAnthropic(
        api_key=KEY, reply="Sunny", tool_use={"name": "weather", "input": {"city": "Oslo"}}
    )
    claude.answer_tool_results = True
    with stack(tmp_path, openai_fake, ollama, claude) as (_, client):
        question = [{"role": "user", "content": "weather in Oslo?"}]
        first = client.messages.create(
            model=route,
            max_tokens=64,
            tools=[WEATHER],
            messages=question,  # type: ignore[list-item,arg-type]
        )
        assert first.stop_reason == "tool_use"
        call = next(b for b in first.content if b.type == "tool_use")
        assert call.name == "weather"  # type: ignore[union-attr]
        assert call.input == {"city": "Oslo"}  # type: ignore[union-attr]
        with client.messages.stream(
            model=route,
            max_tokens=64,
            tools=[WEATHER],
            messages=question,  # type: ignore[list-item,arg-type]
        ) as stream:
            streamed = stream.get_final_message()
        assert streamed.stop_reason == "tool_use"
        streamed_call = next(b for b in streamed.content if b.type == "tool_use")
        assert streamed_call.input == {"city": "Oslo"}  # type: ignore[union-attr]
        second = client.messages.create(
            model=route,
            max_tokens=64,
            tools=[WEATHER],  # type: ignore[list-item]
            messages=[
                *question,
                {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21C"}  # type: ignore[union-attr]
                    ],
                },
            ],
        )
        assert second.stop_reason == "end_turn"
        assert second.content[-1].text == "Sunny"  # type: ignore[union-attr]


def test_count_tokens(tmp_path: Path) -> None:
    """A local estimate for local targets; the provider's own count for Anthropic's."""
    claude = FakeAnthropic(api_key=KEY)
    with stack(tmp_path, claude=claude) as (_, client):
        local = client.messages.count_tokens(
            model="local", messages=[{"role": "user", "content": "x" * 400}]
        )
        assert local.input_tokens == 100  # the estimate routing uses: 4 characters a token
        cloud = client.messages.count_tokens(model="cloud", messages=HI, system="be brief")
        assert cloud.input_tokens == 4242
    assert claude.requests[-1] == {"model": "claude-x", "messages": HI, "system": "be brief"}


def test_errors_in_anthropic_envelope(tmp_path: Path) -> None:
    """Each error is the SDK's own exception, with Anthropic's error type."""
    with stack(tmp_path) as (router, client):
        with pytest.raises(anthropic.BadRequestError) as bad:
            client.messages.create(
                model="local",
                max_tokens=5,
                messages=[{"role": "system", "content": "x"}],  # type: ignore[list-item]
            )
        assert bad.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
        assert "messages[0].role" in bad.value.body["error"]["message"]  # type: ignore[index]
        missing = router.http.post("/v1/messages", json={"model": "local", "messages": HI})
        assert missing.status_code == 400
        assert missing.json()["type"] == "error"
        assert "max_tokens" in missing.json()["error"]["message"]
        with pytest.raises(anthropic.NotFoundError) as unknown:
            client.messages.create(model="nope", messages=HI, max_tokens=5)  # type: ignore[arg-type]
        assert unknown.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
        blocks = router.http.post(
            "/v1/messages",
            json={
                "model": "local",
                "max_tokens": 5,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "search_result",
                                "source": {"type": "url", "url": "https://x/a"},
                            }
                        ],
                    }
                ],
            },
        )
        assert blocks.status_code == 400, blocks.text
        assert blocks.json()["error"]["message"] == (
            "messages[0].content[0]: content blocks of type 'search_result' can only be sent to "
            "Anthropic models"
        )
        pdf = router.http.post(
            "/v1/messages",
            json={
                "model": "local",
                "max_tokens": 5,
                "messages": [
                    {"role": "user", "content": [PDF, {"type": "text", "text": "sum up"}]}
                ],
            },
        )
        assert pdf.status_code == 503  # the local model does not read PDFs: never silently dropped
        assert pdf.json()["error"]["context"]["required_capability"] == "documents"
        for raw, status in ((b"{", 400), (b"[]", 400)):
            answer = router.http.post(
                "/v1/messages", content=raw, headers={"content-type": "application/json"}
            )
            assert answer.status_code == status
            assert answer.json()["error"]["type"] == "invalid_request_error"
        text = router.http.post(
            "/v1/messages", content=b"hi", headers={"content-type": "text/plain"}
        )
        assert text.status_code == 415
        assert text.json()["type"] == "error"
        # the provider is down: a 503 the SDK raises, our contract's fields under error.context
        with pytest.raises(anthropic.InternalServerError) as down:
            client.messages.create(model="dead-route", messages=HI, max_tokens=5)  # type: ignore[arg-type]
        assert down.value.status_code == 503
        error = down.value.body["error"]  # type: ignore[index]
        assert error["type"] == "overloaded_error"
        # the upstream fails mid-stream: the SDK raises the error event
    broken = FakeOpenAI(reply="one two three four", fail_after_chunks=2)
    with stack(tmp_path, openai_fake=broken) as (_, client):
        stream = client.messages.create(model="local", max_tokens=64, messages=HI, stream=True)  # type: ignore[arg-type]
        with pytest.raises(anthropic.APIStatusError) as mid:
            list(stream)
        assert mid.value.body["error"]["type"] == "api_error"  # type: ignore[index]


AUTH = """\
auth:
  keys:
    - {name: alice, role: user, key: alice-key-0123456789, models: [local], rpm: 1}
"""


def test_key_errors_in_anthropic_envelope(tmp_path: Path) -> None:
    """x-api-key as Anthropic clients send it: 401, 403 and 429 are the SDK's own errors."""
    with stack(tmp_path, auth=AUTH) as (router, _):

        def client(key: str) -> anthropic.Anthropic:
            return anthropic.Anthropic(base_url=router.url, api_key=key, max_retries=0)

        with pytest.raises(anthropic.AuthenticationError) as unknown:
            client("wrong-key").messages.create(model="local", max_tokens=5, messages=HI)  # type: ignore[arg-type]
        assert unknown.value.body["error"]["type"] == "authentication_error"  # type: ignore[index]
        alice = client("alice-key-0123456789")
        with pytest.raises(anthropic.PermissionDeniedError) as denied:
            alice.messages.create(model="cloud", max_tokens=5, messages=HI)  # type: ignore[arg-type]
        assert denied.value.body["error"]["type"] == "permission_error"  # type: ignore[index]
        with pytest.raises(anthropic.RateLimitError) as limited:
            alice.messages.create(model="local", max_tokens=5, messages=HI)  # type: ignore[arg-type]
        assert limited.value.body["error"]["type"] == "rate_limit_error"  # type: ignore[index]
        assert int(limited.value.response.headers["retry-after"]) >= 1
        bearer = router.http.post(
            "/v1/messages",
            headers={"authorization": "Bearer alice-key-0123456789"},
            json={"model": "local", "max_tokens": 5, "messages": HI},
        )
        assert bearer.status_code == 429  # authenticated by Bearer too: the same key's budget
        assert "alice-key" not in bearer.text


def test_rejections_keep_the_503_contract(tmp_path: Path) -> None:
    """With history, a fresh-only route never reaches the open zone through /v1/messages."""
    claude = FakeAnthropic(api_key=KEY)
    with stack(tmp_path, claude=claude) as (router, client):
        fresh = client.messages.with_raw_response.create(model="guarded", max_tokens=5, messages=HI)
        assert fresh.headers["x-nexus-route-reason"] == "overflow"
        history = [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "hello"},
            {"role": "user", "content": "my secret"},
        ]
        for stream in (False, True):
            answer = router.http.post(
                "/v1/messages",
                json={"model": "guarded", "max_tokens": 5, "messages": history, "stream": stream},
            )
            assert answer.status_code == 503
            assert answer.headers["content-type"].startswith("application/json")
            assert answer.headers["x-should-retry"] == "false"
            assert int(answer.headers["retry-after"]) > 0
            body = answer.json()
            assert body["type"] == "error"
            assert body["error"]["type"] == "overloaded_error"
            context = body["error"]["context"]
            assert context["rejection_reason"] == "overflow_blocked_with_history"
            assert context["overflow_mode"] == "fresh-only"
            assert context["retry_after_seconds"] == int(answer.headers["retry-after"])
        with pytest.raises(anthropic.InternalServerError):
            client.messages.create(model="guarded", max_tokens=5, messages=history)  # type: ignore[arg-type]
    assert len(claude.requests) == 1  # only the fresh request ever left the private zone


def test_cache_keeps_the_dialects_apart(tmp_path: Path) -> None:
    """A body that is both a chat and a Messages request is cached once per dialect."""
    fake = FakeOpenAI(reply="cached")
    body = {"model": "cached", "max_tokens": 5, "temperature": 0, "messages": HI}
    with stack(tmp_path, openai_fake=fake) as (router, _):
        first = router.http.post("/v1/messages", json=body)
        again = router.http.post("/v1/messages", json=body)
        chat = router.http.post("/v1/chat/completions", json=body)
    assert first.headers["x-nexus-cache"] == "miss"
    assert again.headers["x-nexus-cache"] == "hit"
    assert again.json()["content"] == first.json()["content"]
    assert chat.headers["x-nexus-cache"] == "miss"
    assert chat.json()["object"] == "chat.completion"
    assert len(fake.requests) == 2


def test_model_names_by_pattern_on_every_api(tmp_path: Path) -> None:
    """Dated names reach pattern routes: the longer pattern wins; /v1/models and explain show them."""
    with stack(tmp_path) as (router, client):
        sonnet = client.messages.with_raw_response.create(
            model="claude-sonnet-4-5-20250929", max_tokens=5, messages=HI
        )
        assert sonnet.headers["x-nexus-backend"] == "gpu"
        haiku = client.messages.with_raw_response.create(
            model="claude-haiku-4-5-20251001", max_tokens=5, messages=HI
        )
        assert haiku.headers["x-nexus-backend"] == "box"  # *-haiku-* is longer than claude-*
        assert haiku.parse().model == "claude-haiku-4-5-20251001"
        chat = router.http.post(
            "/v1/chat/completions", json={"model": "claude-opus-4-1", "messages": HI}
        )
        assert chat.headers["x-nexus-backend"] == "gpu"
        assert chat.headers["x-nexus-model"] == "gpu/qwen-coder"
        listed = [m["id"] for m in router.http.get("/v1/models").json()["data"]]
        assert {"claude-*", "*-haiku-*"} <= set(listed)
        one = router.http.get("/v1/models/claude-sonnet-4-5-20250929").json()
        assert one["id"] == "claude-sonnet-4-5-20250929"
        report = router.http.post(
            "/v1/route/explain", json={"model": "claude-haiku-4-5-20251001"}
        ).json()
        assert report["route"]["name"] == "*-haiku-*"
        assert report["route"]["pattern"] is True


# -- Claude Code ------------------------------------------------------------------------

CLAUDE_CODE_HEADERS = {
    "anthropic-version": "2023-06-01",
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14",
    "x-api-key": "unused",
    "user-agent": "claude-cli/2.0.14 (external, cli)",
}


def _claude_code_request(model: str) -> dict[str, Any]:
    """The shape of a Claude Code turn: cached system blocks, many tools, a user id, a stream."""
    tools = [
        {
            "name": name,
            "description": f"{name}: a Claude Code tool " + "with a long description " * 20,
            "input_schema": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "limit": {"type": "integer"}},
                "required": ["path"],
                "additionalProperties": False,
                "$schema": "http://json-schema.org/draft-07/schema#",
            },
        }
        for name in (
            "Task",
            "Bash",
            "Glob",
            "Grep",
            "Read",
            "Edit",
            "Write",
            "WebFetch",
            "TodoWrite",
        )
    ]
    return {
        "model": model,
        "max_tokens": 32000,
        "stream": True,
        "metadata": {"user_id": "user_abc123_account__session_7f0e"},
        "system": [
            {
                "type": "text",
                "text": "You are Claude Code, Anthropic's official CLI for Claude.",
                "cache_control": {"type": "ephemeral"},
            },
            {
                "type": "text",
                "text": "You are an interactive CLI tool that helps users with software tasks.",
                "cache_control": {"type": "ephemeral"},
            },
        ],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>context</system-reminder>"},
                    {
                        "type": "text",
                        "text": "fix the failing test",
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            }
        ],
        "tools": tools,
        "temperature": 1,
    }


def _events(text: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_claude_code_request_to_a_local_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Routed to a local server: the exact event sequence Claude Code parses; the user id is logged."""
    caplog.set_level(logging.INFO, logger="nexus.access")
    fake = FakeOpenAI(reply="I will run the tests")
    with stack(tmp_path, openai_fake=fake) as (router, _):
        body = _claude_code_request("claude-sonnet-4-5-20250929")
        with httpx.stream(
            "POST", f"{router.url}/v1/messages", json=body, headers=CLAUDE_CODE_HEADERS
        ) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("text/event-stream")
            events = _events(answer.read().decode())
    names = [name for name, _ in events]
    assert names == [
        "message_start",
        "ping",
        "content_block_start",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(data["type"] == name for name, data in events)
    start = events[0][1]["message"]
    assert start["model"] == "claude-sonnet-4-5-20250929"
    assert start["id"].startswith("msg_")
    delta = events[-2][1]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {"input_tokens": 9, "output_tokens": 5}
    sent = fake.requests[0]
    assert len(sent["tools"]) == 9
    assert sent["messages"][0]["content"].startswith("You are Claude Code")
    assert "user" not in sent
    assert "metadata" not in sent
    assert "user_abc123" not in json.dumps(fake.requests)
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "nexus.access"
    ]
    line = next(x for x in lines if x.get("path") == "/v1/messages")
    assert line["end_user"] == "user_abc123_account__session_7f0e"
    assert line["provider"] == "gpu"


def test_claude_code_request_passes_through_to_anthropic(tmp_path: Path) -> None:
    """Routed to Anthropic: the body unchanged but for model, betas forwarded, events relayed."""
    claude = FakeAnthropic(api_key=KEY)
    with stack(tmp_path, claude=claude, code="claude/claude-x") as (router, _):
        body = _claude_code_request("claude-sonnet-4-5-20250929")
        with httpx.stream(
            "POST", f"{router.url}/v1/messages", json=body, headers=CLAUDE_CODE_HEADERS
        ) as answer:
            assert answer.status_code == 200
            events = _events(answer.read().decode())
    assert claude.requests == [{**body, "model": "claude-x"}]
    sent = claude.headers[0]
    assert sent["anthropic-beta"] == CLAUDE_CODE_HEADERS["anthropic-beta"]
    assert sent["anthropic-version"] == "2023-06-01"
    assert sent["x-api-key"] == KEY  # the provider's key, never the client's
    assert [name for name, _ in events][:3] == ["message_start", "content_block_start", "ping"]
    assert events[0][1]["message"]["usage"]["cache_read_input_tokens"] == 3  # untranslated
    assert events[-1][0] == "message_stop"


def test_thinking_and_signatures_survive_passthrough(tmp_path: Path) -> None:
    """Signed thinking blocks go up and come back byte for byte."""
    signed = {"type": "thinking", "thinking": "Let me think.", "signature": "EqQBCkYIB...sig=="}
    claude = FakeAnthropic(api_key=KEY, blocks=[signed, {"type": "text", "text": "42"}])
    with stack(tmp_path, claude=claude) as (_, client):
        message = client.messages.create(
            model="cloud",
            max_tokens=2048,
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[
                {"role": "user", "content": "q1"},
                {"role": "assistant", "content": [signed, {"type": "text", "text": "a1"}]},  # type: ignore[list-item]
                {"role": "user", "content": "q2"},
            ],
            extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
        )
    assert message.content[0].type == "thinking"
    assert message.content[0].signature == signed["signature"]  # type: ignore[union-attr]
    assert message.content[0].thinking == "Let me think."  # type: ignore[union-attr]
    raw = claude.raw[0].decode()
    assert json.dumps(signed["signature"]) in raw
    assert claude.requests[0]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert claude.headers[0]["anthropic-beta"] == "interleaved-thinking-2025-05-14"


def test_the_readme_claude_code_route_compiles_and_catches_dated_names() -> None:
    """The README's three lines of config, with the providers they name, route Claude Code."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Claude Code with local models", 1)[1]
    snippet = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = f"""\
version: 1
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - {{name: gpu-box, kind: ollama, base_url: "http://127.0.0.1:11434", zone: home,
     models: [{{name: qwen3-coder}}]}}
  - {{name: anthropic, kind: anthropic, base_url: "https://api.anthropic.com", zone: cloud,
     models: [{{name: claude-sonnet-4-5}}]}}
{snippet}"""
    table = load_bytes(config.encode(), source="readme", env={}, loaded_at=0.0)
    for name in ("claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1"):
        route = table.resolve(name)
        assert route is not None
        assert route.name == "claude-*"
        assert [t.key for t in route.targets] == [
            "gpu-box/qwen3-coder",
            "anthropic/claude-sonnet-4-5",
        ]
        assert route.overflow.value == "fresh-only"
