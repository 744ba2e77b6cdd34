"""A permanent refusal reaches the caller at once, with every SDK's default retries.

`private-only` can never be served (privacy zone), so retrying cannot help: an
SDK that waits out the router's Retry-After twice stalls a minute per call. Each
test gives the SDK `BUDGET_S` to raise and fails, without waiting further, when it
is still retrying by then.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.clients.matrix import API_KEY, BUDGET_S, REFUSED, Matrix
from tests.clients.node_scripts import run_script

pytestmark = pytest.mark.clients

#: The issue's promise: with default retries, a permanent refusal reaches the caller in
#: under a second (it was ~60 s: each SDK waited Retry-After: 30 twice).
PERMANENT_S = 1.0


def seconds_to_error(call: Callable[[], Awaitable[Any]]) -> tuple[float, BaseException]:
    """Run `call` until it raises; fail when it has neither raised nor returned in BUDGET_S."""

    async def timed() -> tuple[float, BaseException]:
        start = time.monotonic()
        try:
            await asyncio.wait_for(call(), BUDGET_S)
        except TimeoutError:
            pytest.fail(f"still retrying {BUDGET_S:.0f} s after a permanent refusal")
        except Exception as exc:
            return time.monotonic() - start, exc
        pytest.fail("a request nothing may serve succeeded")

    return asyncio.run(timed())


def messages() -> list[dict[str, str]]:
    return [{"role": "user", "content": "hi"}]


def test_openai_sdk(matrix: Matrix) -> None:
    """openai (async; the sync client shares its retry policy) raises the 503 at once."""

    async def call() -> object:
        async with openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY) as client:
            return await client.chat.completions.create(model=REFUSED, messages=messages())  # type: ignore[arg-type]

    seconds, error = seconds_to_error(call)
    assert isinstance(error, openai.APIStatusError)
    assert "privacy zone" in error.message
    assert seconds < PERMANENT_S


def test_openai_responses(matrix: Matrix) -> None:
    """The Responses API of the same SDK: the same refusal, as fast."""

    async def call() -> object:
        async with openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY) as client:
            return await client.responses.create(model=REFUSED, input="hi")

    seconds, error = seconds_to_error(call)
    assert isinstance(error, openai.APIStatusError)
    assert seconds < PERMANENT_S


def test_openai_sdk_missing_capability(matrix: Matrix) -> None:
    """Embeddings from a route without them (Anthropic): as permanent, and as fast."""

    async def call() -> object:
        async with openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY) as client:
            return await client.embeddings.create(model="via-anthropic", input="hi")

    seconds, error = seconds_to_error(call)
    assert isinstance(error, openai.APIStatusError)
    assert "embeddings" in error.message
    assert seconds < PERMANENT_S


def test_openai_agents(matrix: Matrix) -> None:
    """openai-agents' Runner raises instead of retrying."""
    agents = pytest.importorskip("agents")

    async def call() -> object:
        client = openai.AsyncOpenAI(base_url=matrix.base_url, api_key=API_KEY)
        model = agents.OpenAIResponsesModel(model=REFUSED, openai_client=client)
        agent = agents.Agent(name="matrix", model=model)
        config = agents.RunConfig(tracing_disabled=True)
        return await agents.Runner.run(agent, "hi", run_config=config)

    seconds, _ = seconds_to_error(call)
    assert seconds < PERMANENT_S


def test_langchain_openai(matrix: Matrix) -> None:
    """ChatOpenAI (its default max_retries) raises at once."""
    langchain_openai = pytest.importorskip("langchain_openai")
    chat = langchain_openai.ChatOpenAI(model=REFUSED, base_url=matrix.base_url, api_key=API_KEY)

    seconds, _ = seconds_to_error(lambda: chat.ainvoke("hi"))
    assert seconds < PERMANENT_S


@pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")
def test_litellm(matrix: Matrix) -> None:
    """litellm.acompletion raises at once."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        litellm = pytest.importorskip("litellm")

    def call() -> Awaitable[object]:
        return litellm.acompletion(  # type: ignore[no-any-return]
            model=f"openai/{REFUSED}",
            api_base=matrix.base_url,
            api_key=API_KEY,
            messages=messages(),
        )

    seconds, _ = seconds_to_error(call)
    assert seconds < PERMANENT_S


def test_pydantic_ai(matrix: Matrix) -> None:
    """pydantic-ai's Agent raises at once."""
    pytest.importorskip("pydantic_ai")
    from pydantic_ai import Agent
    from pydantic_ai.models.openai import OpenAIChatModel
    from pydantic_ai.providers.openai import OpenAIProvider

    provider = OpenAIProvider(base_url=matrix.base_url, api_key=API_KEY)
    agent: Agent[None, str] = Agent(OpenAIChatModel(REFUSED, provider=provider))

    seconds, _ = seconds_to_error(lambda: agent.run("hi"))
    assert seconds < PERMANENT_S


def test_vercel_ai_sdk(node_modules: Path, node_env: dict[str, str], matrix: Matrix) -> None:
    """The AI SDK's generateText (maxRetries 2, honouring Retry-After) raises at once."""
    try:
        # node itself takes a moment to start: the script measures from its first request
        result = run_script(
            node_modules,
            node_env,
            matrix,
            "ai_sdk.mjs",
            "refused",
            model=REFUSED,
            timeout=BUDGET_S + 3,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"still retrying {BUDGET_S:.0f} s after a permanent refusal")
    assert result["ok"], result
    assert result["seconds"] < PERMANENT_S


def test_the_refusal_is_permanent(matrix: Matrix) -> None:
    """What the stall tests rely on: the route is refused by policy, every time."""
    with contextlib.closing(
        openai.OpenAI(base_url=matrix.base_url, api_key=API_KEY, max_retries=0)
    ) as client:
        for _ in range(2):
            with pytest.raises(openai.APIStatusError) as caught:
                client.chat.completions.create(model=REFUSED, messages=messages())  # type: ignore[arg-type]
            body: Any = caught.value.body
            assert body["context"]["rejection_reason"] == "privacy_zone_mismatch"
