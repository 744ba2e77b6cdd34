"""A reasoning effort becomes each provider dialect's own control, and only for models that think."""

from __future__ import annotations

import json
import typing
from typing import Any

import attrs
import pytest

from router.config.model import Tiers
from router.dialects import adapter_for
from router.dialects.anthropic.provider import DEFAULT_MAX_TOKENS
from router.dialects.chat.chunks import ResponseContext
from router.dialects.chat.openai import ReasoningStream, with_reasoning_content
from router.dialects.chat.reasoning import EFFORTS
from router.dialects.requests import ChatRequest, Effort, ResponsesRequest, check
from router.dialects.responses.translate import chat_request, response_object
from router.errors import RequestInvalid
from router.routing.table import ModelSpec
from tests.dialects.test_translation import entry

HI = [{"role": "user", "content": "hi"}]


def sent(kind: str, body: dict[str, Any], *, thinks: bool = True) -> dict[str, Any]:
    """The body a provider of `kind` receives for model ``m`` (declared reasoning or not)."""
    spec = ModelSpec("m", Tiers(), None, False, True, False, reasoning=thinks)
    provider = attrs.evolve(entry(kind), models={"m": spec})
    up = adapter_for(kind).chat_request(provider, "m", {"messages": HI, **body}, stream=False)
    assert up.body is not None
    result: dict[str, Any] = json.loads(up.body)
    return result


@pytest.mark.parametrize(
    ("effort", "think"),
    [
        ("none", False),
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
    ],
)
def test_ollama_think_follows_the_effort(effort: str, think: bool | str) -> None:
    assert sent("ollama", {"reasoning_effort": effort})["think"] == think


@pytest.mark.parametrize("kind", ["openai", "ollama", "anthropic"])
def test_a_model_that_does_not_think_gets_no_reasoning_control(kind: str) -> None:
    body = sent(kind, {"reasoning_effort": "high"}, thinks=False)
    assert not {"reasoning_effort", "think", "thinking"} & body.keys()


def test_openai_kind_passes_the_effort_through_for_a_reasoning_model() -> None:
    assert sent("openai", {"reasoning_effort": "minimal"})["reasoning_effort"] == "minimal"


def test_no_effort_sends_no_control() -> None:
    assert "think" not in sent("ollama", {})
    assert "thinking" not in sent("anthropic", {})


@pytest.mark.parametrize(
    ("body", "thinking", "max_tokens"),
    [
        pytest.param(
            {"reasoning_effort": "medium"},
            {"type": "enabled", "budget_tokens": 8192},
            8192 + DEFAULT_MAX_TOKENS,
            id="no-limit-keeps-room-after-the-budget",
        ),
        pytest.param(
            {"reasoning_effort": "high", "max_completion_tokens": 5000},
            {"type": "enabled", "budget_tokens": 4999},
            5000,
            id="the-client-limit-holds",
        ),
        pytest.param(
            {"reasoning_effort": "low", "max_tokens": 1000},
            None,
            1000,
            id="too-small-to-think",
        ),
        pytest.param({"reasoning_effort": "none"}, None, DEFAULT_MAX_TOKENS, id="none"),
        pytest.param(
            {"reasoning_effort": "low", "tool_choice": "required", "tools": [{"function": {}}]},
            None,
            DEFAULT_MAX_TOKENS,
            id="forced-tool-use-wins",
        ),
    ],
)
def test_anthropic_thinking_budget(
    body: dict[str, Any], thinking: dict[str, Any] | None, max_tokens: int
) -> None:
    out = sent("anthropic", body)
    assert out.get("thinking") == thinking
    assert out["max_tokens"] == max_tokens


def test_anthropic_thinking_drops_sampling_changes_it_refuses() -> None:
    out = sent("anthropic", {"reasoning_effort": "low", "temperature": 0.2, "top_p": 0.5})
    assert "thinking" in out
    assert not {"temperature", "top_p"} & out.keys()


def test_anthropic_tool_loop_without_signed_thinking_is_answered_without_thinking() -> None:
    """A Chat client's tool loop has no signed thinking block, which Anthropic would refuse."""
    messages = [
        *HI,
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "unsigned thoughts",
            "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f"}}],
        },
        {"role": "tool", "tool_call_id": "t1", "content": "42"},
    ]
    out = sent("anthropic", {"reasoning_effort": "low", "messages": messages})
    assert "thinking" not in out
    assert [b["type"] for b in out["messages"][1]["content"]] == ["tool_use"]


def test_ollama_takes_earlier_thinking_back_as_history() -> None:
    messages = [*HI, {"role": "assistant", "content": "hello", "reasoning_content": "be nice"}]
    out = sent("ollama", {"messages": messages})
    assert out["messages"][1] == {"role": "assistant", "content": "hello", "thinking": "be nice"}


# -- answers: the other name some servers use ------------------------------------------------


def test_reasoning_field_is_also_given_as_reasoning_content() -> None:
    body = {"choices": [{"index": 0, "message": {"content": "4", "reasoning": "2+2"}}]}
    out = json.loads(with_reasoning_content(json.dumps(body).encode()))
    assert out["choices"][0]["message"]["reasoning_content"] == "2+2"


def test_answers_without_reasoning_pass_through_as_the_same_bytes() -> None:
    data = b'{"choices":[{"message":{"content":"the \\"reasoning\\": is quoted"}}]}'
    assert with_reasoning_content(data) is data


def test_stream_chunks_with_reasoning_get_reasoning_content() -> None:
    chunk = {"choices": [{"index": 0, "delta": {"reasoning": "hm"}}]}
    stream = ReasoningStream()
    out = b"".join(stream.feed(b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n"))
    first = json.loads(out.split(b"\n\n")[0].removeprefix(b"data: "))
    assert first["choices"][0]["delta"] == {"reasoning": "hm", "reasoning_content": "hm"}
    assert out.endswith(b"data: [DONE]\n\n")


# -- the Responses API's reasoning parameter ------------------------------------------------


def test_responses_reasoning_effort_becomes_chat_reasoning_effort_and_is_echoed() -> None:
    body = {"model": "m", "input": "hi", "reasoning": {"effort": "high", "summary": "auto"}}
    assert chat_request(body, [], stream=False)[0]["reasoning_effort"] == "high"
    echoed = response_object(body, response_id="resp_1", created_at=1, status="completed")
    assert echoed["reasoning"] == {"effort": "high", "summary": "auto"}


def test_thinking_block_text_and_redacted_thinking_from_anthropic() -> None:
    body = {
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "hi"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    ctx = ResponseContext("chatcmpl-1", 1, "m")
    out = json.loads(adapter_for("anthropic").chat_response(json.dumps(body).encode(), ctx))
    message = out["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("hmm", "hi")
    # Signed and redacted thinking is kept, opaque, to go back to Anthropic next turn.
    assert message["thinking_blocks"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "s"},
        {"type": "redacted_thinking", "data": "opaque"},
    ]


def test_the_efforts_requests_accept_are_the_ones_mapped() -> None:
    assert typing.get_args(Effort) == EFFORTS


@pytest.mark.parametrize(
    ("body", "shape", "param"),
    [
        (
            {"model": "m", "messages": HI, "reasoning_effort": "max"},
            ChatRequest,
            "reasoning_effort",
        ),
        (
            {"model": "m", "input": "x", "reasoning": {"effort": "max"}},
            ResponsesRequest,
            "reasoning.effort",
        ),
        (
            {"model": "m", "input": "x", "reasoning": {"summary": "long"}},
            ResponsesRequest,
            "reasoning.summary",
        ),
    ],
)
def test_an_unknown_effort_is_a_400_naming_it(
    body: dict[str, Any], shape: type, param: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        check(body, shape)
    assert caught.value.param == param
