"""Routing end to end: the real app over HTTP, fake OpenAI upstreams, the openai SDK as client."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

SECRET = "sk-test-0123456789abcdef0123456789abcdef"
DEAD = "http://127.0.0.1:9/v1"  # discard port: connection refused

CONFIG = """\
version: 1
zones: [{{name: restricted}}, {{name: open}}]
providers:
  - name: local
    kind: openai
    base_url: {local}
    zone: restricted
    timeout_s: {timeout}
    models:
      - {{name: l7, tiers: {{reasoning: 7, coding: 6}}, tools: true}}
  - name: cloud
    kind: openai
    base_url: {cloud}
    api_key: ${{CLOUD_KEY}}
    zone: open
    models:
      - {{name: c9, tiers: {{reasoning: 9, coding: 9}}, vision: true, tools: true}}
  - name: spare
    kind: openai
    base_url: {spare}
    zone: restricted
    models:
      - {{name: s5, tiers: {{reasoning: 5, coding: 5}}}}
routes:
  - {{model: chat, targets: [local/l7, cloud/c9], zone: restricted, overflow: fresh-only}}
  - {{model: locked, targets: [local/l7, cloud/c9], zone: restricted, overflow: never}}
  - {{model: smart, targets: [local/l7], min_tiers: {{reasoning: 8}}}}
  - {{model: coder, targets: [local/l7], min_tiers: {{coding: 8}}}}
  - {{model: pair, targets: [local/l7, spare/s5], zone: restricted}}
  - {{model: small, targets: [spare/s5]}}
routing:
  retry_after_s: 17
  health: {{interval_s: {interval}, timeout_s: 1, failure_threshold: 1, recovery_threshold: 1}}
"""


@contextlib.contextmanager
def router_for(
    tmp_path: Path,
    *,
    local: str,
    cloud: str,
    spare: str = DEAD,
    probes: bool = False,
    timeout: float = 10,
    interval: float = 0.05,
) -> Iterator[RouterHandle]:
    path = tmp_path / "nexus.yaml"
    path.write_text(
        CONFIG.format(local=local, cloud=cloud, spare=spare, timeout=timeout, interval=interval)
    )
    with run_router(path, env={"CLOUD_KEY": SECRET}, health_probes=probes) as router:
        yield router


@pytest.fixture
def local() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(reply="local says hi", models=("l7",))
    with serve(fake) as url:
        yield fake, f"{url}/v1"


@pytest.fixture
def cloud() -> Iterator[tuple[FakeOpenAI, str]]:
    fake = FakeOpenAI(reply="cloud says hi", models=("c9",))
    with serve(fake) as url:
        yield fake, f"{url}/v1"


def sdk(router: RouterHandle, **kw: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{router.url}/v1", api_key="unused", max_retries=0, **kw)


HI = [{"role": "user", "content": "hi"}]
HISTORY = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": "again"},
]


def test_primary_serves_with_routing_headers(tmp_path: Path, local: Any, cloud: Any) -> None:
    (fake, url), (_, cloud_url) = local, cloud
    with router_for(tmp_path, local=url, cloud=cloud_url) as router:
        raw = sdk(router).chat.completions.with_raw_response.create(model="chat", messages=HI)
        completion = raw.parse()
        assert completion.choices[0].message.content == "local says hi"
        assert raw.headers["x-nexus-backend"] == "local"
        assert raw.headers["x-nexus-model"] == "local/l7"
        assert raw.headers["x-nexus-route-reason"] == "primary"
        assert raw.headers["x-nexus-privacy-zone"] == "restricted"
        assert raw.headers["x-nexus-config-version"] == router.version()
        assert fake.requests[0]["model"] == "l7"  # the upstream's own name


def test_stream_relays_chunks_with_headers_first(tmp_path: Path, local: Any, cloud: Any) -> None:
    (_, url), (_, cloud_url) = local, cloud
    with router_for(tmp_path, local=url, cloud=cloud_url) as router:
        stream = sdk(router).chat.completions.create(
            model="chat", messages=HI, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "local says hi"
        assert chunks[-1].usage is not None
        assert chunks[-1].usage.completion_tokens == 3
        with router.http.stream(
            "POST", "/v1/chat/completions", json={"model": "chat", "messages": HI, "stream": True}
        ) as r:
            assert r.headers["content-type"].startswith("text/event-stream")
            assert r.headers["x-nexus-route-reason"] == "primary"
            body = r.read().decode()
        assert body.rstrip().endswith("data: [DONE]")


def test_failover_to_next_target_when_primary_refuses(tmp_path: Path, cloud: Any) -> None:
    spare = FakeOpenAI(reply="spare here", models=("s5",))
    with (
        serve(spare) as spare_url,
        router_for(tmp_path, local=DEAD, cloud=cloud[1], spare=f"{spare_url}/v1") as router,
    ):
        raw = sdk(router).chat.completions.with_raw_response.create(model="pair", messages=HI)
        assert raw.parse().choices[0].message.content == "spare here"
        assert raw.headers["x-nexus-backend"] == "spare"
        assert raw.headers["x-nexus-route-reason"] == "failover"


def test_failover_on_upstream_5xx(tmp_path: Path, local: Any) -> None:
    fake, url = local
    fake.status = 500
    spare = FakeOpenAI(reply="spare here", models=("s5",))
    with (
        serve(spare) as spare_url,
        router_for(tmp_path, local=url, cloud=DEAD, spare=f"{spare_url}/v1") as router,
    ):
        response = router.http.post("/v1/chat/completions", json={"model": "pair", "messages": HI})
        assert response.status_code == 200
        assert response.headers["x-nexus-backend"] == "spare"
        assert len(fake.requests) == 1


def test_failover_never_crosses_into_a_zone_overflow_forbids(tmp_path: Path, cloud: Any) -> None:
    """The primary is down and the request has history: the cloud must never see it."""
    fake_cloud, cloud_url = cloud
    with router_for(tmp_path, local=DEAD, cloud=cloud_url) as router:
        response = router.http.post(
            "/v1/chat/completions", json={"model": "chat", "messages": HISTORY}
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "upstream_unavailable"
        fresh = router.http.post("/v1/chat/completions", json={"model": "chat", "messages": HI})
        assert fresh.status_code == 200
        assert fresh.headers["x-nexus-route-reason"] == "overflow"
        assert len(fake_cloud.requests) == 1  # only the fresh request
        assert fake_cloud.headers[0]["authorization"] == f"Bearer {SECRET}"


def _rejection(
    router: RouterHandle,
    model: str,
    messages: list[dict[str, Any]] = HI,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    response = router.http.post(
        "/v1/chat/completions",
        headers=headers or {},
        json={"model": model, "messages": messages, **extra},
    )
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    retry = int(response.headers["retry-after"])
    assert retry == body["error"]["context"]["retry_after_seconds"]
    if body["error"]["context"]["rejection_reason"] in {"no_healthy_backend", "capacity_exhausted"}:
        # transient: when the next probe runs (every 0.05 s here), at least 1 s
        assert retry == 1
        assert "x-should-retry" not in response.headers
    else:
        # no retry can fix it: the configured value, and clients are told not to retry
        assert retry == 17
        assert response.headers["x-should-retry"] == "false"
        assert response.headers["retry-after-ms"] == "0"
    assert body["error"]["type"] == "insufficient_capacity"
    assert body["error"]["code"] == 503
    return body["error"]


def test_each_503_reason_over_http(tmp_path: Path, cloud: Any) -> None:
    with router_for(tmp_path, local=DEAD, cloud=cloud[1], probes=True) as router:
        wait_for(
            lambda: (
                {
                    p["name"]: p["status"]
                    for p in router.http.get("/admin/providers").json()["providers"]
                }
                == {"local": "unhealthy", "cloud": "healthy", "spare": "unhealthy"}
            ),
            what="probes",
        )
        error = _rejection(router, "locked")
        assert error["message"] == "No backends available in required privacy zone 'restricted'"
        assert error["context"] == {
            "rejection_reason": "privacy_zone_mismatch",
            "required_zone": "restricted",
            "available_backends": [{"name": "cloud", "zone": "open", "status": "healthy"}],
            "retry_after_seconds": 17,
        }
        error = _rejection(router, "chat", HISTORY, stream=True)  # streams get JSON 503 too
        assert error["context"] == {
            "rejection_reason": "overflow_blocked_with_history",
            "required_zone": "restricted",
            "available_zone": "open",
            "overflow_mode": "fresh-only",
            "conversation_messages": 3,
            "retry_after_seconds": 17,
        }
        error = _rejection(router, "smart")
        assert error["message"] == "No backends meet minimum reasoning tier 8"
        assert error["context"]["available_backends"] == [
            {"name": "local", "model": "l7", "reasoning_tier": 7, "status": "unhealthy"}
        ]
        assert (
            _rejection(router, "coder")["context"]["rejection_reason"] == "tier_insufficient_coding"
        )
        error = _rejection(router, "small", headers={"x-nexus-strict": "1"})
        assert error["context"]["rejection_reason"] == "strict_routing_enabled"
        assert error["context"]["available_models"] == ["c9"]
        flexible = router.http.post(
            "/v1/chat/completions",
            headers={"x-nexus-flexible": "true"},
            json={"model": "small", "messages": HI},
        )
        assert flexible.status_code == 200
        assert flexible.headers["x-nexus-route-reason"] == "alternative"
        error = _rejection(router, "pair")
        assert error["context"]["rejection_reason"] == "no_healthy_backend"
        error = _rejection(
            router,
            "locked",
            tools=[{"type": "function", "function": {"name": "f"}}],
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}
            ],
        )
        assert error["context"]["rejection_reason"] == "capability_missing"
        assert error["context"]["required_capability"] == "vision"


def test_unknown_model_is_404_with_available_models(tmp_path: Path, local: Any, cloud: Any) -> None:
    with (
        router_for(tmp_path, local=local[1], cloud=cloud[1]) as router,
        pytest.raises(openai.NotFoundError) as info,
    ):
        sdk(router).chat.completions.create(model="gpt-7", messages=HI)
    error = info.value.body
    assert isinstance(error, dict)
    assert error["code"] == "model_not_found"
    assert "Available models: c9, chat, coder" in error["message"]


def test_mid_stream_failure_ends_with_an_error_event(
    tmp_path: Path, local: Any, cloud: Any
) -> None:
    fake, url = local
    fake.fail_after_chunks = 2
    with router_for(tmp_path, local=url, cloud=cloud[1]) as router:
        stream = sdk(router).chat.completions.create(model="chat", messages=HI, stream=True)
        received: list[object] = []
        with pytest.raises(
            openai.APIError, match=r"at http://127\.0\.0\.1:\d+/v1: the answer was cut short"
        ):
            received.extend(stream)
        assert len(received) == 2  # what arrived before the failure was relayed
        assert len(cloud[0].requests) == 0  # no failover after the first byte


def test_upstream_timeout_is_504(tmp_path: Path, local: Any) -> None:
    fake, url = local
    fake.delay_s = 2
    with router_for(tmp_path, local=url, cloud=DEAD, timeout=0.3) as router:
        response = router.http.post(
            "/v1/chat/completions", json={"model": "locked", "messages": HI}
        )
        assert response.status_code == 504
        # the provider, its URL as written and the cause
        assert (
            response.json()["error"]["message"]
            == f"Provider 'local' at {url}: timed out after 0.3s"
        )


def test_upstream_client_error_passes_through_without_secrets(tmp_path: Path, cloud: Any) -> None:
    fake, url = cloud
    fake.status = 400
    fake.error_body = {"error": {"message": f"bad request for key {SECRET}", "type": "invalid"}}
    with router_for(tmp_path, local=DEAD, cloud=url) as router:
        response = router.http.post("/v1/chat/completions", json={"model": "c9", "messages": HI})
        assert response.status_code == 400
        assert SECRET not in response.text
        assert "bad request for key [redacted]" in response.json()["error"]["message"]


def test_malformed_upstream_json_is_502(tmp_path: Path, local: Any) -> None:
    fake, url = local
    fake.malformed = True
    with router_for(tmp_path, local=url, cloud=DEAD) as router:
        response = router.http.post("/v1/chat/completions", json={"model": "l7", "messages": HI})
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_protocol_error"


def test_request_in_flight_during_reload_finishes_on_its_table(tmp_path: Path, cloud: Any) -> None:
    slow = FakeOpenAI(reply="from the old table", models=("l7",), gate=threading.Event())
    with (
        serve(slow) as slow_url,
        router_for(tmp_path, local=f"{slow_url}/v1", cloud=cloud[1]) as router,
    ):
        old = router.version()
        result: dict[str, httpx.Response] = {}
        worker = threading.Thread(
            target=lambda: result.update(
                r=router.http.post("/v1/chat/completions", json={"model": "l7", "messages": HI})
            )
        )
        worker.start()
        wait_for(lambda: slow.requests, what="request at the upstream")
        config = tmp_path / "nexus.yaml"
        config.write_text(config.read_text().replace(f"{slow_url}/v1", cloud[1]))
        wait_for(lambda: router.version() != old, what="reload")
        new_response = router.http.post(
            "/v1/chat/completions", json={"model": "l7", "messages": HI}
        )
        assert new_response.headers["x-nexus-config-version"] == router.version()
        assert new_response.json()["choices"][0]["message"]["content"] == "cloud says hi"
        assert slow.gate is not None
        slow.gate.set()
        worker.join(timeout=10)
        response = result["r"]
        assert response.status_code == 200
        assert response.headers["x-nexus-config-version"] == old
        assert (
            json.loads(response.content)["choices"][0]["message"]["content"] == "from the old table"
        )


def test_route_explain_endpoint(tmp_path: Path, local: Any, cloud: Any) -> None:
    with router_for(tmp_path, local=local[1], cloud=cloud[1]) as router:
        report = router.http.post(
            "/v1/route/explain", json={"model": "chat", "history": 4, "down": ["local"]}
        ).json()
        assert report["outcome"] == "rejected"
        assert report["rejection"]["rejection_reason"] == "overflow_blocked_with_history"
        assert [row["verdict"] for row in report["considered"]] == [
            "unhealthy",
            "overflow_blocked_with_history",
        ]
        report = router.http.post("/v1/route/explain", json={"model": "chat"}).json()
        assert [c["target"] for c in report["candidates"]] == ["local/l7", "cloud/c9"]
        assert not local[0].requests
        assert not cloud[0].requests


def test_client_disconnect_cancels_the_upstream_stream(tmp_path: Path, cloud: Any) -> None:
    slow = FakeOpenAI(reply=" ".join(["word"] * 200), models=("l7",), chunk_delay_s=0.02)
    with (
        serve(slow) as slow_url,
        router_for(tmp_path, local=f"{slow_url}/v1", cloud=cloud[1]) as router,
    ):
        with router.http.stream(
            "POST", "/v1/chat/completions", json={"model": "l7", "messages": HI, "stream": True}
        ) as r:
            first = next(r.iter_raw())
            assert first.startswith(b"data: ")
        wait_for(lambda: slow.disconnects == 1, what="upstream to see the disconnect")
        in_flight = wait_for(
            lambda: (
                (p := router.http.get("/admin/providers").json()["providers"][0])["in_flight"] == 0
                and p
            ),
            what="in-flight count released",
        )
        assert in_flight["name"] == "local"
