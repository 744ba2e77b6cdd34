"""Two real router processes, one PostgreSQL, one Redis: the replicas behave as one router."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import attrs
import httpx
import openai
import pytest

from tests.conftest import (
    POSTGRES_ENV,
    REDIS_ENV,
    REPO,
    free_port,
    postgres_schema,
    redis_prefix,
    service_url,
    wait_for,
)
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.servers import serve

KEYS = {"ADMIN_KEY": "sk-admin-0123456789", "USER_KEY": "sk-user-0123456789"}
KEYS["LIMITED_KEY"] = "sk-limited-0123456789"

CONFIG = """\
version: 1
storage: "{storage}"
shared: "{shared}"
auth:
  keys:
    - {{name: admin, role: admin, key: "${{ADMIN_KEY}}"}}
    - {{name: user, role: user, key: "${{USER_KEY}}"}}
    - {{name: limited, role: user, key: "${{LIMITED_KEY}}", rpm: 10}}
providers:
  - {{name: main, kind: openai, base_url: "{main}/v1", models: [{{name: gpt-4o}}]}}
  - {{name: slow, kind: openai, base_url: "{slow}/v1", models: [{{name: slow-model}}]}}
  - {{name: flaky, kind: openai, base_url: "{flaky}/v1", models: [{{name: m}}]}}
  - {{name: steady, kind: openai, base_url: "{steady}/v1", models: [{{name: m}}]}}
  - {{name: paced, kind: openai, base_url: "{paced}/v1", models: [{{name: paced-model}}]}}
routes:
  - {{model: fragile, targets: [flaky/m, steady/m]}}
routing:
  health: {{interval_s: 60, failure_threshold: 1, cooldown_s: 120}}
"""


@attrs.frozen
class Replica:
    url: str
    process: subprocess.Popen[bytes]

    def sdk(self, key: str = KEYS["USER_KEY"]) -> openai.OpenAI:
        return openai.OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0)

    def get(self, path: str, key: str = KEYS["ADMIN_KEY"]) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"authorization": f"Bearer {key}"})


@attrs.frozen
class Cluster:
    a: Replica
    b: Replica
    main: FakeOpenAI
    slow: FakeOpenAI
    flaky: FakeOpenAI
    steady: FakeOpenAI
    paced: FakeOpenAI


@contextlib.contextmanager
def replica(config: Path, log: Path, *extra: str) -> Iterator[Replica]:
    port = free_port()
    with log.open("wb") as out:
        command = [sys.executable, "-m", "router", "serve", "-c", str(config), "--no-watch"]
        options = ["--port", str(port), "--log-level", "warning", "--log-format", "text"]
        proc = subprocess.Popen(
            [*command, *options, *extra],  # later options win
            cwd=REPO,
            env={**os.environ, **KEYS},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"replica exited: {log.read_text()}")
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"{url}/health").status_code == 200
            return False

        try:
            wait_for(up, timeout=30, what="a router replica to start")
            yield Replica(url, proc)
        finally:
            proc.terminate()
            proc.wait(15)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    pg = service_url(POSTGRES_ENV, "a PostgreSQL server")
    rd = service_url(REDIS_ENV, "a Redis server")
    tmp = tmp_path_factory.mktemp("replicas")
    fakes = {
        name: FakeOpenAI(models=(model,))
        for name, model in (
            ("main", "gpt-4o"),
            ("slow", "slow-model"),
            ("flaky", "m"),
            ("steady", "m"),
            ("paced", "paced-model"),
        )
    }
    fakes["paced"].reply = "one two three four five six seven eight"
    fakes["paced"].chunk_delay_s = 0.15
    fakes["flaky"].status = 500
    fakes["slow"].gate = threading.Event()
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(serve(fake)) for name, fake in fakes.items()}
        storage = stack.enter_context(postgres_schema(pg))
        shared = stack.enter_context(redis_prefix(rd))
        config = tmp / "nexus.yaml"
        config.write_text(CONFIG.format(storage=storage, shared=shared, **urls))
        a = stack.enter_context(replica(config, tmp / "a.log"))
        b = stack.enter_context(replica(config, tmp / "b.log"))
        try:
            yield Cluster(a, b, **fakes)
        finally:
            fakes["slow"].gate.set()
        for name in ("a.log", "b.log"):
            assert "sk-" not in (tmp / name).read_text(), "a key reached a log line"


def test_a_response_created_on_a_is_read_and_deleted_on_b(cluster: Cluster) -> None:
    created = cluster.a.sdk().responses.create(model="gpt-4o", input="hello")
    got = cluster.b.sdk().responses.retrieve(created.id)
    assert got.output_text == created.output_text == "Hello from the fake upstream"
    items = cluster.b.sdk().responses.input_items.list(created.id)
    assert [i.type for i in items.data] == ["message"]
    cluster.b.sdk().responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        cluster.a.sdk().responses.retrieve(created.id)


def test_a_conversation_continued_alternately_keeps_every_item_in_order(
    cluster: Cluster,
) -> None:
    conversation = cluster.a.sdk().conversations.create()
    for turn in range(4):
        side = cluster.a if turn % 2 == 0 else cluster.b
        side.sdk().responses.create(
            model="gpt-4o", input=f"turn {turn}", conversation=conversation.id
        )
    # the fourth turn (on b) was sent the three earlier turns as history
    assert len(cluster.main.requests[-1]["messages"]) == 7
    items = cluster.b.sdk().conversations.items.list(conversation.id, order="asc", limit=100)
    texts = [(i.role, i.content[0].text) for i in items.data]  # type: ignore[union-attr]
    assert texts == [
        pair
        for turn in range(4)
        for pair in (("user", f"turn {turn}"), ("assistant", "Hello from the fake upstream"))
    ]


def test_a_background_response_started_on_a_is_cancelled_through_b(cluster: Cluster) -> None:
    started = cluster.a.sdk().responses.create(model="slow-model", input="wait", background=True)
    wait_for(lambda: len(cluster.slow.requests) == 1, what="the upstream call on a")
    cancelled = cluster.b.sdk().responses.cancel(started.id)
    assert cancelled.status == "cancelled"
    # a stopped its upstream call (the gate saw the client go away) and agrees
    wait_for(lambda: cluster.slow.disconnects == 1, what="a to stop the upstream call")
    assert cluster.a.sdk().responses.retrieve(started.id).status == "cancelled"


def test_a_background_stream_started_on_a_is_resumed_on_b(cluster: Cluster) -> None:
    """The client loses its stream from a; it resumes on b after the last event it saw."""
    first = cluster.a.sdk().responses.create(
        model="paced-model", input="count", background=True, stream=True
    )
    seen = []
    for event in first:
        seen.append(event)
        if event.type == "response.output_text.delta":
            break
    first.close()  # the connection drops; the response goes on
    response_id = seen[0].response.id  # type: ignore[union-attr]
    rest = list(
        cluster.b.sdk().responses.retrieve(
            response_id, stream=True, starting_after=seen[-1].sequence_number
        )
    )
    numbers = [e.sequence_number for e in [*seen, *rest]]
    assert numbers == list(range(len(numbers)))  # nothing lost, nothing repeated
    assert rest[-1].type == "response.completed"
    text = "".join(e.delta for e in [*seen, *rest] if e.type == "response.output_text.delta")  # type: ignore[union-attr]
    assert text == "one two three four five six seven eight"
    assert cluster.b.sdk().responses.retrieve(response_id).output_text == text


def test_cancelling_a_finished_background_response_elsewhere_is_a_conflict(
    cluster: Cluster,
) -> None:
    done = cluster.a.sdk().responses.create(model="gpt-4o", input="quick", background=True)
    wait_for(
        lambda: cluster.b.sdk().responses.retrieve(done.id).status == "completed",
        what="the background response to complete",
    )
    with pytest.raises(openai.ConflictError):
        cluster.b.sdk().responses.cancel(done.id)
    assert cluster.a.sdk().responses.retrieve(done.id).status == "completed"


def test_an_rpm_budget_is_shared_by_both_replicas(cluster: Cluster) -> None:
    statuses = []
    for i in range(24):
        side = cluster.a if i % 2 else cluster.b
        response = httpx.post(
            f"{side.url}/v1/chat/completions",
            headers={"authorization": f"Bearer {KEYS['LIMITED_KEY']}"},
            json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        )
        statuses.append(response.status_code)
    assert statuses.count(200) == 10
    assert statuses.count(429) == 14


def test_a_circuit_opened_on_a_is_skipped_by_b(cluster: Cluster) -> None:
    body = {"model": "fragile", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {KEYS['USER_KEY']}"}
    first = httpx.post(f"{cluster.a.url}/v1/chat/completions", json=body, headers=headers)
    assert first.status_code == 200
    assert first.headers["x-nexus-backend"] == "steady"  # flaky's m failed once: circuit open
    assert len(cluster.flaky.requests) == 1

    def b_sees_it() -> bool:  # a 5xx answer opens the model's circuit, not the provider's
        providers = cluster.b.get("/admin/providers").json()["providers"]
        return any(p["name"] == "flaky" and "m" in p["open_models"] for p in providers)

    wait_for(b_sees_it, what="b to adopt the open circuit")
    second = httpx.post(f"{cluster.b.url}/v1/chat/completions", json=body, headers=headers)
    assert second.headers["x-nexus-backend"] == "steady"
    assert len(cluster.flaky.requests) == 1  # b never tried it
    ready = cluster.b.get("/ready").json()
    assert ready["checks"]["shared"]["ok"] is True


def test_workers_of_one_serve_command_share_one_budget(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    """`nexus serve --workers 2`: two processes on one port, one rpm budget between them."""
    with serve(FakeOpenAI()) as main:
        config = tmp_path / "nexus.yaml"
        config.write_text(
            CONFIG.format(
                storage=postgres_url,
                shared=redis_url,
                main=main,
                slow=main,
                flaky=main,
                steady=main,
                paced=main,
            )
        )
        with replica(
            config, tmp_path / "workers.log", "--workers", "2", "--log-level", "info"
        ) as router:
            statuses = []
            for _ in range(16):  # a new connection each time: either worker may take it
                response = httpx.post(
                    f"{router.url}/v1/chat/completions",
                    headers={
                        "authorization": f"Bearer {KEYS['LIMITED_KEY']}",
                        "connection": "close",
                    },
                    json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
                )
                statuses.append(response.status_code)
            log = (tmp_path / "workers.log").read_text()
    assert statuses.count(200) == 10
    assert statuses.count(429) == 6
    assert log.count("Started server process") == 2, log
