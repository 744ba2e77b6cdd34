"""Per-key asyncio locks that disappear when nobody holds or waits for them."""

from __future__ import annotations

import asyncio

import attrs

__all__ = ["KeyedLocks"]


@attrs.define
class KeyedLocks:
    _locks: dict[str, asyncio.Lock] = attrs.Factory(dict)
    _users: dict[str, int] = attrs.Factory(dict)

    async def acquire(self, key: str) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._done(key)
            raise

    def release(self, key: str) -> None:
        self._locks[key].release()
        self._done(key)

    def _done(self, key: str) -> None:
        self._users[key] -= 1
        if not self._users[key]:
            del self._users[key]
            del self._locks[key]

    def __len__(self) -> int:
        return len(self._locks)
