"""The connection pool to providers, and how its failures are classified.

aiohttp moves the bytes. Measured side by side (bench/RESULTS.md), httpcore's
pool spent ~45% of the router's CPU at 32 connections, polling every pooled
socket on every request. httpx-aiohttp (the httpx face, for probes and model
listings) maps some aiohttp errors loosely (a refused connection arrives as
ConnectTimeout), so `failure_kind` looks at the original exception first.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import aiohttp
import attrs
import httpx
from httpx_aiohttp import AiohttpTransport

from router import __version__

__all__ = ["USER_AGENT", "FailureKind", "Upstream", "failure_kind", "make_upstream"]

#: Every request to a provider names us: inference, probes and model listings alike.
USER_AGENT = f"nexus/{__version__}"

FailureKind = Literal["connect_timeout", "read_timeout", "refused", "closed", "other"]


@attrs.frozen
class Upstream:
    """One connection pool to every provider, with two faces.

    Inference (router.upstream.dispatch) uses the aiohttp `session` directly:
    httpx's request/response objects and the httpx-aiohttp adapter around it were
    ~15% of a chat completion's CPU (py-spy). Health probes and model listings
    keep httpx's API through `transport`, over the same session and pool.
    """

    session: aiohttp.ClientSession
    transport: httpx.AsyncBaseTransport


class _NamedTransport(AiohttpTransport):
    """httpx's face of the pool; sends our User-Agent instead of httpx's default one."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["User-Agent"] = USER_AGENT
        return await super().handle_async_request(request)


def make_upstream() -> Upstream:
    """Call inside the event loop (aiohttp binds the session to it)."""
    connector = aiohttp.TCPConnector(
        limit=1024,
        keepalive_timeout=30,
        ssl=httpx.create_ssl_context(trust_env=False),  # certifi's roots, as httpx verifies
    )
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),  # one provider's Set-Cookie never reaches another
        trust_env=False,  # never send provider keys through an ambient proxy
        headers={"User-Agent": USER_AGENT},
    )
    return Upstream(session, _NamedTransport(client=session, trust_env=False))


def failure_kind(exc: BaseException) -> FailureKind:
    """What really went wrong, whichever transport raised `exc` (httpx's or aiohttp's)."""
    cause = exc.__cause__ if isinstance(exc, httpx.HTTPError) else exc
    if isinstance(cause, aiohttp.ConnectionTimeoutError):
        return "connect_timeout"
    if isinstance(cause, aiohttp.ServerTimeoutError | asyncio.TimeoutError):
        return "read_timeout"
    if isinstance(cause, aiohttp.ClientConnectorError):
        return "refused"
    if isinstance(
        cause, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError
    ):
        return "closed"
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "connect_timeout"
    if isinstance(exc, httpx.TimeoutException):
        return "read_timeout"
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "closed"
    return "other"
