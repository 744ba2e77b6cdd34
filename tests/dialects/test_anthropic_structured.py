"""A structured-output request becomes one forced tool call on the Messages API, and back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.dialects import adapter_for
from router.dialects.anthropic.structured import ANSWER_TOOL
from router.dialects.chat.chunks import ResponseContext
from tests.dialects.test_reasoning import sent

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}}
FORMAT = {"type": "json_schema", "json_schema": {"name": "count", "schema": SCHEMA}}
TOOL = {"type": "function", "function": {"name": "look", "parameters": SCHEMA}}


@pytest.mark.parametrize(
    ("body", "choice"),
    [
        pytest.param({}, {"type": "tool", "name": ANSWER_TOOL}, id="alone-forced"),
        pytest.param({"tools": [TOOL]}, {"type": "any"}, id="with-client-tools-any"),
        pytest.param(
            {"tools": [TOOL], "tool_choice": "none"},
            {"type": "tool", "name": ANSWER_TOOL},
            id="client-tools-off",
        ),
        pytest.param(
            {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "look"}}},
            {"type": "tool", "name": "look"},
            id="client-forces-its-own",
        ),
    ],
)
def test_the_answer_tool_and_its_choice(body: dict[str, Any], choice: dict[str, Any]) -> None:
    out = sent("anthropic", {"response_format": FORMAT, **body})
    assert out["tool_choice"] == choice
    assert out["tools"][-1] == {
        "name": ANSWER_TOOL,
        "description": "Give your whole answer as one count object.",
        "input_schema": SCHEMA,
    }


def test_json_object_asks_for_any_object() -> None:
    out = sent("anthropic", {"response_format": {"type": "json_object"}})
    assert out["tools"] == [
        {
            "name": ANSWER_TOOL,
            "description": "Give your whole answer as one JSON object.",
            "input_schema": {"type": "object"},
        }
    ]


def test_text_format_adds_no_tool() -> None:
    assert "tools" not in sent("anthropic", {"response_format": {"type": "text"}})


def test_the_answer_call_is_content_and_other_calls_stay_tool_calls() -> None:
    body = {
        "content": [
            {"type": "tool_use", "id": "t1", "name": "look", "input": {"q": 1}},
            {"type": "tool_use", "id": "t2", "name": ANSWER_TOOL, "input": {"n": 3}},
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    ctx = ResponseContext("chatcmpl-1", 1, "m")
    out = json.loads(adapter_for("anthropic").chat_response(json.dumps(body).encode(), ctx))
    choice = out["choices"][0]
    assert json.loads(choice["message"]["content"]) == {"n": 3}
    assert [c["function"]["name"] for c in choice["message"]["tool_calls"]] == ["look"]
    assert choice["finish_reason"] == "tool_calls"
