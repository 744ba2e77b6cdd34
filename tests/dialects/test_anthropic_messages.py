"""The Messages API client dialect: requests to Chat Completions, answers and streams back."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from router.config.model import Tiers
from router.dialects.anthropic.events import MessagesStream
from router.dialects.anthropic.exchange import MessagesExchange
from router.dialects.anthropic.messages import chat_body, reasoning_effort
from router.dialects.anthropic.reply import error_body, message_body, usage_of
from router.dialects.base import UpstreamStreamError
from router.errors import RequestInvalid
from router.routing.table import ModelSpec, ProviderEntry


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        **fields,
    }


@pytest.mark.parametrize(
    ("thinking", "output", "effort"),
    [
        (None, None, None),
        ({"type": "disabled"}, None, None),
        ({"type": "adaptive"}, None, None),
        ({"type": "enabled", "budget_tokens": 1024}, None, "low"),
        ({"type": "enabled", "budget_tokens": 10000}, None, "medium"),
        ({"type": "enabled", "budget_tokens": 32000}, None, "high"),
        ({"type": "enabled"}, None, "medium"),
        ({"type": "adaptive"}, {"effort": "max"}, "high"),
        (None, {"effort": "low"}, "low"),
    ],
)
def test_reasoning_effort(thinking: Any, output: Any, effort: str | None) -> None:
    assert reasoning_effort(thinking, output) == effort


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"system": "be brief"}, {"messages": [{"role": "system", "content": "be brief"}]}),
        (
            {"system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
            {"messages": [{"role": "system", "content": "a\nb"}]},
        ),
        ({"tool_choice": {"type": "any"}, "tools": []}, {}),  # no tools: no tool_choice
        ({"stop_sequences": ["X", "Y"]}, {"stop": ["X", "Y"]}),
        ({"top_k": 5, "metadata": {"user_id": "u"}}, {}),
        ({"thinking": {"type": "enabled", "budget_tokens": 20000}}, {"reasoning_effort": "high"}),
        (
            {"output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}},
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "output", "schema": {"type": "object"}, "strict": True},
                }
            },
        ),
    ],
    ids=[
        "system",
        "system-blocks",
        "choice-without-tools",
        "stop",
        "anthropic-only",
        "thinking",
        "format",
    ],
)
def test_chat_body_fields(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    body = chat_body(_body(**fields), stream=False)
    for key, value in expected.items():
        if key == "messages":
            assert body["messages"][: len(value)] == value
        else:
            assert body[key] == value
    assert not {"metadata", "top_k", "user", "thinking", "system", "output_config"} & set(body)


def test_tool_choices_and_parallel_calls() -> None:
    tools = [{"name": "t", "input_schema": {"type": "object"}}]
    choices = {
        "auto": "auto",
        "any": "required",
        "none": "none",
    }
    for kind, chat in choices.items():
        assert (
            chat_body(_body(tools=tools, tool_choice={"type": kind}), stream=False)["tool_choice"]
            == chat
        )
    named = chat_body(
        _body(
            tools=tools,
            tool_choice={"type": "tool", "name": "t", "disable_parallel_tool_use": True},
        ),
        stream=True,
    )
    assert named["tool_choice"] == {"type": "function", "function": {"name": "t"}}
    assert named["parallel_tool_calls"] is False
    assert named["stream_options"] == {"include_usage": True}


def test_tool_results_come_first_and_carry_their_images() -> None:
    body = _body(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "and?"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": "shot"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/jpeg",
                                    "data": "QQ",
                                },
                            },
                        ],
                    },
                    {"type": "tool_result", "tool_use_id": "t2", "content": "plain"},
                ],
            }
        ]
    )
    assert chat_body(body, stream=False)["messages"] == [
        {"role": "tool", "tool_call_id": "t1", "content": "shot"},
        {"role": "tool", "tool_call_id": "t2", "content": "plain"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "and?"},
                {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QQ"}},
            ],
        },
    ]


def test_documents_become_file_parts_or_text() -> None:
    """A PDF goes as a chat file part (for targets with documents); a text document inline."""
    pdf = {
        "type": "document",
        "title": "r.pdf",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjQK"},
    }
    text = {"type": "document", "title": "notes", "source": {"type": "text", "data": "abc"}}
    body = _body(messages=[{"role": "user", "content": [pdf, text]}])
    assert chat_body(body, stream=False)["messages"][0]["content"] == [
        {
            "type": "file",
            "file": {"filename": "r.pdf", "file_data": "data:application/pdf;base64,JVBERi0xLjQK"},
        },
        {"type": "text", "text": '<file name="notes">\nabc\n</file>'},
    ]


def test_thinking_history_is_not_sent_to_other_models() -> None:
    body = _body(
        messages=[
            {"role": "user", "content": "q"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "redacted_thinking", "data": "xx"},
                    {"type": "text", "text": "a"},
                ],
            },
        ]
    )
    assert chat_body(body, stream=False)["messages"][1] == {"role": "assistant", "content": "a"}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            "tools[0]: Anthropic's server tool 'web_search_20250305' can only be used with "
            "Anthropic models",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}
                ]
            },
            "messages[0].content[0].source: only base64 and url image sources can be sent to "
            "this model",
        ),
        (
            {"messages": [{"role": "assistant", "content": [{"type": "server_tool_use"}]}]},
            "messages[0].content[0]: content blocks of type 'server_tool_use' can only be sent "
            "to Anthropic models",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "document", "source": {"type": "url", "url": "u"}}],
                    }
                ]
            },
            "messages[0].content[0].source: only base64 and text documents can be sent to "
            "this model",
        ),
    ],
    ids=["server-tool", "file-image", "server-block", "url-document"],
)
def test_what_other_models_cannot_take_is_a_400(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        chat_body(_body(**fields), stream=False)
    assert info.value.message == message


def _completion(message: dict[str, Any], finish: str, usage: Any = None) -> bytes:
    body = {"choices": [{"index": 0, "message": message, "finish_reason": finish}]}
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body).encode()


def test_message_body_blocks_stop_reason_and_usage() -> None:
    chat = _completion(
        {
            "role": "assistant",
            "reasoning_content": "think",
            "content": "hello",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
            ],
        },
        "stop",  # some servers end a tool call with "stop"
        {
            "prompt_tokens": 10,
            "completion_tokens": 3,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    )
    message = json.loads(message_body(chat, "claude-x", "msg_1"))
    assert message == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "think", "signature": ""},
            {"type": "text", "text": "hello"},
            {"type": "tool_use", "id": "c1", "name": "f", "input": {"a": 1}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 6, "output_tokens": 3, "cache_read_input_tokens": 4},
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_stop_reasons(finish: str | None, stop: str) -> None:
    chat = _completion({"role": "assistant", "content": "x"}, finish)  # type: ignore[arg-type]
    assert json.loads(message_body(chat, "m", "msg_1"))["stop_reason"] == stop


def test_tool_arguments_that_are_no_object_are_a_malformed_answer() -> None:
    chat = _completion(
        {
            "role": "assistant",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}],
        },
        "tool_calls",
    )
    with pytest.raises(ValueError, match="not a JSON object"):
        message_body(chat, "m", "msg_1")


def _chunk(delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any) -> bytes:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps({"choices": choices, **extra}).encode() + b"\n\n"


def _parse(events: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for event in b"".join(events).decode().strip().split("\n\n"):
        name, data = event.split("\n")
        out.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return out


def test_stream_event_sequence() -> None:
    """Reasoning, text and a tool call become three blocks, in the order the SDKs expect."""
    stream = MessagesStream("claude-x", "msg_1")
    events = stream.feed(_chunk({"role": "assistant", "reasoning_content": "hm"}))
    events += stream.feed(_chunk({"content": "Hi"}) + _chunk({"content": " there"}))
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}
    events += stream.feed(_chunk({"tool_calls": [call]}))
    events += stream.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a"'}}]}))
    events += stream.feed(_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}))
    events += stream.feed(_chunk({}, "tool_calls"))
    events += stream.feed(_chunk(usage={"prompt_tokens": 7, "completion_tokens": 2}))
    events += stream.feed(b"data: [DONE]\n\n")
    assert stream.close() == []
    parsed = _parse(events)
    assert [(name, data.get("index")) for name, data in parsed] == [
        ("message_start", None),
        ("ping", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert parsed[0][1]["message"]["model"] == "claude-x"
    assert parsed[3][1]["delta"] == {"type": "thinking_delta", "thinking": "hm"}
    assert parsed[7][1]["delta"] == {"type": "text_delta", "text": " there"}
    assert parsed[9][1]["content_block"] == {
        "type": "tool_use",
        "id": "c1",
        "name": "f",
        "input": {},
    }
    assert parsed[11][1]["delta"] == {"type": "input_json_delta", "partial_json": ": 1}"}
    assert parsed[13][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 7, "output_tokens": 2},
    }


def test_stream_without_done_ends_at_close_once_finished() -> None:
    stream = MessagesStream("m", "msg_1")
    events = stream.feed(_chunk({"content": "x"}, "length"))
    events += stream.close()
    assert [name for name, _ in _parse(events)][-2:] == ["message_delta", "message_stop"]
    assert _parse(events)[-2][1]["delta"]["stop_reason"] == "max_tokens"


def test_stream_that_breaks_raises() -> None:
    """An error chunk, or an end before any finish, is the provider failing mid-stream."""
    stream = MessagesStream("m", "msg_1")
    stream.feed(_chunk({"content": "x"}))
    with pytest.raises(UpstreamStreamError, match="ended before it finished"):
        stream.close()
    with pytest.raises(UpstreamStreamError, match="boom"):
        MessagesStream("m", "msg_2").feed(_chunk(error={"message": "boom"}))


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (502, "api_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
    ],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    assert error_body(status, "m") == {"type": "error", "error": {"type": kind, "message": "m"}}


def test_usage_without_cache_details() -> None:
    assert usage_of({"prompt_tokens": 5, "completion_tokens": 1}) == {
        "input_tokens": 5,
        "output_tokens": 1,
    }
    assert usage_of(None) == {"input_tokens": 0, "output_tokens": 0}


def test_a_relayed_stream_must_end_with_message_stop() -> None:
    """Passed through untranslated, but a stream cut short still ends in an error event."""
    entry_model = "claude-x"
    exchange = MessagesExchange({"model": "m", "max_tokens": 5, "messages": []}, stream=True)
    relay = exchange.translator(_anthropic_entry(), entry_model)
    text = 'event: content_block_delta\ndata: {"type":"content_block_delta","delta":{"text":"event: message_stop"}}\n\n'
    assert relay.feed(text.encode()) == [text.encode()]
    with pytest.raises(UpstreamStreamError, match="before message_stop"):
        relay.close()
    relay = exchange.translator(_anthropic_entry(), entry_model)
    relay.feed(text.encode() + b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    assert relay.close() == []


def _anthropic_entry() -> ProviderEntry:
    return ProviderEntry(
        id="1",
        name="claude",
        kind="anthropic",
        base_url="http://x",
        api_key=None,
        zone="default",
        zone_rank=0,
        enabled=True,
        disabled_reason=None,
        max_concurrency=None,
        timeout_s=60,
        models={},
    )


def test_reasoning_effort_only_reaches_models_that_reason() -> None:
    """thinking becomes reasoning_effort for a model declared to reason, and nothing elsewhere."""
    body = _body(thinking={"type": "enabled", "budget_tokens": 4000})
    exchange = MessagesExchange(body)
    sent = {}
    for reasoning in (True, False):
        spec = ModelSpec("m", Tiers(), None, False, False, False, reasoning=reasoning)
        entry = attrs.evolve(_anthropic_entry(), kind="openai", models={"m": spec})
        request = exchange.request(entry, "m")
        sent[reasoning] = json.loads(request.body or b"{}")
    assert sent[True]["reasoning_effort"] == "medium"
    assert "reasoning_effort" not in sent[False]
