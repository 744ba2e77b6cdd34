"""The openai SDK (sync, async, streams, Responses, background, Conversations) on every kind."""

from __future__ import annotations

import asyncio
import json

import openai
import pydantic
import pytest
from openai.types.responses import Response

from tests.clients.matrix import API_KEY, REPLIES, Matrix
from tests.conftest import wait_for

pytestmark = pytest.mark.clients

WEATHER = {
    "type": "function",
    "name": "weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


class Person(pydantic.BaseModel):
    name: str


def client(matrix: Matrix) -> openai.OpenAI:
    return openai.OpenAI(base_url=matrix.base_url, api_key=API_KEY)


def test_chat_completion_sync(matrix: Matrix, kind: str, model: str) -> None:
    """A plain chat completion comes back with the provider's text and usage."""
    completion = client(matrix).chat.completions.create(
        model=model, messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == REPLIES[kind]
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.total_tokens > 0


def test_models_list(matrix: Matrix) -> None:
    """models.list names every route a client may ask for."""
    ids = {m.id for m in client(matrix).models.list()}
    assert {"via-openai", "via-ollama", "via-anthropic"} <= ids


@pytest.mark.parametrize("kind", ["openai", "ollama"])  # Anthropic serves no embeddings
def test_embeddings(matrix: Matrix, kind: str, model: str) -> None:
    """embeddings.create returns one vector per input, in order (the SDK asks for base64)."""
    result = client(matrix).embeddings.create(model=model, input=["a", "bb"])
    assert [d.index for d in result.data] == [0, 1]
    assert [d.embedding[0] for d in result.data] == [1.0, 2.0]  # the fakes' vector(): length first


def test_chat_completion_async(matrix: Matrix, kind: str, model: str) -> None:
    """The async client gets the same answer."""

    async def main() -> str | None:
        async with openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY) as aclient:
            completion = await aclient.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "hi"}]
            )
            return completion.choices[0].message.content

    assert asyncio.run(main()) == REPLIES[kind]


def test_chat_stream_with_usage(matrix: Matrix, kind: str, model: str) -> None:
    """A streamed chat completion joins to the text and ends with a usage chunk."""
    stream = client(matrix).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == REPLIES[kind]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None


def test_chat_tool_call_round_trip(matrix: Matrix, kind: str, model: str) -> None:
    """A tool call comes back as tool_calls; its result gets the final answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")
    sdk = client(matrix)
    tools = [
        {
            "type": "function",
            "function": {k: WEATHER[k] for k in ("name", "description", "parameters")},
        }
    ]
    messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Oslo?"}]
    first = sdk.chat.completions.create(model=model, messages=messages, tools=tools)  # type: ignore[arg-type]
    assert first.choices[0].finish_reason == "tool_calls"
    calls = first.choices[0].message.tool_calls or []
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [  # type: ignore[union-attr]
        ("weather", {"city": "Oslo"})
    ]
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny"},
    ]
    final = sdk.chat.completions.create(model=model, messages=messages, tools=tools)  # type: ignore[arg-type]
    assert final.choices[0].message.content == "Sunny in Oslo"


def test_chat_structured_output(matrix: Matrix, model: str) -> None:
    """chat.completions.parse with a pydantic model: json_schema out, parsed object back."""
    matrix.answer('{"name": "Ada"}')
    completion = client(matrix).chat.completions.parse(
        model=model, messages=[{"role": "user", "content": "who?"}], response_format=Person
    )
    assert completion.choices[0].message.parsed == Person(name="Ada")


def test_responses_structured_output(matrix: Matrix, model: str) -> None:
    """responses.parse with text_format: the parsed object back."""
    matrix.answer('{"name": "Ada"}')
    response = client(matrix).responses.parse(model=model, input="who?", text_format=Person)
    assert response.output_parsed == Person(name="Ada")


def test_responses_create(matrix: Matrix, kind: str, model: str) -> None:
    """A Responses call completes with the text as output_text."""
    response = client(matrix).responses.create(model=model, input="hi", instructions="brief")
    assert response.status == "completed"
    assert response.output_text == REPLIES[kind]


def test_responses_stream(matrix: Matrix, kind: str, model: str) -> None:
    """A streamed Responses call yields text deltas and a completed response."""
    with client(matrix).responses.stream(model=model, input="hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas).strip() == REPLIES[kind]
    assert final.status == "completed"
    assert final.output_text.strip() == REPLIES[kind]


def test_responses_multi_turn_previous_response_id(matrix: Matrix, kind: str, model: str) -> None:
    """The second turn, chained by previous_response_id, sends the first turn upstream."""
    sdk = client(matrix)
    first = sdk.responses.create(model=model, input="my name is Ada")
    second = sdk.responses.create(
        model=model, input="what is my name?", previous_response_id=first.id
    )
    assert second.status == "completed"
    assert second.previous_response_id == first.id
    sent = json.dumps(matrix.last_messages(kind))
    assert "my name is Ada" in sent
    assert REPLIES[kind] in sent
    assert "what is my name?" in sent


def test_responses_function_call_round_trip(matrix: Matrix, kind: str, model: str) -> None:
    """function_call out, function_call_output back in (chained), then the answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")
    sdk = client(matrix)
    first = sdk.responses.create(model=model, input="weather in Oslo?", tools=[WEATHER])  # type: ignore[list-item]
    calls = [item for item in first.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("weather", {"city": "Oslo"})]
    second = sdk.responses.create(
        model=model,
        previous_response_id=first.id,
        tools=[WEATHER],  # type: ignore[list-item]
        input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "sunny"}],
    )
    assert second.output_text == "Sunny in Oslo"


def test_background_then_retrieve(matrix: Matrix, kind: str, model: str) -> None:
    """A background response is queued at once and retrieved completed."""
    sdk = client(matrix)
    queued = sdk.responses.create(model=model, input="hi", background=True)
    assert queued.status in {"queued", "in_progress"}

    def completed() -> Response | None:
        response = sdk.responses.retrieve(queued.id)
        return response if response.status == "completed" else None

    done = wait_for(completed, what="the background response")
    # a background response streams from its provider; the fake Ollama's streamed
    # words carry a trailing space its whole answer does not
    assert done.output_text.strip() == REPLIES[kind]


def test_background_stream_and_resume(matrix: Matrix, kind: str, model: str) -> None:
    """A background stream can be dropped and resumed with retrieve(stream=True, starting_after)."""
    sdk = client(matrix)
    stream = sdk.responses.create(model=model, input="hi", background=True, stream=True)
    first = next(iter(stream))
    assert first.type == "response.created"
    response_id, seen = first.response.id, first.sequence_number
    stream.close()  # the client goes away; the background response goes on
    resumed = sdk.responses.retrieve(response_id, stream=True, starting_after=seen)
    events = list(resumed)
    assert all(e.sequence_number > seen for e in events)
    assert events[-1].type == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas).strip() == REPLIES[kind]


def test_conversation_turns(matrix: Matrix, kind: str, model: str) -> None:
    """Two turns on one conversation: the second sees the first; the items are stored."""
    sdk = client(matrix)
    conversation = sdk.conversations.create(metadata={"topic": "matrix"})
    sdk.responses.create(model=model, input="my name is Ada", conversation=conversation.id)
    second = sdk.responses.create(
        model=model, input="what is my name?", conversation=conversation.id
    )
    assert second.output_text == REPLIES[kind]
    assert "my name is Ada" in json.dumps(matrix.last_messages(kind))
    items = list(sdk.conversations.items.list(conversation.id, order="asc"))
    assert [(i.type, getattr(i, "role", None)) for i in items] == [
        ("message", "user"),
        ("message", "assistant"),
        ("message", "user"),
        ("message", "assistant"),
    ]
