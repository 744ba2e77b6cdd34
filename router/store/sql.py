"""The store, written once in SQL: every method is a program a `Backend` runs as one transaction.

SQLite and PostgreSQL differ only in what `router.store.backend` abstracts
(placeholders, table names, the clock, row locks, JSON columns) and in how they
connect and migrate; what is stored and how it is read is decided here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import msgspec

from router.errors import StoreUnavailable
from router.store.backend import (
    Backend,
    Op,
    Program,
    execute,
    executemany,
    fetch,
    fetchrow,
    fetchval,
)
from router.store.base import ItemPage, Order, SpendRow, StoredConversation, StoredResponse
from router.store.items import assign_ids, page_query, to_page
from router.store.processes import ProcessId, gone, this_process

__all__ = ["SqlStore"]

T = TypeVar("T")
_decode = msgspec.json.decode


#: Statuses whose output is final, and so may be referenced.
_FINAL = frozenset({"completed", "incomplete"})

#: Where an item_reference may point, most likely first: an earlier answer's output.
_ITEM_QUERIES = (
    "SELECT r.owner, i.body FROM {output_items} i JOIN {responses} r ON r.id = i.response_id"
    " WHERE i.id = $1 LIMIT 1",
    "SELECT r.owner, i.body FROM {response_items} i JOIN {responses} r ON r.id = i.response_id"
    " WHERE i.id = $1 LIMIT 1",
    "SELECT c.owner, i.body FROM {conversation_items} i"
    " JOIN {conversations} c ON c.id = i.conversation_id WHERE i.id = $1 LIMIT 1",
)


def _one(op: Op) -> Program[Any]:
    """A program of one statement: its result."""
    return (yield op)


class SqlStore:
    """`Store` on a `Backend`; `instance` names this process for background-response ownership.

    `identify` says which process this is (`router.store.processes`); heartbeats
    record it so that a process on the same machine can tell this one is gone
    without waiting for its heartbeats to go stale.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        instance: str,
        identify: Callable[[], ProcessId | None] = this_process,
    ) -> None:
        self.instance = instance
        self._backend = backend
        self._sql = backend.dialect.sql
        self._json = backend.dialect.json
        self._identify = identify
        self._here: ProcessId | None = None

    async def _run_one(self, op: Op) -> Any:
        """Run one statement (atomic by itself); its result."""
        return await self._run(_one(op), single=True)

    async def _run(self, program: Program[T], *, single: bool = False) -> T:
        """Run `program` as one transaction; an outage of either database is StoreUnavailable.

        `single`: the program runs exactly one statement (see `Backend.run`).
        """
        try:
            return await self._backend.run(program, single=single)
        except StoreUnavailable:
            raise
        except Exception as exc:
            what = self._backend.outage(exc)
            if what is None:
                raise
            raise StoreUnavailable(
                f"The database is unavailable ({what}); try again shortly"
            ) from exc

    async def open(self) -> None:
        self._here = self._identify()  # here, not in __init__: a worker may fork after that
        await self._backend.open()

    async def close(self) -> None:
        await self._backend.close()

    async def ping(self) -> bool:
        answer = await self._run_one(fetchval("SELECT 1"))
        return bool(answer == 1)

    async def heartbeat(self) -> None:
        here = self._here
        await self._run_one(
            execute(
                self._sql(
                    "INSERT INTO {replicas} (id, seen_at, pid_space, pid, pid_started)"
                    " VALUES ($1, {now}, $2, $3, $4) ON CONFLICT (id) DO UPDATE SET"
                    " seen_at = excluded.seen_at, pid_space = excluded.pid_space,"
                    " pid = excluded.pid, pid_started = excluded.pid_started"
                ),
                self.instance,
                None if here is None else here.space,
                None if here is None else here.pid,
                None if here is None else here.started,
            )
        )

    async def leave(self) -> None:
        await self._run_one(
            execute(self._sql("DELETE FROM {replicas} WHERE id = $1"), self.instance)
        )

    # -- spend ----------------------------------------------------------------------------

    async def add_spend(self, rows: Sequence[SpendRow]) -> None:
        if not rows:
            return
        sql = self._sql(
            "INSERT INTO {spend} (day, route, provider, zone, model, key, requests,"
            " prompt_tokens, completion_tokens, cached_tokens, cost_usd, estimated_requests,"
            " estimated_usd) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (day, route, provider, zone, model, key) DO UPDATE SET"
            " requests = {spend}.requests + excluded.requests,"
            " prompt_tokens = {spend}.prompt_tokens + excluded.prompt_tokens,"
            " completion_tokens = {spend}.completion_tokens + excluded.completion_tokens,"
            " cached_tokens = {spend}.cached_tokens + excluded.cached_tokens,"
            " cost_usd = {spend}.cost_usd + excluded.cost_usd,"
            " estimated_requests = {spend}.estimated_requests + excluded.estimated_requests,"
            " estimated_usd = {spend}.estimated_usd + excluded.estimated_usd"
        )
        args = [
            (
                r.day,
                r.route,
                r.provider,
                r.zone,
                r.model,
                r.key or "",
                r.requests,
                r.prompt_tokens,
                r.completion_tokens,
                r.cached_tokens,
                r.cost_usd,
                r.estimated_requests,
                r.estimated_usd,
            )
            for r in rows
        ]
        await self._run(_one(executemany(sql, args)))

    async def spend_since(self, day: float) -> list[SpendRow]:
        rows = await self._run_one(
            fetch(
                self._sql(
                    "SELECT day, route, provider, zone, model, key, requests, prompt_tokens,"
                    " completion_tokens, cached_tokens, cost_usd, estimated_requests,"
                    " estimated_usd FROM {spend} WHERE day >= $1"
                ),
                day,
            )
        )
        return [
            SpendRow(
                float(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5] or None,
                int(r[6]),
                int(r[7]),
                int(r[8]),
                int(r[9]),
                float(r[10]),
                int(r[11]),
                float(r[12]),
            )
            for r in rows
        ]

    # -- responses ------------------------------------------------------------------------

    async def put_response(
        self, response: StoredResponse, input_items: Sequence[Mapping[str, Any]] | None = None
    ) -> None:
        await self._run(self._write(response, input_items, over_unfinished_only=False))

    async def finish_turn(
        self,
        response: StoredResponse,
        conversation_id: str | None,
        items: Sequence[Mapping[str, Any]],
        *,
        input_items: Sequence[Mapping[str, Any]] | None = None,
    ) -> bool:
        def finish() -> Program[bool]:
            # Lock the conversation first: every transaction that takes both locks
            # takes them in this order.
            conversation = conversation_id if items else None
            if conversation is not None and not (yield from self._lock_conversation(conversation)):
                conversation = None  # deleted meanwhile: the response alone
            if not (yield from self._write(response, input_items, over_unfinished_only=True)):
                return False
            if conversation is not None:
                yield from self._append(conversation, items)
            return True

        return await self._run(finish())

    async def finish_response(self, response: StoredResponse) -> bool:
        def finish() -> Program[bool]:
            changed = yield execute(
                self._sql(
                    "UPDATE {responses} SET status = $2, body = $3"
                    " WHERE id = $1 AND status IN ('queued', 'in_progress')"
                ),
                response.id,
                response.status,
                self._json(response.body),
            )
            if changed:
                yield from self._outputs(response)
            return bool(changed > 0)

        return await self._run(finish())

    async def get_response(self, response_id: str) -> StoredResponse | None:
        def get() -> Program[StoredResponse | None]:
            row = yield fetchrow(
                self._sql(
                    "SELECT id, created_at, status, background, owner, previous_response_id, body"
                    " FROM {responses} WHERE id = $1"
                ),
                response_id,
            )
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

        return await self._run(get(), single=True)

    async def delete_response(self, response_id: str) -> bool:
        deleted = await self._run_one(
            execute(self._sql("DELETE FROM {responses} WHERE id = $1"), response_id)
        )
        return bool(deleted > 0)

    async def append_events(self, response_id: str, events: Sequence[tuple[int, bytes]]) -> None:
        if not events:
            return
        await self._run_one(
            executemany(
                self._sql(
                    "INSERT INTO {response_events} (response_id, seq, data) VALUES ($1, $2, $3)"
                    " ON CONFLICT (response_id, seq) DO NOTHING"
                ),
                [(response_id, seq, data) for seq, data in events],
            )
        )

    async def response_events(
        self, response_id: str, *, after: int = -1, limit: int = 500
    ) -> list[tuple[int, bytes]]:
        rows = await self._run_one(
            fetch(
                self._sql(
                    "SELECT seq, data FROM {response_events} WHERE response_id = $1 AND seq > $2"
                    " ORDER BY seq LIMIT $3"
                ),
                response_id,
                after,
                limit,
            )
        )
        return [(int(row[0]), bytes(row[1])) for row in rows]

    async def input_items(
        self,
        response_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        return await self._run(
            self._page("{response_items}", "response_id", response_id, after, limit, order),
            single=True,
        )

    async def fail_unfinished(self, message: str, *, stale_after_s: float = 30.0) -> int:
        """Fail unfinished responses of this process, or of one that stopped.

        A process has stopped when it left, when its heartbeats are older than
        `stale_after_s`, or, on this machine, when its pid no longer runs it.
        """

        def fail() -> Program[int]:
            yield from self._forget_gone_neighbours()
            rows = yield fetch(
                self._sql(
                    "SELECT r.id, r.body FROM {responses} r"
                    " WHERE r.status IN ('queued', 'in_progress') AND (r.runner IS NULL"
                    "   OR r.runner = $1 OR NOT EXISTS (SELECT 1 FROM {replicas} p"
                    "     WHERE p.id = r.runner AND p.seen_at > {now} - $2{seconds}))"
                    "{for_update_skip_locked}"
                ),
                self.instance,
                stale_after_s,
            )
            for response_id, raw in rows:
                body = _decode(raw)
                body["status"] = "failed"
                body["error"] = {"code": "server_error", "message": message}
                yield execute(
                    self._sql("UPDATE {responses} SET status = 'failed', body = $2 WHERE id = $1"),
                    response_id,
                    self._json(body),
                )
            yield execute(
                self._sql("DELETE FROM {replicas} WHERE seen_at < {now} - $1{seconds}"),
                stale_after_s * 10,
            )
            return len(rows)

        return await self._run(fail())

    # -- conversations ----------------------------------------------------------------------

    async def create_conversation(
        self, conversation: StoredConversation, items: Sequence[Mapping[str, Any]]
    ) -> None:
        def create() -> Program[None]:
            yield execute(
                self._sql(
                    "INSERT INTO {conversations} (id, created_at, owner, model, metadata)"
                    " VALUES ($1, $2, $3, $4, $5)"
                ),
                conversation.id,
                conversation.created_at,
                conversation.owner,
                conversation.model,
                self._json(conversation.metadata),
            )
            yield from self._append(conversation.id, items)

        await self._run(create())

    async def get_conversation(self, conversation_id: str) -> StoredConversation | None:
        return await self._run(self._conversation(conversation_id), single=True)

    async def update_conversation(
        self, conversation_id: str, metadata: Mapping[str, str]
    ) -> StoredConversation | None:
        def update() -> Program[StoredConversation | None]:
            yield execute(
                self._sql("UPDATE {conversations} SET metadata = $2 WHERE id = $1"),
                conversation_id,
                self._json(metadata),
            )
            return (yield from self._conversation(conversation_id))

        return await self._run(update())

    async def delete_conversation(self, conversation_id: str) -> bool:
        deleted = await self._run_one(
            execute(self._sql("DELETE FROM {conversations} WHERE id = $1"), conversation_id)
        )
        return bool(deleted > 0)

    async def append_items(
        self, conversation_id: str, items: Sequence[Mapping[str, Any]]
    ) -> list[dict[str, Any]] | None:
        def append() -> Program[list[dict[str, Any]] | None]:
            if not (yield from self._lock_conversation(conversation_id)):
                return None
            return (yield from self._append(conversation_id, items))

        return await self._run(append())

    async def conversation_items(
        self,
        conversation_id: str,
        *,
        after: str | None = None,
        limit: int | None = None,
        order: Order = "asc",
    ) -> ItemPage:
        return await self._run(
            self._page(
                "{conversation_items}", "conversation_id", conversation_id, after, limit, order
            ),
            single=True,
        )

    async def get_item(self, conversation_id: str, item_id: str) -> Mapping[str, Any] | None:
        def get() -> Program[Mapping[str, Any] | None]:
            raw = yield fetchval(
                self._sql(
                    "SELECT body FROM {conversation_items} WHERE conversation_id = $1 AND id = $2"
                ),
                conversation_id,
                item_id,
            )
            return None if raw is None else _decode(raw)

        return await self._run(get(), single=True)

    async def delete_item(self, conversation_id: str, item_id: str) -> bool:
        deleted = await self._run_one(
            execute(
                self._sql(
                    "DELETE FROM {conversation_items} WHERE conversation_id = $1 AND id = $2"
                ),
                conversation_id,
                item_id,
            )
        )
        return bool(deleted > 0)

    # -- parts of programs --------------------------------------------------------------------

    def _forget_gone_neighbours(self) -> Program[None]:
        """Delete the heartbeat rows of processes in this pid space that no longer run.

        Their work then counts as that of a process that left (killed with -9, say):
        it is failed now instead of once their last heartbeat is stale.
        """
        here = self._here
        if here is None:
            return
        rows = yield fetch(
            self._sql("SELECT id, pid, pid_started FROM {replicas} WHERE pid_space = $1"),
            here.space,
        )
        for replica, pid, started in rows:
            if gone(ProcessId(here.space, pid, started), here):
                yield execute(self._sql("DELETE FROM {replicas} WHERE id = $1"), replica)

    def _write(
        self,
        response: StoredResponse,
        input_items: Sequence[Mapping[str, Any]] | None,
        *,
        over_unfinished_only: bool,
    ) -> Program[bool]:
        """Insert a response, or replace it (when still unfinished, if so asked); True if written."""
        upsert = (
            "INSERT INTO {responses} (id, created_at, status, background, owner,"
            " previous_response_id, runner, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            " ON CONFLICT (id) DO UPDATE SET status = excluded.status, body = excluded.body"
        )
        if over_unfinished_only:
            upsert += " WHERE {responses}.status IN ('queued', 'in_progress')"
        written = yield execute(
            self._sql(upsert),
            response.id,
            response.created_at,
            response.status,
            response.background,
            response.owner,
            response.previous_response_id,
            self.instance if response.background else None,
            self._json(response.body),
        )
        if not written:
            return False
        if input_items:
            yield executemany(
                self._sql(
                    "INSERT INTO {response_items} (response_id, seq, id, body)"
                    " VALUES ($1, $2, $3, $4)"
                ),
                [
                    (response.id, i, item["id"], self._json(item))
                    for i, item in enumerate(input_items)
                ],
            )
        yield from self._outputs(response)
        return True

    def _outputs(self, response: StoredResponse) -> Program[None]:
        """Index a finished response's output items by id, for later item_references."""
        output = response.body.get("output") if response.status in _FINAL else None
        if not output:
            return
        yield execute(self._sql("DELETE FROM {output_items} WHERE response_id = $1"), response.id)
        yield executemany(
            self._sql(
                "INSERT INTO {output_items} (response_id, seq, id, body) VALUES ($1, $2, $3, $4)"
            ),
            [
                (response.id, i, item["id"], self._json(item))
                for i, item in enumerate(output)
                if isinstance(item, Mapping) and isinstance(item.get("id"), str)
            ],
        )

    async def find_items(
        self, ids: Sequence[str]
    ) -> dict[str, tuple[str | None, Mapping[str, Any]]]:
        """Stored items by id — responses' inputs and outputs, conversations' items — each
        with the key that owns it (None without auth); ids not found are left out."""

        def find() -> Program[dict[str, tuple[str | None, Mapping[str, Any]]]]:
            found: dict[str, tuple[str | None, Mapping[str, Any]]] = {}
            for item_id in dict.fromkeys(ids):
                for query in _ITEM_QUERIES:
                    row = yield fetchrow(self._sql(query), item_id)
                    if row is not None:
                        found[item_id] = (row[0], _decode(row[1]))
                        break
            return found

        return await self._run(find())

    def _conversation(self, conversation_id: str) -> Program[StoredConversation | None]:
        row = yield fetchrow(
            self._sql(
                "SELECT id, created_at, owner, model, metadata FROM {conversations} WHERE id = $1"
            ),
            conversation_id,
        )
        if row is None:
            return None
        return StoredConversation(
            id=row[0], created_at=row[1], owner=row[2], model=row[3], metadata=_decode(row[4])
        )

    def _lock_conversation(self, conversation_id: str) -> Program[bool]:
        """Whether the conversation exists; it stays locked until the transaction ends.

        The lock makes concurrent appends (from any process) queue up, so each batch
        lands contiguously after the previous one. On SQLite the transaction already
        holds the database's write lock.
        """
        found = yield fetchval(
            self._sql("SELECT 1 FROM {conversations} WHERE id = $1{for_update}"), conversation_id
        )
        return found is not None

    def _append(
        self, conversation_id: str, items: Sequence[Mapping[str, Any]]
    ) -> Program[list[dict[str, Any]]]:
        """Append after the last item, contiguously, ids unique; the conversation is locked."""
        last = yield fetchval(
            self._sql(
                "SELECT COALESCE(MAX(seq), -1) FROM {conversation_items} WHERE conversation_id = $1"
            ),
            conversation_id,
        )
        taken = yield fetch(
            self._sql("SELECT id FROM {conversation_items} WHERE conversation_id = $1"),
            conversation_id,
        )
        stored = assign_ids(items, {r[0] for r in taken})
        if stored:
            yield executemany(
                self._sql(
                    "INSERT INTO {conversation_items} (conversation_id, seq, id, body)"
                    " VALUES ($1, $2, $3, $4)"
                ),
                [
                    (conversation_id, last + offset, body["id"], self._json(body))
                    for offset, body in enumerate(stored, start=1)
                ],
            )
        return stored

    def _page(
        self,
        table: str,
        owner_column: str,
        owner: str,
        after: str | None,
        limit: int | None,
        order: Order,
    ) -> Program[ItemPage]:
        """One page of items ordered by seq; `after` is the id of the last item already seen."""
        sql, uses = page_query(
            table,
            owner_column,
            after=after is not None,
            limit=limit,
            order=order,
            param="${}".format,
        )
        values = (owner, after, None if limit is None else limit + 1)
        rows = yield fetch(self._sql(sql), *[values[u] for u in uses])
        return to_page([r[0] for r in rows], limit, _decode)
