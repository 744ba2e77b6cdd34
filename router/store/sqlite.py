"""SQLite implementation of the store: one file, WAL mode, one connection on one thread.

sqlite3 calls block, so they run on a single dedicated worker thread; that also
serializes writers, which SQLite wants anyway.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from router.store.base import ItemPage, Order, StoredResponse

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
)


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nexus-sqlite")
        self._db: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def call() -> T:
            assert self._db is not None, "store is not open"
            with self._db:  # one transaction per call: all or nothing
                return fn(self._db)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        def connect() -> None:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=5000")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                db.executescript(f"BEGIN; {script}; PRAGMA user_version={number}; COMMIT;")
            db.isolation_level = "DEFERRED"
            self._db = db

        await asyncio.get_running_loop().run_in_executor(self._executor, connect)

    async def close(self) -> None:
        def disconnect() -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        await asyncio.get_running_loop().run_in_executor(self._executor, disconnect)
        self._executor.shutdown(wait=True)

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        def put(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO responses (id, created_at, status, background, owner,"
                " previous_response_id, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET status = excluded.status, body = excluded.body",
                (
                    response.id,
                    response.created_at,
                    response.status,
                    int(response.background),
                    response.owner,
                    response.previous_response_id,
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
        def page(db: sqlite3.Connection) -> ItemPage:
            direction, compare = ("ASC", ">") if order == "asc" else ("DESC", "<")
            sql = "SELECT body FROM response_items WHERE response_id = ?"
            args: list[Any] = [response_id]
            if after is not None:
                sql += (
                    f" AND seq {compare} (SELECT seq FROM response_items"
                    " WHERE response_id = ? AND id = ?)"
                )
                args += [response_id, after]
            sql += f" ORDER BY seq {direction}"
            if limit is not None:
                sql += " LIMIT ?"
                args.append(limit + 1)
            rows = db.execute(sql, args).fetchall()
            more = limit is not None and len(rows) > limit
            return ItemPage(tuple(_decode(r[0]) for r in rows[:limit]), more)

        return await self._run(page)

    async def fail_unfinished(self, message: str) -> int:
        def fail(db: sqlite3.Connection) -> int:
            rows = db.execute(
                "SELECT id, body FROM responses WHERE status IN ('queued', 'in_progress')"
            ).fetchall()
            for response_id, raw in rows:
                body = _decode(raw)
                body["status"] = "failed"
                body["error"] = {"code": "server_error", "message": message}
                db.execute(
                    "UPDATE responses SET status = 'failed', body = ? WHERE id = ?",
                    (_encode(body), response_id),
                )
            return len(rows)

        return await self._run(fail)
