"""Every answer and stream event on the OpenAI APIs parses strictly as the openai SDK's own types.

One table: (client dialect, provider dialect, stream or not). The fake upstreams
answer in their own wire formats with thinking, a tool call or plain text; each row
checks that what a client receives validates against the SDK's pydantic models in
strict mode (the fields each type declares, with their exact types), and that the
model's thinking and token counts arrived. The Ollama API and the Anthropic Messages
API join as rows of `CLIENTS`, checked against the ollama and anthropic SDKs' types.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import ollama
import openai
import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import run_router
from tests.fakes.servers import serve

KEY = "sk-ant-conformance-0123456789"
THOUGHT = "The user greets me so I greet back"
CONFIG = """\
version: 1
providers:
  - {{name: oa, kind: openai, base_url: "{oa}/v1", models: [{{name: gpt-r, tools: true, reasoning: true}}]}}
  - {{name: ol, kind: ollama, base_url: "{ol}", models: [{{name: qwen3, tools: true, reasoning: true}}]}}
  - name: an
    kind: anthropic
    base_url: "{an}"
    api_key: ${{ANTHROPIC_KEY}}
    models: [{{name: claude-r, tools: true, reasoning: true}}]
"""

_EVENTS: TypeAdapter[Any] = TypeAdapter(ResponseStreamEvent)


@attrs.frozen
class Upstreams:
    openai: FakeOpenAI
    ollama: FakeOllama
    anthropic: FakeAnthropic


#: provider dialect -> the public model name that reaches it
PROVIDERS = {"openai": "gpt-r", "ollama": "qwen3", "anthropic": "claude-r"}

WEATHER_CALL = {"name": "weather", "arguments": {"city": "Paris"}}


def upstreams(tool: bool) -> Upstreams:
    return Upstreams(
        FakeOpenAI(
            reply="Hi there",
            models=("gpt-r",),
            reasoning=THOUGHT,
            tool_call=WEATHER_CALL if tool else None,
        ),
        FakeOllama(
            reply="Hi there",
            models=("qwen3:latest",),
            thinking=THOUGHT,
            tool_call=WEATHER_CALL if tool else None,
        ),
        FakeAnthropic(
            api_key=KEY,
            reply="Hi there",
            thinking=THOUGHT,
            redacted=True,
            tool_use={"name": "weather", "input": {"city": "Paris"}} if tool else None,
        ),
    )


@contextlib.contextmanager
def stack(tmp_path: Path, ups: Upstreams) -> Iterator[httpx.Client]:
    with serve(ups.openai) as oa, serve(ups.ollama) as ol, serve(ups.anthropic) as an:
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(oa=oa, ol=ol, an=an))
        with run_router(path, env={"ANTHROPIC_KEY": KEY}, health_probes=False) as router:
            yield router.http


def sse(text: str) -> list[dict[str, Any]]:
    """The JSON data of each event (``[DONE]`` left out)."""
    out = []
    for block in text.split("\n\n"):
        data = [line[5:].strip() for line in block.splitlines() if line.startswith("data:")]
        if data and data[0] != "[DONE]":
            out.append(json.loads("\n".join(data)))
    return out


def assert_redacted_stays_opaque(text: str) -> None:
    """Redacted thinking is never shown: it may only ride along, sealed, to be sent back."""
    for data in sse(text) if text.startswith(("data:", "event:")) else [json.loads(text)]:
        shown = json.dumps(
            [
                data.get("output"),
                [c.get("delta", c.get("message")) for c in data.get("choices") or ()],
                data.get("response"),
                data.get("item"),
            ]
        )
        for line in re.findall(r'"(?:reasoning_content|text|delta)": "[^"]*"', shown):
            assert "opaque-secret-bytes" not in line


# -- what a client of each dialect sees -------------------------------------------------------


@attrs.frozen
class Seen:
    """What one client dialect received, reduced to what every row checks."""

    thinking: str
    text: str
    tool_calls: list[str]
    reasoning_tokens: int | None


def chat_client(http: httpx.Client, model: str, *, stream: bool, tool: bool) -> Seen:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "reasoning_effort": "low",
        "stream": stream,
    }
    if tool:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ]
    if stream:
        body["stream_options"] = {"include_usage": True}
    answer = http.post("/v1/chat/completions", json=body)
    assert answer.status_code == 200, answer.text
    assert_redacted_stays_opaque(answer.text)
    if not stream:
        completion = ChatCompletion.model_validate(answer.json(), strict=True)
        message = answer.json()["choices"][0]["message"]
        details = completion.usage.completion_tokens_details if completion.usage else None
        return Seen(
            thinking=message.get("reasoning_content") or "",
            text=completion.choices[0].message.content or "",
            tool_calls=[c.function.name for c in completion.choices[0].message.tool_calls or ()],
            reasoning_tokens=details.reasoning_tokens if details else None,
        )
    thinking, text, calls, tokens = "", "", [], None
    for raw in sse(answer.text):
        chunk = ChatCompletionChunk.model_validate(raw, strict=True)
        for choice, raw_choice in zip(chunk.choices, raw["choices"], strict=True):
            thinking += raw_choice["delta"].get("reasoning_content") or ""
            text += choice.delta.content or ""
            calls += [
                c.function.name
                for c in choice.delta.tool_calls or ()
                if c.function and c.function.name
            ]
        if chunk.usage and chunk.usage.completion_tokens_details:
            tokens = chunk.usage.completion_tokens_details.reasoning_tokens
    return Seen(thinking, text, calls, tokens)


def _from_response(response: Response) -> Seen:
    thinking = "".join(
        s.text for item in response.output if item.type == "reasoning" for s in item.summary
    )
    details = response.usage.output_tokens_details if response.usage else None
    tokens = details.reasoning_tokens if details else None
    calls = [item.name for item in response.output if item.type == "function_call"]
    return Seen(thinking, response.output_text, calls, tokens or None)


def responses_client(http: httpx.Client, model: str, *, stream: bool, tool: bool) -> Seen:
    body: dict[str, Any] = {
        "model": model,
        "input": "hi",
        "reasoning": {"effort": "low", "summary": "auto"},
        "stream": stream,
    }
    if tool:
        body["tools"] = [
            {
                "type": "function",
                "name": "weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ]
    answer = http.post("/v1/responses", json=body)
    assert answer.status_code == 200, answer.text
    assert_redacted_stays_opaque(answer.text)
    if not stream:
        return _from_response(Response.model_validate(answer.json(), strict=True))
    events = [_EVENTS.validate_python(raw, strict=True) for raw in sse(answer.text)]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    done = [e for e in events if e.type == "response.completed"]
    assert len(done) == 1
    seen = _from_response(done[0].response)
    assert deltas == seen.thinking  # the deltas add up to the item the response holds
    return seen


def ollama_client(http: httpx.Client, model: str, *, stream: bool, tool: bool) -> Seen:
    """Ollama's own /api/chat, each answer (or NDJSON line) strictly an ``ollama.ChatResponse``."""
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "think": "low",
        "stream": stream,
    }
    if tool:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ]
    answer = http.post("/api/chat", json=body)
    assert answer.status_code == 200, answer.text
    assert_redacted_stays_opaque_ndjson(answer.text)
    lines = [
        ollama.ChatResponse.model_validate(json.loads(line), strict=True)
        for line in answer.text.splitlines()
        if line.strip()
    ]
    assert lines[-1].done
    thinking = "".join(line.message.thinking or "" for line in lines)
    text = "".join(line.message.content or "" for line in lines)
    calls = [c.function.name for line in lines for c in line.message.tool_calls or ()]
    return Seen(thinking, text, calls, None)


_MESSAGES_EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)


def messages_client(http: httpx.Client, model: str, *, stream: bool, tool: bool) -> Seen:
    """The Anthropic Messages API, each answer (or stream event) strictly the anthropic SDK's
    ``Message`` (or ``RawMessageStreamEvent``)."""
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "hi"}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "stream": stream,
    }
    if tool:
        body["tools"] = [
            {
                "name": "weather",
                "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ]
    answer = http.post("/v1/messages", json=body)
    assert answer.status_code == 200, answer.text
    if not stream:
        message = AnthropicMessage.model_validate(answer.json(), strict=True)
        blocks = message.content
        thinking = "".join(b.thinking for b in blocks if b.type == "thinking")
        text = "".join(b.text for b in blocks if b.type == "text")
        calls = [b.name for b in blocks if b.type == "tool_use"]
        assert message.model == model  # the name the client asked for
    else:
        raw = [e for e in sse(answer.text) if e.get("type") != "ping"]  # the SDK skips pings
        events = [_MESSAGES_EVENTS.validate_python(e, strict=True) for e in raw]
        assert (events[0].type, events[-1].type) == ("message_start", "message_stop")
        deltas = [e.delta for e in events if e.type == "content_block_delta"]
        thinking = "".join(d.thinking for d in deltas if d.type == "thinking_delta")
        text = "".join(d.text for d in deltas if d.type == "text_delta")
        calls = [
            e.content_block.name
            for e in events
            if e.type == "content_block_start" and e.content_block.type == "tool_use"
        ]
    assert "opaque-secret-bytes" not in thinking + text  # redacted thinking is never shown
    return Seen(thinking, text, calls, None)


def assert_redacted_stays_opaque_ndjson(text: str) -> None:
    assert "opaque-secret-bytes" not in text  # the Ollama API has no field to carry it


#: The client dialects the structured-output and caching rows speak (the OpenAI APIs).
OPENAI_CLIENTS = ("chat", "responses")

Client = Callable[..., Seen]
CLIENTS: dict[str, Client] = {
    "chat": chat_client,
    "responses": responses_client,
    "ollama": ollama_client,
    "messages": messages_client,
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("tool", [False, True], ids=["text", "tool"])
@pytest.mark.parametrize("provider", list(PROVIDERS))
@pytest.mark.parametrize("client", list(CLIENTS))
def test_thinking_answers_and_tools_conform(
    tmp_path: Path, client: str, provider: str, tool: bool, stream: bool
) -> None:
    """A thinking model's answer, with or without a tool call, parses strictly as the SDK's types."""
    ups = upstreams(tool)
    with stack(tmp_path, ups) as http:
        seen = CLIENTS[client](http, PROVIDERS[provider], stream=stream, tool=tool)
    assert seen.thinking.strip() == THOUGHT
    sent = {
        "openai": lambda: ups.openai.requests[-1].get("reasoning_effort"),
        "ollama": lambda: ups.ollama.requests[-1].get("think"),
        "anthropic": lambda: ups.anthropic.requests[-1]["thinking"]["budget_tokens"],
    }
    assert sent[provider]() == {"openai": "low", "ollama": "low", "anthropic": 2048}[provider]
    if tool:
        assert seen.tool_calls == ["weather"]
    else:
        assert seen.text.strip() == "Hi there"
    if provider == "openai" and client in OPENAI_CLIENTS:  # the others have no such count
        assert seen.reasoning_tokens == len(THOUGHT.split(" "))


# -- structured outputs ------------------------------------------------------------------------

CITY = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["city", "celsius"],
    "additionalProperties": False,
}
ANSWER = {"city": "Paris", "celsius": 21.5}


def structured(http: httpx.Client, client: str, *, stream: bool) -> str:
    """Ask for a `CITY` object through one client dialect; the JSON text it got back."""
    if client == "chat":
        fmt = {
            "type": "json_schema",
            "json_schema": {"name": "city", "schema": CITY, "strict": True},
        }
        body: dict[str, Any] = {
            "model": "claude-r",
            "messages": [{"role": "user", "content": "weather?"}],
            "response_format": fmt,
            "reasoning_effort": "low",
            "stream": stream,
        }
        answer = http.post("/v1/chat/completions", json=body)
        assert answer.status_code == 200, answer.text
        if not stream:
            completion = ChatCompletion.model_validate(answer.json(), strict=True)
            assert completion.choices[0].finish_reason == "stop"
            assert not completion.choices[0].message.tool_calls
            return completion.choices[0].message.content or ""
        chunks = [ChatCompletionChunk.model_validate(c, strict=True) for c in sse(answer.text)]
        assert not any(ch.delta.tool_calls for c in chunks for ch in c.choices)
        assert [ch.finish_reason for c in chunks for ch in c.choices if ch.finish_reason] == [
            "stop"
        ]
        return "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
    fmt = {"type": "json_schema", "name": "city", "schema": CITY, "strict": True}
    body = {"model": "claude-r", "input": "weather?", "text": {"format": fmt}, "stream": stream}
    answer = http.post("/v1/responses", json=body)
    assert answer.status_code == 200, answer.text
    if stream:
        events = [_EVENTS.validate_python(raw, strict=True) for raw in sse(answer.text)]
        response = next(e.response for e in events if e.type == "response.completed")
    else:
        response = Response.model_validate(answer.json(), strict=True)
    assert [item.type for item in response.output] == ["message"]
    return response.output_text


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("client", OPENAI_CLIENTS)
def test_structured_output_from_anthropic_is_the_message_content(
    tmp_path: Path, client: str, stream: bool
) -> None:
    """A JSON schema reaches Claude as one forced tool; its input comes back as the content."""
    ups = upstreams(tool=False)
    ups.anthropic.forced_input = ANSWER
    with stack(tmp_path, ups) as http:
        text = structured(http, client, stream=stream)
    assert json.loads(text) == ANSWER
    sent = ups.anthropic.requests[-1]
    assert sent["tool_choice"] == {"type": "tool", "name": "json_answer"}
    assert sent["tools"][-1]["input_schema"] == CITY
    assert sent["tools"][-1]["strict"] is True
    assert "thinking" not in sent  # a forced tool call cannot think


def test_a_schema_whose_root_is_not_an_object_is_refused_for_anthropic(tmp_path: Path) -> None:
    with stack(tmp_path, upstreams(tool=False)) as http:
        fmt = {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "array"}}}
        body = {"model": "claude-r", "messages": [{"role": "user", "content": "x"}]}
        answer = http.post("/v1/chat/completions", json={**body, "response_format": fmt})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "response_format.json_schema.schema"
    assert "root is an object" in error["message"]


# -- prompt caching ----------------------------------------------------------------------------

EPHEMERAL = {"type": "ephemeral"}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("client", OPENAI_CLIENTS)
def test_cache_marks_reach_anthropic_and_cache_usage_comes_back(
    tmp_path: Path, client: str, stream: bool
) -> None:
    """cache_control on a system message and a tool is forwarded; reads and writes are reported."""
    ups = upstreams(tool=False)
    tool = {"type": "function", "name": "weather", "parameters": {"type": "object"}}
    if client == "chat":
        body: dict[str, Any] = {
            "model": "claude-r",
            "messages": [
                {"role": "system", "content": "long rules", "cache_control": EPHEMERAL},
                {"role": "user", "content": "hi"},
            ],
            "tools": [{"type": "function", "function": tool, "cache_control": EPHEMERAL}],
            "stream": stream,
            "stream_options": {"include_usage": True} if stream else None,
        }
        path = "/v1/chat/completions"
    else:
        body = {
            "model": "claude-r",
            "input": [
                {"role": "developer", "content": "long rules", "cache_control": EPHEMERAL},
                {"role": "user", "content": "hi"},
            ],
            "tools": [{**tool, "cache_control": EPHEMERAL}],
            "stream": stream,
        }
        path = "/v1/responses"
    with stack(tmp_path, ups) as http:
        answer = http.post(path, json={k: v for k, v in body.items() if v is not None})
    assert answer.status_code == 200, answer.text
    sent = ups.anthropic.requests[-1]
    assert sent["system"] == [{"type": "text", "text": "long rules", "cache_control": EPHEMERAL}]
    assert sent["tools"][0]["cache_control"] == EPHEMERAL
    if client == "chat":
        raw = sse(answer.text)[-1] if stream else answer.json()
        usage = ChatCompletion.model_validate(
            {**_EMPTY_COMPLETION, "usage": raw["usage"]}, strict=True
        ).usage
        assert usage is not None
        assert usage.prompt_tokens_details is not None
        details = usage.prompt_tokens_details
        assert (details.cached_tokens, details.cache_write_tokens) == (3, 5)
        assert usage.prompt_tokens == 12 + 3 + 5
    else:
        if stream:
            events = [_EVENTS.validate_python(e, strict=True) for e in sse(answer.text)]
            response = next(e.response for e in events if e.type == "response.completed")
        else:
            response = Response.model_validate(answer.json(), strict=True)
        assert response.usage is not None
        tokens = response.usage.input_tokens_details
        assert (tokens.cached_tokens, tokens.cache_write_tokens) == (3, 5)


_EMPTY_COMPLETION = {
    "id": "c",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [],
}


def test_prompt_cache_auto_marks_system_and_tools(tmp_path: Path) -> None:
    """A provider with prompt_cache: auto caches every request's system prompt and tools."""
    ups = upstreams(tool=False)
    with serve(ups.anthropic) as an:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            "version: 1\nproviders:\n"
            f"  - {{name: an, kind: anthropic, base_url: '{an}', api_key: '{KEY}',"
            " prompt_cache: auto, models: [{name: claude-r, tools: true}]}\n"
        )
        with run_router(path, health_probes=False) as router:
            body = {
                "model": "claude-r",
                "messages": [
                    {"role": "system", "content": "rules"},
                    {"role": "user", "content": "hi"},
                ],
                "tools": [{"type": "function", "function": {"name": "f"}}],
            }
            assert router.http.post("/v1/chat/completions", json=body).status_code == 200
    sent = ups.anthropic.requests[-1]
    assert sent["system"] == [{"type": "text", "text": "rules", "cache_control": EPHEMERAL}]
    assert sent["tools"][-1]["cache_control"] == EPHEMERAL
    assert "cache_control" not in json.dumps(sent["messages"])


def test_a_malformed_cache_mark_is_a_400_naming_it(tmp_path: Path) -> None:
    with stack(tmp_path, upstreams(tool=False)) as http:
        messages = [{"role": "user", "content": "hi", "cache_control": {"type": "forever"}}]
        answer = http.post("/v1/chat/completions", json={"model": "claude-r", "messages": messages})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "messages[0].cache_control"


# -- parameters a provider cannot honour ------------------------------------------------------


@pytest.mark.parametrize("model", ["qwen3", "claude-r"])
def test_logprobs_from_a_provider_without_them_is_a_400_the_sdk_raises(
    tmp_path: Path, model: str
) -> None:
    ups = upstreams(tool=False)
    with stack(tmp_path, ups) as http:
        client = openai.OpenAI(
            base_url=f"{str(http.base_url).rstrip('/')}/v1", api_key="x", max_retries=0
        )
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}], logprobs=True
            )
    assert caught.value.status_code == 400
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["param"] == "logprobs"
    assert not ups.ollama.requests
    assert not ups.anthropic.requests  # refused before anything was sent


# -- reasoning across turns ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_signed_thinking_goes_back_to_anthropic_and_nowhere_else(
    tmp_path: Path, stream: bool
) -> None:
    """Codex's way (store: false, the whole history each turn): Claude keeps thinking through
    a tool loop because its signed thinking comes back sealed in the reasoning item; an
    OpenAI-compatible provider given the same history never sees it."""
    ups = upstreams(tool=True)
    ups.anthropic.answer_tool_results = True
    tools = [{"type": "function", "name": "weather", "parameters": {"type": "object"}}]
    first = {
        "model": "claude-r",
        "input": [{"role": "user", "content": "weather?"}],
        "tools": tools,
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "stream": stream,
    }
    with stack(tmp_path, ups) as http:
        answer = http.post("/v1/responses", json=first)
        assert answer.status_code == 200, answer.text
        if stream:
            events = [_EVENTS.validate_python(e, strict=True) for e in sse(answer.text)]
            output = next(e.response for e in events if e.type == "response.completed").output
        else:
            output = Response.model_validate(answer.json(), strict=True).output
        assert [item.type for item in output] == ["reasoning", "message", "function_call"]
        items = [item.model_dump(exclude_none=True) for item in output]
        assert items[0]["encrypted_content"]
        history = [
            *first["input"],
            *items,
            {"type": "function_call_output", "call_id": items[2]["call_id"], "output": "sunny"},
        ]
        again = http.post("/v1/responses", json={**first, "input": history})
        assert again.status_code == 200, again.text
        to_openai = http.post("/v1/responses", json={**first, "model": "gpt-r", "input": history})
        assert to_openai.status_code == 200, to_openai.text
    sent = ups.anthropic.requests[-1]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}  # still thinking
    assert [b["type"] for b in sent["messages"][1]["content"]] == [
        "thinking",
        "redacted_thinking",
        "text",
        "tool_use",
    ]
    assert sent["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": THOUGHT,
        "signature": "sig-1",
    }
    assert sent["messages"][1]["content"][1]["data"] == "opaque-secret-bytes"
    openai_sent = json.dumps(ups.openai.requests[-1])
    assert "thinking_blocks" not in openai_sent
    assert "nexus_thinking_blocks" not in openai_sent
    assert "sig-1" not in openai_sent


def test_encrypted_content_nexus_did_not_seal_is_dropped(tmp_path: Path) -> None:
    """OpenAI's own encrypted reasoning means nothing to other providers: dropped cleanly."""
    ups = upstreams(tool=False)
    history = [
        {"role": "user", "content": "hi"},
        {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAAA-openai"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "again"},
    ]
    with stack(tmp_path, ups) as http:
        for model in PROVIDERS.values():
            body = {"model": model, "input": history, "store": False}
            assert http.post("/v1/responses", json=body).status_code == 200
    assert "gAAAA" not in json.dumps(
        [ups.openai.requests, ups.ollama.requests, ups.anthropic.requests]
    )
