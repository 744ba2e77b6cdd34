"""Walk a routing decision's candidates until one provider answers (failover).

The only place that talks to providers for inference, through the shared aiohttp
session. Transport errors are mapped to the exception tree here, at the boundary;
a stream is committed to a provider once its first translated chunk has arrived,
and never fails over after that.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import aiohttp
import attrs
import msgspec

from router.dialects import adapter_for
from router.dialects.base import (
    Adapter,
    ImageAdapter,
    UpstreamRequest,
    UpstreamStreamError,
    error_message,
)
from router.dialects.chat.answers import Completion, Embeddings
from router.dialects.chat.chunks import ResponseContext
from router.dialects.framing import StreamFramingError
from router.errors import (
    NexusError,
    ProvidersBusy,
    RateLimited,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
    provider_status_error,
)
from router.http.observe import current_info
from router.routing.decision import Candidate, RouteDecision
from router.routing.table import ProviderEntry, RoutingTable
from router.upstream.health import HealthMonitor
from router.upstream.limits import RateLimiter
from router.upstream.shared import LocalState, SharedState
from router.upstream.transport import failure_kind

__all__ = ["Dispatcher", "Served", "sse_error"]

log = logging.getLogger("nexus.dispatch")
_decode = msgspec.json.decode
_encode = msgspec.json.Encoder().encode


@attrs.frozen
class Served:
    """A provider's successful answer: a whole body, or a stream to relay."""

    candidate: Candidate
    entry: ProviderEntry
    attempts: int
    body: bytes | None = None
    stream: AsyncIterator[bytes] | None = None


def sse_error(exc: NexusError) -> bytes:
    """A terminal SSE event the openai SDK raises as an APIError."""
    code = type(exc).__name__
    return (
        b"data: "
        + _encode(
            {
                "error": {
                    "message": exc.message,
                    "type": "upstream_error",
                    "code": code,
                    "param": None,
                }
            }
        )
        + b"\n\n"
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def map_transport_error(exc: BaseException, entry: ProviderEntry) -> UpstreamError:
    """Translate a transport failure into our tree; never includes headers (keys)."""
    name = entry.name
    kind = failure_kind(exc)
    if kind in {"connect_timeout", "read_timeout"}:
        return UpstreamTimeout(
            f"Provider '{name}' did not answer within {entry.timeout_s:g}s", provider=name
        )
    if kind == "refused":
        return UpstreamUnavailable(
            f"Provider '{name}' is unreachable (connection failed)", provider=name
        )
    if kind == "closed":
        return UpstreamUnavailable(
            f"Provider '{name}' closed the connection unexpectedly", provider=name
        )
    return UpstreamUnavailable(f"Provider '{name}' failed: {type(exc).__name__}", provider=name)


def _status_error(
    status: int, headers: Mapping[str, str], body: bytes, entry: ProviderEntry
) -> UpstreamStatusError:
    parsed: Any = None
    try:
        parsed = _decode(body) if body else None
    except msgspec.DecodeError:
        parsed = None
    own = error_message(parsed)
    message = f"Provider '{entry.name}' answered HTTP {status}" + (
        f": {entry.secrets.text(own)}" if own else ""
    )
    return provider_status_error(status)(
        message,
        provider=entry.name,
        status=status,
        body=None,  # the provider's own words, unredacted: kept out of reach
        retry_after=_retry_after(headers),
    )


def _context(candidate: Candidate) -> ResponseContext:
    # A completion id is not a secret: no getrandom() syscall for it on the hot path.
    ident = f"chatcmpl-{random.getrandbits(96):024x}"
    return ResponseContext(ident, int(time.time()), candidate.model)


#: What a translation raises on an answer that is not the wire format it promised.
_TRANSLATION_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError)


def _stream_error(exc: Exception, entry: ProviderEntry) -> UpstreamProtocolError:
    if isinstance(exc, UpstreamStreamError | StreamFramingError):
        message = entry.secrets.text(str(exc))  # an upstream's error event may echo our key
        return UpstreamProtocolError(f"Provider '{entry.name}': {message}", provider=entry.name)
    return UpstreamProtocolError(
        f"Provider '{entry.name}' sent a malformed stream", provider=entry.name
    )


def _too_large(entry: ProviderEntry, limit: int) -> UpstreamProtocolError:
    return UpstreamProtocolError(
        f"Provider '{entry.name}' sent an answer larger than server.max_upstream_bytes "
        f"({limit} bytes)",
        provider=entry.name,
    )


async def _read_capped(response: aiohttp.ClientResponse, limit: int, entry: ProviderEntry) -> bytes:
    """The whole body, refusing one larger than `limit` before it is all in memory."""
    length = response.content_length
    if length is not None:
        if length > limit:
            raise _too_large(entry, limit)
        return await response.read()  # exactly Content-Length bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _too_large(entry, limit)
        chunks.append(chunk)
    return b"".join(chunks)


#: Media types an event stream never has; an HTML error page answered with 200 fails fast.
_NOT_A_STREAM = frozenset({"text/html", "application/xhtml+xml"})


def _record_upstream(started: float) -> None:
    info = current_info()
    if info is not None:
        info.upstream_s += time.perf_counter() - started


def _record_usage(shape: Any) -> None:
    info = current_info()
    usage = getattr(shape, "usage", None)
    if info is not None and usage is not None:
        info.prompt_tokens = usage.prompt_tokens
        info.completion_tokens = usage.completion_tokens


@attrs.define
class Dispatcher:
    #: The pool's aiohttp session (router.upstream.transport.Upstream), used directly.
    session: aiohttp.ClientSession
    health: HealthMonitor
    shared: SharedState = attrs.Factory(LocalState)
    #: Called with (provider, error type name) for every failed attempt (metrics).
    on_error: Callable[[str, str], None] = lambda provider, kind: None
    _timeouts: dict[tuple[float, float | None, bool], aiohttp.ClientTimeout] = attrs.Factory(dict)

    def _open(self, up: UpstreamRequest, entry: ProviderEntry, *, stream: bool) -> Any:
        """The request, awaitable (headers read) or usable with ``async with``.

        A whole-body attempt must end within ``timeout_s`` (a deadline, however the
        upstream trickles) and send its first byte within ``first_byte_timeout_s``;
        a stream may not fall silent for longer than ``timeout_s`` (its first byte is
        bounded in `_open_stream`).
        """
        key = (entry.timeout_s, entry.first_byte_timeout_s, stream)
        timeout = self._timeouts.get(key)
        if timeout is None:
            connect = min(entry.timeout_s, 10.0)  # connecting takes at most 10 s of it
            if stream:
                timeout = aiohttp.ClientTimeout(sock_connect=connect, sock_read=entry.timeout_s)
            else:
                timeout = aiohttp.ClientTimeout(
                    total=entry.timeout_s,
                    sock_connect=connect,
                    sock_read=entry.first_byte_timeout_s,
                )
            self._timeouts[key] = timeout
        return self.session.request(
            up.method,
            up.url,
            data=up.body or None,
            headers=up.headers,
            timeout=timeout,
            allow_redirects=False,
        )

    async def _exchange(
        self, up: UpstreamRequest, entry: ProviderEntry, limit: int
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One whole-body request: (status, headers, body), or a mapped UpstreamError."""
        try:
            async with self._open(up, entry, stream=False) as response:
                return response.status, response.headers, await _read_capped(response, limit, entry)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise map_transport_error(exc, entry) from exc

    def _failed(self, entry: ProviderEntry, exc: UpstreamError) -> None:
        self.on_error(entry.name, type(exc).__name__)
        if isinstance(exc, UpstreamStatusError) and (
            exc.status == 429 or (exc.status == 503 and exc.retry_after)
        ):
            # It is fine, just busy, and said for how long: wait that long, no circuit strike.
            self.health.cool_down(entry.name, exc.retry_after or 1.0)
            return
        if isinstance(exc, UpstreamStatusError) and exc.status < 500:
            return  # the client's mistake, not the provider's
        self.health.record_failure(entry.name, exc.message)

    async def chat(
        self,
        table: RoutingTable,
        decision: RouteDecision,
        body: Mapping[str, Any],
        *,
        stream: bool,
        include_usage: bool = False,
    ) -> Served:
        """Send a Chat Completions request to the first candidate that answers."""

        async def attempt(
            candidate: Candidate, entry: ProviderEntry, adapter: Adapter, number: int
        ) -> Served:
            up = adapter.chat_request(entry, candidate.model, body, stream=stream)
            if stream:
                return await self._open_stream(
                    table, candidate, entry, adapter, up, number, include_usage
                )
            ctx = _context(candidate)
            return await self._whole(
                table,
                candidate,
                entry,
                up,
                number,
                lambda data: adapter.chat_response(data, ctx),
                Completion,
            )

        return await self._walk(table, decision, attempt)

    async def embeddings(
        self, table: RoutingTable, decision: RouteDecision, body: Mapping[str, Any]
    ) -> Served:
        """Send an embeddings request to the first candidate that answers."""

        async def attempt(
            candidate: Candidate, entry: ProviderEntry, adapter: Adapter, number: int
        ) -> Served:
            up = adapter.embeddings_request(entry, candidate.model, body)
            return await self._whole(
                table,
                candidate,
                entry,
                up,
                number,
                lambda data: adapter.embeddings_response(data, candidate.model, body),
                Embeddings,
            )

        return await self._walk(table, decision, attempt)

    async def images(
        self, table: RoutingTable, decision: RouteDecision, body: Mapping[str, Any]
    ) -> Served:
        """Send an image generation request to the first candidate that answers."""

        async def attempt(
            candidate: Candidate, entry: ProviderEntry, adapter: Adapter, number: int
        ) -> Served:
            assert isinstance(adapter, ImageAdapter), "compile allows images on openai only"
            up = adapter.images_request(entry, candidate.model, body)
            return await self._whole(table, candidate, entry, up, number, lambda data: data, Any)

        return await self._walk(table, decision, attempt)

    async def _walk(
        self,
        table: RoutingTable,
        decision: RouteDecision,
        attempt: Callable[[Candidate, ProviderEntry, Adapter, int], Awaitable[Served]],
    ) -> Served:
        """Try candidates in order; fail over on retryable errors, at most max_attempts times."""
        last: UpstreamError | None = None
        attempts = 0
        waits: list[float] = []
        full = 0
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
            info = current_info()
            if info is not None:
                info.route = decision.route.name
                info.provider, info.model, info.zone = entry.name, candidate.model, entry.zone
            try:
                return await attempt(candidate, entry, adapter_for(entry.kind), attempts)
            except UpstreamError as exc:
                self._failed(entry, exc)
                if not exc.retryable:
                    raise
                log.warning("attempt %d on %s failed: %s", attempts, entry.name, exc.message)
                last = exc
        if last is None and full and not waits:
            raise ProvidersBusy(decision.route.name)
        if last is None:  # every candidate was over its budget
            raise RateLimited(
                "Rate limit exceeded for every provider that may serve this request",
                retry_after=RateLimiter.retry_after(min(waits)),
            )
        if attempts > 1:
            last.message = f"All {attempts} candidates failed; last: {last.message}"
            last.args = (last.message,)
        raise last

    async def _budget(self, entry: ProviderEntry) -> float:
        """Seconds until the provider may be called again (0: now)."""
        cooling = self.health.cooling(entry.name)
        if cooling:
            return cooling
        if entry.rpm is not None:
            return await self.shared.take(f"provider:{entry.name}", entry.rpm)
        return 0.0

    def _release(self, entry: ProviderEntry) -> None:
        """A request on `entry` ended: give back its local count and its shared slot."""
        self.health.release(entry.name)
        if entry.max_concurrency is not None:
            self.shared.release(entry.name)

    async def _whole(
        self,
        table: RoutingTable,
        candidate: Candidate,
        entry: ProviderEntry,
        up: UpstreamRequest,
        attempts: int,
        translate: Callable[[bytes], bytes],
        shape: Any,
    ) -> Served:
        """One whole-body attempt; the translated answer must decode as `shape` (else 502)."""
        self.health.acquire(entry.name)
        started = time.perf_counter()
        try:
            status, headers, content = await self._exchange(
                up, entry, table.config.server.max_upstream_bytes
            )
            if status >= 400:
                raise _status_error(status, headers, content, entry)
            try:
                body = entry.secrets.bytes(translate(content))
                decoded = msgspec.json.decode(body, type=shape)
            except _TRANSLATION_ERRORS as exc:
                raise UpstreamProtocolError(
                    f"Provider '{entry.name}' answered with a malformed body", provider=entry.name
                ) from exc
        finally:
            self._release(entry)
            _record_upstream(started)
        _record_usage(decoded)
        self.health.record_success(entry.name)
        return Served(candidate, entry, attempts, body=body)

    async def _open_stream(
        self,
        table: RoutingTable,
        candidate: Candidate,
        entry: ProviderEntry,
        adapter: Adapter,
        up: UpstreamRequest,
        attempts: int,
        include_usage: bool,
    ) -> Served:
        """Open a stream and read to its first translated chunk: the point of no failover."""
        self.health.acquire(entry.name)
        started = time.perf_counter()
        response: aiohttp.ClientResponse | None = None
        first_byte = entry.first_byte_timeout_s or entry.timeout_s
        deadline = asyncio.timeout(first_byte)
        try:
            try:
                async with deadline:
                    response = await self._open(up, entry, stream=True)
                    if response.status >= 400:
                        raise _status_error(
                            response.status, response.headers, await response.read(), entry
                        )
                    if response.content_type in _NOT_A_STREAM:
                        raise UpstreamProtocolError(
                            f"Provider '{entry.name}' answered a stream request with "
                            f"{response.content_type}, not an event stream",
                            provider=entry.name,
                        )
                    translator = adapter.chat_stream(
                        _context(candidate), include_usage=include_usage
                    )
                    chunks = response.content.iter_any()
                    first: list[bytes] = []
                    while not first:
                        data = await anext(chunks, None)
                        if data is None:
                            first = translator.close()
                            break
                        first = translator.feed(data)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise map_transport_error(exc, entry) from exc
                raise UpstreamTimeout(
                    f"Provider '{entry.name}' sent no answer within {first_byte:g}s",
                    provider=entry.name,
                ) from exc
            except aiohttp.ClientError as exc:
                raise map_transport_error(exc, entry) from exc
            except _TRANSLATION_ERRORS as exc:
                raise _stream_error(exc, entry) from exc
        except BaseException:
            if response is not None:
                response.close()  # drops the connection: the provider stops generating
            self._release(entry)
            _record_upstream(started)
            raise
        info = current_info()
        if info is not None:
            info.ttfb_s = time.perf_counter() - started
        relay = _relay(
            response,
            chunks,
            translator,
            first,
            entry,
            table.config.server.max_upstream_bytes,
            self._release,
            self._on_stream_end,
            started,
        )
        return Served(candidate, entry, attempts, stream=relay)

    def _on_stream_end(self, entry: ProviderEntry, error: UpstreamError | None) -> None:
        if error is None:
            self.health.record_success(entry.name)
        else:
            self._failed(entry, error)


async def _relay(
    response: aiohttp.ClientResponse,
    chunks: AsyncIterator[bytes],
    translator: Any,
    first: list[bytes],
    entry: ProviderEntry,
    limit: int,
    release: Callable[[ProviderEntry], None],
    on_end: Callable[[ProviderEntry, UpstreamError | None], None],
    started: float,
) -> AsyncIterator[bytes]:
    """Yield translated chunks as they arrive; end with an error event if the upstream dies."""
    finished = False
    scrub = entry.secrets.bytes
    try:
        for out in first:
            yield scrub(out)
        error: UpstreamError | None = None
        size = 0
        try:
            async for data in chunks:
                size += len(data)
                if size > limit:
                    raise _too_large(entry, limit)
                for out in translator.feed(data):
                    yield scrub(out)
            for out in translator.close():
                yield scrub(out)
            finished = True
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = map_transport_error(exc, entry)
        except _TRANSLATION_ERRORS as exc:
            error = _stream_error(exc, entry)
        except UpstreamProtocolError as exc:
            error = exc
        on_end(entry, error)
        if error is not None:
            log.warning("stream from %s ended early: %s", entry.name, error.message)
            yield sse_error(error)
    finally:
        if finished:
            response.release()  # read to the end: the connection goes back to the pool
        else:
            response.close()  # a client that left, or a broken stream: drop the connection
        release(entry)
        _record_upstream(started)
