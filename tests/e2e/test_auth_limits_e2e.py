"""Authentication, roles, isolation, rate limits, body limits, metrics and logs, end to end."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from router.logs import JsonFormatter
from tests.conftest import free_port, wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

ADMIN = "nx-admin-key-7a1c9e3f5b2d4e6a"
ALICE = "nx-alice-key-0f1e2d3c4b5a6978"
BOB = "nx-bob-key-11223344556677889900"
LIMITED = "nx-limited-key-aabbccddeeff0011"
KEYS = (ADMIN, ALICE, BOB, LIMITED)

CONFIG = f"""\
version: 1
server: {{max_body_bytes: 4096}}
auth:
  keys:
    - {{name: ops, role: admin, key: "${{ADMIN_KEY}}", rpm: 100}}
    - {{name: alice, role: user, sha256: {hashlib.sha256(ALICE.encode()).hexdigest()}}}
    - {{name: bob, role: user, key: "${{BOB_KEY}}"}}
    - {{name: limited, role: user, key: "${{LIMITED_KEY}}", rpm: 3, models: ["llama*"]}}
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - {{name: home, kind: openai, base_url: "{{home}}", zone: home, rpm: {{home_rpm}},
     models: [{{name: llama3}}, {{name: shared}}]}}
  - {{name: spare, kind: openai, base_url: "{{spare}}", zone: home, models: [{{name: shared}}]}}
  - {{name: cloud, kind: openai, base_url: "http://127.0.0.1:9/v1", zone: cloud,
     models: [{{name: gpt-x}}]}}
routes:
  - {{model: private, targets: [home/llama3, cloud/gpt-x], zone: home, overflow: never}}
  - {{model: pair, targets: [home/shared, spare/shared], zone: home}}
"""
ENV = {"ADMIN_KEY": ADMIN, "BOB_KEY": BOB, "LIMITED_KEY": LIMITED}
HI = [{"role": "user", "content": "hi"}]


@contextlib.contextmanager
def secured(
    tmp_path: Path, *, home_rpm: int = 1000, home: FakeOpenAI | None = None
) -> Iterator[tuple[RouterHandle, FakeOpenAI, FakeOpenAI]]:
    home = home or FakeOpenAI(reply="home", models=("llama3", "shared"))
    spare = FakeOpenAI(reply="spare", models=("shared",))
    with serve(home) as home_url, serve(spare) as spare_url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            CONFIG.replace("{home}", f"{home_url}/v1")
            .replace("{spare}", f"{spare_url}/v1")
            .replace("{home_rpm}", str(home_rpm))
        )
        with run_router(path, env=ENV, health_probes=False) as router:
            yield router, home, spare


def auth(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def sdk(router: RouterHandle, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{router.url}/v1", api_key=key, max_retries=0)


def test_authentication_in_both_envelopes(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        missing = router.http.post("/v1/chat/completions", json={"model": "llama3", "messages": HI})
        assert missing.status_code == 401
        assert missing.json()["error"]["code"] == "invalid_api_key"
        wrong = router.http.get("/v1/models", headers=auth("nx-guess"))
        assert (wrong.status_code, wrong.json()["error"]["message"]) == (401, "Invalid API key")
        admin_api = router.http.get("/api/v1/llm-provider/openai")
        assert (admin_api.status_code, admin_api.json()) == (
            401,
            {"message": "Authentication required", "error_code": "AUTHENTICATION_REQUIRED"},
        )
        with pytest.raises(openai.AuthenticationError):
            sdk(router, "nx-nope").models.list()
        assert [m.id for m in sdk(router, ALICE).models.list()]  # sha256-configured key
        assert router.http.get("/v1/models", headers={"x-api-key": BOB}).status_code == 200
        assert router.http.get("/health").status_code == 200  # operational endpoints stay open
        assert router.http.get("/metrics").status_code == 200


def test_roles_and_model_allow_lists(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        forbidden = router.http.get("/api/v1/llm-provider/openai", headers=auth(ALICE))
        assert (forbidden.status_code, forbidden.json()["error_code"]) == (
            403,
            "INSUFFICIENT_PERMISSIONS",
        )
        assert router.http.get("/admin/config", headers=auth(ALICE)).status_code == 403
        assert router.http.get("/admin/config", headers=auth(ADMIN)).status_code == 200
        assert (
            router.http.get("/api/v1/llm-provider/openai", headers=auth(ADMIN)).status_code == 200
        )
        with pytest.raises(openai.PermissionDeniedError, match="may not use model 'pair'"):
            sdk(router, LIMITED).chat.completions.create(model="pair", messages=HI)  # type: ignore[arg-type]
        assert [m.id for m in sdk(router, LIMITED).models.list()] == ["llama3"]
        assert (
            sdk(router, LIMITED)
            .chat.completions.create(model="llama3", messages=HI)
            .choices[0]
            .message.content
            == "home"
        )  # type: ignore[arg-type]


def test_stored_objects_belong_to_the_key_that_created_them(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        alice, bob, admin = sdk(router, ALICE), sdk(router, BOB), sdk(router, ADMIN)
        response = alice.responses.create(model="llama3", input="mine")
        conversation = alice.conversations.create(items=[{"role": "user", "content": "secret"}])
        with pytest.raises(openai.NotFoundError):
            bob.responses.retrieve(response.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.delete(response.id)
        with pytest.raises(openai.BadRequestError, match="not found"):  # as for an unknown id
            bob.responses.create(model="llama3", input="x", previous_response_id=response.id)
        with pytest.raises(openai.NotFoundError):
            bob.conversations.items.list(conversation.id)
        with pytest.raises(openai.NotFoundError):
            bob.responses.create(model="llama3", input="x", conversation=conversation.id)
        assert admin.responses.retrieve(response.id).output_text == "home"
        assert admin.conversations.retrieve(conversation.id).id == conversation.id
        assert alice.responses.retrieve(response.id).id == response.id


def test_key_rate_limit_with_retry_after(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        codes = [router.http.get("/v1/models", headers=auth(LIMITED)).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        limited = router.http.get("/v1/models", headers=auth(LIMITED))
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert 1 <= int(limited.headers["retry-after"]) <= 20  # 3 per minute: one every 20 s
        assert router.http.get("/v1/models", headers=auth(BOB)).status_code == 200  # per key


def test_provider_rate_limit_fails_over_then_429(tmp_path: Path) -> None:
    with secured(tmp_path, home_rpm=1) as (router, home, _spare):
        backends = [
            router.http.post(
                "/v1/chat/completions", headers=auth(BOB), json={"model": "pair", "messages": HI}
            ).headers.get("x-nexus-backend")
            for _ in range(2)
        ]
        assert backends == ["home", "spare"]  # home's 1 rpm is spent: the next target serves
        only_home = router.http.post(
            "/v1/chat/completions", headers=auth(BOB), json={"model": "llama3", "messages": HI}
        )
        assert only_home.status_code == 429
        assert only_home.json()["error"]["code"] == "rate_limit_exceeded"
        assert int(only_home.headers["retry-after"]) >= 1
        assert len(home.requests) == 1


def test_a_providers_own_429_cools_it_down(tmp_path: Path) -> None:
    busy = FakeOpenAI(
        models=("shared",),
        status=429,
        retry_after="30",
        error_body={"error": {"message": "slow down", "type": "rate_limit"}},
    )
    with secured(tmp_path, home=busy) as (router, _, spare):
        first = router.http.post(
            "/v1/chat/completions", headers=auth(BOB), json={"model": "pair", "messages": HI}
        )
        assert first.headers["x-nexus-backend"] == "spare"  # failed over on 429
        state = {
            p["name"]: p
            for p in router.http.get("/admin/providers", headers=auth(ADMIN)).json()["providers"]
        }
        assert 25 < state["home"]["cooling_down_s"] <= 30
        router.http.post(
            "/v1/chat/completions", headers=auth(BOB), json={"model": "pair", "messages": HI}
        )
        assert len(busy.requests) == 1  # skipped while cooling down
        assert len(spare.requests) == 2


def test_body_limits_and_malformed_json(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        big = router.http.post(
            "/v1/chat/completions",
            headers=auth(BOB),
            json={"model": "llama3", "messages": [{"role": "user", "content": "x" * 5000}]},
        )
        assert big.status_code == 413
        assert big.json()["error"]["max_size_bytes"] == 4096
        form = router.http.post(
            "/v1/chat/completions",
            headers={**auth(BOB), "content-type": "text/plain"},
            content=b"hello",
        )
        assert (form.status_code, form.json()["error"]["code"]) == (415, "unsupported_media_type")
        broken = router.http.post(
            "/v1/chat/completions",
            content=b'{"model": "llama3",, }',
            headers={**auth(BOB), "content-type": "application/json"},
        )
        assert broken.status_code == 400
        assert broken.json()["error"]["message"].startswith(
            "Malformed JSON body: JSON is malformed"
        )


def test_inference_routes_answer_wrong_methods_and_chunked_bodies_precisely(
    tmp_path: Path,
) -> None:
    with secured(tmp_path) as (router, _, _):
        for path in ("/v1/chat/completions", "/v1/responses", "/v1/embeddings"):
            wrong = router.http.get(path, headers=auth(BOB))
            assert wrong.status_code == 405, path
            assert wrong.headers["allow"] == "POST"
            assert wrong.json()["error"]["code"] == "method_not_allowed"
        unauthenticated = router.http.post("/v1/chat/completions", json={"model": "llama3"})
        assert unauthenticated.status_code == 401

        def chunks() -> Iterator[bytes]:  # no content-length: the limit holds mid-stream
            yield b'{"model": "llama3", "messages": [{"role": "user", "content": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}]}'

        big = router.http.post(
            "/v1/chat/completions",
            headers={**auth(BOB), "content-type": "application/json"},
            content=chunks(),
        )
        assert big.status_code == 413
        assert big.json()["error"]["max_size_bytes"] == 4096


OBSERVED = """\
version: 1
auth:
  keys: [{name: alice, role: user, key: "${ALICE_KEY}"}]
zones: [{name: home}, {name: cloud}]
providers:
  - {name: home, kind: openai, base_url: "HOME", zone: home, models: [{name: llama3}]}
  - {name: down, kind: openai, base_url: "http://127.0.0.1:9/v1", zone: home,
     models: [{name: m, tiers: {reasoning: 5}}]}
  - {name: cloud, kind: openai, base_url: "HOME", zone: cloud, models: [{name: gpt-x, tiers: {reasoning: 9}}]}
routes:
  - {model: private, targets: [down/m, cloud/gpt-x], zone: home, overflow: never, min_tiers: {reasoning: 5}}
routing:
  health: {interval_s: 0.05, failure_threshold: 1}
"""


def test_metrics_request_ids_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nexus.access")
    with serve(FakeOpenAI(reply="home", models=("llama3", "gpt-x"))) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(OBSERVED.replace("HOME", f"{url}/v1"))
        with run_router(path, env={"ALICE_KEY": ALICE}) as router:
            wait_for(
                lambda: (
                    'nexus_provider_health{provider="down",state="unhealthy"} 1.0'
                    in router.http.get("/metrics").text
                ),
                what="probe marks 'down' unhealthy",
            )
            rejected = router.http.post(
                "/v1/chat/completions",
                headers=auth(ALICE),
                json={"model": "private", "messages": HI},
            )
            assert rejected.status_code == 503
            assert len(rejected.headers["x-request-id"]) == 32  # generated
            ok = router.http.post(
                "/v1/chat/completions",
                headers={**auth(ALICE), "x-request-id": "trace-42"},
                json={"model": "llama3", "messages": HI},
            )
            assert ok.headers["x-request-id"] == "trace-42"  # honoured
            assert router.http.get("/nope").headers["x-request-id"]  # even on a 404
            text = router.http.get("/metrics").text
    assert 'http_responses_total{reason="privacy_zone_mismatch",status="503"} 1.0' in text
    assert 'nexus_requests_total{provider="home",route="llama3",status="200"} 1.0' in text
    assert 'nexus_tokens_total{kind="prompt",model="llama3",provider="home"} 9.0' in text
    assert "nexus_config_info{version=" in text
    assert "nexus_router_overhead_seconds_count 1.0" in text
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "nexus.access"
    ]
    request = next(line for line in lines if line.get("request_id") == "trace-42")
    assert {
        k: request[k] for k in ("key", "route", "provider", "zone", "status", "prompt_tokens")
    } == {
        "key": "alice",
        "route": "llama3",
        "provider": "home",
        "zone": "home",
        "status": 200,
        "prompt_tokens": 9,
    }
    assert request["latency_ms"] > 0
    rejection = next(line for line in lines if line["message"] == "Request rejected")
    assert {
        k: rejection[k] for k in ("level", "rejection_reason", "status", "available_backends")
    } == {
        "level": "warn",
        "rejection_reason": "privacy_zone_mismatch",
        "status": 503,
        "available_backends": 1,
    }
    assert rejection["timestamp"].endswith("Z")
    everything = caplog.text + "".join(json.dumps(line) for line in lines)
    assert ALICE not in everything
    assert '"hi"' not in everything  # no prompt content by default


def test_ready_and_the_safe_default_binding(tmp_path: Path) -> None:
    with secured(tmp_path) as (router, _, _):
        assert router.http.get("/ready").json()["status"] == "ready"
    bare = tmp_path / "open.yaml"
    bare.write_text("version: 1\nproviders: []\n")
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "router",
            "serve",
            "-c",
            str(bare),
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "needs an 'auth' section" in refused.stderr


def test_keys_are_compared_without_early_exit() -> None:
    """Two entries with the same key material: the scan goes on past the first match."""
    from router.snapshot.loader import load_bytes

    digest = hashlib.sha256(b"k").hexdigest()
    text = (
        "version: 1\nproviders: []\nauth:\n  keys:\n"
        f"    - {{name: first, role: user, sha256: {digest}}}\n"
        f"    - {{name: second, role: admin, sha256: {digest}}}\n"
    )
    table = load_bytes(text.encode(), source="t", env={}, loaded_at=0)
    assert table.auth is not None
    identity = table.auth.authenticate("k")
    assert identity is not None
    assert identity.name == "second"
    assert table.auth.authenticate("K") is None
    assert table.auth.authenticate("") is None
