"""The config store: the one mutable holder of the current `RoutingTable`.

Reloads are transactions: the new file is read, parsed, validated and compiled
before anything changes; on success one reference is swapped, on failure the
last good table keeps serving and the error is kept for operators to see.
Requests read `current` once and keep that table to the end.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path

import anyio.to_thread
import attrs

from router.config.diagnostics import Diagnostic
from router.config.loader import digest_of, load_bytes, read_config_bytes
from router.errors import ConfigChangedOnDisk, ConfigInvalid, ConfigUnavailable, StoreUnavailable
from router.routing.table import RoutingTable

__all__ = ["ConfigStore", "LoadError", "ReloadResult"]

log = logging.getLogger("nexus.config")


class ReloadResult(StrEnum):
    RELOADED = "reloaded"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@attrs.frozen
class LoadError:
    """Why the last reload failed, and when."""

    message: str
    diagnostics: tuple[Diagnostic, ...]
    at: float

    def to_dict(self) -> dict[str, object]:
        first = next((d for d in self.diagnostics if d.severity == "error"), None)
        return {
            "message": self.message,
            "line": first.line if first else None,
            "column": first.column if first else None,
            "path": first.json_path if first else None,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.at)),
            "errors": [d.to_dict() for d in self.diagnostics if d.severity == "error"],
        }


@attrs.define
class ConfigStore:
    """Own the current table; reload it from `path` on demand."""

    path: Path
    _table: RoutingTable
    env: Mapping[str, str] = attrs.field(factory=lambda: os.environ)
    clock: Callable[[], float] = time.time
    last_error: LoadError | None = None
    succeeded: int = 0
    failed: int = 0
    unchanged: int = 0
    #: The last step of a write; an argument so tests can make it fail like a full disk.
    replace: Callable[[str, str], None] = os.replace
    #: Extra rules a new table must pass before it is swapped in (e.g. "auth stays on
    #: while bound to a public address"); each returns an error message or None.
    checks: list[Callable[[RoutingTable], Diagnostic | None]] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    _listeners: list[Callable[[RoutingTable], None]] = attrs.field(factory=list)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        replace: Callable[[str, str], None] = os.replace,
    ) -> ConfigStore:
        """Load `path` for the first time; raise `ConfigInvalid`/`ConfigUnavailable` on failure."""
        path = Path(path).absolute()
        env = os.environ if env is None else env
        table = load_bytes(read_config_bytes(path), source=str(path), env=env, loaded_at=clock())
        return cls(path, table, env=env, clock=clock, replace=replace)

    @property
    def current(self) -> RoutingTable:
        """The table new requests use; read it once per request."""
        return self._table

    def subscribe(self, listener: Callable[[RoutingTable], None]) -> None:
        """Call `listener(table)` after every successful swap."""
        self._listeners.append(listener)

    def reload(self) -> ReloadResult:
        """Re-read the file and swap in the new table if it is valid and different."""
        with self._lock:
            try:
                data = read_config_bytes(self.path)
                if digest_of(data) == self._table.digest:
                    self.last_error = None
                    self.unchanged += 1
                    return ReloadResult.UNCHANGED
                table = load_bytes(
                    data, source=str(self.path), env=self.env, loaded_at=self.clock()
                )
                self._check(table)
            except (ConfigInvalid, ConfigUnavailable) as exc:
                diagnostics = getattr(exc, "diagnostics", ())
                self.last_error = LoadError(exc.message, tuple(diagnostics), self.clock())
                self.failed += 1
                log.error(
                    "config reload failed, still serving version %s: %s",
                    self._table.version,
                    exc.message,
                    extra={"fields": {"event": "config_reload", "result": "failed"}},
                )
                return ReloadResult.FAILED
            self._swap(table, "reloaded")
        return ReloadResult.RELOADED

    def write(self, edit: Callable[[str, RoutingTable], str]) -> RoutingTable:
        """Edit the file as one transaction and swap in the result; return the new table.

        Under the reload lock: the file on disk must still be the loaded version
        (else `ConfigChangedOnDisk`, so a human's edit is never overwritten); the
        edited text must compile (else `ConfigInvalid`, nothing written); it is
        written to a temp file in the same directory, fsynced and renamed over the
        original (else `StoreUnavailable`, original intact). The watcher then sees
        an unchanged digest and does nothing.
        """
        with self._lock:
            try:
                current = read_config_bytes(self.path)
            except ConfigUnavailable as exc:
                raise StoreUnavailable(
                    "Provider store temporarily unavailable", reason=exc.message
                ) from exc
            if digest_of(current) != self._table.digest:
                raise ConfigChangedOnDisk(
                    "The config file changed on disk since it was loaded; reload or retry",
                    path=str(self.path),
                    loaded_version=self._table.version,
                )
            text = edit(current.decode("utf-8"), self._table)
            data = text.encode("utf-8")
            table = load_bytes(data, source=str(self.path), env=self.env, loaded_at=self.clock())
            self._check(table)
            self._write_atomically(data)
            self._swap(table, "written by the admin API")
        return table

    def _swap(self, table: RoutingTable, how: str) -> None:
        """Make `table` current (the caller holds the lock) and tell the listeners."""
        old, self._table = self._table, table
        self.last_error = None
        self.succeeded += 1
        log.info(
            "config %s: version %s -> %s",
            how,
            old.version,
            table.version,
            extra={
                "fields": {"event": "config_reload", "result": "reloaded", "version": table.version}
            },
        )
        for warning in table.warnings:
            log.warning("%s", warning.format())
        for listener in self._listeners:
            listener(table)

    def _check(self, table: RoutingTable) -> None:
        problems = [d for check in self.checks if (d := check(table)) is not None]
        if problems:
            raise ConfigInvalid([attrs.evolve(d, file=str(self.path)) for d in problems])

    def _write_atomically(self, data: bytes) -> None:
        target = self.path.resolve()  # a symlinked config is written where it really lives
        tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            mode = target.stat()
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode.st_mode & 0o7777)
            with contextlib.suppress(PermissionError):
                os.chown(tmp, mode.st_uid, mode.st_gid)
            self.replace(str(tmp), str(target))
            directory = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StoreUnavailable(
                "Provider store temporarily unavailable",
                reason=f"cannot write {target}: {exc.strerror or exc}",
            ) from exc

    async def awrite(self, edit: Callable[[str, RoutingTable], str]) -> RoutingTable:
        """`write` in a worker thread."""
        return await anyio.to_thread.run_sync(self.write, edit)

    async def areload(self) -> ReloadResult:
        """`reload` in a worker thread, so a large config never blocks the event loop."""
        return await anyio.to_thread.run_sync(self.reload)

    def status(self) -> dict[str, object]:
        """The operator's view: what is loaded and how the last reload went."""
        table = self._table
        return {
            "version": table.version,
            "digest": table.digest,
            "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(table.loaded_at)),
            "path": str(self.path),
            "last_error": self.last_error.to_dict() if self.last_error else None,
            "reloads": {
                "succeeded": self.succeeded,
                "failed": self.failed,
                "unchanged": self.unchanged,
            },
            "warnings": [w.to_dict() for w in table.warnings],
        }
