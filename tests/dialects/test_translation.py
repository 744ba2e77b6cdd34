"""Pure translations between OpenAI Chat Completions and the Ollama / Anthropic dialects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.dialects import adapter_for
from router.dialects.base import UpstreamStreamError
from router.dialects.chat.chunks import ResponseContext
from router.errors import RequestInvalid
from router.routing.table import ProviderEntry

CTX = ResponseContext("chatcmpl-1", 1700000000, "m")


def entry(kind: str, base_url: str = "http://up", api_key: str | None = "k") -> ProviderEntry:
    return ProviderEntry(
        id="i",
        name="p",
        kind=kind,
        base_url=base_url,
        api_key=api_key,
        zone="z",
        zone_rank=0,
        enabled=True,
        disabled_reason=None,
        max_concurrency=None,
        timeout_s=5,
        models={},
    )


def sent(
    kind: str, body: dict[str, Any], *, stream: bool = False, base_url: str = "http://up"
) -> tuple[str, dict[str, str], dict[str, Any]]:
    up = adapter_for(kind).chat_request(entry(kind, base_url), "m", body, stream=stream)
    assert up.body is not None
    return up.url, dict(up.headers), json.loads(up.body)


def events(chunks: list[bytes]) -> list[Any]:
    out: list[Any] = []
    for chunk in chunks:
        payload = chunk.decode().removeprefix("data: ").strip()
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


IMG = "data:image/png;base64,iVBORw0KGgo="

# --- request direction ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"messages": [{"role": "user", "content": "hi"}]},
            {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": False},
            id="plain",
        ),
        pytest.param(
            {
                "messages": [{"role": "developer", "content": "rules"}],
                "max_tokens": 9,
                "stop": "END",
                "seed": 1,
            },
            {
                "model": "m",
                "messages": [{"role": "system", "content": "rules"}],
                "stream": False,
                "options": {"num_predict": 9, "stop": ["END"], "seed": 1},
            },
            id="developer->system, options",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "what is this"},
                            {"type": "image_url", "image_url": {"url": IMG}},
                        ],
                    }
                ]
            },
            {
                "model": "m",
                "stream": False,
                "messages": [
                    {"role": "user", "content": "what is this", "images": ["iVBORw0KGgo="]}
                ],
            },
            id="image parts -> images",
        ),
        pytest.param(
            {
                "messages": [{"role": "user", "content": "x"}],
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"schema": {"type": "object"}},
                },
            },
            {
                "model": "m",
                "stream": False,
                "messages": [{"role": "user", "content": "x"}],
                "format": {"type": "object"},
            },
            id="json_schema -> format",
        ),
    ],
)
def test_ollama_request(body: dict[str, Any], expected: dict[str, Any]) -> None:
    url, _, payload = sent("ollama", body)
    assert url == "http://up/api/chat"
    assert payload == expected


def test_ollama_rejects_remote_image_urls() -> None:
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}
                ],
            }
        ]
    }
    with pytest.raises(RequestInvalid, match="base64 data: URLs"):
        sent("ollama", body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {
                "messages": [
                    {"role": "system", "content": "a"},
                    {"role": "developer", "content": "b"},
                    {"role": "user", "content": "hi"},
                ],
                "max_tokens": 10,
                "stop": ["x"],
            },
            {
                "model": "m",
                "max_tokens": 10,
                "system": "a\n\nb",
                "stop_sequences": ["x"],
                "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            },
            id="system prompts to top level",
        ),
        pytest.param(
            {
                "messages": [
                    {"role": "user", "content": "weather?"},
                    {
                        "role": "assistant",
                        "content": None,
                        "tool_calls": [
                            {
                                "id": "c1",
                                "type": "function",
                                "function": {"name": "w", "arguments": '{"city":"Oslo"}'},
                            },
                            {
                                "id": "c2",
                                "type": "function",
                                "function": {"name": "w", "arguments": '{"city":"Rome"}'},
                            },
                        ],
                    },
                    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                    {"role": "tool", "tool_call_id": "c2", "content": "rain"},
                ],
                "tools": [
                    {
                        "type": "function",
                        "function": {"name": "w", "parameters": {"type": "object"}},
                    }
                ],
                "tool_choice": "required",
            },
            {
                "model": "m",
                "max_tokens": 4096,
                "tools": [{"name": "w", "description": "", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any"},
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
                    {
                        "role": "assistant",
                        "content": [
                            {
                                "type": "tool_use",
                                "id": "c1",
                                "name": "w",
                                "input": {"city": "Oslo"},
                            },
                            {
                                "type": "tool_use",
                                "id": "c2",
                                "name": "w",
                                "input": {"city": "Rome"},
                            },
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "c1", "content": "sunny"},
                            {"type": "tool_result", "tool_use_id": "c2", "content": "rain"},
                        ],
                    },
                ],
            },
            id="tool calls and merged tool results",
        ),
        pytest.param(
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image_url", "image_url": {"url": IMG}},
                            {"type": "image_url", "image_url": "https://x/y.png"},
                        ],
                    }
                ]
            },
            {
                "model": "m",
                "max_tokens": 4096,
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "iVBORw0KGgo=",
                                },
                            },
                            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                        ],
                    }
                ],
            },
            id="images",
        ),
    ],
)
def test_anthropic_request(body: dict[str, Any], expected: dict[str, Any]) -> None:
    url, headers, payload = sent("anthropic", body, base_url="https://api.anthropic.com/v1")
    assert url == "https://api.anthropic.com/v1/messages"
    assert headers["x-api-key"] == "k"
    assert headers["anthropic-version"] == "2023-06-01"
    assert payload == expected


def test_openai_request_only_renames_the_model() -> None:
    body = {"model": "public", "messages": [{"role": "user", "content": "hi"}], "n": 2}
    url, headers, payload = sent("openai", body)
    assert url == "http://up/chat/completions"
    assert headers["authorization"] == "Bearer k"
    assert payload == {**body, "model": "m"}


# --- response direction --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
    ],
)
def test_anthropic_stop_reason_mapping(stop_reason: str, finish: str) -> None:
    body = {
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop_reason,
        "usage": {
            "input_tokens": 1,
            "output_tokens": 2,
            "cache_creation_input_tokens": 4,
            "cache_read_input_tokens": 8,
        },
    }
    out = json.loads(adapter_for("anthropic").chat_response(json.dumps(body).encode(), CTX))
    assert out["choices"][0]["finish_reason"] == finish
    assert out["usage"] == {
        "prompt_tokens": 13,
        "completion_tokens": 2,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 4},
    }
    assert (out["id"], out["created"], out["object"]) == (
        "chatcmpl-1",
        1700000000,
        "chat.completion",
    )


@pytest.mark.parametrize(("done_reason", "finish"), [("stop", "stop"), ("length", "length")])
def test_ollama_response(done_reason: str, finish: str) -> None:
    body = {
        "message": {"role": "assistant", "content": "hey"},
        "done": True,
        "done_reason": done_reason,
        "prompt_eval_count": 3,
        "eval_count": 4,
    }
    out = json.loads(adapter_for("ollama").chat_response(json.dumps(body).encode(), CTX))
    assert out["choices"][0]["message"] == {"role": "assistant", "content": "hey"}
    assert out["choices"][0]["finish_reason"] == finish
    assert out["usage"]["total_tokens"] == 7


# --- streams -------------------------------------------------------------------------------


def test_ollama_stream_chunk_sequence() -> None:
    lines = [
        {"message": {"role": "assistant", "content": "He"}, "done": False},
        {"message": {"role": "assistant", "content": "llo"}, "done": False},
        {
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "w", "arguments": {"a": 1}}}],
            },
            "done": False,
        },
        {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 2,
            "eval_count": 3,
        },
    ]
    raw = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    translator = adapter_for("ollama").chat_stream(CTX, include_usage=True)
    chunks = translator.feed(raw[:10]) + translator.feed(raw[10:]) + translator.close()
    out = events(chunks)
    deltas = [o["choices"][0]["delta"] for o in out[:-2]]
    assert deltas[0] == {"role": "assistant", "content": ""}  # as OpenAI's first chunk
    assert deltas[1] == {"content": "He"}
    assert deltas[2] == {"content": "llo"}
    (call,) = deltas[3]["tool_calls"]
    assert call == {
        "index": 0,
        "id": call["id"],
        "type": "function",
        "function": {"arguments": '{"a": 1}', "name": "w"},
    }
    assert call["id"].startswith("call_")
    assert len(call["id"]) > len("call_0")  # unique across turns, not call_0 every time
    assert out[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert out[-2] == {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5},
    }
    assert out[-1] == "[DONE]"


def test_ollama_tool_call_ids_are_unique_across_answers() -> None:
    """Ollama gives calls no ids: call_0 in every turn made clients mix up results."""
    answer = {
        "message": {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"function": {"name": "w", "arguments": {}}}] * 2,
        },
        "done": True,
    }
    ids = [
        call["id"]
        for _ in range(2)
        for call in json.loads(
            adapter_for("ollama").chat_response(json.dumps(answer).encode(), CTX)
        )["choices"][0]["message"]["tool_calls"]
    ]
    assert len(set(ids)) == 4


def test_ollama_stream_cut_short_is_an_error() -> None:
    translator = adapter_for("ollama").chat_stream(CTX, include_usage=False)
    translator.feed(b'{"message": {"content": "x"}, "done": false}\n')
    with pytest.raises(UpstreamStreamError, match="ended before"):
        translator.close()


def test_anthropic_stream_chunk_sequence() -> None:
    def ev(name: str, **data: Any) -> bytes:
        return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode()

    raw = b"".join(
        [
            ev("message_start", message={"usage": {"input_tokens": 5}}),
            ev("content_block_start", index=0, content_block={"type": "text", "text": ""}),
            ev("content_block_delta", index=0, delta={"type": "text_delta", "text": "Hi"}),
            ev("ping"),
            ev("content_block_stop", index=0),
            ev(
                "content_block_start",
                index=1,
                content_block={"type": "tool_use", "id": "t1", "name": "w"},
            ),
            ev(
                "content_block_delta",
                index=1,
                delta={"type": "input_json_delta", "partial_json": '{"a"'},
            ),
            ev(
                "content_block_delta",
                index=1,
                delta={"type": "input_json_delta", "partial_json": ": 1}"},
            ),
            ev("message_delta", delta={"stop_reason": "tool_use"}, usage={"output_tokens": 7}),
            ev("message_stop"),
        ]
    )
    translator = adapter_for("anthropic").chat_stream(CTX, include_usage=True)
    out = events(
        [c for i in range(0, len(raw), 5) for c in translator.feed(raw[i : i + 5])]
        + translator.close()
    )
    deltas = [o["choices"][0]["delta"] for o in out if o != "[DONE]" and o["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0] == {
        "index": 0,
        "id": "t1",
        "type": "function",
        "function": {"arguments": "", "name": "w"},
    }
    args = "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d)
    assert json.loads(args) == {"a": 1}
    assert out[-3]["choices"][0]["finish_reason"] == "tool_calls"
    assert out[-2]["usage"]["completion_tokens"] == 7
    assert out[-1] == "[DONE]"
