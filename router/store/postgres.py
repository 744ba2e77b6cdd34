"""The store on PostgreSQL, for several router replicas sharing one database.

asyncpg (a connection pool, binary protocol, no ORM) keeps the per-request cost to
one round trip per statement. Bodies are ``json`` columns: the text is kept
verbatim (key order included) and operators can still query it with ``->``.

Every table is prefixed ``nexus_`` so the database may be shared with other
applications. A lost connection or a database that is restarting becomes
`StoreUnavailable` (503), never a half-written row: every call is one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import asyncpg
import msgspec

from router.errors import StoreUnavailable
from router.store.backend import Dialect, Program
from router.store.base import redact_url
from router.store.processes import ProcessId, this_process
from router.store.sql import SqlStore

__all__ = ["PostgresBackend", "PostgresStore"]

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode

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
    # Which OS process each replica is, so that a neighbour can tell it is gone
    # (router.store.processes).
    """
    ALTER TABLE nexus_replicas
        ADD COLUMN pid_space TEXT, ADD COLUMN pid INTEGER, ADD COLUMN pid_started BIGINT;
    """,
    # Items a later request may name in an item_reference: a response's output items,
    # and every stored item looked up by its id alone.
    """
    CREATE TABLE nexus_output_items (
        response_id TEXT NOT NULL REFERENCES nexus_responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body JSON NOT NULL,
        PRIMARY KEY (response_id, seq)
    );
    CREATE INDEX nexus_output_items_by_id ON nexus_output_items (id);
    CREATE INDEX nexus_response_items_by_id ON nexus_response_items (id);
    CREATE INDEX nexus_conversation_items_by_id ON nexus_conversation_items (id);
    """,
    # A background response's events, so a client can resume its stream
    # (GET /v1/responses/{id}?stream=true&starting_after=N), from any replica.
    """
    CREATE TABLE nexus_response_events (
        response_id TEXT NOT NULL REFERENCES nexus_responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BYTEA NOT NULL,
        PRIMARY KEY (response_id, seq)
    );
    """,
    # The spend ledger: one row per UTC day and (route, provider, zone, model, key),
    # added to by every router process (router.services.spend).
    """
    CREATE TABLE nexus_spend (
        day DOUBLE PRECISION NOT NULL,
        route TEXT NOT NULL,
        provider TEXT NOT NULL,
        zone TEXT NOT NULL,
        model TEXT NOT NULL,
        key TEXT NOT NULL,
        requests BIGINT NOT NULL,
        prompt_tokens BIGINT NOT NULL,
        completion_tokens BIGINT NOT NULL,
        cached_tokens BIGINT NOT NULL,
        cost_usd DOUBLE PRECISION NOT NULL,
        estimated_requests BIGINT NOT NULL,
        estimated_usd DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (day, route, provider, zone, model, key)
    );
    """,
)

#: What a database outage looks like from asyncpg: the call fails, nothing is committed,
#: and trying again later may work.
_OUTAGE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,  # 08: cannot connect, connection lost
    asyncpg.InterfaceError,  # connection closed, pool closing, an operation in progress
    asyncpg.exceptions.InternalClientError,  # a connection in a state asyncpg did not expect
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutdown, crash, cannot connect now
    asyncpg.exceptions.InsufficientResourcesError,  # 53: too many connections, disk full
    asyncpg.exceptions.ObjectNotInPrerequisiteStateError,  # 55: e.g. lock not available
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # 25006: a standby, after a failover
)


def outage(exc: BaseException) -> str | None:
    """The error's class name when `exc` means the database cannot be used now."""
    return type(exc).__name__ if isinstance(exc, _OUTAGE) else None


DIALECT = Dialect(
    table_prefix="nexus_",
    placeholder="${}",
    # The database's clock, not each replica's: replicas' clocks may disagree.
    now="now()",
    seconds=" * interval '1 second'",
    for_update=" FOR UPDATE",
    for_update_skip_locked=" FOR UPDATE SKIP LOCKED",
    json=lambda value: _encode(value).decode(),  # asyncpg takes json as text
)


async def _drive(c: asyncpg.Connection, program: Program[T], *, single: bool = False) -> T:
    """Run every statement `program` yields, sending each result back; its return value.

    `single`: the program promised one statement; a second one is a bug (there is
    no transaction around them).
    """
    try:
        op = next(program)
        ran = 0
        while True:
            if single and ran:
                raise AssertionError(f"a second statement in a single-statement program: {op}")
            ran += 1
            kind, sql, args = op
            result: Any
            if kind == "fetchrow":
                result = await c.fetchrow(sql, *args)
            elif kind == "fetchval":
                result = await c.fetchval(sql, *args)
            elif kind == "fetch":
                result = await c.fetch(sql, *args)
            elif kind == "executemany":
                result = await c.executemany(sql, args)
            else:
                result = _rows_changed(await c.execute(sql, *args))
            op = program.send(result)
    except StopIteration as done:
        value: T = done.value
        return value
    finally:
        program.close()


def _rows_changed(status: str) -> int:
    """The row count of a command tag: 'UPDATE 2' -> 2, 'INSERT 0 1' -> 1."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release a connection to the pool as it is, without asyncpg's reset query.

    That query (unlock advisory locks, close cursors, unlisten, RESET ALL) is one
    more round trip per call, and undoes nothing the store does: it never sets
    session state. asyncpg still rolls back a transaction left open.
    """


class PostgresBackend:
    dialect = DIALECT

    def __init__(self, dsn: str, *, pool_size: int = 10) -> None:
        self.dsn = dsn
        self._pool_size = pool_size
        self._pool: asyncpg.Pool | None = None

    async def run(self, program: Program[T], *, single: bool = False) -> T:
        """Run `program` in one transaction on a pooled connection.

        A single statement is sent without BEGIN and COMMIT (it is atomic by itself):
        one round trip instead of three.

        After an outage neither the connection that failed nor any other opened
        before it is handed out again: a server that restarted or failed over
        leaves sockets that look open and are not, or sessions in a state a reset
        cannot repair. The pool opens fresh ones as they are needed.
        """
        pool = self._pool
        if pool is None:
            raise StoreUnavailable("The database is not open")
        async with pool.acquire(timeout=5.0) as conn:
            try:
                if single:
                    return await _drive(conn, program, single=True)
                async with conn.transaction():
                    return await _drive(conn, program)
            except Exception as exc:
                if outage(exc) is not None:
                    # Abort it rather than let the pool reset it (which may wait on a
                    # dead socket); one that closed has already left the pool.
                    with contextlib.suppress(asyncpg.InterfaceError):
                        conn.terminate()
                    await pool.expire_connections()
                raise

    def outage(self, exc: BaseException) -> str | None:
        return outage(exc)

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=1,
                max_size=self._pool_size,
                # A restarted server leaves dead sockets in the pool; recycle idle ones quickly.
                max_inactive_connection_lifetime=30.0,
                command_timeout=30.0,
                reset=_keep_session,
            )
        except _OUTAGE as exc:
            raise StoreUnavailable(
                f"Cannot connect to {redact_url(self.dsn)}: {type(exc).__name__}"
            ) from exc
        try:
            async with self._pool.acquire(timeout=5.0) as conn, conn.transaction():
                await _migrate(conn)
        except _OUTAGE as exc:
            raise StoreUnavailable(
                f"The database is unavailable ({type(exc).__name__}); try again shortly"
            ) from exc

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), 10.0)
            except _OUTAGE:  # TimeoutError is one of them
                pool.terminate()


class PostgresStore(SqlStore):
    """`Store` on PostgreSQL; `instance` names this replica for background-response ownership."""

    def __init__(
        self,
        dsn: str,
        *,
        instance: str,
        pool_size: int = 10,
        identify: Callable[[], ProcessId | None] = this_process,
    ) -> None:
        self.dsn = dsn
        backend = PostgresBackend(dsn, pool_size=pool_size)
        super().__init__(backend, instance=instance, identify=identify)

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.dsn)})"


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
