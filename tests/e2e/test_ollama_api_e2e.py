"""Ollama's API end to end: the real router on a port, fake Ollama and OpenAI upstreams.

Passthrough to Ollama-kind providers byte for byte, translation to others, NDJSON
framing under slow and split upstreams, clients that leave, failover before the
first byte, the history rule, auth, limits, the cache, and errors in Ollama's
envelope. The official client's view is in tests/clients/test_ollama_sdk.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import attrs
import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

USER_KEY = "nx-ollama-user-key-0123456789abcdef"
LIMITED_KEY = "nx-ollama-limited-key-0123456789abcdef"
SLOW_KEY = "nx-ollama-slow-key-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {USER_KEY}"}

CONFIG = """\
version: 1
zones: [{{name: home}}, {{name: cloud}}]
auth:
  keys:
    - {{name: app, role: user, key: "{user}"}}
    - {{name: limited, role: user, key: "{limited}", models: [via-openai]}}
    - {{name: slow, role: user, key: "{slow}", rpm: 1}}
providers:
  - name: ol
    kind: ollama
    base_url: "{ol}"
    zone: home
    models: [{{name: llama3, tools: true, embeddings: true, context_window: 8192}}]
  - name: down
    kind: ollama
    base_url: "http://127.0.0.1:{closed}"
    zone: home
    models: [{{name: llama3-down}}]
  - name: vault
    kind: ollama
    base_url: "{ol}"
    zone: home
    enabled: false
    models: [{{name: llama3-vault}}]
  - name: oa
    kind: openai
    base_url: "{oa}/v1"
    zone: cloud
    models: [{{name: gpt-x, tools: true, vision: true, reasoning: true, context_window: 128000}}]
routes:
  - {{model: via-ollama, targets: [ol/llama3]}}
  - {{model: via-openai, targets: [oa/gpt-x]}}
  - {{model: failover, targets: [down/llama3-down, oa/gpt-x]}}
  - {{model: private, targets: [vault/llama3-vault, oa/gpt-x], zone: home, overflow: fresh-only}}
  - {{model: cached, targets: [oa/gpt-x], cache: {{ttl_s: 60}}}}
"""
HI = [{"role": "user", "content": "hi"}]


@attrs.frozen
class Stack:
    router: RouterHandle
    ollama: FakeOllama
    openai: FakeOpenAI

    @property
    def url(self) -> str:
        return self.router.url


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    ol = FakeOllama(models=("llama3:latest",))
    oa = FakeOpenAI(models=("gpt-x",))
    with serve(ol) as ol_url, serve(oa) as oa_url:
        path = tmp_path_factory.mktemp("ollama-api") / "nexus.yaml"
        path.write_text(
            CONFIG.format(
                ol=ol_url,
                oa=oa_url,
                closed=free_port(),
                user=USER_KEY,
                limited=LIMITED_KEY,
                slow=SLOW_KEY,
            )
        )
        # No probes: the provider that is down stays a candidate, so failover is exercised.
        with run_router(path, health_probes=False) as router:
            yield Stack(router, ol, oa)


@pytest.fixture
def fresh(stack: Stack) -> Iterator[Stack]:
    """The shared stack with its fakes back to their defaults, nothing recorded."""

    def reset() -> None:
        stack.ollama.requests.clear()
        stack.ollama.paths.clear()
        stack.openai.requests.clear()
        for fake, field in ((stack.ollama, "split_bytes"), (stack.ollama, "chunk_delay_s")):
            setattr(fake, field, 0)
        stack.ollama.fail_after_lines = None
        stack.ollama.reply = "Hello from Ollama"
        stack.openai.reply = "Hello from the fake upstream"
        stack.openai.chunk_delay_s = 0.0
        stack.openai.fail_after_chunks = None

    reset()
    yield stack
    reset()


def post(stack: Stack, path: str, body: Any, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", AUTH)
    return httpx.post(f"{stack.url}{path}", json=body, headers=headers, timeout=30, **kwargs)


def lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


# -- An Open WebUI session, and what reaches each kind of provider ---------------------------


def test_an_open_webui_session_probes_lists_then_streams_a_chat(fresh: Stack) -> None:
    """Its probe of /api/version and /api/tags, then a streamed chat with options and keep_alive."""
    with httpx.Client(base_url=fresh.url, headers=AUTH, timeout=30) as ui:
        version = ui.get("/api/version")
        assert version.status_code == 200
        assert version.json()["version"].startswith("0.")
        tags = ui.get("/api/tags").json()["models"]
        names = {m["name"] for m in tags}
        assert {"via-ollama", "via-openai", "failover", "cached"} <= names
        assert all(m["model"] == m["name"] and m["digest"] for m in tags)
        body = {
            "model": "via-ollama",
            "messages": [{"role": "user", "content": "Why is the sky blue?"}],
            "stream": True,
            "options": {"temperature": 0.8, "top_k": 40, "num_ctx": 4096, "num_predict": 128},
            "keep_alive": "5m",
            "think": False,
        }
        with ui.stream("POST", "/api/chat", json=body) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-type"].startswith("application/x-ndjson")
            assert answer.headers["x-nexus-backend"] == "ol"
            parts = [json.loads(line) for line in answer.iter_lines() if line]
    assert "".join(p["message"]["content"] for p in parts).split() == ["Hello", "from", "Ollama"]
    assert parts[-1]["done"] is True
    # Passthrough: the body as the client sent it, only the model replaced.
    assert fresh.ollama.requests == [{**body, "model": "llama3"}]
    assert fresh.ollama.paths == ["/api/chat"]


def test_the_passthrough_stream_reaches_the_client_byte_for_byte(fresh: Stack) -> None:
    """An Ollama-kind provider's NDJSON comes back untranslated (the fake's own spacing)."""
    answer = post(fresh, "/api/generate", {"model": "via-ollama", "prompt": "hi", "raw": True})
    assert answer.status_code == 200
    assert answer.text.startswith('{"model": "llama3", "created_at": "2026-11-23T00:00:00Z"')
    assert fresh.ollama.requests == [{"model": "llama3", "prompt": "hi", "raw": True}]


def test_a_translated_request_carries_what_the_internal_dialect_can_say(fresh: Stack) -> None:
    """To an OpenAI-compatible provider: options become parameters, format a response_format."""
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    answer = post(
        fresh,
        "/api/chat",
        {
            "model": "via-openai",
            "messages": [{"role": "system", "content": "terse"}, *HI],
            "options": {"temperature": 0, "top_p": 0.5, "seed": 7, "num_predict": 32, "stop": "x"},
            "format": schema,
            "keep_alive": -1,
            "stream": False,
        },
    )
    assert answer.status_code == 200
    sent = fresh.openai.requests[-1]
    assert sent["model"] == "gpt-x"
    assert sent["messages"] == [{"role": "system", "content": "terse"}, *HI]
    assert (sent["temperature"], sent["top_p"], sent["seed"]) == (0, 0.5, 7)
    assert sent["max_tokens"] == 32
    assert sent["stop"] == ["x"]
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "response", "schema": schema},
    }
    assert "keep_alive" not in sent
    assert "options" not in sent
    body = answer.json()
    assert body["model"] == "via-openai"
    assert body["message"] == {"role": "assistant", "content": "Hello from the fake upstream"}
    assert (body["prompt_eval_count"], body["eval_count"]) == (9, 7)
    assert body["total_duration"] > 0


def test_images_reach_an_openai_provider_as_data_urls_with_their_media_type(fresh: Stack) -> None:
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAHnOcQAAAAABJRU5ErkJggg=="
    message = {"role": "user", "content": "what is this?", "images": [png]}
    answer = post(fresh, "/api/chat", {"model": "via-openai", "messages": [message]})
    assert answer.status_code == 200
    content = fresh.openai.requests[-1]["messages"][0]["content"]
    assert content == [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
    ]


# -- Framing, slow upstreams, clients that leave ----------------------------------------------


def test_lines_split_across_slow_reads_reach_the_client_whole(fresh: Stack) -> None:
    """The fake writes each line in 5-byte pieces with pauses; the router relays whole lines."""
    fresh.ollama.split_bytes = 5
    fresh.ollama.chunk_delay_s = 0.002
    received: list[bytes] = []
    with httpx.stream(
        "POST", f"{fresh.url}/api/chat", json={"model": "via-ollama", "messages": HI}, headers=AUTH
    ) as answer:
        received.extend(answer.iter_raw())
    assert received
    assert all(chunk.endswith(b"\n") for chunk in received)
    parts = [json.loads(line) for line in b"".join(received).splitlines()]
    assert [p["done"] for p in parts] == [False, False, False, True]


@pytest.mark.parametrize("model", ["via-ollama", "via-openai"])
def test_a_client_that_leaves_mid_stream_cancels_the_upstream_call(
    fresh: Stack, model: str
) -> None:
    """After the first line the client hangs up; the provider sees its connection close."""
    fake = fresh.ollama if model == "via-ollama" else fresh.openai
    fake.reply = " ".join(["word"] * 200)
    fake.chunk_delay_s = 0.02
    before = fake.disconnects
    with httpx.stream(
        "POST", f"{fresh.url}/api/chat", json={"model": model, "messages": HI}, headers=AUTH
    ) as answer:
        first = next(answer.iter_lines())
    assert json.loads(first)["done"] is False
    wait_for(lambda: fake.disconnects > before, what="the upstream call to be cancelled")


@pytest.mark.parametrize("model", ["via-ollama", "via-openai"])
def test_a_provider_that_dies_mid_stream_ends_it_with_an_error_line(
    fresh: Stack, model: str
) -> None:
    """As Ollama does: the last NDJSON line is {"error": ...}, after the text already sent."""
    if model == "via-ollama":
        fresh.ollama.fail_after_lines = 2
    else:
        fresh.openai.fail_after_chunks = 2
    answer = post(fresh, "/api/chat", {"model": model, "messages": HI})
    assert answer.status_code == 200
    parts = lines(answer)
    assert parts[0]["done"] is False
    assert set(parts[-1]) == {"error"}
    assert "Provider" in parts[-1]["error"]


@pytest.mark.parametrize("stream", [True, False])
def test_a_provider_that_is_down_fails_over_before_the_first_byte(
    fresh: Stack, stream: bool
) -> None:
    answer = post(fresh, "/api/chat", {"model": "failover", "messages": HI, "stream": stream})
    assert answer.status_code == 200
    assert answer.headers["x-nexus-route-reason"] == "failover"
    assert answer.headers["x-nexus-backend"] == "oa"
    text = "".join(p["message"]["content"] for p in lines(answer))
    assert text == "Hello from the fake upstream"


# -- Routing rules, auth, limits, cache --------------------------------------------------------


def test_a_fresh_chat_may_overflow_but_one_with_history_is_refused_as_on_v1(fresh: Stack) -> None:
    """fresh-only overflow reads Ollama's messages like any other: the same refusal as /v1."""
    fresh_chat = post(fresh, "/api/chat", {"model": "private", "messages": HI, "stream": False})
    assert fresh_chat.status_code == 200
    assert fresh_chat.headers["x-nexus-route-reason"] == "overflow"
    history = [*HI, {"role": "assistant", "content": "hello"}, {"role": "user", "content": "more"}]
    refused = post(fresh, "/api/chat", {"model": "private", "messages": history})
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "30"
    assert refused.headers["x-should-retry"] == "false"
    body = refused.json()
    assert set(body) == {"error", "context"}
    assert body["context"]["rejection_reason"] in {
        "overflow_blocked_with_history",
        "strict_routing_enabled",  # flexible routing would find another home model
    }
    v1 = post(fresh, "/v1/chat/completions", {"model": "private", "messages": history})
    assert v1.status_code == 503
    assert v1.json()["error"]["context"] == body["context"]
    assert v1.json()["error"]["message"] == body["error"]
    assert fresh.openai.requests == [{**fresh.openai.requests[0]}]  # only the fresh chat


ERRORS = [
    pytest.param(
        "/api/chat",
        {"model": "nope", "messages": HI},
        AUTH,
        404,
        "Model 'nope' not found",
        id="404",
    ),
    pytest.param(
        "/api/chat",
        {"model": "via-openai", "messages": [{"role": "robot", "content": "hi"}]},
        AUTH,
        400,
        "messages[0].role",
        id="400-role",
    ),
    pytest.param(
        "/api/generate",
        {"model": "via-openai", "prompt": "hi", "images": ["not base64!"]},
        AUTH,
        400,
        "images[0] is not base64",
        id="400-image",
    ),
    pytest.param(
        "/api/generate",
        {"model": "via-openai", "prompt": "def f(", "suffix": "return 1"},
        AUTH,
        400,
        "'suffix'",
        id="400-suffix-elsewhere",
    ),
    pytest.param(
        "/api/chat", {"model": "via-openai", "messages": HI}, {}, 401, "Authentication", id="401"
    ),
    pytest.param(
        "/api/chat",
        {"model": "via-ollama", "messages": HI},
        {"Authorization": f"Bearer {LIMITED_KEY}"},
        403,
        "may not use model 'via-ollama'",
        id="403",
    ),
    pytest.param(
        "/api/copy", {"source": "a", "destination": "b"}, AUTH, 501, "ollama cp", id="501"
    ),
]


@pytest.mark.parametrize(("path", "body", "headers", "status", "says"), ERRORS)
def test_errors_come_in_ollamas_envelope(
    fresh: Stack, path: str, body: Any, headers: dict[str, str], status: int, says: str
) -> None:
    answer = post(fresh, path, body, headers=headers)
    assert answer.status_code == status
    error = answer.json()
    assert list(error) == ["error"]
    assert says in error["error"]
    assert fresh.openai.requests == []
    assert fresh.ollama.requests == []


def test_malformed_json_wrong_method_and_rate_limits_use_the_same_envelope(fresh: Stack) -> None:
    malformed = httpx.post(f"{fresh.url}/api/chat", content=b"{nope", headers=AUTH)
    assert (malformed.status_code, list(malformed.json())) == (400, ["error"])
    wrong = httpx.get(f"{fresh.url}/api/chat", headers=AUTH)
    assert (wrong.status_code, list(wrong.json())) == (405, ["error"])
    slow = {"Authorization": f"Bearer {SLOW_KEY}"}  # rpm: 1
    assert httpx.get(f"{fresh.url}/api/tags", headers=slow).status_code == 200
    limited = httpx.get(f"{fresh.url}/api/tags", headers=slow)
    assert limited.status_code == 429
    assert list(limited.json()) == ["error"]
    assert int(limited.headers["retry-after"]) >= 1


def test_a_curl_body_of_any_content_type_and_an_implicit_latest_tag_are_read(fresh: Stack) -> None:
    """``curl -d`` sends application/x-www-form-urlencoded; ``name:latest`` is the route ``name``."""
    answer = httpx.post(
        f"{fresh.url}/api/generate",
        content=json.dumps({"model": "via-openai:latest", "prompt": "hi", "stream": False}),
        headers={**AUTH, "content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    assert answer.json()["response"] == "Hello from the fake upstream"


def test_whole_answers_are_cached_in_ollamas_shape_streams_are_not(fresh: Stack) -> None:
    body = {"model": "cached", "messages": HI, "stream": False, "options": {"temperature": 0}}
    first, second = post(fresh, "/api/chat", body), post(fresh, "/api/chat", body)
    assert (first.headers["x-nexus-cache"], second.headers["x-nexus-cache"]) == ("miss", "hit")
    assert second.json()["message"] == first.json()["message"]
    assert len(fresh.openai.requests) == 1
    openai = post(
        fresh, "/v1/chat/completions", {"model": "cached", "messages": HI, "temperature": 0}
    )
    assert openai.json()["object"] == "chat.completion"  # not the Ollama answer cached above
    post(fresh, "/api/chat", {**body, "stream": True})
    assert len(fresh.openai.requests) == 3


def test_load_calls_answer_at_once_and_still_route(fresh: Stack) -> None:
    """An empty prompt (or no messages) loads the model: done, no provider called; unknown 404."""
    loaded = post(fresh, "/api/generate", {"model": "via-ollama"})
    assert loaded.json()["done"] is True
    assert loaded.json()["done_reason"] == "load"
    unloaded = post(fresh, "/api/chat", {"model": "via-ollama", "messages": [], "keep_alive": 0})
    assert unloaded.json()["done_reason"] == "unload"
    assert unloaded.json()["message"] == {"role": "assistant", "content": ""}
    assert fresh.ollama.requests == []
    assert post(fresh, "/api/generate", {"model": "nope"}).status_code == 404


def test_requests_are_counted_and_logged_like_every_routed_request(fresh: Stack) -> None:
    post(fresh, "/api/chat", {"model": "via-openai", "messages": HI, "stream": False})
    metrics = httpx.get(f"{fresh.url}/metrics").text
    assert 'nexus_requests_total{provider="oa",route="via-openai",status="200"}' in metrics
    assert 'nexus_tokens_total{kind="prompt",model="gpt-x",provider="oa"}' in metrics


def test_show_reports_capabilities_and_context_length_from_the_metadata(fresh: Stack) -> None:
    shown = post(fresh, "/api/show", {"model": "via-ollama"}).json()
    assert shown["capabilities"] == ["completion", "tools", "embedding"]
    assert shown["model_info"]["general.architecture"] == "nexus"
    assert shown["model_info"]["nexus.context_length"] == 8192
    legacy = post(fresh, "/api/show", {"name": "via-openai"}).json()
    assert legacy["model_info"]["nexus.context_length"] == 128000
    assert legacy["capabilities"] == ["completion", "tools", "vision", "thinking"]
    assert post(fresh, "/api/show", {"model": "nope"}).status_code == 404
    hidden = post(
        fresh,
        "/api/show",
        {"model": "via-ollama"},
        headers={"Authorization": f"Bearer {LIMITED_KEY}"},
    )
    assert hidden.status_code == 404  # a limited key is told only of its own models


def test_the_root_answers_like_ollama_without_a_key(fresh: Stack) -> None:
    root = httpx.get(f"{fresh.url}/")
    assert (root.status_code, root.text) == (200, "Ollama is running")
    assert httpx.head(f"{fresh.url}/").status_code == 200
    assert httpx.get(f"{fresh.url}/api/version").status_code == 200
    assert httpx.get(f"{fresh.url}/api/tags").status_code == 401
