"""The HTTP server's own defences: header and body read deadlines and a file descriptor budget.

uvicorn's httptools protocol closes idle keep-alive connections and nothing
else: a client that opens a connection and sends its headers one byte at a time
(or never) holds a file descriptor forever, and 1,100 of them under a 1,024 fd
limit stopped every other request (accept() and the upstream connect() both
fail with EMFILE). `GuardedHttpToolsProtocol` adds what is missing:

- **header deadline**: from the connection's start, and from each later request's
  first byte, the headers must be complete within ``server.header_timeout_s``, or
  the connection is closed. An ASGI middleware cannot do this: it only ever sees
  requests whose headers are complete.
- **body deadline**: once the headers are in, the whole body must arrive within
  ``server.body_timeout_s``; the handler reading it answers 408 in the client's
  error envelope (router.http.body) and the connection is closed.
- **connection budget**: past ``max_connections`` open connections a new one gets
  an immediate 503 and is closed, so the descriptors left stay available to the
  upstream connections of the requests in flight.
- **clients that leave**: when a connection is lost mid-request, the inference
  request's task (left in its scope state by router.http.fast) is cancelled, so
  its upstream call ends at once — whether it waits for headers, for a whole
  answer, or relays a stream.

The hot path pays no timer per request: what a connection waits for is checked
once per read, a request that arrives whole only marks the connection idle, and
each connection has at most one timer, armed for its pending deadline and
re-armed lazily when it fires. Log lines are rate-limited (one per kind every
10 s, with a count), so an attack does not also flood the log. The refusal comes
before the request is read, so it is always in OpenAI's envelope. This relies on
uvicorn's `HttpToolsProtocol` internals (``cycle``, ``scope``, ``connections``),
which the tests exercise on real sockets.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import sys
from typing import Any

import attrs
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from router.config.model import ServerConfig
from router.http.body import BODY_TIMED_OUT
from router.http.fast import CLIENT_GONE_KEY, REQUEST_TASK_KEY

__all__ = [
    "FD_RESERVE",
    "ConnectionGuard",
    "GuardedHttpToolsProtocol",
    "ServerLimits",
    "connection_budget",
    "http_protocol",
    "raise_fd_limit",
]

log = logging.getLogger("nexus.server")

#: Descriptors kept for everything but client connections: the listening sockets, the
#: SQLite files and their WAL, the config watcher, log files, DNS, Redis (up to 64)
#: and PostgreSQL pools.
FD_RESERVE = 128
#: The most descriptors we ask for when the hard limit is unlimited (Linux's nr_open default).
_UNLIMITED_TARGET = 1 << 20
#: `_waiting_for` between requests, and once the connection is a websocket's.
_IDLE, _UPGRADED = object(), object()
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
    b"retry-after: 1\r\nconnection: close\r\ncontent-length: %d\r\n\r\n%s"
)
_REFUSAL_BODY = (
    b'{"error":{"message":"Too many open connections; retry shortly",'
    b'"type":"server_error","param":null,"code":"too_many_connections"}}'
)


@attrs.frozen
class ServerLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit where allowed; return the soft limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning(
                "file descriptors: cannot raise the soft limit %d to %d: %s", soft, target, exc
            )
        else:
            log.info("file descriptors: soft limit raised from %d to %d", soft, target)
            soft = target
    return int(soft if soft != resource.RLIM_INFINITY else _UNLIMITED_TARGET)


def connection_budget(fd_limit: int) -> int:
    """Client connections a process may hold: half of what the reserve leaves.

    The other half is for upstream connections: every request in flight may hold
    one, so clients can never take the descriptors their own requests need.
    """
    return max(16, (fd_limit - FD_RESERVE) // 2)


class _Kind(enum.Enum):
    HEADERS = "closed {n} connection(s) that sent no complete request headers within {t} s"
    BODY = "answered 408 to {n} request(s) whose body did not arrive within {t} s"
    REFUSED = "refused {n} new connection(s): {t} were open, the most this process serves"


@attrs.define
class ConnectionGuard:
    """Per process: the limits, and a rate-limited log of what they stopped.

    The first event of a kind is logged at once; the ones in the next
    `report_every_s` seconds are counted into one summary line.
    """

    limits: ServerLimits
    report_every_s: float = 10.0
    #: Kinds whose window is open -> events in it not logged yet.
    _unlogged: dict[_Kind, int] = attrs.Factory(dict)
    _last: dict[_Kind, str] = attrs.Factory(dict)

    def report(self, kind: _Kind, loop: asyncio.AbstractEventLoop, detail: str) -> None:
        self._last[kind] = detail
        if kind in self._unlogged:
            self._unlogged[kind] += 1
            return
        self._log(kind, 1)
        self._unlogged[kind] = 0
        loop.call_later(self.report_every_s, self._end_window, kind)

    def _end_window(self, kind: _Kind) -> None:
        count = self._unlogged.pop(kind, 0)
        if count:
            self._log(kind, count)

    def _log(self, kind: _Kind, count: int) -> None:
        limits = self.limits
        bound = {
            _Kind.HEADERS: limits.header_timeout_s,
            _Kind.BODY: limits.body_timeout_s,
            _Kind.REFUSED: limits.max_connections,
        }[kind]
        log.warning("%s (last: %s)", kind.value.format(n=count, t=bound), self._last[kind])


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "unknown peer"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read deadlines and a connection budget."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        guard: ConnectionGuard,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.guard = guard
        #: What the connection waits for: None the first request's headers, a request's
        #: scope its headers, a request cycle its body, _IDLE nothing (keep-alive).
        self._waiting_for: object = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        full = len(self.connections) >= self.guard.limits.max_connections
        super().connection_made(transport)
        if full:
            self.guard.report(_Kind.REFUSED, self.loop, f"from {_peer(self.client)}")
            transport.write(_REFUSAL % (len(_REFUSAL_BODY), _REFUSAL_BODY))
            transport.close()
            return
        self._expect(self.guard.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The client left mid-request: cancel its inference task, so the upstream call
            # (waiting for headers, an answer, or mid-stream) ends and the GPU stops.
            state = cycle.scope.get("state") or {}
            task = state.get(REQUEST_TASK_KEY)
            if task is not None and not task.done():
                state[CLIENT_GONE_KEY] = True
                task.cancel()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        self._stop()  # the transport is the websocket protocol's from now on
        self._waiting_for = _UPGRADED
        super().handle_websocket_upgrade()

    def _stop(self) -> None:
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def data_received(self, data: bytes) -> None:
        """Parse, then see what the connection waits for now; a new wait gets a deadline.

        Checked once per read rather than in the parser's callbacks: a request that
        arrives whole (nearly all do) only sets the connection idle.
        """
        super().data_received(data)
        cycle: RequestResponseCycle | None = self.cycle
        if cycle is None or cycle.scope is not self.scope:  # a request's headers are partial
            waiting_for: object = self.scope
            within = self.guard.limits.header_timeout_s
        elif cycle.more_body and not cycle.response_complete:  # its body is partial
            waiting_for = cycle
            within = self.guard.limits.body_timeout_s
        else:
            if self._waiting_for is not _IDLE and self._waiting_for is not _UPGRADED:
                self._waiting_for = _IDLE
                self._deadline = None
            return
        previous = self._waiting_for
        if waiting_for is previous or previous is _UPGRADED:
            return
        self._waiting_for = waiting_for
        if previous is None and cycle is None:
            return  # the first request's headers: their deadline runs from connection_made
        self._expect(within)

    def _expect(self, within: float) -> None:
        """Set the deadline; move the timer only if it would fire late."""
        deadline = self._deadline = self.loop.time() + within
        timer = self._timer
        if timer is None:
            self._timer = self.loop.call_at(deadline, self._expire)
        elif timer.when() > deadline:
            timer.cancel()
            self._timer = self.loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.loop.time() < deadline:  # the deadline moved on since the timer was set
            self._timer = self.loop.call_at(deadline, self._expire)
            return
        self._deadline = None
        cycle = self._waiting_for
        if not isinstance(cycle, RequestResponseCycle):  # still reading headers
            self.guard.report(_Kind.HEADERS, self.loop, f"from {_peer(self.client)}")
            self.transport.close()
            return
        what = f"{cycle.scope['method']} {cycle.scope['path']} from {_peer(self.client)}"
        self.guard.report(_Kind.BODY, self.loop, what)
        if cycle.response_started:  # answered without reading the body
            self.transport.close()
            return
        # Wake the handler waiting for the body (router.http.body answers 408); the
        # rest of this body may still arrive, so the connection closes after the answer.
        cycle.scope["state"][BODY_TIMED_OUT] = True
        cycle.keep_alive = False
        cycle.message_event.set()


def http_protocol(server: ServerConfig) -> Any:
    """The ``http=`` argument for uvicorn: the guarded protocol with this config's limits.

    Raises the process's descriptor limit first and logs the budget it allows. A
    partial of a module-level class, so ``--workers`` can pickle it to its children.
    """
    fd_limit = raise_fd_limit()
    budget = connection_budget(fd_limit) if fd_limit else sys.maxsize
    limit = server.max_connections or budget
    if limit > budget:
        log.warning(
            "server.max_connections %d exceeds what %d file descriptors allow (%d): "
            "upstream connections may fail with 'too many open files' under load",
            limit,
            fd_limit,
            budget,
        )
    log.info(
        "serving at most %d client connections (file descriptor limit %d); "
        "header timeout %.1f s, body timeout %.1f s",
        limit,
        fd_limit,
        server.header_timeout_s,
        server.body_timeout_s,
    )
    limits = ServerLimits(server.header_timeout_s, server.body_timeout_s, limit)
    return functools.partial(GuardedHttpToolsProtocol, guard=ConnectionGuard(limits))
