"""Chat chunk streams in, Responses events out."""

from __future__ import annotations

import json
from typing import Any

from router.dialects.responses.stream import ResponsesStream


def sse(*chunks: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in chunks) + b"data: [DONE]\n\n"


def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def run(data: bytes) -> tuple[list[dict[str, Any]], ResponsesStream]:
    translator = ResponsesStream({"model": "m"}, "resp_1", 1, clock=lambda: 2.0)
    raw = translator.start()
    for i in range(0, len(data), 7):  # arbitrary splits
        raw += translator.feed(data[i : i + 7])
    raw += translator.finish()
    events = []
    for block in raw:
        head, body = block.decode().split("\n", 1)
        payload = json.loads(body.removeprefix("data: "))
        assert head == f"event: {payload['type']}"
        events.append(payload)
    return events, translator


def test_text_then_tool_call_event_sequence() -> None:
    events, translator = run(
        sse(
            delta({"role": "assistant", "content": ""}),
            delta({"content": "Hel"}),
            delta({"content": "lo"}),
            delta(
                {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "f", "arguments": ""},
                        }
                    ]
                }
            ),
            delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
            delta({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
            delta({}, "tool_calls"),
            {"choices": [], "usage": {"prompt_tokens": 2, "completion_tokens": 3}},
        )
    )
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert final["usage"]["total_tokens"] == 5
    assert final["output"][0]["content"][0]["text"] == "Hello"
    assert final["output"][1]["arguments"] == '{"a":1}'
    assert final["output"][1]["call_id"] == "call_1"
    assert events[13]["item"]["status"] == "completed"
    assert events[9]["output_index"] == 1
    assert translator.final == final


def test_length_finish_is_incomplete() -> None:
    events, _ = run(sse(delta({"content": "cut"}), delta({}, "length")))
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_upstream_error_event_fails_the_response() -> None:
    data = (
        sse(delta({"content": "par"})).replace(b"data: [DONE]\n\n", b"")
        + b'data: {"error": {"message": "Provider \'x\' closed the connection", "code": "upstream_unavailable"}}\n\n'
    )
    events, _ = run(data)
    assert events[-1]["type"] == "response.failed"
    # OpenAI's enum for clients that decode it; our classification beside it
    assert events[-1]["response"]["error"] == {
        "code": "server_error",
        "message": "Provider 'x' closed the connection",
        "nexus_code": "upstream_unavailable",
    }
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "par"
