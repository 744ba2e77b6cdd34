"""SQLite implementation of the store: one file, WAL mode, one connection on one thread.

sqlite3 calls block, so they run on a single dedicated worker thread; that also
serializes writers, which SQLite wants anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from router.store.base import ItemPage, Order, StoredConversation, StoredResponse
from router.store.items import assign_ids, page_query, to_page

__all__ = ["SqliteStore"]

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.decode

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
)

_UNFINISHED = "('queued', 'in_progress')"


class SqliteStore:
    def __init__(self, path: str, *, instance: str = "local") -> None:
        self.path = path
        self.instance = instance
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexus-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn` in one transaction: all or nothing.

        The transaction takes the write lock when it begins (IMMEDIATE), so a call that
        reads and then writes (an append after the last item) cannot interleave with
        another process sharing the file; WAL readers are never blocked by it.
        """

        def call() -> T:
            db = self._db
            assert db is not None, "store is not open"
            db.execute("BEGIN IMMEDIATE")
            try:
                result = fn(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        def connect() -> None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            # timeout: wait up to 5 s for another process's lock, starting with the
            # switch to WAL, which a process opening the same new file may hold.
            db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=5.0
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            # Processes starting together: the first takes the write lock and migrates,
            # the others then read the new version and have nothing left to do.
            db.execute("BEGIN IMMEDIATE")
            try:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in filter(str.strip, script.split(";")):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._db = db  # autocommit mode: _run begins and ends each transaction itself

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    async def ping(self) -> bool:
        return await self._run(lambda db: db.execute("SELECT 1").fetchone() == (1,))

    async def heartbeat(self) -> None:
        await self._run(
            lambda db: db.execute(
                "INSERT INTO replicas (id, seen_at) VALUES (?, ?)"
                " ON CONFLICT(id) DO UPDATE SET seen_at = excluded.seen_at",
                (self.instance, time.time()),
            )
        )

    async def leave(self) -> None:
        await self._run(
            lambda db: db.execute("DELETE FROM replicas WHERE id = ?", (self.instance,))
        )

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        def put(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO responses (id, created_at, status, background, owner,"
                " previous_response_id, runner, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body",
                (
                    response.id,
                    response.created_at,
                    response.status,
                    int(response.background),
                    response.owner,
                    response.previous_response_id,
                    self.instance if response.background else None,
                    _encode(response.body),
                ),
            )
            if input_items:
                db.executemany(
                    "INSERT INTO response_items (response_id, seq, id, body) VALUES (?, ?, ?, ?)",
                    [
                        (response.id, i, item["id"], _encode(item))
                        for i, item in enumerate(input_items)
                    ],
                )

        await self._run(put)

    async def finish_response(self, response: StoredResponse) -> bool:
        def finish(db: sqlite3.Connection) -> bool:
            return (
                db.execute(
                    f"UPDATE responses SET status = ?, body = ? WHERE id = ? AND status IN {_UNFINISHED}",
                    (response.status, _encode(response.body), response.id),
                ).rowcount
                > 0
            )

        return await self._run(finish)

    async def get_response(self, response_id: str) -> StoredResponse | None:
        def get(db: sqlite3.Connection) -> StoredResponse | None:
            row = db.execute(
                "SELECT id, created_at, status, background, owner, previous_response_id, body"
                " FROM responses WHERE id = ?",
                (response_id,),
            ).fetchone()
            if row is None:
                return None
            return StoredResponse(
                id=row[0],
                created_at=row[1],
                status=row[2],
                background=bool(row[3]),
                owner=row[4],
                previous_response_id=row[5],
                body=_decode(row[6]),
            )

        return await self._run(get)

    async def delete_response(self, response_id: str) -> bool:
        def delete(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM responses WHERE id = ?", (response_id,)).rowcount > 0

        return await self._run(delete)

    async def input_items(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        return await self._run(
            lambda db: _page(db, "response_items", "response_id", response_id, after, limit, order)
        )

    async def fail_unfinished(self, message: str, *, stale_after_s: float = 30.0) -> int:
        def fail(db: sqlite3.Connection) -> int:
            cutoff = time.time() - stale_after_s
            rows = db.execute(
                f"SELECT r.id, r.body FROM responses r WHERE r.status IN {_UNFINISHED}"
                " AND (r.runner IS NULL OR r.runner = ? OR NOT EXISTS"
                "  (SELECT 1 FROM replicas p WHERE p.id = r.runner AND p.seen_at > ?))",
                (self.instance, cutoff),
            ).fetchall()
            for response_id, raw in rows:
                body = _decode(raw)
                body["status"] = "failed"
                body["error"] = {"code": "server_error", "message": message}
                db.execute(
                    "UPDATE responses SET status = 'failed', body = ? WHERE id = ?",
                    (_encode(body), response_id),
                )
            db.execute("DELETE FROM replicas WHERE seen_at < ?", (cutoff - 9 * stale_after_s,))
            return len(rows)

        return await self._run(fail)

    # -- conversations ----------------------------------------------------------------

    async def create_conversation(
        self, conversation: StoredConversation, items: Sequence[Mapping[str, Any]]
    ) -> None:
        def create(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO conversations (id, created_at, owner, model, metadata)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    conversation.id,
                    conversation.created_at,
                    conversation.owner,
                    conversation.model,
                    _encode(conversation.metadata),
                ),
            )
            _append(db, conversation.id, items)

        await self._run(create)

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return await self._run(lambda db: _conversation(db, conversation_id))

    async def update_conversation(
        self, conversation_id: str, metadata: Mapping[str, str]
    ) -> StoredConversation | None:
        def update(db: sqlite3.Connection) -> StoredConversation | None:
            db.execute(
                "UPDATE conversations SET metadata = ? WHERE id = ?",
                (_encode(metadata), conversation_id),
            )
            return _conversation(db, conversation_id)

        return await self._run(update)

    async def delete_conversation(self, conversation_id: str) -> bool:
        return await self._run(
            lambda db: (
                db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,)).rowcount
                > 0
            )
        )

    async def append_items(
        self, conversation_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]] | None:
        def append(db: sqlite3.Connection) -> list[dict[str, Any]] | None:
            if _conversation(db, conversation_id) is None:
                return None
            return _append(db, conversation_id, items)

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
            lambda db: _page(
                db, "conversation_items", "conversation_id", conversation_id, after, limit, order
            )
        )

    async def get_item(self, conversation_id: str, item_id: str) -> Mapping[str, Any] | None:
        def get(db: sqlite3.Connection) -> Mapping[str, Any] | None:
            row = db.execute(
                "SELECT body FROM conversation_items WHERE conversation_id = ? AND id = ?",
                (conversation_id, item_id),
            ).fetchone()
            return None if row is None else _decode(row[0])

        return await self._run(get)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        return await self._run(
            lambda db: (
                db.execute(
                    "DELETE FROM conversation_items WHERE conversation_id = ? AND id = ?",
                    (conversation_id, item_id),
                ).rowcount
                > 0
            )
        )


def _conversation(db: sqlite3.Connection, conversation_id: str) -> StoredConversation | None:
    row = db.execute(
        "SELECT id, created_at, owner, model, metadata FROM conversations WHERE id = ?",
        (conversation_id,),
    ).fetchone()
    if row is None:
        return None
    return StoredConversation(
        id=row[0], created_at=row[1], owner=row[2], model=row[3], metadata=_decode(row[4])
    )


def _append(
    db: sqlite3.Connection, conversation_id: str, items: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Append after the last item, in this (IMMEDIATE) transaction: contiguous, ids unique."""
    last = db.execute(
        "SELECT COALESCE(MAX(seq), -1) FROM conversation_items WHERE conversation_id = ?",
        (conversation_id,),
    ).fetchone()[0]
    taken = {
        r[0]
        for r in db.execute(
            "SELECT id FROM conversation_items WHERE conversation_id = ?", (conversation_id,)
        )
    }
    stored = assign_ids(items, taken)
    db.executemany(
        "INSERT INTO conversation_items (conversation_id, seq, id, body) VALUES (?, ?, ?, ?)",
        [
            (conversation_id, last + offset, body["id"], _encode(body))
            for offset, body in enumerate(stored, start=1)
        ],
    )
    return stored


def _page(
    db: sqlite3.Connection,
    table: str,
    owner_column: str,
    owner: str,
    after: str | None,
    limit: int | None,
    order: Order,
) -> ItemPage:
    """One page of items ordered by seq; `after` is the id of the last item already seen."""
    sql, uses = page_query(
        table, owner_column, after=after is not None, limit=limit, order=order, param=lambda i: "?"
    )
    values = (owner, after, None if limit is None else limit + 1)
    rows = db.execute(sql, [values[u] for u in uses]).fetchall()
    return to_page([r[0] for r in rows], limit, _decode)
