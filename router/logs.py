"""Log output: one JSON object per line for machines, ``key=value`` for terminals.

Every request writes an access line, so the path is kept cheap: msgspec encodes
the JSON, and lines logged on the event loop's thread are written together every
20 ms instead of one ``write()`` system call each.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from typing import Any

import msgspec

__all__ = [
    "FLUSH_INTERVAL_S",
    "JsonFormatter",
    "LoopBatchedHandler",
    "TextFormatter",
    "configure_logging",
]

_LEVELS = {"WARNING": "warn", "CRITICAL": "fatal"}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return dict(fields) if isinstance(fields, dict) else {}


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second:  # strftime once per second, not once per line
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        stamp = self._stamp
        out: dict[str, Any] = {
            "timestamp": f"{stamp}.{int(record.msecs):03d}Z",
            "level": _LEVELS.get(record.levelname, record.levelname.lower()),
            "logger": record.name,
            "message": record.getMessage(),
            **{k: v for k, v in _fields(record).items() if v is not None},
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return msgspec.json.encode(out, enc_hook=str).decode()


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={v}" for k, v in _fields(record).items() if v is not None)
        return f"{line} {extra}" if extra else line


#: How long a line logged on the event loop may wait to be written with others.
FLUSH_INTERVAL_S = 0.02


class LoopBatchedHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that writes what the event loop logged every `FLUSH_INTERVAL_S`.

    A write() system call per line was ~4% of a request's CPU even at one
    connection; lines now wait at most 20 ms and leave together.

    Outside a running loop (start-up, worker threads, shutdown) a line is written
    at once, after anything still pending, so the order of lines is kept.
    `logging.shutdown()` flushes at exit; a process killed outright can lose the
    last 20 ms of lines.
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending: list[str] = []
        #: The loop a flush is scheduled on (a loop closed before running it is replaced).
        self._scheduled_on: asyncio.AbstractEventLoop | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:  # logging's contract: report, never raise
            self.handleError(record)
            return
        self._pending.append(line)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        if self._scheduled_on is not loop:
            self._scheduled_on = loop
            loop.call_later(FLUSH_INTERVAL_S, self.flush)

    def flush(self) -> None:
        self.acquire()  # the handler's RLock: emit() already holds it when it flushes
        try:
            self._flush_pending()
        finally:
            self.release()

    def _flush_pending(self) -> None:
        self._scheduled_on = None
        if self._pending:
            text = "".join(self._pending)
            self._pending.clear()
            try:
                self.stream.write(text)
            except (OSError, ValueError):  # a closed or broken stderr: nothing to report to
                return
        super().flush()


def configure_logging(level: str = "info", fmt: str = "auto") -> None:
    """JSON when asked, or when stderr is not a terminal (``auto``); text otherwise."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    # Neither formatter prints the caller's file and line, thread or process: skip
    # collecting them for every record (the logging HOWTO's "Optimization" section).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LoopBatchedHandler()
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call is noise
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # our access line replaces it
