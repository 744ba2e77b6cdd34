"""A stored response is refused before any provider is paid for while the database is down."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import httpx
import pytest

from tests.conftest import wait_for
from tests.e2e.test_outages_e2e import config
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.outage import Cuttable
from tests.fakes.router import run_router
from tests.fakes.servers import serve

ASK = {"model": "gpt-4o", "input": "hi"}


@attrs.frozen
class Database:
    storage: str
    cut: Callable[[], None]
    restore: Callable[[], None]


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """The router's database, and how to take it away: a held write lock, a cut link."""
    if request.param == "sqlite":
        holder = sqlite3.connect(tmp_path / "nexus.db", isolation_level=None, timeout=10)
        # the router's store waits 5 s (its busy timeout) for the lock, then gives up
        yield Database(
            "sqlite:///nexus.db",
            lambda: holder.execute("BEGIN EXCLUSIVE") and None,
            lambda: holder.execute("ROLLBACK") and None,
        )
        holder.close()
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    with Cuttable.to(postgres_url, 5432).running() as link:
        yield Database(link.url_for(postgres_url), link.cut, link.restore)


def _unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "store_unavailable"


def test_no_upstream_call_is_made_for_a_stored_response_while_the_store_is_down(
    tmp_path: Path, database: Database
) -> None:
    fake = FakeOpenAI()
    with serve(fake) as upstream, contextlib.ExitStack() as stack:
        path = config(tmp_path, upstream, storage=database.storage, shared=None)
        http = stack.enter_context(run_router(path)).http
        assert http.post("/v1/responses", json=ASK).status_code == 200
        paid = len(fake.requests)
        database.cut()
        _unavailable(http.post("/v1/responses", json=ASK))
        _unavailable(http.post("/v1/responses", json={**ASK, "stream": True}))
        assert len(fake.requests) == paid, "a provider was called for a response it cannot store"
        # a response that is not stored needs no database
        assert http.post("/v1/responses", json={**ASK, "store": False}).status_code == 200
        database.restore()
        wait_for(lambda: http.get("/ready").status_code == 200, what="the store to return")
        stored = http.post("/v1/responses", json=ASK).json()
        assert http.get(f"/v1/responses/{stored['id']}").json()["status"] == "completed"
