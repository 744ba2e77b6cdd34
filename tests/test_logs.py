"""The log handler: lines logged on the loop are written together, in order, within an interval."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from router.logs import FLUSH_INTERVAL_S, JsonFormatter, LoopBatchedHandler


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, CountingStream]]:
    stream = CountingStream()
    handler = LoopBatchedHandler()
    handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("nexus.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, stream
    logger.handlers[:] = []


def _messages(stream: CountingStream) -> list[str]:
    return [json.loads(line)["message"] for line in stream.getvalue().splitlines()]


def test_lines_logged_on_the_loop_are_written_once_in_order_within_the_interval(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    async def main() -> list[str]:
        for n in range(5):
            logger.info("line %d", n, extra={"fields": {"n": n, "x": object()}})
            await asyncio.sleep(0)  # other loop iterations do not flush
        before = _messages(stream)
        await asyncio.sleep(FLUSH_INTERVAL_S * 3)
        return before

    before = asyncio.run(main())
    assert before == []
    assert _messages(stream) == [f"line {n}" for n in range(5)]
    assert stream.writes == 1
    assert json.loads(stream.getvalue().splitlines()[0])["x"].startswith("<object")


def test_outside_a_loop_a_line_is_written_at_once_after_pending_ones(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged

    async def main() -> None:
        logger.info("from the loop")
        await asyncio.to_thread(logger.info, "from a thread")  # no running loop there

    asyncio.run(main())
    assert _messages(stream) == ["from the loop", "from a thread"]
    logger.info("after the loop")
    assert _messages(stream)[-1] == "after the loop"


def test_a_loop_closed_before_its_flush_does_not_stall_the_next(
    logged: tuple[logging.Logger, CountingStream],
) -> None:
    logger, stream = logged
    first = asyncio.new_event_loop()

    async def log_and_stop(text: str) -> None:
        logger.info(text)
        asyncio.get_running_loop().stop()  # the loop ends before the scheduled flush runs

    first.run_until_complete(log_and_stop("one"))
    first.close()
    assert _messages(stream) == []

    async def log_and_wait(text: str) -> None:
        logger.info(text)
        await asyncio.sleep(FLUSH_INTERVAL_S * 3)

    asyncio.run(log_and_wait("two"))
    assert _messages(stream) == ["one", "two"]
