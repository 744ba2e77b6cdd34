"""Provider-service completeness: queuing at capacity, backoff, caching, batching, images, typed errors."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI, vector
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

ALICE, BOB = "nx-alice-0123456789abcdef", "nx-bob-0123456789abcdef"
CONFIG = """\
version: 1
auth:
  keys:
    - {{name: alice, role: admin, key: "${{ALICE}}"}}
    - {{name: bob, role: user, key: "${{BOB}}"}}
providers:
  - name: one
    kind: openai
    base_url: "{url}/v1"
    max_concurrency: 1
    models:
      - {{name: m}}
      - {{name: emb, embeddings: true}}
      - {{name: painter, images: true}}
routes:
  - {{model: cached, targets: [one/m], cache: {{ttl_s: 60}}}}
routing:
  queue: {{size: {size}, max_wait_s: {wait}}}
  embeddings_batch_ms: {batch_ms}
"""
HI = [{"role": "user", "content": "hi"}]


@contextlib.contextmanager
def stack(
    tmp_path: Path, fake: FakeOpenAI, *, size: int = 2, wait: float = 5, batch_ms: float = 3
) -> Iterator[RouterHandle]:
    with serve(fake) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(url=url, size=size, wait=wait, batch_ms=batch_ms))
        with run_router(path, env={"ALICE": ALICE, "BOB": BOB}, health_probes=False) as router:
            router.http.headers["authorization"] = f"Bearer {ALICE}"
            yield router


def chat(router: RouterHandle, text: str, **headers: str) -> httpx.Response:
    return router.http.post(
        "/v1/chat/completions",
        headers=headers,
        json={"model": "m", "messages": [{"role": "user", "content": text}]},
    )


def test_queued_requests_are_served_in_priority_order_when_capacity_frees(tmp_path: Path) -> None:
    gate = threading.Event()
    fake = FakeOpenAI(models=("m",), gate=gate)
    with stack(tmp_path, fake) as router, ThreadPoolExecutor(3) as pool:
        first = pool.submit(chat, router, "A")
        wait_for(lambda: len(fake.requests) == 1, what="A in flight")
        normal = pool.submit(chat, router, "B")
        wait_for(
            lambda: 'nexus_queue_depth{route="m"} 1.0' in router.http.get("/metrics").text,
            what="B queued",
        )
        high = pool.submit(chat, router, "C", **{"x-nexus-priority": "high"})
        wait_for(
            lambda: 'nexus_queue_depth{route="m"} 2.0' in router.http.get("/metrics").text,
            what="C queued",
        )
        gate.set()
        assert [f.result(timeout=10).status_code for f in (first, normal, high)] == [200, 200, 200]
        order = [r["messages"][0]["content"] for r in fake.requests]
        assert order == ["A", "C", "B"]  # high priority overtook the earlier normal request
        assert "nexus_queue_wait_seconds_count" in router.http.get("/metrics").text


def test_a_full_queue_and_an_expired_wait_give_the_503_contract(tmp_path: Path) -> None:
    gate = threading.Event()
    fake = FakeOpenAI(models=("m",), gate=gate)
    with stack(tmp_path, fake, size=1, wait=0.5) as router, ThreadPoolExecutor(2) as pool:
        held = pool.submit(chat, router, "A")
        wait_for(lambda: len(fake.requests) == 1, what="A in flight")
        waiting = pool.submit(chat, router, "B")
        wait_for(
            lambda: 'nexus_queue_depth{route="m"} 1.0' in router.http.get("/metrics").text,
            what="B queued",
        )
        full = chat(router, "C")
        assert full.status_code == 503
        assert full.headers["retry-after"] == "30"
        context = full.json()["error"]["context"]
        assert (context["rejection_reason"], context["queue_position"], context["waited_ms"]) == (
            "capacity_exhausted",
            2,
            0,
        )
        started = time.monotonic()
        unknown = chat_model(router, "no-such-model")
        assert unknown.status_code == 404  # never queued
        assert time.monotonic() - started < 0.3
        expired = waiting.result(timeout=5)
        assert expired.status_code == 503
        context = expired.json()["error"]["context"]
        assert context["rejection_reason"] == "capacity_exhausted"
        assert context["queue_position"] == 1
        assert context["waited_ms"] >= 500
        gate.set()
        assert held.result(timeout=5).status_code == 200


def chat_model(router: RouterHandle, model: str) -> httpx.Response:
    return router.http.post("/v1/chat/completions", json={"model": model, "messages": HI})


def test_without_a_queue_capacity_is_rejected_at_once(tmp_path: Path) -> None:
    gate = threading.Event()
    fake = FakeOpenAI(models=("m",), gate=gate)
    with stack(tmp_path, fake, size=0) as router, ThreadPoolExecutor(1) as pool:
        held = pool.submit(chat, router, "A")
        wait_for(lambda: len(fake.requests) == 1, what="A in flight")
        rejected = chat(router, "B")
        assert rejected.status_code == 503
        assert rejected.json()["error"]["context"]["rejection_reason"] == "capacity_exhausted"
        gate.set()
        held.result(timeout=5)


def test_a_503_with_retry_after_cools_the_provider_down(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=("m",), status=503, retry_after="20")
    with stack(tmp_path, fake) as router:
        assert chat(router, "A").status_code == 502
        provider = router.http.get("/admin/providers").json()["providers"][0]
        assert 15 < provider["cooling_down_s"] <= 20
        assert provider["circuit_open"] is False  # it said when to come back: no strike
        limited = chat(router, "B")
        assert limited.status_code == 429  # skipped while cooling down
        assert len(fake.requests) == 1


def test_cache_hits_and_isolation_between_keys(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=("m",))
    with stack(tmp_path, fake) as router:
        body = {"model": "cached", "messages": HI, "temperature": 0}
        first = router.http.post("/v1/chat/completions", json=body)
        second = router.http.post("/v1/chat/completions", json=body)
        assert (first.headers["x-nexus-cache"], second.headers["x-nexus-cache"]) == ("miss", "hit")
        assert second.content == first.content
        assert second.headers["x-nexus-backend"] == "one"
        assert len(fake.requests) == 1
        other_key = router.http.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {BOB}"}
        )
        assert other_key.headers["x-nexus-cache"] == "miss"  # never shared across keys
        assert len(fake.requests) == 2
        sampled = router.http.post("/v1/chat/completions", json={**body, "temperature": 0.7})
        assert "x-nexus-cache" not in sampled.headers  # not deterministic: not cached
        client = openai.OpenAI(base_url=f"{router.url}/v1", api_key=ALICE, max_retries=0)
        one = client.responses.with_raw_response.create(model="cached", input="hey", temperature=0)
        two = client.responses.with_raw_response.create(model="cached", input="hey", temperature=0)
        assert two.headers["x-nexus-cache"] == "hit"
        assert two.parse().output_text == one.parse().output_text
        assert len(fake.requests) == 4


def test_reloading_a_routes_targets_invalidates_its_cache(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=("m",))
    with stack(tmp_path, fake) as router:
        body = {"model": "cached", "messages": HI, "temperature": 0}
        router.http.post("/v1/chat/completions", json=body)
        path = router.holder.path
        path.write_text(
            path.read_text()
            .replace("- {name: m}", "- {name: m}\n      - {name: m2}")
            .replace("targets: [one/m]", "targets: [one/m2]")
        )
        assert router.http.post("/admin/config/reload").json()["result"] == "reloaded"
        again = router.http.post("/v1/chat/completions", json=body)
        assert again.headers["x-nexus-cache"] == "miss"
        assert fake.requests[-1]["model"] == "m2"


def test_concurrent_embeddings_are_batched_and_split_back(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=("emb",))
    with stack(tmp_path, fake, batch_ms=50) as router:
        client = openai.OpenAI(base_url=f"{router.url}/v1", api_key=ALICE, max_retries=0)
        texts = [[f"text {i}-{j}" for j in range(i % 3 + 1)] for i in range(8)]
        with ThreadPoolExecutor(8) as pool:
            results = list(
                pool.map(lambda t: client.embeddings.create(model="emb", input=t), texts)
            )
        for given, result in zip(texts, results, strict=True):
            assert [d.index for d in result.data] == list(range(len(given)))
            assert [d.embedding for d in result.data] == [vector(t) for t in given]
        assert len(fake.requests) < 8  # coalesced
        assert sum(len(r["input"]) for r in fake.requests) == sum(len(t) for t in texts)
        assert sum(r.usage.prompt_tokens for r in results) == sum(len(t) for t in texts)


def test_image_generation_through_the_sdk(tmp_path: Path) -> None:
    fake = FakeOpenAI(models=("painter",))
    with stack(tmp_path, fake) as router:
        client = openai.OpenAI(base_url=f"{router.url}/v1", api_key=ALICE, max_retries=0)
        urls = client.images.generate(model="painter", prompt="a red fox", n=2)
        assert [d.url for d in urls.data or []] == ["https://images.example/1.png"] * 2
        b64 = client.images.generate(
            model="painter", prompt="a red fox", response_format="b64_json"
        )
        assert base64.b64decode((b64.data or [])[0].b64_json or "") == b"\x89PNG fake"
        refused = router.http.post("/v1/images/generations", json={"model": "m", "prompt": "x"})
        assert refused.json()["error"]["context"]["required_capability"] == "images"


@pytest.mark.parametrize(
    ("status", "http_status", "code"),
    [
        (404, 404, "provider_not_found"),
        (401, 502, "provider_auth_error"),
        (429, 429, "provider_rate_limit_error"),
        (500, 502, "provider_api_error"),
        (400, 400, "provider_api_error"),
    ],
)
def test_provider_error_types(tmp_path: Path, status: int, http_status: int, code: str) -> None:
    fake = FakeOpenAI(
        models=("m",),
        status=status,
        error_body={"error": {"message": f"upstream says {status}", "type": "x"}},
    )
    with stack(tmp_path, fake) as router:
        response = chat(router, "A")
        assert response.status_code == http_status
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == code
        assert f"upstream says {status}" in error["message"]  # the provider's own words
        metrics = router.http.get("/metrics").text
        # the metric's type label is the error's code, as the envelope says it
        assert f'nexus_provider_errors_total{{provider="one",type="{code}"}} 1.0' in metrics


def test_a_providers_own_client_error_code_and_param_survive(tmp_path: Path) -> None:
    """`context_length_exceeded` is what clients branch on: it is not rewritten."""
    own = {
        "message": "This model's maximum context length is 8192 tokens",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
    fake = FakeOpenAI(models=("m",), status=400, error_body={"error": own})
    with stack(tmp_path, fake) as router:
        response = chat(router, "A")
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["code"], error["param"], error["type"]) == (
            "context_length_exceeded",
            "messages",
            "invalid_request_error",
        )
        assert error["nexus_code"] == "provider_api_error"
        assert error["provider"] == "one"
