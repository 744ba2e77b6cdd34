"""The one connection pool to providers, its two calls, and the one map of its failures.

Every request to a provider — inference, health probes, model listings — goes
through `Pool.send` (a whole answer) or `Pool.open` (a stream) on one aiohttp
session. aiohttp moves the bytes: measured side by side (bench/RESULTS.md),
httpcore's pool spent ~45% of the router's CPU at 32 connections, and httpx's
request objects over aiohttp another ~15%; a second client stack bought nothing
but a second exception tree.

`failure` turns what aiohttp raises into our tree, naming the provider, its URL
(as written, without credentials) and the cause people can act on: connection
refused, DNS, TLS, a timeout and after how long.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple

import aiohttp
import attrs

from router import __version__
from router.dialects.base import UpstreamRequest
from router.errors import UpstreamError, UpstreamProtocolError, UpstreamTimeout, UpstreamUnavailable
from router.routing.table import ProviderEntry

__all__ = ["USER_AGENT", "Answer", "Pool", "Stream", "Timeouts", "failure", "too_large"]

#: Every request to a provider names us: inference, probes and model listings alike.
USER_AGENT = f"nexus/{__version__}"

#: Where a transport error happened, for the message and for the admin API's codes.
CONNECT, READ = "connect", "read"


class Timeouts(NamedTuple):
    """`total` bounds the whole exchange; `idle` any silence; `connect` the connection.

    A tuple: it keys the pool's cache of aiohttp timeouts on every request.
    """

    connect: float
    total: float | None = None
    idle: float | None = None


@attrs.frozen
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


@attrs.define
class Stream:
    """An answer whose body is still arriving; `close` drops the connection, `release` reuses it."""

    status: int
    headers: Mapping[str, str]
    content_type: str
    chunks: AsyncIterator[bytes]
    _response: aiohttp.ClientResponse

    async def read(self, limit: int, entry: ProviderEntry) -> bytes:
        """The rest of the body (an error status's), at most `limit` bytes."""
        return await _read_capped(self._response, limit, entry)

    def close(self) -> None:
        self._response.close()

    def release(self) -> None:
        self._response.release()


def too_large(entry: ProviderEntry, limit: int) -> UpstreamProtocolError:
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
            raise too_large(entry, limit)
        return await response.read()  # exactly Content-Length bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise too_large(entry, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _ssl_context() -> ssl.SSLContext:
    """The system's trust store, plus certifi's roots where certifi is installed."""
    context = ssl.create_default_context()
    try:
        import certifi
    except ModuleNotFoundError:  # pragma: no cover - litestar brings it
        return context
    context.load_verify_locations(certifi.where())
    return context


@attrs.define
class Pool:
    """One connection pool to every provider. Create inside the event loop; `close` at the end."""

    session: aiohttp.ClientSession
    _timeouts: dict[Timeouts, aiohttp.ClientTimeout] = attrs.Factory(dict)

    @classmethod
    def create(cls) -> Pool:
        connector = aiohttp.TCPConnector(limit=1024, keepalive_timeout=30, ssl=_ssl_context())
        session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # one provider's Set-Cookie never reaches another
            trust_env=False,  # never send provider keys through an ambient proxy
            headers={"User-Agent": USER_AGENT},
        )
        return cls(session)

    async def close(self) -> None:
        await self.session.close()

    def _request(self, up: UpstreamRequest, timeouts: Timeouts) -> Any:
        timeout = self._timeouts.get(timeouts)
        if timeout is None:
            timeout = self._timeouts[timeouts] = aiohttp.ClientTimeout(
                total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.idle
            )
        return self.session.request(
            up.method,
            up.url,
            data=up.body or None,
            headers=up.headers,
            timeout=timeout,
            allow_redirects=False,
        )

    async def send(
        self, up: UpstreamRequest, entry: ProviderEntry, timeouts: Timeouts, limit: int
    ) -> Answer:
        """One whole exchange, or a mapped `UpstreamError` (a body over `limit` included)."""
        try:
            async with self._request(up, timeouts) as response:
                length = response.content_length
                if length is not None and length <= limit:  # nearly every answer
                    body = await response.read()
                else:
                    body = await _read_capped(response, limit, entry)
                return Answer(response.status, response.headers, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise failure(exc, entry, timeouts) from exc

    async def open(self, up: UpstreamRequest, entry: ProviderEntry, timeouts: Timeouts) -> Stream:
        """Send and read the headers; the caller reads `chunks` and must close or release."""
        try:
            response = await self._request(up, timeouts)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise failure(exc, entry, timeouts) from exc
        return Stream(
            response.status,
            response.headers,
            response.content_type,
            response.content.iter_any(),
            response,
        )


def _cause(exc: BaseException) -> str:
    """What went wrong, in the words an operator searches for."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "DNS lookup failed"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno if exc.os_error is not None else None
        if code == errno.ECONNREFUSED:
            return "connection refused"
        if code in {errno.EHOSTUNREACH, errno.ENETUNREACH}:
            return "host unreachable"
        return f"could not connect ({exc.os_error.strerror or type(exc.os_error).__name__})"
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientConnectionResetError):
        return "the connection was closed before the answer was complete"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the answer was cut short"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"connection failed ({exc.strerror or type(exc).__name__})"
    return type(exc).__name__


def failure(exc: BaseException, entry: ProviderEntry, timeouts: Timeouts) -> UpstreamError:
    """The one map from a transport failure to our tree; it never includes headers (keys)."""
    where = f"Provider '{entry.name}' at {entry.display_url or entry.base_url}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return UpstreamTimeout(
            f"{where}: could not connect within {timeouts.connect:g}s",
            provider=entry.name,
            phase=CONNECT,
        )
    if isinstance(exc, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        seconds = timeouts.idle if isinstance(exc, aiohttp.SocketTimeoutError) else timeouts.total
        seconds = seconds or timeouts.idle or timeouts.total or 0
        return UpstreamTimeout(
            f"{where}: timed out after {seconds:g}s", provider=entry.name, phase=READ
        )
    return UpstreamUnavailable(f"{where}: {_cause(exc)}", provider=entry.name)
