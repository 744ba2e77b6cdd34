"""Model discovery end to end: backends whose model lists change while the router runs.

Real fake upstreams (Ollama's /api/tags and /api/show, an OpenAI-compatible
/v1/models) behind a real router; clients are the openai SDK and plain HTTP.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.outage import Cuttable
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

#: One probe interval; every change must show within it (plus the test's own polling).
INTERVAL = 0.2

OLLAMA_CONFIG = """\
version: 1
zones: [{{name: home}}]
providers:
  - name: box
    kind: ollama
    base_url: "{url}"
    discover: true
    model_defaults: {{tiers: {{coding: 4}}}}
routes:
  - {{model: chat, targets: [box/qwen3:8b, box/llama3.3:70b]}}
routing:
  health: {{interval_s: {interval}, timeout_s: 1, failure_threshold: 1, recovery_threshold: 1}}
"""


def _ids(client: openai.OpenAI) -> set[str]:
    return {m.id for m in client.models.list()}


def _provider(router: RouterHandle, name: str) -> dict[str, Any]:
    providers = router.http.get("/admin/providers").json()["providers"]
    return next(p for p in providers if p["name"] == name)


def _explain(router: RouterHandle, model: str) -> dict[str, Any]:
    answer = router.http.post("/v1/route/explain", json={"model": model})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()
    return data


def _within_interval(check: Any, what: str) -> None:
    """Wait for `check` no longer than a few probe intervals (a slow CI box gets slack)."""
    wait_for(check, timeout=INTERVAL * 10 + 2, what=what)


def _images_go_only_to_vision_models(client: openai.OpenAI, fake: FakeOllama) -> None:
    """llava:7b says 'vision' in /api/show, qwen3:8b does not."""
    picture: Any = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    seen = client.chat.completions.create(
        model="llava:7b", messages=[{"role": "user", "content": picture}]
    )
    assert seen.choices[0].message.content == "Hello from Ollama"
    assert fake.requests[-1]["messages"][0]["images"] == ["iVBORw0KGgo="]
    with pytest.raises(openai.APIStatusError) as blind:
        client.chat.completions.create(
            model="qwen3:8b", messages=[{"role": "user", "content": picture}]
        )
    assert blind.value.status_code == 503  # the 503 contract: a capability is missing
    assert "vision" in str(blind.value)


def test_ollama_models_follow_pulls_removals_and_outages(tmp_path: Path) -> None:
    """Pulled models serve chat/embeddings, removed ones vanish, an outage keeps the list."""
    fake = FakeOllama(
        models=("qwen3:8b",),
        capabilities={
            "qwen3:8b": ("completion", "tools", "thinking"),
            "nomic-embed-text:v1.5": ("embedding",),
            "llava:7b": ("completion", "vision"),
        },
        context_length={"qwen3:8b": 40960},
    )
    with serve(fake) as upstream, Cuttable.to(upstream, 80).running() as link:
        path = tmp_path / "nexus.yaml"
        path.write_text(OLLAMA_CONFIG.format(url=link.url_for(upstream), interval=INTERVAL))
        with run_router(path) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            warnings = [w["message"] for w in router.status()["warnings"]]
            assert any("llama3.3:70b" in w and "discovers" in w for w in warnings), warnings

            _within_interval(lambda: "qwen3:8b" in _ids(client), "the first discovery")
            assert {"qwen3:8b", "chat"} <= _ids(client)
            answer = client.chat.completions.create(
                model="qwen3:8b", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "Hello from Ollama"
            assert (
                client.chat.completions.create(
                    model="chat", messages=[{"role": "user", "content": "hi"}]
                )
                .choices[0]
                .message.content
            )
            box = _provider(router, "box")
            assert (box["discover"], box["discovered"]) == (True, ["qwen3:8b"])
            [row] = _explain(router, "qwen3:8b")["considered"]
            assert row["discovered"] is True
            assert row["tiers"] == {"reasoning": 0, "coding": 4}  # from model_defaults
            spec = router.holder.current.providers["box"].models["qwen3:8b"]
            assert (spec.tools, spec.reasoning, spec.embeddings, spec.context_window) == (
                True,
                True,
                False,
                40960,
            )
            listing = router.http.get(f"/api/v1/llm-provider/ollama/{box['id']}/models").json()
            assert listing["models"][0] | {"description": ""} == {
                "id": "qwen3:8b",
                "name": "qwen3:8b",
                "description": "",
                "context_length": 40960,
                "supports_streaming": True,
                "supports_functions": True,
                "configured": False,  # discovered, not declared in the file
                "tiers": {"reasoning": 0, "coding": 4},
            }
            with pytest.raises(openai.APIStatusError) as no_embeddings:
                client.embeddings.create(model="qwen3:8b", input="x")
            # the 503 contract: no backend of this model has the capability
            assert no_embeddings.value.status_code == 503
            assert "embeddings" in str(no_embeddings.value)

            fake.models = ("qwen3:8b", "nomic-embed-text:v1.5", "llava:7b")  # ollama pull
            _within_interval(lambda: "nomic-embed-text:v1.5" in _ids(client), "a pulled model")
            vectors = client.embeddings.create(model="nomic-embed-text:v1.5", input=["a", "b"])
            assert len(vectors.data) == 2
            _images_go_only_to_vision_models(client, fake)
            assert fake.shows.count("qwen3:8b") == 1  # details are asked once per model

            fake.models = ("nomic-embed-text:v1.5",)  # ollama rm qwen3:8b llava:7b
            _within_interval(lambda: "qwen3:8b" not in _ids(client), "a removed model")
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(
                    model="qwen3:8b", messages=[{"role": "user", "content": "hi"}]
                )
            assert _provider(router, "box")["discovered"] == ["nomic-embed-text:v1.5"]
            assert "llava:7b" not in _ids(client)

            link.cut()  # the box is switched off: unhealthy, not empty
            _within_interval(
                lambda: _provider(router, "box")["status"] == "unhealthy", "the outage"
            )
            assert _provider(router, "box")["models"] == ["nomic-embed-text:v1.5"]
            assert "nomic-embed-text:v1.5" not in _ids(client)
            link.restore()
            _within_interval(lambda: "nomic-embed-text:v1.5" in _ids(client), "the recovery")
            assert fake.shows.count("nomic-embed-text:v1.5") == 1
            # Discovery never writes the file: it stays what the human wrote.
            written = OLLAMA_CONFIG.format(url=link.url_for(upstream), interval=INTERVAL)
            assert path.read_text() == written
            assert router.version() == hashlib.sha256(written.encode()).hexdigest()[:12]


OPENAI_CONFIG = """\
version: 1
providers:
  - name: lab
    kind: openai
    base_url: "{url}/v1"
    discover: true
    exclude: ["*:latest"]
    model_defaults: {{tools: true, tiers: {{reasoning: 3}}}}
    models:
      - {{name: nomic-embed, embeddings: true, tools: false}}
routing:
  health: {{interval_s: {interval}, timeout_s: 1}}
"""


def test_openai_compatible_discovery_with_globs_and_declared_values(tmp_path: Path) -> None:
    """vLLM's max_model_len is the context; globs hide models; the file's values win."""
    fake = FakeOpenAI(
        models=("llama-3.1-8b", "nomic-embed", "qwen-coder:latest"),
        model_fields={"llama-3.1-8b": {"max_model_len": 8192}},
    )
    with serve(fake) as upstream:
        path = tmp_path / "nexus.yaml"
        path.write_text(OPENAI_CONFIG.format(url=upstream, interval=INTERVAL))
        with run_router(path) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            _within_interval(lambda: "llama-3.1-8b" in _ids(client), "the first discovery")
            assert _ids(client) == {"llama-3.1-8b", "nomic-embed"}  # qwen-coder:latest excluded
            lab = _provider(router, "lab")
            assert lab["discovered"] == ["llama-3.1-8b"]  # the declared model is not "discovered"
            models = router.holder.current.providers["lab"].models
            assert (models["llama-3.1-8b"].context_window, models["llama-3.1-8b"].tools) == (
                8192,
                True,
            )
            assert (models["nomic-embed"].tools, models["nomic-embed"].embeddings) == (False, True)
            too_long = "word " * 12000
            with pytest.raises(openai.APIStatusError) as refused:
                client.chat.completions.create(
                    model="llama-3.1-8b", messages=[{"role": "user", "content": too_long}]
                )
            assert refused.value.status_code == 503  # the 503 contract: a capability is missing
            assert "context_window" in str(refused.value)
            assert fake.requests == []  # refused by the router, the backend never saw it
            assert client.embeddings.create(model="nomic-embed", input="x").data

            fake.models = ("llama-3.1-8b", "mistral-7b")
            _within_interval(lambda: "mistral-7b" in _ids(client), "a new model")
            # A declared model the backend stopped listing is still the file's to remove.
            assert "nomic-embed" in router.holder.current.providers["lab"].models


ANTHROPIC_CONFIG = """\
version: 1
providers:
  - name: claude
    kind: anthropic
    base_url: "{url}"
    api_key: ${{ANTHROPIC_KEY}}
    discover: true
    model_defaults: {{tools: true, context_window: 200000, tiers: {{reasoning: 9}}}}
routing:
  health: {{interval_s: {interval}, timeout_s: 1}}
"""


def test_anthropic_models_are_discovered_with_their_defaults(tmp_path: Path) -> None:
    """Anthropic's list says ids only: everything else comes from model_defaults."""
    fake = FakeAnthropic(models=("claude-x-20250101",))
    with serve(fake) as upstream:
        path = tmp_path / "nexus.yaml"
        path.write_text(ANTHROPIC_CONFIG.format(url=upstream, interval=INTERVAL))
        with run_router(path, env={"ANTHROPIC_KEY": fake.api_key}) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            _within_interval(lambda: "claude-x-20250101" in _ids(client), "the first discovery")
            answer = client.chat.completions.create(
                model="claude-x-20250101", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "Hello from Claude"
            [row] = _explain(router, "claude-x-20250101")["considered"]
            assert (row["discovered"], row["tiers"]["reasoning"]) == (True, 9)
            assert "limit=1000" in fake.listings[0]  # the whole list, not its first page
            fake.models = ("claude-x-20250101", "claude-y-20251201")
            _within_interval(lambda: "claude-y-20251201" in _ids(client), "a new model")
