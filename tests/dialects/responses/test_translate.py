"""Responses <-> Chat Completions translation, both directions."""

from __future__ import annotations

from typing import Any

import pytest

from router.dialects.responses.translate import (
    chat_request,
    input_items,
    output_items,
    response_object,
    status_of,
    usage_of,
)
from router.errors import RequestInvalid


def chat(body: dict[str, Any], *, stream: bool = False) -> dict[str, Any]:
    request, _ = chat_request(
        {"model": "m", **body}, input_items(body.get("input", "")), stream=stream
    )
    return request


@pytest.mark.parametrize(
    ("body", "messages"),
    [
        pytest.param({"input": "hi"}, [{"role": "user", "content": "hi"}], id="string input"),
        pytest.param(
            {"input": "hi", "instructions": "be brief"},
            [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
            id="instructions -> system",
        ),
        pytest.param(
            {"input": [{"role": "developer", "content": "d"}]},
            [{"role": "system", "content": "d"}],
            id="developer -> system",
        ),
        pytest.param(
            {"input": [{"role": "user", "content": [{"type": "text", "text": "seed"}]}]},
            [{"role": "user", "content": "seed"}],
            id="the seed's text parts",
        ),
        pytest.param(
            {
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_text", "text": "see"},
                            {
                                "type": "input_image",
                                "image_url": "data:image/png;base64,AA",
                                "detail": "low",
                            },
                        ],
                    }
                ]
            },
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "see"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,AA", "detail": "low"},
                        },
                    ],
                }
            ],
            id="image parts",
        ),
        pytest.param(
            {
                "input": [
                    {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                    {"type": "function_call", "call_id": "c2", "name": "g", "arguments": '{"a":1}'},
                    {"type": "function_call_output", "call_id": "c1", "output": "one"},
                    {"type": "function_call_output", "call_id": "c2", "output": "two"},
                ]
            },
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        },
                        {
                            "id": "c2",
                            "type": "function",
                            "function": {"name": "g", "arguments": '{"a":1}'},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "one"},
                {"role": "tool", "tool_call_id": "c2", "content": "two"},
            ],
            id="parallel function calls share one assistant turn",
        ),
    ],
)
def test_messages(body: dict[str, Any], messages: list[dict[str, Any]]) -> None:
    assert chat(body)["messages"] == messages


def test_parameters() -> None:
    out = chat(
        {
            "input": "x",
            "max_output_tokens": 5,
            "temperature": 0,
            "top_p": 0.9,
            "tools": [{"type": "function", "name": "f", "parameters": {}, "strict": True}],
            "tool_choice": "required",
            "parallel_tool_calls": False,
            "text": {"format": {"type": "json_object"}},
        },
        stream=True,
    )
    assert out == {
        "model": "m",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 5,
        "temperature": 0,
        "top_p": 0.9,
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {}, "strict": True}}
        ],
        "tool_choice": "required",
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "stream": True,
        "stream_options": {"include_usage": True},
    }


@pytest.mark.parametrize(
    ("given", "param"),
    [
        (42, "input"),
        ([{"role": "robot", "content": "x"}], "input[0].role"),
        ([{"type": "function_call", "name": "f"}], "input[0].call_id"),
        ([{"type": "web_search_call"}], "input[0].type"),
        ([{"role": "user", "content": 7}], "input[0].content"),
    ],
)
def test_invalid_input_names_the_field(given: Any, param: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        input_items(given)
    assert info.value.param == param


def test_unknown_tool_types_are_rejected() -> None:
    with pytest.raises(RequestInvalid, match="'teleport' is not supported") as info:
        chat({"input": "x", "tools": [{"type": "teleport"}]})
    assert info.value.param == "tools[0]"


def test_output_items_and_status() -> None:
    completion = {
        "choices": [
            {
                "finish_reason": "tool_calls",
                "message": {
                    "content": "let me check",
                    "tool_calls": [
                        {
                            "id": "call_9",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 3,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 1},
        },
    }
    items = output_items(completion)
    assert [i["type"] for i in items] == ["message", "function_call"]
    assert items[0]["content"][0] == {
        "type": "output_text",
        "text": "let me check",
        "annotations": [],
        "logprobs": [],
    }
    assert items[1]["call_id"] == "call_9"
    assert usage_of(completion["usage"]) == {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 1, "cache_write_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 7,
    }
    assert status_of("length") == ("incomplete", {"reason": "max_output_tokens"})
    assert status_of("stop") == ("completed", None)


def test_response_object_has_every_required_field() -> None:
    obj = response_object({"model": "m"}, response_id="resp_1", created_at=1, status="completed")
    required = {
        "id",
        "object",
        "created_at",
        "status",
        "error",
        "incomplete_details",
        "instructions",
        "model",
        "output",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "metadata",
        "temperature",
        "top_p",
        "usage",
    }
    assert required <= obj.keys()
    assert (obj["object"], obj["tool_choice"], obj["parallel_tool_calls"]) == (
        "response",
        "auto",
        True,
    )


def test_shapes_a_strict_client_requires() -> None:
    """OpenAI's schema requires annotations on output_text, parameters/strict on function
    tools and cache_write_tokens in input_tokens_details; a strict client rejects less."""
    [item] = input_items([{"role": "assistant", "content": [{"type": "output_text", "text": "x"}]}])
    assert item["content"][0]["annotations"] == []
    obj = response_object(
        {"model": "m", "tools": [{"type": "function", "name": "f"}]},
        response_id="resp_1",
        created_at=1,
        status="completed",
        usage=usage_of({"prompt_tokens": 1, "completion_tokens": 1}),
    )
    assert obj["tools"] == [{"type": "function", "name": "f", "parameters": None, "strict": None}]
    assert obj["usage"]["input_tokens_details"] == {"cached_tokens": 0, "cache_write_tokens": 0}
