"""Chat Completions through Ollama and Anthropic providers, with the openai SDK as client."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

KEY = "sk-ant-test-key-0123456789"

CONFIG = """\
version: 1
providers:
  - name: box
    kind: ollama
    base_url: {ollama}
    models: [{{name: llama3, tools: true}}, {{name: qwen3:8b}}]
  - name: claude
    kind: anthropic
    base_url: {anthropic}/v1
    api_key: ${{ANTHROPIC_KEY}}
    models: [{{name: claude-x, tools: true, vision: true}}]
routing:
  health: {{interval_s: 0.05, failure_threshold: 1}}
"""

WEATHER = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
HI = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]


@contextlib.contextmanager
def stack(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic, probes: bool = False
) -> Iterator[tuple[RouterHandle, openai.OpenAI]]:
    with serve(ollama) as o_url, serve(anthropic) as a_url:
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(ollama=o_url, anthropic=a_url))
        with run_router(path, env={"ANTHROPIC_KEY": KEY}, health_probes=probes) as router:
            yield router, openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)


@pytest.fixture
def ollama() -> FakeOllama:
    return FakeOllama(models=("llama3:latest",))


@pytest.fixture
def anthropic() -> FakeAnthropic:
    return FakeAnthropic(api_key=KEY)


def test_ollama_json_and_stream(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic
) -> None:
    with stack(tmp_path, ollama, anthropic) as (_, client):
        completion = client.chat.completions.create(
            model="llama3", messages=HI, max_tokens=50, temperature=0.2
        )
        assert completion.choices[0].message.content == "Hello from Ollama"
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == 11
        sent = ollama.requests[0]
        assert sent["options"] == {"temperature": 0.2, "num_predict": 50}
        assert sent["stream"] is False
        chunks = list(
            client.chat.completions.create(
                model="llama3", messages=HI, stream=True, stream_options={"include_usage": True}
            )
        )
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello from Ollama "
        assert chunks[0].choices[0].delta.role == "assistant"
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 5


def test_ollama_tool_calls_become_openai_tool_calls(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic
) -> None:
    ollama.tool_call = {"name": "weather", "arguments": {"city": "Oslo"}}
    with stack(tmp_path, ollama, anthropic) as (_, client):
        completion = client.chat.completions.create(model="llama3", messages=HI, tools=WEATHER)
        call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
        assert call.function.name == "weather"  # type: ignore[union-attr]
        assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
        assert completion.choices[0].finish_reason == "tool_calls"
        # the follow-up turn carries the call back with object arguments, as Ollama wants
        client.chat.completions.create(
            model="llama3",
            tools=WEATHER,
            messages=[
                *HI,
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
            ],
        )
        sent = ollama.requests[-1]["messages"]
        assert sent[2]["tool_calls"][0]["function"]["arguments"] == {"city": "Oslo"}
        assert sent[3] == {"role": "tool", "content": "sunny"}


def test_anthropic_json_stream_and_tools(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic
) -> None:
    with stack(tmp_path, ollama, anthropic) as (_, client):
        completion = client.chat.completions.create(model="claude-x", messages=HI)
        assert completion.choices[0].message.content == "Hello from Claude"
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == 15  # input + cache reads
        sent = anthropic.requests[0]
        assert sent["system"] == "be brief"
        assert sent["max_tokens"] == 4096
        assert sent["messages"] == [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]
        text = "".join(
            c.choices[0].delta.content or ""
            for c in client.chat.completions.create(model="claude-x", messages=HI, stream=True)
            if c.choices
        )
        assert text == "Hello from Claude"
        anthropic.tool_use = {"name": "weather", "input": {"city": "Oslo"}}
        chunks = list(
            client.chat.completions.create(
                model="claude-x", messages=HI, tools=WEATHER, stream=True
            )
        )
        args = "".join(
            c.choices[0].delta.tool_calls[0].function.arguments or ""  # type: ignore[union-attr,index]
            for c in chunks
            if c.choices and c.choices[0].delta.tool_calls
        )
        assert json.loads(args) == {"city": "Oslo"}
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        assert anthropic.requests[-1]["tools"][0]["input_schema"]["properties"]["city"]


def test_anthropic_error_event_ends_the_stream_with_an_error(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic
) -> None:
    anthropic.error_mid_stream = True
    with stack(tmp_path, ollama, anthropic) as (_, client):
        stream = client.chat.completions.create(model="claude-x", messages=HI, stream=True)
        with pytest.raises(openai.APIError, match="Overloaded"):
            list(stream)


def test_probes_per_kind_and_ollama_model_discovery(
    tmp_path: Path, ollama: FakeOllama, anthropic: FakeAnthropic
) -> None:
    """qwen3:8b is configured but not pulled: Ollama's /api/tags says so, and routing skips it."""
    with stack(tmp_path, ollama, anthropic, probes=True) as (router, _):

        def states() -> dict[str, Any]:
            return {p["name"]: p for p in router.http.get("/admin/providers").json()["providers"]}

        wait_for(lambda: all(p["status"] == "healthy" for p in states().values()), what="probes")
        assert states()["box"]["discovered_models"] == ["llama3", "llama3:latest"]
        response = router.http.post(
            "/v1/chat/completions", json={"model": "qwen3:8b", "messages": HI}
        )
        assert response.status_code == 503
        context = response.json()["error"]["context"]
        # strict routing: the other (untiered, so equally capable) models would have served
        assert context["rejection_reason"] == "strict_routing_enabled"
        assert context["available_models"] == ["llama3", "claude-x"]
        explained = router.http.post("/v1/route/explain", json={"model": "qwen3:8b"}).json()
        assert explained["considered"][0]["verdict"] == "model_not_available"


def test_anthropic_probe_with_a_wrong_key_marks_it_unhealthy(
    tmp_path: Path, ollama: FakeOllama
) -> None:
    wrong = FakeAnthropic(api_key="another-key")
    with stack(tmp_path, ollama, wrong, probes=True) as (router, _):
        wait_for(
            lambda: (
                {
                    p["name"]: p["status"]
                    for p in router.http.get("/admin/providers").json()["providers"]
                }.get("claude")
                == "unhealthy"
            ),
            what="unhealthy",
        )
        provider = next(
            p
            for p in router.http.get("/admin/providers").json()["providers"]
            if p["name"] == "claude"
        )
        assert provider["last_error"].startswith("health probe: http://127.0.0.1:")
        assert provider["last_error"].endswith(" answered HTTP 401")
        assert KEY not in router.http.get("/admin/providers").text


def test_a_providers_cookies_are_never_sent_back(tmp_path: Path) -> None:
    """Keys differ per provider, hosts may not: a Set-Cookie must not stick to the pool."""
    first = FakeOpenAI(models=("a",), set_cookie="session=secret-of-first; Path=/")
    second = FakeOpenAI(models=("b",))
    with serve(first) as first_url, serve(second) as second_url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n"
            # by name, not IP: cookie jars ignore cookies from IP addresses
            f"  - {{name: one, kind: openai, base_url: '{first_url.replace('127.0.0.1', 'localhost')}/v1',"
            " models: [{name: a}]}\n"
            f"  - {{name: two, kind: openai, base_url: '{second_url.replace('127.0.0.1', 'localhost')}/v1',"
            " models: [{name: b}]}\n"
        )
        with run_router(path) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            for model in ("a", "a", "b"):
                client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}]
                )
    assert len(first.headers) == 2
    assert len(second.headers) == 1
    assert all("cookie" not in h for h in first.headers + second.headers)
