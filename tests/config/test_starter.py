"""The starter config text: every combination of findings loads, with the right route."""

from __future__ import annotations

import pytest

from router.config.starter import CLOUDS, Cloud, Found, Unreachable, starter_config
from router.snapshot.loader import load_bytes

OLLAMA = Found("ollama", "ollama", "http://127.0.0.1:11434", "Ollama", ("bge-m3-embed", "qwen3:8b"))
EMBED_ONLY = Found("ollama", "ollama", "http://127.0.0.1:11434", "Ollama", ("nomic-embed-text",))
VLLM = Found("vllm", "openai", "http://127.0.0.1:8000/v1", "vLLM", ("Qwen/Qwen3-8B",))
MISSED = Unreachable("127.0.0.1:8080", "llama.cpp", "connection refused")


@pytest.mark.parametrize(
    ("found", "clouds", "port", "zone", "targets"),
    [
        pytest.param([OLLAMA], CLOUDS, 8000, "restricted",
                     ["ollama/qwen3:8b", "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5"],
                     id="local-first-then-cloud"),
        pytest.param([], CLOUDS[:1], 8000, "open", ["openai/gpt-4o-mini"], id="cloud-only"),
        pytest.param([VLLM], (), 8001, "restricted", ["vllm/Qwen/Qwen3-8B"], id="vllm-on-8000"),
        pytest.param([EMBED_ONLY], (), 8000, None, None, id="nothing-to-chat-with"),
        pytest.param([], (), 8000, None, None, id="nothing-at-all"),
    ],
)  # fmt: skip
def test_starter_loads_with_the_right_route(
    found: list[Found],
    clouds: tuple[Cloud, ...],
    port: int,
    zone: str | None,
    targets: list[str] | None,
) -> None:
    text = starter_config(found, [MISSED], clouds, schema="x.json", port=port)
    table = load_bytes(text.encode(), source="nexus.yaml", env={}, loaded_at=0.0)
    assert table.warnings == tuple(
        w for w in table.warnings if "is disabled: environment variable" in w.message
    )  # only the cloud keys this test does not set
    assert table.config.server.port == port
    assert [z.name for z in table.config.zones] == ["restricted", "open"]
    assert "# not reachable: llama.cpp at 127.0.0.1:8080 (connection refused)" in text
    if zone is None:
        assert "chat" not in table.routes
        return
    chat = table.config.routes[0]
    assert (chat.model, chat.zone, chat.overflow.value) == ("chat", zone, "fresh-only")
    assert list(chat.targets) == targets
    for provider in table.config.providers:
        assert provider.discover is (provider.zone == "restricted")
        assert provider.api_key in (None, *(f"${{{c.env}}}" for c in CLOUDS))
