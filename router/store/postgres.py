"""PostgreSQL implementation of the store, for several router replicas sharing one database.

asyncpg (a connection pool, binary protocol, no ORM) keeps the per-request cost to
one round trip per statement. Bodies are ``json`` columns: the text is kept
verbatim (key order included) and operators can still query it with ``->``.

Every table is prefixed ``nexus_`` so the database may be shared with other
applications. A lost connection or a database that is restarting becomes
`StoreUnavailable` (503), never a half-written row: every call is one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import asyncpg
import msgspec

from router.errors import StoreUnavailable
from router.store.base import ItemPage, Order, StoredConversation, StoredResponse, redact_url
from router.store.items import assign_ids, page_query, to_page

__all__ = ["PostgresStore"]

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

#: Any two replicas migrating at once serialize on this transaction-level advisory lock.
_MIGRATION_LOCK = 0x6E657875  # "nexu"

#: Each entry migrates from version i to i+1 (rows in nexus_migrations).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE nexus_responses (
        id TEXT PRIMARY KEY,
        created_at DOUBLE PRECISION NOT NULL,
        status TEXT NOT NULL,
        background BOOLEAN NOT NULL,
        owner TEXT,
        previous_response_id TEXT,
        runner TEXT,
        body JSON NOT NULL
    );
    CREATE INDEX nexus_responses_unfinished ON nexus_responses (status)
        WHERE status IN ('queued', 'in_progress');
    CREATE TABLE nexus_response_items (
        response_id TEXT NOT NULL REFERENCES nexus_responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body JSON NOT NULL,
        PRIMARY KEY (response_id, seq),
        UNIQUE (response_id, id)
    );
    CREATE TABLE nexus_conversations (
        id TEXT PRIMARY KEY,
        created_at DOUBLE PRECISION NOT NULL,
        owner TEXT,
        model TEXT,
        metadata JSON NOT NULL
    );
    CREATE TABLE nexus_conversation_items (
        conversation_id TEXT NOT NULL REFERENCES nexus_conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body JSON NOT NULL,
        PRIMARY KEY (conversation_id, seq),
        UNIQUE (conversation_id, id)
    );
    CREATE TABLE nexus_replicas (
        id TEXT PRIMARY KEY,
        seen_at TIMESTAMPTZ NOT NULL
    );
    """,
)

#: What a database outage looks like from asyncpg: the call fails, nothing is committed.
_OUTAGE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now
)

_UNFINISHED = "('queued', 'in_progress')"


class PostgresStore:
    """`Store` on PostgreSQL; `instance` names this replica for background-response ownership."""

    def __init__(self, dsn: str, *, instance: str, pool_size: int = 10) -> None:
        self.dsn = dsn
        self.instance = instance
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.dsn)})"

    async def _run(self, fn: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run `fn` in one transaction; an outage becomes StoreUnavailable."""
        if self._pool is None:
            raise StoreUnavailable("The database is not open")
        try:
            async with self._pool.acquire(timeout=5.0) as conn, conn.transaction():
                return await fn(conn)
        except _OUTAGE as exc:
            raise StoreUnavailable(
                f"The database is unavailable ({type(exc).__name__}); try again shortly"
            ) from exc

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self._pool_size,
                # A restarted server leaves dead sockets in the pool; recycle idle ones quickly.
                max_inactive_connection_lifetime=30.0,
                command_timeout=30.0,
            )
        except _OUTAGE as exc:
            raise StoreUnavailable(
                f"Cannot connect to {redact_url(self.dsn)}: {type(exc).__name__}"
            ) from exc
        await self._run(_migrate)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10.0)
            except _OUTAGE:  # TimeoutError is one of them
                pool.terminate()

    async def ping(self) -> bool:
        answer: int = await self._run(lambda c: c.fetchval("SELECT 1"))
        return answer == 1

    async def heartbeat(self) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT INTO nexus_replicas (id, seen_at) VALUES ($1, now())"
                " ON CONFLICT (id) DO UPDATE SET seen_at = now()",
                self.instance,
            )
        )

    async def leave(self) -> None:
        await self._run(
            lambda c: c.execute("DELETE FROM nexus_replicas WHERE id = $1", self.instance)
        )

    # -- responses ------------------------------------------------------------------------

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        async def put(c: asyncpg.Connection) -> None:
            await c.execute(
                "INSERT INTO nexus_responses (id, created_at, status, background, owner,"
                " previous_response_id, runner, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body",
                response.id,
                response.created_at,
                response.status,
                response.background,
                response.owner,
                response.previous_response_id,
                self.instance if response.background else None,
                _encode(response.body).decode(),
            )
            if input_items:
                await c.executemany(
                    "INSERT INTO nexus_response_items (response_id, seq, id, body)"
                    " VALUES ($1, $2, $3, $4)",
                    [
                        (response.id, i, item["id"], _encode(item).decode())
                        for i, item in enumerate(input_items)
                    ],
                )

        await self._run(put)

    async def finish_response(self, response: StoredResponse) -> bool:
        async def finish(c: asyncpg.Connection) -> bool:
            done = await c.execute(
                "UPDATE nexus_responses SET status = $2, body = $3"
                f" WHERE id = $1 AND status IN {_UNFINISHED}",
                response.id,
                response.status,
                _encode(response.body).decode(),
            )
            return bool(done != "UPDATE 0")

        return await self._run(finish)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        row = await self._run(
            lambda c: c.fetchrow(
                "SELECT id, created_at, status, background, owner, previous_response_id, body"
                " FROM nexus_responses WHERE id = $1",
                response_id,
            )
        )
        if row is None:
            return None
        return StoredResponse(
            id=row[0],
            created_at=row[1],
            status=row[2],
            background=row[3],
            owner=row[4],
            previous_response_id=row[5],
            body=_decode(row[6]),
        )

    async def delete_response(self, response_id: str) -> bool:
        done = await self._run(
            lambda c: c.execute("DELETE FROM nexus_responses WHERE id = $1", response_id)
        )
        return bool(done != "DELETE 0")

    async def input_items(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        return await self._run(
            lambda c: _page(
                c, "nexus_response_items", "response_id", response_id, after, limit, order
            )
        )

    async def fail_unfinished(self, message: str, *, stale_after_s: float = 30.0) -> int:
        """Fail unfinished responses whose replica stopped sending heartbeats (or is this one)."""

        async def fail(c: asyncpg.Connection) -> int:
            rows = await c.fetch(
                "SELECT r.id, r.body FROM nexus_responses r"
                f" WHERE r.status IN {_UNFINISHED} AND (r.runner IS NULL OR r.runner = $1"
                "   OR NOT EXISTS (SELECT 1 FROM nexus_replicas p WHERE p.id = r.runner"
                "                  AND p.seen_at > now() - make_interval(secs => $2)))"
                " FOR UPDATE OF r SKIP LOCKED",
                self.instance,
                stale_after_s,
            )
            for response_id, raw in rows:
                body = _decode(raw)
                body["status"] = "failed"
                body["error"] = {"code": "server_error", "message": message}
                await c.execute(
                    "UPDATE nexus_responses SET status = 'failed', body = $2 WHERE id = $1",
                    response_id,
                    _encode(body).decode(),
                )
            await c.execute(
                "DELETE FROM nexus_replicas WHERE seen_at < now() - make_interval(secs => $1)",
                stale_after_s * 10,
            )
            return len(rows)

        return await self._run(fail)

    # -- conversations ----------------------------------------------------------------------

    async def create_conversation(
        self, conversation: StoredConversation, items: Sequence[Mapping[str, Any]]
    ) -> None:
        async def create(c: asyncpg.Connection) -> None:
            await c.execute(
                "INSERT INTO nexus_conversations (id, created_at, owner, model, metadata)"
                " VALUES ($1, $2, $3, $4, $5)",
                conversation.id,
                conversation.created_at,
                conversation.owner,
                conversation.model,
                _encode(conversation.metadata).decode(),
            )
            await _append(c, conversation.id, items)

        await self._run(create)

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return await self._run(lambda c: _conversation(c, conversation_id))

    async def update_conversation(
        self, conversation_id: str, metadata: Mapping[str, str]
    ) -> StoredConversation | None:
        async def update(c: asyncpg.Connection) -> StoredConversation | None:
            await c.execute(
                "UPDATE nexus_conversations SET metadata = $2 WHERE id = $1",
                conversation_id,
                _encode(metadata).decode(),
            )
            return await _conversation(c, conversation_id)

        return await self._run(update)

    async def delete_conversation(self, conversation_id: str) -> bool:
        done = await self._run(
            lambda c: c.execute("DELETE FROM nexus_conversations WHERE id = $1", conversation_id)
        )
        return bool(done != "DELETE 0")

    async def append_items(
        self, conversation_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]] | None:
        async def append(c: asyncpg.Connection) -> list[dict[str, Any]] | None:
            # The row lock makes concurrent appends (from any replica) queue up, so each
            # batch lands contiguously after the previous one.
            locked = await c.fetchval(
                "SELECT 1 FROM nexus_conversations WHERE id = $1 FOR UPDATE", conversation_id
            )
            if locked is None:
                return None
            return await _append(c, conversation_id, items)

        return await self._run(append)

    async def conversation_items(
        self,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        return await self._run(
            lambda c: _page(
                c,
                "nexus_conversation_items",
                "conversation_id",
                conversation_id,
                after,
                limit,
                order,
            )
        )

    async def get_item(self, conversation_id: str, item_id: str) -> Mapping[str, Any] | None:
        raw = await self._run(
            lambda c: c.fetchval(
                "SELECT body FROM nexus_conversation_items WHERE conversation_id = $1 AND id = $2",
                conversation_id,
                item_id,
            )
        )
        return None if raw is None else _decode(raw)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        done = await self._run(
            lambda c: c.execute(
                "DELETE FROM nexus_conversation_items WHERE conversation_id = $1 AND id = $2",
                conversation_id,
                item_id,
            )
        )
        return bool(done != "DELETE 0")


async def _migrate(c: asyncpg.Connection) -> None:
    """Apply missing migrations; replicas starting together wait on one advisory lock."""
    await c.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
    await c.execute(
        "CREATE TABLE IF NOT EXISTS nexus_migrations"
        " (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
    )
    version = await c.fetchval("SELECT COALESCE(MAX(version), 0) FROM nexus_migrations")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        await c.execute(script)
        await c.execute("INSERT INTO nexus_migrations (version) VALUES ($1)", number)


async def _conversation(c: asyncpg.Connection, conversation_id: str) -> StoredConversation | None:
    row = await c.fetchrow(
        "SELECT id, created_at, owner, model, metadata FROM nexus_conversations WHERE id = $1",
        conversation_id,
    )
    if row is None:
        return None
    return StoredConversation(
        id=row[0], created_at=row[1], owner=row[2], model=row[3], metadata=_decode(row[4])
    )


async def _append(
    c: asyncpg.Connection, conversation_id: str, items: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Append after the last item; the caller holds the conversation's row lock."""
    last = await c.fetchval(
        "SELECT COALESCE(MAX(seq), -1) FROM nexus_conversation_items WHERE conversation_id = $1",
        conversation_id,
    )
    taken = {
        r[0]
        for r in await c.fetch(
            "SELECT id FROM nexus_conversation_items WHERE conversation_id = $1", conversation_id
        )
    }
    stored = assign_ids(items, taken)
    if stored:
        await c.executemany(
            "INSERT INTO nexus_conversation_items (conversation_id, seq, id, body)"
            " VALUES ($1, $2, $3, $4)",
            [
                (conversation_id, last + offset, body["id"], _encode(body).decode())
                for offset, body in enumerate(stored, start=1)
            ],
        )
    return stored


async def _page(
    c: asyncpg.Connection,
    table: str,
    owner_column: str,
    owner: str,
    after: str | None,
    limit: int | None,
    order: Order,
) -> ItemPage:
    """One page of items ordered by seq; `after` is the id of the last item already seen."""
    sql, uses = page_query(
        table, owner_column, after=after is not None, limit=limit, order=order, param="${}".format
    )
    values = (owner, after, None if limit is None else limit + 1)
    rows = await c.fetch(sql, *[values[u] for u in uses])
    return to_page([r[0] for r in rows], limit, _decode)
