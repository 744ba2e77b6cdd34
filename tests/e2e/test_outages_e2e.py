"""Redis and PostgreSQL going away under a running router, and coming back.

A `Cuttable` link between the router and the real service resets every
connection and refuses new ones, as a stopped or restarting server does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.outage import Cuttable
from tests.fakes.router import run_router
from tests.fakes.servers import serve

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


def config(tmp_path: Path, upstream: str, *, storage: str, shared: str | None) -> Path:
    path = tmp_path / "nexus.yaml"
    path.write_text(
        "version: 1\n"
        f'storage: "{storage}"\n' + (f'shared: "{shared}"\n' if shared else "") + "providers:\n"
        f'  - {{name: main, kind: openai, base_url: "{upstream}/v1", rpm: 1000,'
        " max_concurrency: 8, models: [{name: gpt-4o}]}\n"
    )
    return path


@pytest.fixture
def upstream() -> Iterator[str]:
    with serve(FakeOpenAI()) as url:
        yield url


def test_redis_lost_mid_run_degrades_and_recovers(
    tmp_path: Path, upstream: str, redis_url: str
) -> None:
    with Cuttable.to(redis_url, 6379).running() as link:
        path = config(
            tmp_path, upstream, storage="sqlite:///nexus.db", shared=link.url_for(redis_url)
        )
        with run_router(path) as router:
            http = router.http
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            assert http.get("/ready").json()["status"] == "ready"
            link.cut()
            # every request still served: rpm and slots fall back to this process
            assert [http.post("/v1/chat/completions", json=CHAT).status_code for _ in range(5)] == [
                200
            ] * 5
            ready = http.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["status"] == "degraded"
            assert ready.json()["checks"]["shared"]["ok"] is False
            assert 'nexus_shared_state_degraded{mode="redis"} 1.0' in http.get("/metrics").text
            link.restore()
            wait_for(lambda: http.get("/ready").json()["status"] == "ready", what="recovery")
            assert 'nexus_shared_state_degraded{mode="redis"} 0.0' in http.get("/metrics").text
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["code"] == "store_unavailable"
    assert error["type"] == "server_error"


def test_postgres_restart_fails_requests_cleanly_and_recovers(
    tmp_path: Path, upstream: str, postgres_url: str
) -> None:
    with Cuttable.to(postgres_url, 5432).running() as link:
        path = config(tmp_path, upstream, storage=link.url_for(postgres_url), shared=None)
        with run_router(path) as router:
            http = router.http
            stored = http.post("/v1/responses", json={"model": "gpt-4o", "input": "one"}).json()
            conversation = http.post(
                "/v1/conversations", json={"items": [{"role": "user", "content": "first"}]}
            ).json()
            link.cut()
            _unavailable(http.post("/v1/responses", json={"model": "gpt-4o", "input": "two"}))
            _unavailable(http.get(f"/v1/responses/{stored['id']}"))
            _unavailable(
                http.post(
                    "/v1/responses",
                    json={"model": "gpt-4o", "input": "more", "conversation": conversation["id"]},
                )
            )
            ready = http.get("/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["store"]["ok"] is False
            # chat completions need no store: still served
            assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
            link.restore()
            wait_for(lambda: http.get("/ready").status_code == 200, what="the store to return")
            assert http.get(f"/v1/responses/{stored['id']}").json()["output"] == stored["output"]
            items = http.get(f"/v1/conversations/{conversation['id']}/items").json()["data"]
            assert [i["content"][0]["text"] for i in items] == ["first"]  # nothing half-written
            again = http.post("/v1/responses", json={"model": "gpt-4o", "input": "three"})
            assert again.status_code == 200
