"""The router names its release: in GET /health and in the User-Agent every provider sees."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import openai
import pytest

from router import __version__
from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

CONFIG = """\
version: 1
providers:
  - name: up
    kind: openai
    base_url: {url}/v1
    models: [{{name: gpt-4o}}]
routing:
  health: {{interval_s: 0.05}}
"""


@attrs.define
class UserAgents:
    """An ASGI wrapper that writes down (method, path, User-Agent) of every request."""

    app: FakeOpenAI
    seen: list[tuple[str, str, str | None]] = attrs.Factory(list)
    lock: threading.Lock = attrs.Factory(threading.Lock)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            agent = headers.get(b"user-agent")
            with self.lock:
                self.seen.append(
                    (scope["method"], scope["path"], agent.decode() if agent else None)
                )
        await self.app(scope, receive, send)

    def paths(self) -> set[tuple[str, str]]:
        with self.lock:
            return {(method, path) for method, path, _ in self.seen}

    def agents(self) -> set[str | None]:
        with self.lock:
            return {agent for _, _, agent in self.seen}


@pytest.fixture
def upstream() -> UserAgents:
    return UserAgents(FakeOpenAI())


@pytest.fixture
def router(tmp_path: Path, upstream: UserAgents) -> Iterator[RouterHandle]:
    with serve(upstream) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(CONFIG.format(url=url))
        with run_router(path) as handle:
            yield handle


def test_health_names_the_version(router: RouterHandle) -> None:
    response = router.http.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_probes_and_inference_send_our_user_agent(
    router: RouterHandle, upstream: UserAgents
) -> None:
    """Probes go through httpx, inference through aiohttp: both must say nexus/<version>."""
    wait_for(lambda: ("GET", "/v1/models") in upstream.paths(), what="a health probe")
    client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
    hi = [{"role": "user", "content": "hi"}]
    client.chat.completions.create(model="gpt-4o", messages=hi)
    stream = client.chat.completions.create(model="gpt-4o", messages=hi, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert len(upstream.app.requests) == 2
    assert upstream.agents() == {f"nexus/{__version__}"}
