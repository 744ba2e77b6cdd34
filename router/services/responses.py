"""The Responses API's behaviour: create (JSON, stream, background), chain, store, cancel."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import attrs
import msgspec

from router.auth.access import visible
from router.auth.keys import Identity
from router.dialects.chat.exchange import ChatExchange
from router.dialects.responses.stream import ResponsesStream
from router.dialects.responses.tools import ToolNames
from router.dialects.responses.translate import (
    chat_request,
    new_id,
    output_items,
    response_error,
    response_object,
    status_of,
    usage_of,
)
from router.errors import Conflict, NotFound, RequestInvalid, UpstreamError
from router.routing.decision import RouteDecision
from router.routing.facts import responses_facts
from router.routing.table import RoutingTable
from router.services.create_plan import CreatePlan, Mode, plan_create
from router.services.event_log import EventLog
from router.services.locks import KeyedLocks
from router.store.base import ItemPage, Order, Store, StoredResponse
from router.upstream.cache import ResponseCache
from router.upstream.dispatch import Dispatcher, Served
from router.upstream.headers import routing_headers
from router.upstream.runner import RouteRunner

__all__ = ["Created", "ResponsesService"]

log = logging.getLogger("nexus.responses")
_decode = msgspec.json.decode

_UNFINISHED = frozenset({"queued", "in_progress"})

#: How often a background response's new events are written to the store.
FLUSH_S = 0.1
#: How often a follower on another replica looks for new events.
FOLLOW_POLL_S = 0.2


@attrs.frozen
class Created:
    """What `create` produced: a response object, or a stream of events, plus routing facts."""

    served: Served | None
    #: What the answer carries: the routing headers, or the cache's.
    headers: Mapping[str, str]
    body: dict[str, Any] | None = None
    events: AsyncIterator[bytes] | None = None


#: Names the offered tool types the upstream request left out (Chat cannot carry them).
DROPPED_TOOLS_HEADER = "x-nexus-tools-dropped"


def _dropped_header(dropped: tuple[str, ...]) -> dict[str, str]:
    return {DROPPED_TOOLS_HEADER: ", ".join(dict.fromkeys(dropped))} if dropped else {}


@attrs.frozen
class _Turn:
    """The conversation a response belongs to (if any) and the input items it adds."""

    conversation: str | None
    items: list[dict[str, Any]]
    owner: str | None = None


async def _nobody(response_id: str) -> None:
    """No other process to tell (no shared state configured)."""


@attrs.define
class ResponsesService:
    store: Store
    dispatcher: Dispatcher
    #: Routes, and queues while capacity is exhausted.
    runner: RouteRunner
    cache: ResponseCache = attrs.Factory(ResponseCache)
    clock: Callable[[], float] = time.time
    _tasks: dict[str, asyncio.Task[None]] = attrs.Factory(dict)
    #: Events of the background responses running here, for followers.
    _logs: dict[str, EventLog] = attrs.Factory(dict)
    #: Turns on one conversation run one at a time, in arrival order, so each sees the
    #: previous turn's items and appends never interleave.
    _turns: KeyedLocks = attrs.Factory(KeyedLocks)
    #: Asks every other router process to stop a background response (shared state).
    broadcast_cancel: Callable[[str], Awaitable[None]] = _nobody
    _closing: bool = False

    # -- create -------------------------------------------------------------------------

    async def _context(
        self, body: Mapping[str, Any], who: Identity | None
    ) -> list[Mapping[str, Any]]:
        """Items of the chain `previous_response_id` names: inputs and outputs, oldest first."""
        previous = body.get("previous_response_id")
        if previous is None:
            return []
        if not isinstance(previous, str):
            raise RequestInvalid(
                "'previous_response_id' must be a string", param="previous_response_id"
            )
        chain: list[StoredResponse] = []
        current: str | None = previous
        while current is not None:
            stored = await self.store.get_response(current)
            if stored is None or not visible(stored.owner, who):
                raise RequestInvalid(
                    f"Previous response with id '{current}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            chain.append(stored)
            current = stored.previous_response_id
        items: list[Mapping[str, Any]] = []
        for stored in reversed(chain):
            items += (await self.store.input_items(stored.id)).items
            items += stored.body.get("output") or []
        return items

    async def _resolve(
        self, items: list[dict[str, Any]], who: Identity | None
    ) -> list[dict[str, Any]]:
        """Replace each ``item_reference`` by the stored item it names (owner-checked).

        The Vercel AI SDK sends an earlier answer back this way on every later turn.
        A reference to an item that does not exist, or that another key owns, is a 400
        naming it (no existence leak: both read the same).
        """
        wanted = [item["id"] for item in items if item.get("type") == "item_reference"]
        if not wanted:
            return items
        found = await self.store.find_items(wanted)
        out = []
        for i, item in enumerate(items):
            if item.get("type") != "item_reference":
                out.append(item)
                continue
            hit = found.get(item["id"])
            if hit is None or not visible(hit[0], who):
                raise RequestInvalid(
                    f"input[{i}]: item with id '{item['id']}' not found",
                    param=f"input[{i}].id",
                    code="item_not_found",
                )
            out.append(dict(hit[1]))
        return out

    async def create(
        self,
        table: RoutingTable,
        body: dict[str, Any],
        headers: Mapping[str, str],
        who: Identity | None = None,
    ) -> Created:
        plan = plan_create(body, who)  # everything the body alone decides, before any I/O
        conversation = plan.conversation
        if conversation is None:
            return await self._create(table, body, headers, plan, who)
        found = await self.store.get_conversation(conversation)
        if found is None or not visible(found.owner, who):
            raise NotFound(f"Conversation with id '{conversation}' not found.")
        await self._turns.acquire(conversation)
        try:
            created = await self._create(table, body, headers, plan, who)
        except BaseException:
            self._turns.release(conversation)
            raise
        if plan.mode is Mode.JSON:
            self._turns.release(conversation)  # streams and background tasks release when done
        return created

    async def _create(
        self,
        table: RoutingTable,
        body: dict[str, Any],
        headers: Mapping[str, str],
        plan: CreatePlan,
        who: Identity | None,
    ) -> Created:
        items = await self._resolve(list(plan.items), who)
        if plan.conversation is not None:
            prior = list((await self.store.conversation_items(plan.conversation)).items)
            body = {**body, "conversation": {"id": plan.conversation}}
        else:
            prior = await self._context(body, who)
        facts = responses_facts(body, headers, prior_items=prior)
        # A background response streams from its provider, so its events can be followed.
        chat, tools = chat_request(body, [*prior, *items], stream=plan.mode is not Mode.JSON)
        names, noted = tools.names, _dropped_header(tools.dropped)
        response_id = new_id("resp")
        created_at = int(self.clock())
        turn = _Turn(plan.conversation, items, plan.owner)
        if plan.mode is Mode.BACKGROUND:
            decision = self.runner.decide(table, facts)  # rejections answer the create call
            queued = response_object(
                body, response_id=response_id, created_at=created_at, status="queued"
            )
            await self.store.put_response(self._record(queued, body, turn.owner), items)
            produced = self._logs[response_id] = EventLog()
            translator = ResponsesStream(body, response_id, created_at, self.clock, names)
            self._tasks[response_id] = asyncio.create_task(
                self._background(table, decision, chat, body, queued, turn, translator, produced),
                name=f"nexus-{response_id}",
            )
            background = {"x-nexus-config-version": table.version, **noted}
            if plan.stream:
                return Created(None, background, events=self._replay(response_id, -1))
            return Created(None, background, body=queued)
        if plan.store:
            # A provider call is paid for; learn that the answer cannot be stored (503
            # store_unavailable) before making it, not after.
            await self.store.ping()
        if plan.mode is Mode.STREAM:
            served = await self.runner.serve(
                table,
                facts,
                headers,
                lambda decision: self.dispatcher.run(
                    table, decision, ChatExchange(chat, stream=True, include_usage=True)
                ),
            )
            translator = ResponsesStream(body, response_id, created_at, self.clock, names)
            events = self._relay(served, translator, body, plan.store, turn)
            return Created(served, {**routing_headers(table, served), **noted}, events=events)
        answer = await self.cache.through(
            plan.owner,
            table,
            chat,
            lambda: self.runner.serve(
                table,
                facts,
                headers,
                lambda decision: self.dispatcher.run(table, decision, ChatExchange(chat)),
            ),
        )
        response = self._completed(body, response_id, created_at, answer.body, names)
        await self._finish_turn(turn, response, body, store=plan.store)
        return Created(answer.served, {**answer.headers, **noted}, body=response)

    async def _finish_turn(
        self, turn: _Turn, response: Mapping[str, Any], body: Mapping[str, Any], *, store: bool
    ) -> None:
        """Store the final response (new ones with their input items) and append the turn's
        input and output to its conversation if it produced one, in one transaction."""
        appended = []
        if turn.conversation is not None and response["status"] in {"completed", "incomplete"}:
            appended = [*turn.items, *response["output"]]
        if store:
            # A background response is already stored (queued, with its input items).
            first = None if response.get("background") else turn.items
            record = self._record(response, body, turn.owner)
            await self.store.finish_turn(record, turn.conversation, appended, input_items=first)
        elif turn.conversation is not None and appended:
            await self.store.append_items(turn.conversation, appended)

    def _completed(
        self,
        body: Mapping[str, Any],
        response_id: str,
        created_at: int,
        answer: bytes | None,
        names: ToolNames,
    ) -> dict[str, Any]:
        assert answer is not None
        completion = _decode(answer)
        finish = (completion.get("choices") or [{}])[0].get("finish_reason")
        status, details = status_of(finish)
        return response_object(
            body,
            response_id=response_id,
            created_at=created_at,
            status=status,
            output=output_items(completion, names),
            usage=usage_of(completion.get("usage")),
            incomplete_details=details,
            completed_at=int(self.clock()),
        )

    def _record(
        self, response: Mapping[str, Any], body: Mapping[str, Any], owner: str | None
    ) -> StoredResponse:
        return StoredResponse(
            owner=owner,
            id=response["id"],
            created_at=float(response["created_at"]),
            status=response["status"],
            background=bool(response.get("background")),
            body=response,
            previous_response_id=body.get("previous_response_id"),
        )

    async def _relay(
        self,
        served: Served,
        translator: ResponsesStream,
        body: Mapping[str, Any],
        store: bool,
        turn: _Turn,
    ) -> AsyncIterator[bytes]:
        assert served.stream is not None
        try:
            for event in translator.start():
                yield event
            async for chunk in served.stream:
                for event in translator.feed(chunk):
                    yield event
            for event in translator.finish():
                yield event
            if translator.final is not None:
                await self._finish_turn(turn, translator.final, body, store=store)
        finally:
            if turn.conversation is not None:
                self._turns.release(turn.conversation)

    async def _background(
        self,
        table: RoutingTable,
        decision: RouteDecision,
        chat: dict[str, Any],
        body: Mapping[str, Any],
        queued: dict[str, Any],
        turn: _Turn,
        translator: ResponsesStream,
        events: EventLog,
    ) -> None:
        """Run a background response: its events go to `events` (and the store) as they come."""
        response_id = queued["id"]
        final: dict[str, Any]
        try:
            await self.store.put_response(
                self._record({**queued, "status": "in_progress"}, body, turn.owner)
            )
            events.extend(translator.start())
            exchange = ChatExchange(chat, stream=True, include_usage=True)
            served = await self.dispatcher.run(table, decision, exchange)
            assert served.stream is not None
            async for chunk in served.stream:
                events.extend(translator.feed(chunk))
                await self._flush(response_id, events)
            events.extend(translator.finish())
            assert translator.final is not None
            await self._flush(response_id, events, force=True)
            # Written with its turn while this turn still holds the conversation; when a
            # cancel from another process finished it first, both are void.
            await self._finish_turn(turn, translator.final, body, store=True)
            return
        except asyncio.CancelledError:
            if self._closing:
                final = {
                    **queued,
                    "status": "failed",
                    "error": {
                        "code": "server_error",
                        "message": "the router shut down before this response finished",
                    },
                }
            else:
                final = {**queued, "status": "cancelled"}
            await asyncio.shield(self._flush(response_id, events, force=True))
            await asyncio.shield(self.store.finish_response(self._record(final, body, turn.owner)))
            raise
        except UpstreamError as exc:
            translator.error = response_error(exc.kind, exc.message)
            events.extend(translator.finish())
            assert translator.final is not None
            final = translator.final
        except Exception:
            log.exception("background response %s failed", response_id)
            final = {
                **queued,
                "status": "failed",
                "error": {"code": "server_error", "message": "internal error"},
            }
        finally:
            events.close()
            self._logs.pop(response_id, None)
            self._tasks.pop(response_id, None)
            if turn.conversation is not None:
                self._turns.release(turn.conversation)
        await self._flush(response_id, events, force=True)
        # A cancel from another process may have finished it first; then this write is void.
        await self.store.finish_response(self._record(final, body, turn.owner))

    async def _flush(self, response_id: str, events: EventLog, *, force: bool = False) -> None:
        """Store the events not stored yet: every `FLUSH_S` while streaming, all at the end.

        Followers on this process read `events` itself; the store is for other replicas
        and for resuming after this process is gone, so a failed write is retried on the
        next flush and never fails the response.
        """
        now = self.clock()
        if events.flushed == len(events.events) or (
            not force and now - events.flushed_at < FLUSH_S
        ):
            return
        batch = events.pending()
        try:
            await self.store.append_events(response_id, batch)
        except Exception as exc:  # the store is down or the response was deleted meanwhile
            log.warning("background response %s: events not stored yet: %s", response_id, exc)
            return
        events.flushed += len(batch)
        events.flushed_at = now

    async def follow(
        self, response_id: str, who: Identity | None, *, after: int = -1
    ) -> AsyncIterator[bytes]:
        """A background response's events after sequence number `after`, then live ones."""
        stored = await self.get(response_id, who)
        if not stored.background:
            raise RequestInvalid(
                "Only background responses can be streamed on retrieve; this one was not "
                "created with background: true.",
                param="stream",
            )
        return self._replay(response_id, after)

    async def _replay(self, response_id: str, after: int) -> AsyncIterator[bytes]:
        position = after
        while True:
            events = self._logs.get(response_id)
            if events is not None:  # running here: no store round trips
                async for _, data in events.after(position):
                    yield data
                return
            rows = await self.store.response_events(response_id, after=position)
            for seq, data in rows:
                position = seq
                yield data
            if rows:
                continue
            stored = await self.store.get_response(response_id)
            if stored is None or stored.status not in _UNFINISHED:
                # Its events are stored before its final status: read what is left.
                rest = await self.store.response_events(response_id, after=position)
                for _, data in rest:
                    yield data
                return
            await asyncio.sleep(FOLLOW_POLL_S)  # another replica runs it

    # -- read, delete, cancel -------------------------------------------------------------

    async def get(self, response_id: str, who: Identity | None = None) -> StoredResponse:
        stored = await self.store.get_response(response_id)
        if stored is None or not visible(stored.owner, who):  # another key's: not found, no leak
            raise NotFound(f"Response with id '{response_id}' not found.")
        return stored

    async def input_items(
        self, response_id: str, who: Identity | None, *, after: str | None, limit: int, order: Order
    ) -> ItemPage:
        await self.get(response_id, who)
        return await self.store.input_items(response_id, after=after, limit=limit, order=order)

    async def delete(self, response_id: str, who: Identity | None = None) -> None:
        stored = await self.get(response_id, who)
        if not await self.stop_local(response_id) and stored.status in _UNFINISHED:
            await self.broadcast_cancel(response_id)
        await self.store.delete_response(response_id)

    async def stop_local(self, response_id: str) -> bool:
        """Cancel a background response if this process runs it; True when it did."""
        task = self._tasks.get(response_id)
        if task is None:
            return False
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return True

    async def cancel(self, response_id: str, who: Identity | None = None) -> Mapping[str, Any]:
        stored = await self.get(response_id, who)
        if not stored.background:
            raise RequestInvalid("Only background responses can be cancelled.", param="response_id")
        if stored.status in _UNFINISHED:
            if await self.stop_local(response_id):
                return (await self.get(response_id)).body
            # Another process runs it (or ran it and died): record the cancel, which the
            # runner's own final write then cannot overwrite, and tell it to stop.
            cancelled = {**stored.body, "status": "cancelled"}
            record = attrs.evolve(stored, status="cancelled", body=cancelled)
            if await self.store.finish_response(record):
                await self.broadcast_cancel(response_id)
                return cancelled
            stored = await self.get(response_id)  # it finished meanwhile
        if stored.status == "cancelled":
            return stored.body
        raise Conflict(
            f"Response '{response_id}' is already {stored.status}; it cannot be cancelled."
        )

    async def close(self) -> None:
        """Stop background work; unfinished responses are recorded as failed, never left in progress."""
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
