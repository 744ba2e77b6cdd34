"""Dashboard sessions: an admin key exchanged once for an opaque, expiring cookie.

The cookie's value is a random session id, never the key; the server keeps the key's
SHA-256 only, and checks on every request that it still names an admin key of the
loaded config, so rotating the key (or restarting) ends the session. Sessions live in
this process's memory: with several replicas, log in on the one you look at.

Every POST carries the ``X-Nexus-CSRF`` header: the session's token, or, before login
and when the router has no keys, this process's anonymous token. Both are handed out
only by ``GET /ui/api/session``, which another site's page cannot read.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

import attrs

from router.auth.keys import AuthTable, Identity

__all__ = ["COOKIE", "CSRF_HEADER", "Session", "Sessions"]

#: The session cookie's name (scoped to ``Path=/ui``).
COOKIE = "nexus_ui"
CSRF_HEADER = "x-nexus-csrf"


@attrs.frozen
class Session:
    """One logged-in browser."""

    name: str
    key_digest: bytes = attrs.field(repr=False)
    csrf: str = attrs.field(repr=False)
    expires: float


@attrs.define
class Sessions:
    """The one mutable holder of this process's dashboard sessions (bounded, oldest dropped)."""

    ttl_s: float = 8 * 3600.0
    limit: int = 1000
    clock: Callable[[], float] = time.monotonic
    #: The CSRF token of requests without a session (the login form; a router without keys).
    anonymous_csrf: str = attrs.Factory(lambda: secrets.token_urlsafe(32))
    _by_id: OrderedDict[str, Session] = attrs.Factory(OrderedDict)

    def open(self, identity: Identity, key: str) -> tuple[str, Session]:
        """A new session for an admin who presented `key`; returns its id (the cookie's value)."""
        session = Session(
            identity.name,
            hashlib.sha256(key.encode()).digest(),
            secrets.token_urlsafe(32),
            self.clock() + self.ttl_s,
        )
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = session
        while len(self._by_id) > self.limit:
            self._by_id.popitem(last=False)
        return sid, session

    def find(self, sid: str | None, auth: AuthTable) -> Session | None:
        """The live session `sid` names, if its key is still a configured admin key."""
        if not sid:
            return None
        session = self._by_id.get(sid)
        if session is None:
            return None
        identity = auth.identify(session.key_digest)
        if session.expires <= self.clock() or identity is None or not identity.admin:
            del self._by_id[sid]
            return None
        return session

    def close(self, sid: str | None) -> None:
        if sid:
            self._by_id.pop(sid, None)

    def csrf_ok(self, session: Session | None, presented: str | None) -> bool:
        expected = session.csrf if session is not None else self.anonymous_csrf
        return presented is not None and hmac.compare_digest(expected, presented)
