"""Parameters a provider dialect cannot honour are refused by name; the rest map or drop."""

from __future__ import annotations

from typing import Any

import pytest

from router.errors import RequestInvalid
from tests.dialects.test_reasoning import sent

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize("kind", ["ollama", "anthropic"])
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 3}, "top_logprobs"),
        ({"modalities": ["text", "audio"]}, "modalities"),
    ],
)
def test_what_only_openai_kind_gives_is_a_400_elsewhere(
    kind: str, body: dict[str, Any], param: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        sent(kind, body)
    assert caught.value.param == param
    assert param in caught.value.message


@pytest.mark.parametrize(
    "body",
    [{"modalities": ["audio"]}, {"audio": {"voice": "alloy", "format": "wav"}}],
    ids=["modalities", "audio"],
)
def test_audio_output_is_refused_even_by_openai_kind(body: dict[str, Any]) -> None:
    with pytest.raises(RequestInvalid, match="Audio output"):
        sent("openai", body)


def test_openai_kind_passes_everything_else_through() -> None:
    body = {
        "n": 2,
        "logprobs": True,
        "top_logprobs": 2,
        "seed": 7,
        "user": "u1",
        "service_tier": "flex",
        "parallel_tool_calls": False,
        "modalities": ["text"],
    }
    assert body.items() <= sent("openai", body).items()


def test_anthropic_maps_user_and_parallel_tool_calls() -> None:
    out = sent("anthropic", {"user": "u1", "parallel_tool_calls": False, "tools": TOOLS})
    assert out["metadata"] == {"user_id": "u1"}
    assert out["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}


def test_anthropic_drops_what_it_has_no_field_for() -> None:
    out = sent("anthropic", {"seed": 3, "service_tier": "flex", "n": 1})
    assert not {"seed", "service_tier", "n"} & out.keys()


def test_ollama_seed_stop_and_tool_choice_none() -> None:
    out = sent("ollama", {"seed": 3, "stop": "END", "tools": TOOLS, "tool_choice": "none"})
    assert out["options"] == {"seed": 3, "stop": ["END"]}
    assert "tools" not in out
