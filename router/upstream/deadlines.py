"""Deadlines for whole-body attempts: one sweeping task instead of a timer per request.

An attempt's ``timeout_s`` is a deadline however the provider trickles its answer.
aiohttp's own total timeout arms and disarms a timer handle per request (~2% of a
chat completion's CPU, measured with py-spy); here each attempt only enters and
leaves a dict, and one task looks at the dict `resolution` times a second and
cancels the attempts that are past due. An attempt may so run up to
`resolution` seconds longer than its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import attrs

__all__ = ["Deadlines"]


@attrs.define
class Deadlines:
    resolution: float = 0.1
    clock: Callable[[], float] = time.monotonic
    _due: dict[asyncio.Task[object], float] = attrs.Factory(dict)
    _expired: set[asyncio.Task[object]] = attrs.Factory(set)
    _sweeper: asyncio.Task[None] | None = None

    def watch(self, task: asyncio.Task[object], seconds: float) -> None:
        """Cancel `task` once `seconds` have passed, unless `forget` comes first."""
        self._due[task] = self.clock() + seconds
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(
                self._sweep(), name="nexus-deadlines"
            )

    def forget(self, task: asyncio.Task[object]) -> bool:
        """Stop watching `task`; True if its deadline had passed (and it was cancelled)."""
        self._due.pop(task, None)
        if task in self._expired:
            self._expired.discard(task)
            return True
        return False

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.resolution)
            if not self._due:
                continue
            now = self.clock()
            for task, due in list(self._due.items()):
                if now >= due:
                    del self._due[task]
                    self._expired.add(task)
                    task.cancel()

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
