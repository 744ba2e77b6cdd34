"""The Vercel AI SDK (node: ai 6, @ai-sdk/openai 3) with its defaults: Responses API, store true."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.clients.matrix import REPLIES, Matrix, kinds
from tests.clients.node_scripts import run_script

pytestmark = pytest.mark.clients


@pytest.fixture
def ai_sdk(
    node_modules: Path, node_env: dict[str, str], matrix: Matrix, model: str
) -> Any:  # a callable: scenario -> result
    def run(scenario: str) -> dict[str, Any]:
        return run_script(node_modules, node_env, matrix, "ai_sdk.mjs", scenario, model=model)

    return run


def ok(result: dict[str, Any]) -> dict[str, Any]:
    assert result["ok"], json.dumps(result["error"], indent=2)
    return result


@pytest.mark.parametrize("scenario", ["generate", "chat", "stream"])
def test_single_call(ai_sdk: Any, kind: str, scenario: str) -> None:
    """generateText (Responses and Chat models) and streamText return the provider's text."""
    result = ok(ai_sdk(scenario))
    assert result["text"].strip() == REPLIES[kind]
    assert result["finishReason"] == "stop"


def test_multi_turn_with_defaults(ai_sdk: Any, matrix: Matrix, kind: str) -> None:
    """Turn two (response.messages sent back) answers, and the provider sees turn one."""
    result = ok(ai_sdk("multiturn"))
    assert [t.strip() for t in result["texts"]] == [REPLIES[kind]] * 2
    sent = json.dumps(matrix.last_messages(kind))
    assert "my name is Ada" in sent
    assert REPLIES[kind] in sent  # the referenced item, resolved to the stored answer
    assert "what is my name?" in sent


def test_multi_turn_streamed_with_defaults(ai_sdk: Any, kind: str) -> None:
    """The same two turns with streamText."""
    result = ok(ai_sdk("multiturnStream"))
    assert [t.strip() for t in result["texts"]] == [REPLIES[kind]] * 2


# Step two sends step one's function_call inline but its text as an item_reference.
@kinds()
def test_tool_steps(ai_sdk: Any, matrix: Matrix, kind: str) -> None:
    """A tool the SDK runs, then the answer (step two sends step one's output back)."""
    matrix.call_tool("weather", {"city": "Oslo"}, then="Sunny in Oslo")
    result = ok(ai_sdk("tools"))
    assert result["toolCalls"] == [["weather", {"city": "Oslo"}]]
    assert result["toolResults"] == ["sunny in Oslo"]
    assert result["text"].strip() == "Sunny in Oslo"
