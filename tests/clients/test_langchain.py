"""langchain-openai's ChatOpenAI: Chat Completions and `use_responses_api=True`, plain and tools."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.clients.matrix import API_KEY, REPLIES, Matrix

pytestmark = pytest.mark.clients

API = pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])


@tool
def weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def chat(matrix: Matrix, model: str, responses: bool) -> ChatOpenAI:
    return ChatOpenAI(
        model=model,
        base_url=matrix.base_url,
        api_key=API_KEY,  # type: ignore[arg-type]
        use_responses_api=responses,
    )


@API
def test_invoke(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """invoke() returns the provider's text."""
    answer = chat(matrix, model, responses).invoke("hi")
    assert answer.text == REPLIES[kind]


@API
def test_stream(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """stream() joins to the provider's text."""
    text = "".join(chunk.text for chunk in chat(matrix, model, responses).stream("hi"))
    assert text.strip() == REPLIES[kind]


@API
def test_tool_call_round_trip(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """bind_tools: the call comes back as tool_calls, its ToolMessage gets the answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")
    bound = chat(matrix, model, responses).bind_tools([weather])
    history: list[HumanMessage | AIMessage | ToolMessage] = [HumanMessage("weather in Oslo?")]
    first = bound.invoke(history)
    assert isinstance(first, AIMessage)
    assert [(c["name"], c["args"]) for c in first.tool_calls] == [("weather", {"city": "Oslo"})]
    call = first.tool_calls[0]
    history += [first, ToolMessage(weather.invoke(call["args"]), tool_call_id=call["id"])]
    assert bound.invoke(history).text == "Sunny in Oslo"


@API
def test_multi_turn(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """The answer goes back as history (with its item ids on Responses); turn two sees turn one."""
    llm = chat(matrix, model, responses)
    history: list[HumanMessage | AIMessage] = [HumanMessage("my name is Ada")]
    first = llm.invoke(history)
    assert isinstance(first, AIMessage)
    history += [first, HumanMessage("what is my name?")]
    assert llm.invoke(history).text == REPLIES[kind]
    sent = str(matrix.last_messages(kind))
    assert "my name is Ada" in sent
    assert REPLIES[kind] in sent


def test_use_previous_response_id(matrix: Matrix, kind: str, model: str) -> None:
    """use_previous_response_id: only the new message is sent; the router adds the chain."""
    llm = ChatOpenAI(
        model=model,
        base_url=matrix.base_url,
        api_key=API_KEY,  # type: ignore[arg-type]
        use_responses_api=True,
        use_previous_response_id=True,
    )
    history: list[HumanMessage | AIMessage] = [HumanMessage("my name is Ada")]
    first = llm.invoke(history)
    assert isinstance(first, AIMessage)
    history += [first, HumanMessage("what is my name?")]
    assert llm.invoke(history).text == REPLIES[kind]
    assert "my name is Ada" in str(matrix.last_messages(kind))
