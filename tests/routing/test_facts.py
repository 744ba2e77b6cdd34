"""Request facts derived from Chat Completions, Responses and Messages API bodies."""

from __future__ import annotations

from typing import Any

import pytest

from router.config.model import Preference
from router.routing.facts import (
    chat_facts,
    messages_facts,
    preference_from_headers,
    responses_facts,
)

U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}
S = {"role": "system", "content": "be brief"}


@pytest.mark.parametrize(
    ("messages", "history", "counted"),
    [
        pytest.param([U], False, 1, id="one user message is fresh"),
        pytest.param([S, U], False, 1, id="a system prompt is not history"),
        pytest.param([U, A, U], True, 3, id="assistant turn is history"),
        pytest.param([U, U], True, 2, id="two user messages are history"),
        pytest.param(
            [U, {"role": "tool", "tool_call_id": "c", "content": "42"}],
            True,
            2,
            id="tool result is history",
        ),
    ],
)
def test_chat_history(messages: list[dict[str, Any]], history: bool, counted: int) -> None:
    facts = chat_facts({"model": "m", "messages": messages}, {})
    assert (facts.has_history, facts.conversation_messages) == (history, counted)


def test_chat_needs() -> None:
    image = {
        "role": "user",
        "content": [
            {"type": "text", "text": "x" * 400},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        ],
    }
    facts = chat_facts(
        {"model": "m", "messages": [image], "tools": [{"type": "function"}], "max_tokens": 1000}, {}
    )
    assert facts.needs_vision
    assert facts.needs_tools
    assert facts.context_tokens == 100 + 1000


@pytest.mark.parametrize(
    ("body", "prior", "history"),
    [
        pytest.param({"input": "hi"}, [], False, id="string input is fresh"),
        pytest.param(
            {"input": "hi", "previous_response_id": "resp_1"},
            [],
            True,
            id="previous_response_id is history",
        ),
        pytest.param(
            {"input": [{"type": "function_call_output", "call_id": "c", "output": "1"}]},
            [],
            True,
            id="function_call_output is history",
        ),
        pytest.param({"input": "hi"}, [U], True, id="conversation items are history"),
        pytest.param(
            {"input": [{"role": "user", "content": [{"type": "input_text", "text": "x"}]}]},
            [],
            False,
            id="one user item is fresh",
        ),
    ],
)
def test_responses_history(
    body: dict[str, Any], prior: list[dict[str, Any]], history: bool
) -> None:
    assert responses_facts({"model": "m", **body}, {}, prior_items=prior).has_history is history


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, None),
        ({"x-nexus-strict": ""}, Preference.STRICT),
        ({"x-nexus-flexible": "true"}, Preference.FLEXIBLE),
        ({"x-nexus-flexible": "TRUE "}, Preference.FLEXIBLE),
        ({"x-nexus-flexible": "yes"}, None),
        ({"x-nexus-strict": "1", "x-nexus-flexible": "true"}, Preference.STRICT),
    ],
)
def test_preference_headers(headers: dict[str, str], expected: Preference | None) -> None:
    assert preference_from_headers(headers) is expected


RESULT = {
    "role": "user",
    "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}],
}


@pytest.mark.parametrize(
    ("messages", "history"),
    [
        pytest.param([U], False, id="one user turn is fresh"),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                }
            ],
            False,
            id="one user turn of several blocks is fresh",
        ),
        pytest.param([U, A, U], True, id="an assistant turn is history"),
        pytest.param([U, U], True, id="two user turns are history"),
        pytest.param([RESULT], True, id="a tool result is history"),
        pytest.param([U, A], True, id="a prefilled assistant turn is history"),
    ],
)
def test_messages_history(messages: list[dict[str, Any]], history: bool) -> None:
    facts = messages_facts({"model": "m", "max_tokens": 1, "messages": messages}, {})
    assert facts.has_history is history


def test_messages_needs_and_estimate() -> None:
    """Images, tools, and an estimate counting system, tools and the max_tokens budget."""
    image = {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}
    body = {
        "model": "m",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "s" * 40}],
        "messages": [{"role": "user", "content": [image, {"type": "text", "text": "t" * 400}]}],
        "tools": [{"name": "f", "description": "d" * 20, "input_schema": {}}],
    }
    facts = messages_facts(body, {"x-nexus-strict": "1"})
    assert facts.needs_vision
    assert facts.needs_tools
    assert facts.context_tokens == (40 + 400 + 20 + 2) // 4 + 100
    assert facts.preference is Preference.STRICT


def test_messages_documents() -> None:
    """A PDF needs a target that reads documents; a text document is counted as text."""
    pdf = {"type": "document", "source": {"type": "base64", "media_type": "application/pdf"}}
    text = {"type": "document", "source": {"type": "text", "data": "x" * 80}}
    result = {"type": "tool_result", "tool_use_id": "t", "content": [pdf]}
    for content, documents in (([pdf], True), ([text], False), ([result], True)):
        body = {"model": "m", "max_tokens": 0, "messages": [{"role": "user", "content": content}]}
        facts = messages_facts(body, {})
        assert facts.needs_documents is documents
    assert (
        messages_facts(
            {"model": "m", "messages": [{"role": "user", "content": [text]}]}, {}
        ).context_tokens
        == 20
    )
