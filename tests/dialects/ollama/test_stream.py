"""Ollama NDJSON streams: translated from chat chunks, relayed from Ollama, fed in any pieces."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.dialects.base import UpstreamStreamError
from router.dialects.chat.chunks import ChunkWriter, ResponseContext
from router.dialects.framing import SsePassThrough, StreamFramingError
from router.dialects.ollama.answers import Writer, whole_answer
from router.dialects.ollama.stream import ChatToNdjson, NdjsonPassThrough


class Clock:
    """Nanoseconds that advance 1 ms per reading."""

    def __init__(self) -> None:
        self.now = 0

    def __call__(self) -> int:
        self.now += 1_000_000
        return self.now


def writer(endpoint: Any = "chat") -> Writer:
    return Writer("pub", endpoint, 0, clock_ns=Clock(), wall=lambda: 0.0)


def chat_events(*deltas: dict[str, Any], finish: str = "stop", usage: bool = True) -> bytes:
    """What an adapter's translator emits (our internal dialect), via the real ChunkWriter."""
    chunks = ChunkWriter(ResponseContext("id", 1, "m"), include_usage=usage)
    out = chunks.start()
    for delta in deltas:
        if "tool" in delta:
            index, call_id, name, args = delta["tool"]
            out += chunks.tool_call(index, call_id, name, args)
        else:
            out += chunks.content(delta["content"])
    usage_body = {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6}
    out += chunks.finish(finish, usage_body)
    return b"".join(out)


def feed(translator: Any, data: bytes, size: int) -> list[dict[str, Any]]:
    out: list[bytes] = []
    for i in range(0, len(data), size):
        out += translator.feed(data[i : i + size])
    out += translator.close()
    raw = b"".join(out)
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.splitlines()]


@pytest.mark.parametrize("size", [1, 5, 64, 100_000], ids=lambda n: f"{n}-byte pieces")
def test_chat_chunks_become_ndjson_lines_whatever_the_pieces(size: int) -> None:
    data = chat_events({"content": "Hel"}, {"content": "lo"})
    lines = feed(ChatToNdjson(SsePassThrough(), writer()), data, size)
    assert [line["message"]["content"] for line in lines] == ["Hel", "lo", ""]
    assert [line["done"] for line in lines] == [False, False, True]
    final = lines[-1]
    assert final["done_reason"] == "stop"
    assert (final["prompt_eval_count"], final["eval_count"]) == (4, 2)
    assert final["total_duration"] > 0
    assert final["eval_duration"] > 0
    assert final["model"] == "pub"


def test_tool_calls_in_pieces_go_out_whole_with_object_arguments() -> None:
    data = chat_events(
        {"tool": (0, "call_a", "weather", '{"ci')},
        {"tool": (0, None, None, 'ty": "Oslo"}')},
        {"tool": (1, "call_b", "time", "")},
        finish="tool_calls",
    )
    lines = feed(ChatToNdjson(SsePassThrough(), writer()), data, 7)
    calls = [c for line in lines for c in line["message"].get("tool_calls", [])]
    assert calls == [
        {"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
        {"function": {"name": "time", "arguments": {}}},
    ]
    assert lines[-1]["done_reason"] == "stop"  # Ollama says stop after a tool call


def test_generate_lines_carry_response_and_thinking() -> None:
    data = (
        b'data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{"content":"ok"}}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}\n\n'
        b"data: [DONE]\n\n"
    )
    lines = feed(ChatToNdjson(SsePassThrough(), writer("generate")), data, 3)
    assert lines[0] == {
        "model": "pub",
        "created_at": "1970-01-01T00:00:00.000000Z",
        "response": "",
        "thinking": "hmm",
        "done": False,
    }
    assert lines[1]["response"] == "ok"
    assert lines[-1]["done_reason"] == "length"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(
            b'data: {"error":{"message":"overloaded"}}\n\n', "overloaded", id="error-event"
        ),
        pytest.param(
            b'data: {"choices":[{"index":0,"delta":{"content":"a"}}]}\n\n',
            "ended before the model finished",
            id="cut-short",
        ),
        pytest.param(b"data: [DONE]\n\n", "ended before the model finished", id="done-first"),
    ],
)
def test_a_broken_chat_stream_is_an_upstream_stream_error(data: bytes, says: str) -> None:
    translator = ChatToNdjson(SsePassThrough(), writer())
    with pytest.raises(UpstreamStreamError, match=says):
        translator.feed(data) + translator.close()


def test_an_html_page_is_no_stream() -> None:
    with pytest.raises(StreamFramingError):
        ChatToNdjson(SsePassThrough(), writer()).feed(b"<html>\n\n")


OLLAMA = (
    b'{"model":"llama3","message":{"role":"assistant","content":"Hi"},"done":false}\n'
    b'{"model":"llama3","message":{"role":"assistant","content":""},"done":true}\n'
)


@pytest.mark.parametrize("size", [1, 4, 50, len(OLLAMA)], ids=lambda n: f"{n}-byte pieces")
def test_ollama_ndjson_passes_through_as_whole_lines(size: int) -> None:
    relay = NdjsonPassThrough()
    out: list[bytes] = []
    for i in range(0, len(OLLAMA), size):
        out += relay.feed(OLLAMA[i : i + size])
    out += relay.close()
    assert b"".join(out) == OLLAMA
    assert all(piece.endswith(b"\n") for piece in out)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        pytest.param(b'{"error":"model not loaded"}\n', "model not loaded", id="error-first"),
        pytest.param(b"<html>oops</html>\n", "not an NDJSON stream", id="html"),
        pytest.param(b"[1,2]\n", "stream of objects", id="not-objects"),
        pytest.param(OLLAMA.splitlines(keepends=True)[0], "before its final", id="cut-short"),
        pytest.param(b"", "before its final", id="empty"),
    ],
)
def test_a_broken_ollama_stream_is_an_upstream_stream_error(data: bytes, says: str) -> None:
    relay = NdjsonPassThrough()
    with pytest.raises(UpstreamStreamError, match=says):
        relay.feed(data) + relay.close()


def test_a_whole_completion_becomes_ollamas_final_object() -> None:
    completion = json.dumps(
        {
            "choices": [
                {
                    "message": {
                        "content": None,
                        "reasoning_content": "think",
                        "tool_calls": [
                            {"id": "c", "function": {"name": "f", "arguments": '{"x": 1}'}}
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
        }
    ).encode()
    body, usage = whole_answer(completion, writer())
    answer = json.loads(body)
    assert answer["message"] == {
        "role": "assistant",
        "content": "",
        "thinking": "think",
        "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}],
    }
    assert answer["done"] is True
    assert (answer["prompt_eval_count"], answer["eval_count"]) == (3, 1)
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 1)


@pytest.mark.parametrize(
    "completion",
    [
        b"[1,2]",
        b'{"choices":[]}',
        b'{"choices":[{"message":{"tool_calls":[{"function":{"arguments":"{nope"}}]}}]}',
    ],
    ids=["not-an-object", "no-choices", "bad-arguments"],
)
def test_a_malformed_completion_is_a_value_error(completion: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):  # msgspec's or ours: the dispatcher's 502
        whole_answer(completion, writer())
