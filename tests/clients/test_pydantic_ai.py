"""pydantic-ai's Agent with the OpenAI provider pointed at the router (Chat and Responses models)."""

from __future__ import annotations

import asyncio

import pytest
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel
from pydantic_ai.providers.openai import OpenAIProvider

from tests.clients.matrix import API_KEY, REPLIES, Matrix

pytestmark = pytest.mark.clients

API = pytest.mark.parametrize("responses", [False, True], ids=["chat", "responses"])


def agent(matrix: Matrix, model: str, responses: bool) -> Agent[None, str]:
    provider = OpenAIProvider(base_url=matrix.base_url, api_key=API_KEY)
    llm = (
        OpenAIResponsesModel(model, provider=provider)
        if responses
        else OpenAIChatModel(model, provider=provider)
    )
    run: Agent[None, str] = Agent(llm, instructions="Answer briefly.")

    @run.tool_plain
    def weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    return run


@API
def test_run_sync(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """run_sync returns the provider's text."""
    result = agent(matrix, model, responses).run_sync("hi")
    assert result.output == REPLIES[kind]


@API
def test_multi_turn(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """message_history carries turn one into turn two."""
    run = agent(matrix, model, responses)
    first = run.run_sync("my name is Ada")
    second = run.run_sync("what is my name?", message_history=first.all_messages())
    assert second.output == REPLIES[kind]
    assert "my name is Ada" in str(matrix.last_messages(kind))


@API
def test_tool_round_trip(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """The agent runs its tool and returns the model's answer to the tool's result."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")
    result = agent(matrix, model, responses).run_sync("weather in Oslo?")
    assert result.output == "Sunny in Oslo"
    assert "sunny in Oslo" in str(matrix.last_messages(kind))


@API
def test_run_stream(matrix: Matrix, kind: str, model: str, responses: bool) -> None:
    """run_stream's text joins to the provider's text."""

    async def main() -> str:
        async with agent(matrix, model, responses).run_stream("hi") as result:
            return "".join([delta async for delta in result.stream_text(delta=True)])

    assert asyncio.run(main()).strip() == REPLIES[kind]
