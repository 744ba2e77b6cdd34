"""The events of one background response, kept as they are produced, for followers to replay.

The task running a background response appends every Responses event here (in
sequence-number order, starting at 0); any number of followers on this process
replay from a sequence number and then wait for more until the log closes. The
same events go to the store in batches (`pending` / `flushed`), so a follower on
another process can read them from there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

import attrs

__all__ = ["EventLog"]


@attrs.define
class EventLog:
    events: list[bytes] = attrs.Factory(list)
    closed: bool = False
    #: Events [0, flushed) are in the store; the last write was at `flushed_at` (clock time).
    flushed: int = 0
    flushed_at: float = 0.0
    _wake: asyncio.Event = attrs.Factory(asyncio.Event)

    def extend(self, events: Iterable[bytes]) -> None:
        before = len(self.events)
        self.events.extend(events)
        if len(self.events) != before:
            self._notify()

    def close(self) -> None:
        self.closed = True
        self._notify()

    def _notify(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    def pending(self) -> list[tuple[int, bytes]]:
        """(sequence number, event) of what the store does not hold yet."""
        return [(seq, self.events[seq]) for seq in range(self.flushed, len(self.events))]

    async def after(self, sequence: int) -> AsyncIterator[tuple[int, bytes]]:
        """Every event after `sequence` (-1: all), then each new one until the log closes."""
        index = max(sequence + 1, 0)
        while True:
            wake = self._wake  # taken before looking, so an event added meanwhile wakes us
            while index < len(self.events):
                yield index, self.events[index]
                index += 1
            if self.closed:
                return
            await wake.wait()
