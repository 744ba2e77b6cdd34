"""litellm as a client (the SDK, not its proxy) of our OpenAI-compatible endpoint."""

from __future__ import annotations

import asyncio
import json
import os
import warnings

import pytest

# litellm fetches its model price map from the internet on import unless told not to, and
# its import warns about its own pydantic models.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import litellm

from tests.clients.matrix import API_KEY, REPLIES, Matrix

pytestmark = [
    pytest.mark.clients,
    # litellm builds pydantic models of its own types lazily, each warning about ReadOnly
    pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning"),
]

WEATHER = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def options(matrix: Matrix, model: str) -> dict[str, str]:
    # "openai/<name>": litellm's generic OpenAI-compatible provider, as its docs say for proxies.
    return {"model": f"openai/{model}", "api_base": matrix.base_url, "api_key": API_KEY}


def test_completion(matrix: Matrix, kind: str, model: str) -> None:
    """completion() returns the provider's text and usage."""
    response = litellm.completion(
        messages=[{"role": "user", "content": "hi"}], **options(matrix, model)
    )
    assert response.choices[0].message.content == REPLIES[kind]
    assert response.usage.total_tokens > 0


def test_completion_stream(matrix: Matrix, kind: str, model: str) -> None:
    """A streamed completion joins to the provider's text."""
    stream = litellm.completion(
        messages=[{"role": "user", "content": "hi"}], stream=True, **options(matrix, model)
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream)
    assert text.strip() == REPLIES[kind]


def test_acompletion_tool_round_trip(matrix: Matrix, kind: str, model: str) -> None:
    """acompletion() with a tool: the call, then its result, then the answer."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")

    async def main() -> str:
        messages: list[dict[str, object]] = [{"role": "user", "content": "weather in Oslo?"}]
        first = await litellm.acompletion(
            messages=messages, tools=[WEATHER], **options(matrix, model)
        )
        call = first.choices[0].message.tool_calls[0]
        assert (call.function.name, json.loads(call.function.arguments)) == (
            "weather",
            {"city": "Oslo"},
        )
        messages += [
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
        ]
        final = await litellm.acompletion(
            messages=messages, tools=[WEATHER], **options(matrix, model)
        )
        return str(final.choices[0].message.content)

    assert asyncio.run(main()) == "Sunny in Oslo"
