"""openai-agents (Responses API by default): Runner with a function tool, streamed, conversations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import openai
import pytest
from agents import (
    Agent,
    ModelSettings,
    OpenAIResponsesModel,
    RunConfig,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from agents.items import ReasoningItem
from openai.types.shared import Reasoning

from tests.clients.matrix import API_KEY, REPLIES, Matrix

pytestmark = pytest.mark.clients

#: Traces go to OpenAI's API by default: never from a test.
NO_TRACES = RunConfig(tracing_disabled=True)


@pytest.fixture(autouse=True, scope="module")
def _no_tracing() -> Iterator[None]:
    set_tracing_disabled(True)
    yield
    set_tracing_disabled(False)


@function_tool
def weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def agent(matrix: Matrix, model: str, settings: ModelSettings | None = None) -> Agent:
    client = openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY)
    return Agent(
        name="matrix",
        instructions="Answer briefly.",
        model=OpenAIResponsesModel(model=model, openai_client=client),
        tools=[weather],
        model_settings=settings or ModelSettings(),
    )


def test_runner_runs_a_function_tool(matrix: Matrix, kind: str, model: str) -> None:
    """The agent calls the tool, sends its result back, and ends with the model's answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="It is sunny in Oslo")
    result = asyncio.run(Runner.run(agent(matrix, model), "weather in Oslo?", run_config=NO_TRACES))
    assert result.final_output == "It is sunny in Oslo"
    sent = json.dumps(matrix.last_messages(kind))
    assert "sunny in Oslo" in sent  # the tool's own output reached the provider


def test_runner_streamed(matrix: Matrix, kind: str, model: str) -> None:
    """run_streamed yields the text deltas and the same final output."""

    async def main() -> tuple[str, object]:
        result = Runner.run_streamed(agent(matrix, model), "hi", run_config=NO_TRACES)
        deltas = []
        async for event in result.stream_events():
            if (
                event.type == "raw_response_event"
                and event.data.type == "response.output_text.delta"
            ):
                deltas.append(event.data.delta)
        return "".join(deltas), result.final_output

    text, final = asyncio.run(main())
    assert text.strip() == REPLIES[kind]  # the Ollama fake streams a space after each word
    assert str(final).strip() == REPLIES[kind]


def test_runner_streamed_with_a_tool(matrix: Matrix, kind: str, model: str) -> None:
    """A streamed run with a tool call round trip ends with the model's answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="It is sunny in Oslo")

    async def main() -> object:
        result = Runner.run_streamed(agent(matrix, model), "weather?", run_config=NO_TRACES)
        async for _ in result.stream_events():
            pass
        return result.final_output

    assert str(asyncio.run(main())).strip() == "It is sunny in Oslo"


def test_runner_multi_turn(matrix: Matrix, kind: str, model: str) -> None:
    """Turn two from to_input_list(), turn three chained by previous_response_id."""

    async def main() -> tuple[object, object]:
        run = agent(matrix, model)
        first = await Runner.run(run, "my name is Ada", run_config=NO_TRACES)
        second = await Runner.run(
            run,
            [*first.to_input_list(), {"role": "user", "content": "what is my name?"}],
            run_config=NO_TRACES,
        )
        third = await Runner.run(
            run, "again?", previous_response_id=second.last_response_id, run_config=NO_TRACES
        )
        return second.final_output, third.final_output

    assert asyncio.run(main()) == (REPLIES[kind], REPLIES[kind])
    sent = json.dumps(matrix.last_messages(kind))
    assert "my name is Ada" in sent
    assert "what is my name?" in sent


def test_runner_on_a_conversation(matrix: Matrix, kind: str, model: str) -> None:
    """With conversation_id the router keeps the history: turn two sees turn one."""

    async def main() -> object:
        async with openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY) as client:
            conversation = await client.conversations.create()
            run = agent(matrix, model)
            await Runner.run(
                run, "my name is Ada", conversation_id=conversation.id, run_config=NO_TRACES
            )
            second = await Runner.run(
                run, "what is my name?", conversation_id=conversation.id, run_config=NO_TRACES
            )
            items = [i async for i in client.conversations.items.list(conversation.id)]
            assert len(items) == 4
            return second.final_output

    assert asyncio.run(main()) == REPLIES[kind]
    assert "my name is Ada" in json.dumps(matrix.last_messages(kind))


THOUGHT = "Oslo is in Norway so I check its weather"
#: What a reasoning effort of "low" becomes in each provider's own request.
LOW_EFFORT = {
    "openai": ("reasoning_effort", "low"),
    "ollama": ("think", "low"),
    "anthropic": ("thinking", {"type": "enabled", "budget_tokens": 2048}),
}


def test_runner_streams_the_models_thinking_through_a_tool_loop(
    matrix: Matrix, kind: str, model: str
) -> None:
    """Reasoning summaries stream as events, arrive as reasoning items, and go back next turn."""
    matrix.think(THOUGHT)
    matrix.call_tool("weather", {"city": "Oslo"}, then="It is sunny in Oslo")
    thinking = agent(
        matrix, model, ModelSettings(reasoning=Reasoning(effort="low", summary="auto"))
    )

    async def main() -> tuple[str, object, list[ReasoningItem], object]:
        result = Runner.run_streamed(thinking, "weather in Oslo?", run_config=NO_TRACES)
        deltas = []
        async for event in result.stream_events():
            if (
                event.type == "raw_response_event"
                and event.data.type == "response.reasoning_summary_text.delta"
            ):
                deltas.append(event.data.delta)
        items = [i for i in result.new_items if isinstance(i, ReasoningItem)]
        again = await Runner.run(
            thinking,
            [*result.to_input_list(), {"role": "user", "content": "and tomorrow?"}],
            run_config=NO_TRACES,
        )
        return "".join(deltas), result.final_output, items, again.final_output

    deltas, final, items, again = asyncio.run(main())
    assert str(final).strip() == "It is sunny in Oslo"
    assert str(again).strip() == "It is sunny in Oslo"
    # Both calls of the tool loop thought: once before the call, once before the answer.
    assert [" ".join(s.text for s in i.raw_item.summary).strip() for i in items] == [THOUGHT] * 2
    assert deltas.replace("  ", " ").count(THOUGHT) == 2
    key, value = LOW_EFFORT[kind]
    assert matrix.requests(kind)[0][key] == value
