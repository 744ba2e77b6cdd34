"""A database out of reach: every call is StoreUnavailable (503), and the store recovers by itself.

SQLite's outage is another process holding the write lock past the busy
timeout; PostgreSQL's is every connection of the store's role terminated while
the role may not open new ones (as during a restart or failover).
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import attrs
import pytest

from router.errors import StoreUnavailable
from router.store import Store
from router.store.base import StoredConversation
from router.store.postgres import PostgresStore
from router.store.sqlite import SqliteStore
from tests.store.test_store import ITEMS, response


@attrs.frozen
class Outage:
    store: Store
    begin: Callable[[], Awaitable[None]]
    end: Callable[[], Awaitable[None]]


async def until(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 10.0) -> None:
    """Poll `probe` without blocking the event loop; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


# -- PostgreSQL: the store connects as a role of its own that a test can lock out -------------


@attrs.frozen
class Role:
    name: str
    url: str  # the store's URL: this role, the test's schema
    admin_url: str

    async def admin(self, sql: str, *args: object) -> object:
        conn = await asyncpg.connect(self.admin_url)
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    async def backends(self) -> set[int]:
        conn = await asyncpg.connect(self.admin_url)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE usename = $1", self.name
            )
        finally:
            await conn.close()
        return {r[0] for r in rows}

    async def terminate(self, pids: set[int] | None = None) -> None:
        """Terminate the role's backends (or those of `pids`) and wait until they are gone."""
        doomed = await self.backends() if pids is None else pids
        await self.admin("SELECT count(pg_terminate_backend(p)) FROM unnest($1::int[]) p", doomed)

        async def gone() -> bool:
            return not (await self.backends() & doomed)

        await until(gone, "terminated backends to exit")


@pytest.fixture
def role(postgres_url: str) -> Iterator[Role]:
    """A login role (not a superuser: connection limits apply) owning the test's schema."""
    name = f"nexus_test_{secrets.token_hex(4)}"
    schema = postgres_url.rpartition("search_path=")[2]
    parts = urlsplit(postgres_url)
    url = parts._replace(netloc=f"{name}@{parts.netloc.rpartition('@')[2]}").geturl()
    probe = Role(name, url, postgres_url)
    asyncio.run(probe.admin(f"CREATE ROLE {name} LOGIN"))
    asyncio.run(probe.admin(f"GRANT ALL ON SCHEMA {schema} TO {name}"))
    try:
        yield probe
    finally:
        asyncio.run(probe.terminate())
        asyncio.run(probe.admin(f"DROP OWNED BY {name}"))
        asyncio.run(probe.admin(f"DROP ROLE {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "sqlite":
        path = tmp_path / "nexus.db"
        holder = sqlite3.connect(path, isolation_level=None)

        async def lock() -> None:
            holder.execute("BEGIN EXCLUSIVE")

        async def unlock() -> None:
            holder.execute("ROLLBACK")

        yield Outage(SqliteStore(str(path), instance="a", busy_timeout_s=0.1), lock, unlock)
        holder.close()
        return
    role: Role = request.getfixturevalue("role")

    async def lock_out() -> None:
        await role.admin(f"ALTER ROLE {role.name} CONNECTION LIMIT 0")
        await role.terminate()

    async def let_in() -> None:
        await role.admin(f"ALTER ROLE {role.name} CONNECTION LIMIT -1")

    yield Outage(PostgresStore(role.url, instance="a"), lock_out, let_in)


@pytest.mark.anyio
async def test_an_outage_is_store_unavailable_and_passes_by_itself(outage: Outage) -> None:
    store = outage.store
    await store.open()
    await store.put_response(response("resp_1"), ITEMS)
    await store.create_conversation(
        StoredConversation(id="conv_1", created_at=1.0, metadata={}), []
    )
    await outage.begin()
    calls: list[Callable[[], Awaitable[object]]] = [
        store.ping,
        store.heartbeat,
        lambda: store.get_response("resp_1"),
        lambda: store.put_response(response("resp_2")),
        lambda: store.append_items("conv_1", ITEMS),
        lambda: store.fail_unfinished("restarted"),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="The database is unavailable"):
            await call()
    await outage.end()
    assert await store.get_response("resp_1") == response("resp_1")
    assert await asyncio.gather(*(store.ping() for _ in range(8))) == [True] * 8
    assert (await store.conversation_items("conv_1")).items == ()  # nothing half-written
    await store.put_response(response("resp_2"))
    await store.close()


@pytest.mark.anyio
async def test_postgres_never_reuses_a_connection_opened_before_an_outage(role: Role) -> None:
    """One connection lost mid-transaction: it and every other pooled connection are replaced."""
    store = PostgresStore(role.url, instance="a")
    await store.open()
    await store.create_conversation(
        StoredConversation(id="conv_1", created_at=1.0, metadata={}), []
    )
    await asyncio.gather(*(store.ping() for _ in range(4)))  # a few pooled connections
    before = await role.backends()
    # Hold the conversation's row lock so the append waits on the server; then its
    # connection is terminated under it, as a restarting server does.
    holder = await asyncpg.connect(role.admin_url)
    schema = role.url.rpartition("search_path=")[2]
    await holder.execute("BEGIN")
    await holder.execute(f"SELECT 1 FROM {schema}.nexus_conversations FOR UPDATE")
    append = asyncio.create_task(store.append_items("conv_1", ITEMS))

    async def waiting() -> bool:
        return bool(
            await role.admin(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock'",
                role.name,
            )
        )

    await until(waiting, "the append to wait for the row lock")
    await role.admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE usename = $1 AND wait_event_type = 'Lock'",
        role.name,
    )
    with pytest.raises(StoreUnavailable):
        await append
    await holder.execute("ROLLBACK")
    await holder.close()
    outage_at = await role.admin("SELECT now()")
    assert await asyncio.gather(*(store.ping() for _ in range(8))) == [True] * 8
    reused = await role.admin(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[]) AND query_start > $2",
        before,
        outage_at,
    )
    assert reused == 0, "a connection from before the outage ran a query after it"
    assert (await store.conversation_items("conv_1")).items == ()
    await store.close()
