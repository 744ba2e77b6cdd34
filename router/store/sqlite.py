"""The store on SQLite: one file, WAL mode, one connection on one thread.

sqlite3 calls block, so they run on a single dedicated worker thread; that also
serializes writers, which SQLite wants anyway. A whole transaction (a program of
`router.store.sql`) runs on that thread: one hop from the event loop per call.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from router.errors import StoreUnavailable
from router.store.backend import Dialect, Program
from router.store.processes import ProcessId, this_process
from router.store.sql import SqlStore

__all__ = ["SqliteBackend", "SqliteStore"]

T = TypeVar("T")

#: Each entry migrates from version i to i+1 (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE responses (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        status TEXT NOT NULL,
        background INTEGER NOT NULL,
        owner TEXT,
        previous_response_id TEXT,
        body BLOB NOT NULL
    );
    CREATE INDEX responses_status ON responses(status);
    CREATE TABLE response_items (
        response_id TEXT NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (response_id, seq)
    );
    CREATE UNIQUE INDEX response_items_id ON response_items(response_id, id);
    """,
    """
    CREATE TABLE conversations (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        owner TEXT,
        model TEXT,
        metadata BLOB NOT NULL
    );
    CREATE TABLE conversation_items (
        conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (conversation_id, seq)
    );
    CREATE UNIQUE INDEX conversation_items_id ON conversation_items(conversation_id, id);
    """,
    # Which process runs a background response, and which processes are alive: several
    # workers may share the file, and one must not fail another's work at start-up.
    """
    ALTER TABLE responses ADD COLUMN runner TEXT;
    CREATE TABLE replicas (id TEXT PRIMARY KEY, seen_at REAL NOT NULL);
    """,
    # Which OS process each replica is, so that a neighbour can tell it is gone
    # (router.store.processes).
    """
    ALTER TABLE replicas ADD COLUMN pid_space TEXT;
    ALTER TABLE replicas ADD COLUMN pid INTEGER;
    ALTER TABLE replicas ADD COLUMN pid_started INTEGER;
    """,
    # Items a later request may name in an item_reference: a response's output items,
    # and every stored item looked up by its id alone.
    """
    CREATE TABLE output_items (
        response_id TEXT NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (response_id, seq)
    );
    CREATE INDEX output_items_by_id ON output_items(id);
    CREATE INDEX response_items_by_id ON response_items(id);
    CREATE INDEX conversation_items_by_id ON conversation_items(id);
    """,
    # A background response's events, so a client can resume its stream
    # (GET /v1/responses/{id}?stream=true&starting_after=N), from any replica.
    """
    CREATE TABLE response_events (
        response_id TEXT NOT NULL REFERENCES responses(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (response_id, seq)
    );
    """,
    # The spend ledger: one row per UTC day and (route, provider, zone, model, key),
    # added to by every router process (router.services.spend).
    """
    CREATE TABLE spend (
        day REAL NOT NULL,
        route TEXT NOT NULL,
        provider TEXT NOT NULL,
        zone TEXT NOT NULL,
        model TEXT NOT NULL,
        key TEXT NOT NULL,
        requests INTEGER NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        cached_tokens INTEGER NOT NULL,
        cost_usd REAL NOT NULL,
        estimated_requests INTEGER NOT NULL,
        estimated_usd REAL NOT NULL,
        PRIMARY KEY (day, route, provider, zone, model, key)
    );
    """,
)

DIALECT = Dialect(
    table_prefix="",
    placeholder="?{}",
    # seen_at holds Unix seconds (REAL); SQLite's clock has millisecond resolution.
    now="((julianday('now') - 2440587.5) * 86400.0)",
    seconds="",
    # Every transaction begins IMMEDIATE: it holds the database's write lock already.
    for_update="",
    for_update_skip_locked="",
    json=msgspec.json.Encoder().encode,
)


def _execute(db: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    return db.execute(sql, args).rowcount


def _executemany(db: sqlite3.Connection, sql: str, rows: Sequence[Any]) -> Any:
    db.executemany(sql, rows)


def _fetch(db: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    return db.execute(sql, args).fetchall()


def _fetchrow(db: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    return db.execute(sql, args).fetchone()


def _fetchval(db: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    row = db.execute(sql, args).fetchone()
    return None if row is None else row[0]


_OPS: dict[str, Callable[[sqlite3.Connection, str, Sequence[Any]], Any]] = {
    "execute": _execute,
    "executemany": _executemany,
    "fetch": _fetch,
    "fetchrow": _fetchrow,
    "fetchval": _fetchval,
}


def _drive(db: sqlite3.Connection, program: Program[T]) -> T:
    """Run every statement `program` yields, sending each result back; its return value."""
    try:
        op = next(program)
        while True:
            op = program.send(_OPS[op.kind](db, op.sql, op.args))
    except StopIteration as done:
        result: T = done.value
        return result
    finally:
        program.close()


#: Primary result codes that mean "not now" rather than "not this statement": another
#: process holds the lock past the busy timeout, or the file or disk cannot be used.
_OUTAGES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # database is locked
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,  # attempt to write a readonly database
        sqlite3.SQLITE_IOERR,  # disk I/O error
        sqlite3.SQLITE_FULL,  # database or disk is full
        sqlite3.SQLITE_CANTOPEN,  # unable to open database file
        sqlite3.SQLITE_PROTOCOL,
    }
)


def outage(exc: BaseException) -> str | None:
    """The result code's name when `exc` means the database cannot be used now."""
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF in _OUTAGES:
        return str(getattr(exc, "sqlite_errorname", "SQLITE_ERROR"))
    return None


class SqliteBackend:
    dialect = DIALECT

    def __init__(self, path: str, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexus-sqlite")
        self._db: sqlite3.Connection | None = None

    async def run(self, program: Program[T], *, single: bool = False) -> T:
        """Run `program` in one transaction on the database thread: all or nothing.

        The transaction takes the write lock when it begins (IMMEDIATE), so a call that
        reads and then writes (an append after the last item) cannot interleave with
        another process sharing the file; WAL readers are never blocked by it. Single
        statements get the same: it costs no extra hop, and a ping then also says
        whether a write could take the lock.
        """

        def call() -> T:
            db = self._db
            if db is None:
                raise StoreUnavailable("The database is not open")
            db.execute("BEGIN IMMEDIATE")
            try:
                result = _drive(db, program)
                db.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full, I/O error) leaves the transaction open;
                # the next BEGIN would fail for ever.
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                raise
            return result

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    def outage(self, exc: BaseException) -> str | None:
        return outage(exc)

    async def open(self) -> None:
        def connect_retrying() -> None:
            # Switching a new file to WAL and a neighbour's WAL recovery answer BUSY
            # without waiting on the busy timeout: processes starting together retry.
            deadline = time.monotonic() + self.busy_timeout_s
            pause = 0.01
            while True:
                try:
                    connect()
                    return
                except sqlite3.OperationalError as exc:
                    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                    if code != sqlite3.SQLITE_BUSY or time.monotonic() + pause > deadline:
                        raise
                time.sleep(pause)
                pause = min(pause * 2, 0.2)

        def connect() -> None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # timeout: wait that long (5 s) for another process's lock, starting with
            # the switch to WAL, which a process opening the same new file may hold.
            db = sqlite3.connect(
                self.path,
                check_same_thread=False,
                isolation_level=None,
                timeout=self.busy_timeout_s,
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                # Processes starting together: the first takes the write lock and
                # migrates, the others then read the new version and have nothing to do.
                db.execute("BEGIN IMMEDIATE")
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in filter(str.strip, script.split(";")):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        db.execute("ROLLBACK")
                db.close()
                raise
            self._db = db  # autocommit mode: run() begins and ends each transaction itself

        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, connect_retrying)
        except sqlite3.Error as exc:
            what = outage(exc)
            if what is None:
                raise
            raise StoreUnavailable(f"Cannot open {self.path}: {what}") from exc

    async def close(self) -> None:
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)


class SqliteStore(SqlStore):
    """`Store` in the SQLite file at `path` (or ``:memory:``)."""

    def __init__(
        self,
        path: str,
        *,
        instance: str = "local",
        busy_timeout_s: float = 5.0,
        identify: Callable[[], ProcessId | None] = this_process,
    ) -> None:
        self.path = path
        backend = SqliteBackend(path, busy_timeout_s=busy_timeout_s)
        super().__init__(backend, instance=instance, identify=identify)
