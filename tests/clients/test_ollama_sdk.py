"""The official ``ollama`` Python client against the router's Ollama API, on every provider kind."""

from __future__ import annotations

import asyncio
from typing import Any

import ollama
import pytest

from tests.clients.matrix import API_KEY, REFUSED, REPLIES, Matrix, kinds

pytestmark = pytest.mark.clients

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def client(matrix: Matrix) -> ollama.Client:
    """What an Ollama client is configured with: the host, and a key as a header."""
    return ollama.Client(host=matrix.router.url, headers={"Authorization": f"Bearer {API_KEY}"})


def _words(text: str) -> str:
    return " ".join(text.split())


@kinds()
def test_chat_whole_answer(matrix: Matrix, kind: str) -> None:
    """chat(stream=False) returns the provider's text, done, with counts and durations."""
    answer = client(matrix).chat(
        model=f"via-{kind}", messages=[{"role": "user", "content": "hi"}], stream=False
    )
    assert answer.message.role == "assistant"
    assert answer.message.content == REPLIES[kind]
    assert answer.done is True
    assert answer.done_reason == "stop"
    assert (answer.prompt_eval_count or 0) > 0
    assert (answer.eval_count or 0) > 0
    if kind != "ollama":  # translated: durations are the router's, in nanoseconds
        assert (answer.total_duration or 0) > 0
        assert (answer.eval_duration or 0) > 0


@kinds()
def test_chat_stream(matrix: Matrix, kind: str) -> None:
    """The default stream yields the text in pieces, then one done part with the counts."""
    parts = list(
        client(matrix).chat(
            model=f"via-{kind}",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            options={"temperature": 0.2, "num_predict": 64},
            keep_alive="10m",
        )
    )
    assert len(parts) >= 3
    assert [p.done for p in parts] == [False] * (len(parts) - 1) + [True]
    text = "".join(p.message.content or "" for p in parts)
    assert _words(text) == REPLIES[kind]
    assert parts[-1].done_reason == "stop"
    assert (parts[-1].eval_count or 0) > 0


@kinds()
def test_generate(matrix: Matrix, kind: str) -> None:
    """generate() with a system prompt, whole and streamed."""
    sdk = client(matrix)
    whole = sdk.generate(model=f"via-{kind}", prompt="hi", system="be brief", stream=False)
    assert whole.response == REPLIES[kind]
    assert whole.done is True
    streamed = list(sdk.generate(model=f"via-{kind}", prompt="hi", stream=True))
    assert _words("".join(p.response for p in streamed)) == REPLIES[kind]
    assert streamed[-1].done is True


def test_generate_with_an_empty_prompt_only_loads_the_model(matrix: Matrix) -> None:
    """Ollama's "load the model" call answers done at once; no provider is called."""
    answer = client(matrix).generate(model="via-openai", prompt="")
    assert answer.done is True
    assert answer.done_reason == "load"
    assert matrix.requests("openai") == []


@kinds()
def test_tool_call_round_trip(matrix: Matrix, kind: str) -> None:
    """A tool call comes back with object arguments; its result, named by tool, is answered."""
    matrix.call_tool("weather", {"city": "Paris"}, then="It is sunny in Paris")
    sdk = client(matrix)
    messages: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
    first = sdk.chat(model=f"via-{kind}", messages=messages, tools=[WEATHER], stream=False)
    calls = first.message.tool_calls or []
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("weather", {"city": "Paris"})
    ]
    messages += [first.message, {"role": "tool", "content": "sunny", "tool_name": "weather"}]
    second = sdk.chat(model=f"via-{kind}", messages=messages, tools=[WEATHER], stream=False)
    assert second.message.content == "It is sunny in Paris"


@kinds()
def test_tool_call_streamed(matrix: Matrix, kind: str) -> None:
    """Streamed, the call arrives whole in one part (its arguments an object), before done."""
    matrix.call_tool("weather", {"city": "Oslo"})
    parts = list(
        client(matrix).chat(
            model=f"via-{kind}",
            messages=[{"role": "user", "content": "Weather in Oslo?"}],
            tools=[WEATHER],
            stream=True,
        )
    )
    calls = [c for p in parts for c in p.message.tool_calls or []]
    assert [(c.function.name, dict(c.function.arguments)) for c in calls] == [
        ("weather", {"city": "Oslo"})
    ]
    assert parts[-1].done is True


def test_list_show_ps_and_version(matrix: Matrix) -> None:
    """The listings name the routes; show reports capabilities from the model metadata."""
    sdk = client(matrix)
    listed = {m.model for m in sdk.list().models}
    assert {"via-openai", "via-ollama", "via-anthropic"} <= listed
    assert REFUSED in listed  # routable as far as health goes; policy refuses it per request
    shown = sdk.show("via-openai")
    assert shown.capabilities is not None
    assert {"completion", "tools", "vision", "embedding"} <= set(shown.capabilities)
    assert "vision" not in (sdk.show("via-anthropic").capabilities or [])
    running = {m.model for m in sdk.ps().models}
    assert "via-ollama" in running


@pytest.mark.parametrize("kind", ["openai", "ollama"])  # Anthropic serves no embeddings
def test_embed(matrix: Matrix, kind: str) -> None:
    """embed() returns one vector per input, in order; the legacy call one vector."""
    sdk = client(matrix)
    result = sdk.embed(model=f"via-{kind}", input=["a", "bb"])
    assert [v[0] for v in result.embeddings] == [1.0, 2.0]  # the fakes' vector(): length first
    legacy = sdk.embeddings(model=f"via-{kind}", prompt="ccc")
    assert legacy.embedding[0] == 3.0


def test_async_client_streams(matrix: Matrix) -> None:
    """The AsyncClient streams the same NDJSON."""

    async def run() -> str:
        sdk = ollama.AsyncClient(host=matrix.router.url)
        stream = await sdk.chat(
            model="via-anthropic", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        return "".join([part.message.content or "" async for part in stream])

    assert _words(asyncio.run(run())) == REPLIES["anthropic"]


def test_errors_are_response_errors_with_the_status(matrix: Matrix) -> None:
    """Unknown model 404, a refused route 503, bad input 400, model management 501."""
    sdk = client(matrix)
    with pytest.raises(ollama.ResponseError) as unknown:
        sdk.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert unknown.value.status_code == 404
    assert "no-such-model" in unknown.value.error
    with pytest.raises(ollama.ResponseError) as refused:
        sdk.chat(model=REFUSED, messages=[{"role": "user", "content": "hi"}], stream=False)
    assert refused.value.status_code == 503
    assert "privacy zone" in refused.value.error
    with pytest.raises(ollama.ResponseError) as bad:
        sdk.chat(
            model="via-openai",
            messages=[{"role": "user", "content": "hi"}],
            options={"temperature": "warm"},
        )
    assert bad.value.status_code == 400
    assert "options.temperature" in bad.value.error
    with pytest.raises(ollama.ResponseError) as pull:
        sdk.pull("llama3")
    assert pull.value.status_code == 501
    assert "backend" in pull.value.error
