"""Walk a routing decision's candidates until one provider answers (failover): the shell.

The only place inference talks to providers, through the one pool
(`router.upstream.transport`). What to send and how to read the answer is the
`Exchange`'s business (the client's dialect, `router.dialects`); what a failure
means is `router.upstream.failover`'s; each attempt is reported as a value to
hooks (`router.upstream.attempts`). A stream is committed to a provider once its
first translated chunk has arrived, and never fails over after that.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.base import (
    Exchange,
    StreamTranslator,
    UpstreamStreamError,
    Usage,
    error_details,
    error_message,
)
from router.dialects.framing import StreamFramingError
from router.errors import (
    NexusError,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    provider_status_error,
)
from router.routing.decision import Candidate, RouteDecision
from router.routing.pricing import cost_usd
from router.routing.table import ProviderEntry, RoutingTable
from router.upstream.attempts import Attempt, AttemptHook
from router.upstream.deadlines import Deadlines
from router.upstream.failover import Consequence, after_failure, giving_up
from router.upstream.health import HealthMonitor
from router.upstream.shared import LocalState, SharedState
from router.upstream.transport import Pool, Stream, Timeouts, failure, too_large

__all__ = ["Dispatcher", "Served"]

log = logging.getLogger("nexus.dispatch")

#: What a translation raises on an answer that is not the wire format it promised.
_MALFORMED = (ValueError, KeyError, TypeError, AttributeError, IndexError)
#: Media types an event stream never has; an HTML error page answered with 200 fails fast.
_NOT_A_STREAM = frozenset({"text/html", "application/xhtml+xml"})


@attrs.frozen
class Served:
    """A provider's successful answer: a whole body, or a stream to relay."""

    candidate: Candidate
    entry: ProviderEntry
    attempts: int
    route: str = ""
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None
    #: What a whole answer cost (USD), from the usage its provider reported.
    cost_usd: float | None = None
    #: The provider reported no usage: `cost_usd` is estimated from the text.
    cost_estimated: bool = False


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _status_error(
    status: int, headers: Mapping[str, str], body: bytes, entry: ProviderEntry
) -> UpstreamStatusError:
    try:
        parsed: Any = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        parsed = None
    own = error_message(parsed)
    message = f"Provider '{entry.name}' answered HTTP {status}" + (
        f": {entry.secrets.text(own)}" if own else ""
    )
    details = {k: entry.secrets.text(v) for k, v in error_details(parsed).items()}
    return provider_status_error(status)(
        message,
        provider=entry.name,
        status=status,
        retry_after=_retry_after(headers),
        details=details,
    )


def _price_stream(attempt: Attempt, translator: StreamTranslator) -> None:
    """A finished stream's usage (noted by the exchange's translator, if it can) and cost."""
    usage = getattr(translator, "usage", None)  # UsageTap's; an adapter may use the name too
    if isinstance(usage, Usage):
        _price(attempt, usage)


def _price(attempt: Attempt, usage: Usage) -> None:
    """Note an answer's token counts on its attempt, and what they cost at its price."""
    attempt.prompt_tokens = usage.prompt_tokens
    attempt.completion_tokens = usage.completion_tokens
    attempt.cached_tokens = usage.cached_tokens
    attempt.cost_usd = cost_usd(
        attempt.price,
        usage.prompt_tokens or 0,
        usage.completion_tokens or 0,
        usage.cached_tokens or 0,
    )


def _malformed(exc: Exception, entry: ProviderEntry, what: str) -> UpstreamProtocolError:
    if isinstance(exc, UpstreamStreamError | StreamFramingError):
        message = entry.secrets.text(str(exc))  # an upstream's error event may echo our key
        return UpstreamProtocolError(f"Provider '{entry.name}': {message}", provider=entry.name)
    return UpstreamProtocolError(
        f"Provider '{entry.name}' answered with a malformed {what}", provider=entry.name
    )


@functools.cache
def _timeouts(timeout_s: float, first_byte_s: float | None) -> tuple[Timeouts, Timeouts]:
    """(whole, stream) timeouts of a provider, made once per pair of settings.

    A whole answer: ``timeout_s`` is a deadline however the provider trickles. A
    stream: ``timeout_s`` is the longest silence (its first data is bounded apart).
    """
    connect = min(timeout_s, 10.0)
    # The whole answer's deadline (timeout_s) is kept by Deadlines, not by aiohttp.
    return (
        Timeouts(connect=connect, total=None, idle=first_byte_s or timeout_s),
        Timeouts(connect=connect, idle=timeout_s),
    )


def _whole_timeouts(entry: ProviderEntry) -> Timeouts:
    return _timeouts(entry.timeout_s, entry.first_byte_timeout_s)[0]


def _stream_timeouts(entry: ProviderEntry) -> Timeouts:
    return _timeouts(entry.timeout_s, entry.first_byte_timeout_s)[1]


@attrs.define
class Dispatcher:
    pool: Pool
    health: HealthMonitor
    shared: SharedState = attrs.Factory(LocalState)
    #: Called with every attempt when it ends (metrics, the request's log line).
    hooks: tuple[AttemptHook, ...] = ()
    deadlines: Deadlines = attrs.Factory(Deadlines)

    async def run(self, table: RoutingTable, decision: RouteDecision, exchange: Exchange) -> Served:
        """Try candidates in order; fail over on retryable errors, at most max_attempts times."""
        last: UpstreamError | None = None
        attempts, full = 0, 0
        waits: list[float] = []
        for candidate in decision.candidates:
            if attempts >= table.settings.max_attempts:
                break
            entry = table.providers[candidate.provider]
            wait = await self._budget(entry)
            if wait:
                waits.append(wait)  # over its rpm or cooling down after a 429: try the next
                continue
            if entry.max_concurrency is not None and not await self.shared.acquire(
                entry.name, entry.max_concurrency
            ):
                full += 1  # at max_concurrency counting every router process: try the next
                continue
            attempts += 1
            attempt = Attempt(
                decision.route.name,
                entry.name,
                candidate.model,
                entry.zone,
                attempts,
                time.perf_counter(),
            )
            attempt.route_reason = candidate.reason.value
            attempt.price = candidate.target.spec.price
            if attempt.price is None:
                attempt.cost_usd = 0.0  # a free model costs nothing, usage or not
            try:
                if exchange.stream:
                    return await self._open_stream(table, candidate, entry, attempt, exchange)
                return await self._whole(table, candidate, entry, attempt, exchange)
            except UpstreamError as exc:
                if not self._failed(entry, candidate.model, exc).fail_over:
                    raise
                log.warning("attempt %d on %s failed: %s", attempts, entry.name, exc.message)
                last = exc
        raise giving_up(attempts, last, full=full, waits=waits, route=decision.route.name)

    async def _budget(self, entry: ProviderEntry) -> float:
        """Seconds until the provider may be called again (0: now)."""
        cooling = self.health.cooling(entry.name)
        if cooling:
            return cooling
        if entry.rpm is not None:
            return await self.shared.take(f"provider:{entry.name}", entry.rpm)
        return 0.0

    def _overdue(
        self, task: asyncio.Task[Any], entry: ProviderEntry, what: str
    ) -> UpstreamTimeout | None:
        """The timeout a cancellation means when the deadline caused it (else None: re-raise)."""
        if not self.deadlines.forget(task):
            return None
        task.uncancel()
        return UpstreamTimeout(
            f"Provider '{entry.name}' at {entry.display_url}: {what}", provider=entry.name
        )

    def _failed(self, entry: ProviderEntry, model: str, error: UpstreamError) -> Consequence:
        """Apply what a failure means for its provider (failover.after_failure decides)."""
        consequence = after_failure(error)
        if consequence.cool_down_s is not None:
            self.health.cool_down(entry.name, consequence.cool_down_s)
        if consequence.strike:
            self.health.record_failure(entry.name, error.message)
        if consequence.model_strike:
            self.health.record_failure(entry.name, error.message, model)
        return consequence

    def _report(
        self, entry: ProviderEntry, attempt: Attempt, error: UpstreamError | None, *, ok: bool
    ) -> None:
        """The attempt ended: give back its slot and tell the hooks."""
        attempt.upstream_s = time.perf_counter() - attempt.started
        self.health.release(entry.name, attempt.upstream_s)
        if entry.max_concurrency is not None:
            self.shared.release(entry.name)
        if ok:
            self.health.record_success(entry.name, attempt.model)
        if error is not None:
            attempt.error = error.kind
        for hook in self.hooks:
            hook(attempt)

    async def _whole(
        self,
        table: RoutingTable,
        candidate: Candidate,
        entry: ProviderEntry,
        attempt: Attempt,
        exchange: Exchange,
    ) -> Served:
        """One whole-body attempt; the answer must be what the exchange expects (else 502)."""
        model = candidate.model
        self.health.acquire(entry.name)
        error: UpstreamError | None = None
        ok = False
        task = asyncio.current_task()
        assert task is not None
        try:
            self.deadlines.watch(task, entry.timeout_s)
            try:
                answer = await self.pool.send(
                    exchange.request(entry, model),
                    entry,
                    _whole_timeouts(entry),
                    table.config.server.max_upstream_bytes,
                )
            except asyncio.CancelledError:
                if late := self._overdue(task, entry, f"timed out after {entry.timeout_s:g}s"):
                    raise late from None
                raise  # the client left, or the router stops
            finally:  # never leave a deadline behind: it would cancel the next attempt
                self.deadlines.forget(task)
            if answer.status >= 400:
                raise _status_error(answer.status, answer.headers, answer.body, entry)
            try:
                body, usage = exchange.answer(entry, model, answer.body)
            except _MALFORMED as exc:
                raise _malformed(exc, entry, "body") from exc
            body = entry.secrets.bytes(body)
            if usage is None and attempt.price is not None:
                estimate = getattr(exchange, "estimate", None)  # an exchange that can
                if estimate is not None:
                    usage = estimate(body)
                    attempt.estimated = True
            if usage is not None:
                _price(attempt, usage)
            ok = True
        except UpstreamError as exc:
            error = exc
            raise
        finally:
            self._report(entry, attempt, error, ok=ok)
        return Served(
            candidate,
            entry,
            attempt.number,
            attempt.route,
            body=body,
            cost_usd=attempt.cost_usd,
            cost_estimated=attempt.estimated,
        )

    async def _open_stream(
        self,
        table: RoutingTable,
        candidate: Candidate,
        entry: ProviderEntry,
        attempt: Attempt,
        exchange: Exchange,
    ) -> Served:
        """Open a stream and read to its first translated chunk: the point of no failover."""
        model = candidate.model
        self.health.acquire(entry.name)
        stream: Stream | None = None
        first_byte = entry.first_byte_timeout_s or entry.timeout_s
        task = asyncio.current_task()
        assert task is not None
        try:
            self.deadlines.watch(task, first_byte)
            try:
                stream = await self.pool.open(
                    exchange.request(entry, model), entry, _stream_timeouts(entry)
                )
                if stream.status >= 400:
                    limit = table.config.server.max_upstream_bytes
                    body = await stream.read(limit, entry)
                    raise _status_error(stream.status, stream.headers, body, entry)
                if stream.content_type in _NOT_A_STREAM:
                    raise UpstreamProtocolError(
                        f"Provider '{entry.name}' answered a stream request with "
                        f"{stream.content_type}, not an event stream",
                        provider=entry.name,
                    )
                translator = exchange.translator(entry, model)
                first: list[bytes] = []
                while not first:
                    data = await anext(stream.chunks, None)
                    if data is None:
                        first = translator.close()
                        break
                    first = translator.feed(data)
            except asyncio.CancelledError:
                if late := self._overdue(task, entry, f"no answer within {first_byte:g}s"):
                    raise late from None
                raise  # the client left, or the router stops
            except NexusError:
                raise  # a provider's failure, or the client's request it cannot take (400)
            except _MALFORMED as exc:
                raise _malformed(exc, entry, "stream") from exc
            except Exception as exc:  # aiohttp, while reading the first chunks
                raise failure(exc, entry, _stream_timeouts(entry)) from exc
            finally:  # never leave a deadline behind: it would cancel the relay
                self.deadlines.forget(task)
        except BaseException as exc:
            if stream is not None:
                stream.close()  # drops the connection: the provider stops generating
            self._report(entry, attempt, exc if isinstance(exc, UpstreamError) else None, ok=False)
            raise
        attempt.ttfb_s = time.perf_counter() - attempt.started
        relay = self._relay(
            entry,
            attempt,
            stream,
            translator,
            first,
            exchange,
            table.config.server.max_upstream_bytes,
        )
        return Served(candidate, entry, attempt.number, attempt.route, stream=relay)

    async def _relay(
        self,
        entry: ProviderEntry,
        attempt: Attempt,
        stream: Stream,
        translator: StreamTranslator,
        first: list[bytes],
        exchange: Exchange,
        limit: int,
    ) -> AsyncIterator[bytes]:
        """Yield translated chunks as they arrive; end with an error event if the upstream dies."""
        scrub = entry.secrets.bytes
        finished = False
        error: UpstreamError | None = None
        try:
            for out in first:
                yield scrub(out)
            size = 0
            try:
                async for data in stream.chunks:
                    size += len(data)
                    if size > limit:
                        raise too_large(entry, limit)
                    for out in translator.feed(data):
                        yield scrub(out)
                for out in translator.close():
                    yield scrub(out)
                finished = True
                _price_stream(attempt, translator)
            except UpstreamError as exc:
                error = exc
            except _MALFORMED as exc:
                error = _malformed(exc, entry, "stream")
            except Exception as exc:  # aiohttp, mid-stream
                error = failure(exc, entry, _stream_timeouts(entry))
            if error is not None:
                log.warning("stream from %s ended early: %s", entry.name, error.message)
                self._failed(entry, attempt.model, error)
                yield exchange.error_event(error.message, error.kind)
        finally:
            if finished:
                stream.release()  # read to the end: the connection goes back to the pool
            else:
                stream.close()  # a client that left, or a broken stream: drop the connection
            self._report(entry, attempt, error, ok=finished)
