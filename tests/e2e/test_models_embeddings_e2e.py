"""Models and Embeddings APIs end to end with the openai SDK."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI, vector
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

CONFIG = """\
version: 1
providers:
  - name: oa
    kind: openai
    base_url: "{oa}/v1"
    models:
      - {{name: text-embedding-3-small, embeddings: true}}
      - {{name: meta-llama/Llama-3.1-8B}}
  - name: ol
    kind: ollama
    base_url: "{ol}"
    models: [{{name: "nomic-embed-text:latest", embeddings: true}}, {{name: llama3}}]
  - {{name: down, kind: openai, base_url: "http://127.0.0.1:9/v1", models: [{{name: gone}}]}}
  - name: nokey
    kind: openai
    base_url: https://api.example.com/v1
    api_key: ${{UNSET_KEY}}
    models: [{{name: locked}}]
routes:
  - {{model: embed, targets: [ol/nomic-embed-text:latest, oa/text-embedding-3-small]}}
routing:
  health: {{interval_s: 0.05, failure_threshold: 1}}
"""


@contextlib.contextmanager
def stack(tmp_path: Path) -> Iterator[tuple[RouterHandle, openai.OpenAI]]:
    with (
        serve(FakeOpenAI(models=("text-embedding-3-small",))) as oa,
        serve(FakeOllama(models=("nomic-embed-text:latest", "llama3:latest"))) as ol,
    ):
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(oa=oa, ol=ol))
        with run_router(path) as router:
            yield router, openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)


def test_models_lists_what_is_routable_now(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, client):
        wait_for(
            lambda: (
                {
                    p["name"]: p["status"]
                    for p in router.http.get("/admin/providers").json()["providers"]
                }.get("down")
                == "unhealthy"
            ),
            what="probes",
        )
        ids = [m.id for m in client.models.list()]
        assert ids == sorted(
            [
                "embed",
                "llama3",
                "meta-llama/Llama-3.1-8B",
                "nomic-embed-text:latest",
                "text-embedding-3-small",
            ]
        )
        model = client.models.retrieve("meta-llama/Llama-3.1-8B")
        assert (model.id, model.owned_by) == ("meta-llama/Llama-3.1-8B", "oa")
        assert client.models.retrieve("embed").owned_by == "nexus"
        # one rule for the list, the lookup and the 404's list: not routable now, not found
        with pytest.raises(openai.NotFoundError) as gone:
            client.models.retrieve("gone")
        assert "Available models: embed, llama3," in str(gone.value)
        assert "gone" not in str(gone.value).split("Available models:")[1]
        with pytest.raises(openai.NotFoundError):
            client.models.retrieve("nope")


@pytest.mark.parametrize("model", ["text-embedding-3-small", "nomic-embed-text:latest", "embed"])
def test_embeddings_float_and_base64(tmp_path: Path, model: str) -> None:
    texts = ["hello", "routing is fun"]
    with stack(tmp_path) as (_, client):
        decoded = client.embeddings.create(model=model, input=texts)  # the SDK asks for base64
        assert [d.embedding for d in decoded.data] == [vector(t) for t in texts]
        floats = client.embeddings.create(model=model, input="hello", encoding_format="float")
        assert floats.data[0].embedding == vector("hello")
        assert floats.usage.prompt_tokens > 0


def test_embeddings_need_an_embedding_model(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, _):
        response = router.http.post("/v1/embeddings", json={"model": "llama3", "input": "x"})
        assert response.status_code == 503
        context = response.json()["error"]["context"]
        assert context["rejection_reason"] == "capability_missing"
        assert context["required_capability"] == "embeddings"
        tokens = router.http.post(
            "/v1/embeddings", json={"model": "nomic-embed-text:latest", "input": [[1, 2, 3]]}
        )
        assert tokens.status_code == 400
        assert tokens.json()["error"]["param"] == "input"
