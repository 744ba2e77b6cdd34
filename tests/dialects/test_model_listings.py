"""What each provider kind's model list and details say, read from their real shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from router.dialects import adapter_for
from router.routing.discovered import DiscoveredModel


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("kind", "body", "expected"),
    [
        pytest.param(
            "ollama",
            {"models": [{"name": "qwen3:8b", "model": "qwen3:8b", "digest": "ab12", "size": 1},
                        {"name": "llama3:latest", "model": "llama3:latest"}]},
            [DiscoveredModel("llama3:latest"), DiscoveredModel("qwen3:8b", revision="ab12")],
            id="ollama-tags",
        ),
        pytest.param(
            "openai",
            {"object": "list", "data": [{"id": "gpt-4o", "object": "model", "owned_by": "openai"}]},
            [DiscoveredModel("gpt-4o")],
            id="openai-ids-only",
        ),
        pytest.param(
            "openai",
            {"object": "list", "data": [{"id": "Qwen/Qwen3-8B", "object": "model", "max_model_len": 32768}]},
            [DiscoveredModel("Qwen/Qwen3-8B", context_window=32768)],
            id="vllm-max-model-len",
        ),
        pytest.param(
            "openai",
            {"object": "list", "data": [{"id": "model.gguf", "object": "model",
                                          "meta": {"n_ctx_train": 131072, "n_vocab": 128256}}]},
            [DiscoveredModel("model.gguf", context_window=131072)],
            id="llama-cpp-meta",
        ),
        pytest.param(
            "anthropic",
            {"data": [{"id": "claude-sonnet-4-5-20250929", "type": "model",
                       "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}],
             "has_more": False, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-sonnet-4-5-20250929"},
            [DiscoveredModel("claude-sonnet-4-5-20250929")],
            id="anthropic-ids",
        ),
    ],
)  # fmt: skip
def test_listing(kind: str, body: Any, expected: list[DiscoveredModel]) -> None:
    assert list(adapter_for(kind).discovered(_body(body))) == expected


@pytest.mark.parametrize("kind", ["ollama", "openai", "anthropic"])
@pytest.mark.parametrize("body", [[1, 2], {"error": "nope"}, "text"], ids=["list", "error", "str"])
def test_a_body_that_is_no_list_is_refused(kind: str, body: Any) -> None:
    with pytest.raises((ValueError, TypeError, AttributeError)):
        adapter_for(kind).discovered(_body(body))


@pytest.mark.parametrize(
    ("show", "expected"),
    [
        pytest.param(
            {"capabilities": ["completion", "tools", "thinking"],
             "model_info": {"general.architecture": "qwen3", "qwen3.context_length": 40960}},
            DiscoveredModel("m", 40960, False, True, False, True),
            id="tools-and-thinking",
        ),
        pytest.param(
            {"capabilities": ["embedding"],
             "model_info": {"general.architecture": "nomic-bert", "nomic-bert.context_length": 2048}},
            DiscoveredModel("m", 2048, False, False, True, False),
            id="embedding",
        ),
        pytest.param(
            {"capabilities": ["completion", "vision"], "model_info": {}},
            DiscoveredModel("m", None, True, False, False, False),
            id="vision-no-context",
        ),
        pytest.param(
            {"model_info": {"general.architecture": "llama", "llama.context_length": 8192}},
            DiscoveredModel("m", 8192),
            id="older-ollama-says-no-capabilities",
        ),
    ],
)  # fmt: skip
def test_ollama_show(show: dict[str, Any], expected: DiscoveredModel) -> None:
    assert adapter_for("ollama").detailed(DiscoveredModel("m"), _body(show)) == expected


def test_only_ollama_asks_per_model() -> None:
    from router.routing.table import ProviderEntry

    entry = ProviderEntry(
        id="x", name="box", kind="ollama", base_url="http://box:11434", api_key=None,
        zone="default", zone_rank=0, enabled=True, disabled_reason=None,
        max_concurrency=None, timeout_s=60, models={},
    )  # fmt: skip
    request = adapter_for("ollama").detail_request(entry, "qwen3:8b")
    assert request is not None
    assert (request.method, request.url) == ("POST", "http://box:11434/api/show")
    assert json.loads(request.body or b"") == {"model": "qwen3:8b"}
    assert adapter_for("openai").detail_request(entry, "m") is None
    assert adapter_for("anthropic").detail_request(entry, "m") is None
