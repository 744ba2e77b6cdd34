"""Reading Ollama requests into the internal dialect (pure translation tables)."""

from __future__ import annotations

from typing import Any

import pytest

from router.dialects.ollama.client import (
    chat_body,
    embed_body,
    generate_body,
    reasoning_effort,
    wants_stream,
)
from router.dialects.ollama.wire import image_media_type
from router.errors import RequestInvalid

HI = [{"role": "user", "content": "hi"}]
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
JPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param({"temperature": 0.2}, {"temperature": 0.2}, id="temperature"),
        pytest.param({"top_p": 0.9, "seed": 3}, {"top_p": 0.9, "seed": 3}, id="top_p-seed"),
        pytest.param({"num_predict": 50}, {"max_tokens": 50}, id="num_predict"),
        pytest.param({"num_predict": -1}, {}, id="num_predict-until-done"),
        pytest.param({"num_predict": -2}, {}, id="num_predict-fill-context"),
        pytest.param({"stop": "END"}, {"stop": ["END"]}, id="stop-string"),
        pytest.param({"stop": ["a", "b"]}, {"stop": ["a", "b"]}, id="stop-list"),
        pytest.param({"top_k": 40, "num_ctx": 8192}, {}, id="ollama-only"),
    ],
)
def test_options_become_parameters_the_internal_dialect_has(
    options: dict[str, Any], expected: dict[str, Any]
) -> None:
    chat = chat_body({"model": "m", "messages": HI, "options": options, "stream": False}, "m")
    assert {k: v for k, v in chat.items() if k not in {"model", "messages"}} == expected


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        pytest.param("json", {"type": "json_object"}, id="json"),
        pytest.param(
            {"type": "object"},
            {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": {"type": "object"}},
            },
            id="schema",
        ),
        pytest.param("", None, id="plain"),
    ],
)
def test_format_becomes_a_response_format(fmt: Any, expected: Any) -> None:
    chat = chat_body({"model": "m", "messages": HI, "format": fmt}, "m")
    assert chat.get("response_format") == expected


@pytest.mark.parametrize(
    ("think", "effort"),
    [(True, "medium"), (False, "none"), ("low", "low"), ("high", "high"), (None, None)],
    ids=["true", "false", "low", "high", "absent"],
)
def test_think_becomes_a_reasoning_effort(think: Any, effort: str | None) -> None:
    assert reasoning_effort(think) == effort
    chat = chat_body({"model": "m", "messages": HI, "think": think}, "m")
    assert chat.get("reasoning_effort") == effort


def test_streams_unless_told_not_to_and_then_asks_for_usage() -> None:
    assert wants_stream({}) is True
    assert wants_stream({"stream": False}) is False
    chat = chat_body({"model": "m", "messages": HI}, "m")
    assert chat["stream"] is True
    assert chat["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize(
    ("data", "media_type"),
    [(PNG, "image/png"), (JPEG, "image/jpeg"), ("R0lGODlhAQABAAAAACw=", "image/gif")],
    ids=["png", "jpeg", "gif"],
)
def test_images_become_data_urls_with_their_media_type(data: str, media_type: str) -> None:
    assert image_media_type(data) == media_type
    message = {"role": "user", "content": "see", "images": [data]}
    chat = chat_body({"model": "m", "messages": [message]}, "m")
    assert chat["messages"][0]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}},
    ]


def test_an_image_that_is_not_base64_is_a_400_naming_it() -> None:
    message = {"role": "user", "content": "see", "images": ["not base64!"]}
    with pytest.raises(RequestInvalid) as refused:
        chat_body({"model": "m", "messages": [message]}, "m")
    assert refused.value.param == "messages[0].images[0]"


def test_tool_results_are_tied_to_their_calls_by_tool_name() -> None:
    """Two calls, results in the other order: each takes its own call's id."""
    calls = [
        {"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
        {"function": {"name": "time", "arguments": {}}},
    ]
    messages = [
        *HI,
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "content": "12:00", "tool_name": "time"},
        {"role": "tool", "content": "rain", "tool_name": "weather"},
        {"role": "tool", "content": "orphan"},
    ]
    out = chat_body({"model": "m", "messages": messages}, "m")["messages"]
    assistant = out[1]
    assert assistant["content"] is None
    assert [(c["id"], c["function"]) for c in assistant["tool_calls"]] == [
        ("call_1_0", {"name": "weather", "arguments": '{"city": "Oslo"}'}),
        ("call_1_1", {"name": "time", "arguments": "{}"}),
    ]
    assert [(m["tool_call_id"], m["content"]) for m in out[2:]] == [
        ("call_1_1", "12:00"),
        ("call_1_0", "rain"),
        ("call_4", "orphan"),
    ]


def test_generate_is_a_system_and_a_user_message() -> None:
    chat = generate_body(
        {"model": "m", "prompt": "hi", "system": "brief", "images": [PNG], "stream": False}, "m"
    )
    assert chat["messages"] == [
        {"role": "system", "content": "brief"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "hi"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param({"input": "a"}, {"model": "m", "input": "a"}, id="one"),
        pytest.param({"input": ["a", "b"]}, {"model": "m", "input": ["a", "b"]}, id="many"),
        pytest.param({"prompt": "a"}, {"model": "m", "input": "a"}, id="legacy"),
        pytest.param(
            {"input": "a", "dimensions": 8, "truncate": True, "keep_alive": "1m"},
            {"model": "m", "input": "a", "dimensions": 8},
            id="dimensions",
        ),
    ],
)
def test_embed_bodies(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert embed_body({"model": "m", **body}, "m") == expected


def test_an_empty_input_list_is_a_400() -> None:
    with pytest.raises(RequestInvalid):
        embed_body({"model": "m", "input": []}, "m")
