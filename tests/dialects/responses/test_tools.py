"""Responses tool types Chat Completions has no word for: custom, namespaces, hosted tools."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from router.dialects.responses.stream import ResponsesStream
from router.dialects.responses.tools import ToolNames, toolset
from router.dialects.responses.translate import chat_request, input_items, output_items
from router.errors import RequestInvalid

PATCH = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch.",
    "format": {"type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch"'},
}
AGENTS = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Agents.",
    "tools": [
        {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}},
        {"type": "custom", "name": "note"},
    ],
}
EXEC = {"type": "function", "name": "exec_command", "parameters": {"type": "object"}}


def test_custom_tools_become_functions_with_one_string_argument() -> None:
    tools = toolset([PATCH])
    [function] = tools.chat
    assert function["function"]["name"] == "apply_patch"
    assert function["function"]["parameters"]["required"] == ["input"]
    # the grammar is not lost: the model reads it in the description
    assert 'start: "*** Begin Patch"' in function["function"]["description"]
    assert "apply_patch" in tools.names.custom


def test_namespaces_are_flattened_and_calls_restored() -> None:
    tools = toolset([EXEC, AGENTS])
    assert [t["function"]["name"] for t in tools.chat] == [
        "exec_command",
        "multi_agent_v1__spawn_agent",
        "multi_agent_v1__note",
    ]
    item = tools.names.call_item("multi_agent_v1__spawn_agent", "call_1", '{"a": 1}')
    assert (item["type"], item["name"], item["namespace"], item["arguments"]) == (
        "function_call",
        "spawn_agent",
        "multi_agent_v1",
        '{"a": 1}',
    )
    note = tools.names.call_item("multi_agent_v1__note", "call_2", '{"input": "hi"}')
    assert (note["type"], note["name"], note["namespace"], note["input"]) == (
        "custom_tool_call",
        "note",
        "multi_agent_v1",
        "hi",
    )


def test_offered_hosted_tools_are_dropped_and_reported() -> None:
    tools = toolset([EXEC, {"type": "web_search"}, {"type": "tool_search", "execution": "client"}])
    assert [t["function"]["name"] for t in tools.chat] == ["exec_command"]
    assert tools.dropped == ("web_search", "tool_search")


def test_a_required_hosted_tool_is_refused() -> None:
    with pytest.raises(RequestInvalid, match="'web_search' tool, which no target can run") as info:
        toolset([{"type": "web_search"}], {"type": "web_search"})
    assert info.value.param == "tool_choice"


@pytest.mark.parametrize(
    ("tools", "param"),
    [
        ([{"type": "namespace", "name": "ns"}], "tools[0]"),
        (
            [{"type": "namespace", "name": "ns", "tools": [{"type": "web_search"}]}],
            "tools[0].tools[0].type",
        ),
        ([{"type": "custom"}], "tools[0].name"),
        ([EXEC, EXEC], "tools[1].name"),
        (
            [
                {"type": "function", "name": "ns__f"},
                {**AGENTS, "name": "ns", "tools": [{"type": "function", "name": "f"}]},
            ],
            "tools[1].tools[0].name",
        ),
    ],
)
def test_bad_tools_name_the_field(tools: list[Any], param: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        toolset(tools)
    assert info.value.param == param


def test_tool_choice_names_a_custom_or_namespaced_tool() -> None:
    body = {
        "model": "m",
        "tools": [PATCH, AGENTS],
        "tool_choice": {"type": "function", "name": "spawn_agent", "namespace": "multi_agent_v1"},
    }
    chat, _ = chat_request(body, input_items("x"), stream=False)
    assert chat["tool_choice"] == {
        "type": "function",
        "function": {"name": "multi_agent_v1__spawn_agent"},
    }
    chat, _ = chat_request(
        {**body, "tool_choice": {"type": "custom", "name": "apply_patch"}},
        input_items("x"),
        stream=False,
    )
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}


def test_custom_and_namespaced_calls_go_back_upstream_as_function_calls() -> None:
    history = input_items(
        [
            {"role": "user", "content": "patch it"},
            {
                "type": "custom_tool_call",
                "call_id": "c1",
                "name": "apply_patch",
                "input": "*** Begin",
            },
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"},
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "spawn_agent",
                "namespace": "multi_agent_v1",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c2", "output": "ok"},
        ]
    )
    chat, _ = chat_request({"model": "m", "tools": [PATCH, AGENTS]}, history, stream=False)
    calls = [m["tool_calls"][0]["function"] for m in chat["messages"] if m.get("tool_calls")]
    assert calls == [
        {"name": "apply_patch", "arguments": '{"input":"*** Begin"}'},
        {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"},
    ]
    assert [m["content"] for m in chat["messages"] if m["role"] == "tool"] == ["done", "ok"]


def _completion(name: str, arguments: str) -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
    return {"choices": [{"finish_reason": "tool_calls", "message": {"tool_calls": [call]}}]}


def test_answers_carry_custom_tool_calls() -> None:
    names = toolset([PATCH]).names
    [item] = output_items(_completion("apply_patch", '{"input": "*** Begin Patch"}'), names)
    assert item["type"] == "custom_tool_call"
    assert (item["call_id"], item["name"], item["input"]) == (
        "call_1",
        "apply_patch",
        "*** Begin Patch",
    )
    # a model that wrote the input bare still gets it through
    [bare] = output_items(_completion("apply_patch", "*** Begin Patch"), names)
    assert bare["input"] == "*** Begin Patch"


def _events(stream: ResponsesStream, chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    raw = b"".join(b"data: " + msgspec.json.encode(c) + b"\n\n" for c in chunks)
    out = stream.start() + stream.feed(raw + b"data: [DONE]\n\n") + stream.finish()
    return [msgspec.json.decode(e.split(b"data: ", 1)[1]) for e in out]


def test_streamed_custom_calls_send_their_input_when_complete() -> None:
    stream = ResponsesStream({"model": "m"}, "resp_1", 1, names=toolset([PATCH, AGENTS]).names)
    first = {"index": 0, "id": "call_1", "function": {"name": "apply_patch", "arguments": '{"inp'}}
    rest = {"index": 0, "function": {"arguments": 'ut": "*** Begin"}'}}
    spawn = {
        "index": 1,
        "id": "call_2",
        "function": {"name": "multi_agent_v1__spawn_agent", "arguments": "{}"},
    }
    chunks = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [first]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [rest]}}]},
        {
            "choices": [
                {"index": 0, "delta": {"tool_calls": [spawn]}, "finish_reason": "tool_calls"}
            ]
        },
    ]
    events = _events(stream, chunks)
    kinds = [e["type"] for e in events]
    assert "response.custom_tool_call_input.delta" in kinds
    done = next(e for e in events if e["type"] == "response.custom_tool_call_input.done")
    assert done["input"] == "*** Begin"
    final = events[-1]["response"]["output"]
    assert [(i["type"], i["name"], i.get("namespace")) for i in final] == [
        ("custom_tool_call", "apply_patch", None),
        ("function_call", "spawn_agent", "multi_agent_v1"),
    ]
    assert final[0]["input"] == "*** Begin"
    assert "arguments" not in final[0]
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["type"] == "custom_tool_call"
    assert added["item"]["input"] == ""


def test_tool_names_without_tools_are_plain_functions() -> None:
    item = ToolNames().call_item("f", "call_1", "{}")
    assert (item["type"], item["name"], "namespace" in item) == ("function_call", "f", False)
