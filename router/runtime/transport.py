"""The HTTP transport under the shared httpx client, and how its failures are classified.

httpx stays the API (requests, streams, MockTransport in tests); aiohttp moves the
bytes. Measured side by side (bench/RESULTS.md), httpcore's pool spent ~45% of the
router's CPU at 32 connections, polling every pooled socket on every request.
httpx-aiohttp maps some aiohttp errors loosely (a refused connection arrives as
ConnectTimeout), so `failure_kind` looks at the original exception first.
"""

from __future__ import annotations

import asyncio
from typing import Literal

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

__all__ = ["FailureKind", "aiohttp_session", "failure_kind", "make_transport"]

FailureKind = Literal["connect_timeout", "read_timeout", "refused", "closed", "other"]


def make_transport() -> httpx.AsyncBaseTransport:
    limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256, keepalive_expiry=30)
    return AiohttpTransport(limits=limits, trust_env=False)


def aiohttp_session(transport: httpx.AsyncBaseTransport | None) -> aiohttp.ClientSession | None:
    """The aiohttp session under `transport`, for whole-body requests that skip httpx.

    httpx's request and response objects around aiohttp were ~15% of the router's
    CPU for a non-streaming chat completion (py-spy); streams keep the httpx API.
    None when the transport is not aiohttp (one a test or an embedder passed in).
    """
    if not isinstance(transport, AiohttpTransport):
        return None
    if not isinstance(transport.client, aiohttp.ClientSession):
        transport.client = transport.get_client()  # what its first request would do
    return transport.client


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
