"""The config store: the one mutable holder of the current `RoutingTable`.

Reloads are transactions: the new file is read, parsed, validated and compiled
before anything changes; on success one reference is swapped, on failure the
last good table keeps serving and the error is kept for operators to see.
Requests read `current` once and keep that table to the end.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

import anyio.to_thread
import attrs

from router.config.diagnostics import Diagnostic
from router.errors import ConfigChangedOnDisk, ConfigInvalid, ConfigUnavailable, ConfigWriteFailed
from router.routing.compile import compile_config
from router.routing.discovered import Discovery
from router.routing.table import RoutingTable
from router.snapshot.atomic import Changed, Swap, exchange_files, install_if_unchanged
from router.snapshot.loader import (
    FileSnapshot,
    digest_of,
    load_bytes,
    read_config_bytes,
    read_settled,
    still_on_disk,
)

__all__ = ["ConfigHolder", "LoadError", "ReloadResult"]

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
class ConfigHolder:
    """Own the current table; reload it from `path` on demand."""

    path: Path
    _table: RoutingTable
    env: Mapping[str, str] = attrs.field(factory=lambda: os.environ)
    clock: Callable[[], float] = time.time
    last_error: LoadError | None = None
    succeeded: int = 0
    failed: int = 0
    unchanged: int = 0
    #: The last step of a write (an atomic exchange where the platform has one, else a
    #: replace); arguments so tests can make them fail like a full disk.
    replace: Swap = os.replace
    exchange: Swap | None = exchange_files
    #: How long a changed file must stay the same before it is parsed.
    settle_s: float = 0.05
    #: Allow a reload that leaves no routable model (``nexus serve --allow-empty``).
    allow_empty: bool = False
    #: Extra rules a new table must pass before it is swapped in (e.g. "auth stays on
    #: while bound to a public address"); each returns an error message or None.
    checks: list[Callable[[RoutingTable], Diagnostic | None]] = attrs.field(factory=list)
    _lock: threading.Lock = attrs.field(factory=threading.Lock)
    #: What discovering providers' backends listed, by provider name; every compile
    #: (reload, write, a new list) merges it in, so the file stays the one source.
    _discovered: dict[str, Discovery] = attrs.field(factory=dict)
    _listeners: list[Callable[[RoutingTable], None]] = attrs.field(factory=list)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
        replace: Swap = os.replace,
        exchange: Swap | None = exchange_files,
    ) -> ConfigHolder:
        """Load `path` for the first time; raise `ConfigInvalid`/`ConfigUnavailable` on failure."""
        path = Path(path).absolute()
        env = os.environ if env is None else env
        table = load_bytes(read_config_bytes(path), source=str(path), env=env, loaded_at=clock())
        return cls(path, table, env=env, clock=clock, replace=replace, exchange=exchange)

    @property
    def current(self) -> RoutingTable:
        """The table new requests use; read it once per request."""
        return self._table

    def subscribe(self, listener: Callable[[RoutingTable], None]) -> None:
        """Call `listener(table)` after every successful swap."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[RoutingTable], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def reload(self) -> ReloadResult:
        """Re-read the file and swap in the new table if it is valid and different.

        The bytes parsed are bytes that stayed the same for `settle_s`, and the
        file must still hold them (same inode, size, mtime and content) once the
        new table is built; if it changed meanwhile, the newer file is loaded.
        """
        with self._lock:
            for _ in range(3):
                snapshot: FileSnapshot | None = None
                try:
                    snapshot = read_settled(self.path, settle_s=self.settle_s)
                    if digest_of(snapshot.data) == self._table.digest:
                        self.last_error = None
                        self.unchanged += 1
                        return ReloadResult.UNCHANGED
                    table = load_bytes(
                        snapshot.data,
                        source=str(self.path),
                        env=self.env,
                        loaded_at=self.clock(),
                        discovered=self._known(),
                    )
                    self._check(table)
                except (ConfigInvalid, ConfigUnavailable) as exc:
                    if snapshot is not None and not still_on_disk(self.path, snapshot):
                        continue  # it failed on bytes that are already gone: read again
                    return self._failed(exc)
                if still_on_disk(self.path, snapshot):
                    self._swap(table, "reloaded")
                    return ReloadResult.RELOADED
            return self._failed(
                ConfigUnavailable(f"{self.path}: the file kept changing while it was loaded")
            )

    def _failed(self, exc: ConfigInvalid | ConfigUnavailable) -> ReloadResult:
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

    def write(self, edit: Callable[[str, RoutingTable], str]) -> RoutingTable:
        """Edit the file as one transaction and swap in the result; return the new table.

        Under the reload lock: the file on disk must be the loaded version, both
        when the edit starts and at the rename (else `ConfigChangedOnDisk`, so a
        human's save is never overwritten); the edited text must compile (else
        `ConfigInvalid`, nothing written); it is written to a temp file in the same
        directory, fsynced and swapped in (else `ConfigWriteFailed`, original
        intact). The watcher then sees an unchanged digest and does nothing.
        """
        with self._lock:
            try:
                current = read_config_bytes(self.path)
            except ConfigUnavailable as exc:
                raise ConfigWriteFailed(
                    "Provider store temporarily unavailable", reason=exc.message
                ) from exc
            if digest_of(current) != self._table.digest:
                raise self._changed()
            text = edit(current.decode("utf-8"), self._table)
            data = text.encode("utf-8")
            table = load_bytes(
                data,
                source=str(self.path),
                env=self.env,
                loaded_at=self.clock(),
                discovered=self._known(),
            )
            self._check(table)
            target = self.path.resolve()  # a symlinked config is written where it really lives
            try:
                install_if_unchanged(
                    data,
                    target,
                    self._table.digest,
                    exchange=self.exchange,
                    replace=self.replace,
                )
            except Changed:
                raise self._changed() from None
            except OSError as exc:
                raise ConfigWriteFailed(
                    "Provider store temporarily unavailable",
                    reason=f"cannot write {target}: {exc.strerror or exc}",
                ) from exc
            self._swap(table, "written by the admin API")
        return table

    def _changed(self) -> ConfigChangedOnDisk:
        return ConfigChangedOnDisk(
            "The config file changed on disk since it was loaded; reload or retry",
            path=str(self.path),
            loaded_version=self._table.version,
        )

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

    def _known(self) -> Mapping[str, Discovery]:
        return MappingProxyType(dict(self._discovered))

    def discovered(self, provider: str, discovery: Discovery) -> bool:
        """A probe of `provider` listed its models: serve them; return whether anything changed.

        The file's version (and digest) stays; the table is compiled again from the
        loaded config with the new list, and swapped in like a reload. A list that
        would not compile (it never should: discovery adds models, not errors) is
        logged and dropped, and the running table keeps serving.
        """
        with self._lock:
            if self._discovered.get(provider) == discovery:
                return False
            old = self._table
            known = {**self._discovered, provider: discovery}
            try:
                table = compile_config(
                    old.config,
                    env=self.env,
                    digest=old.digest,
                    loaded_at=old.loaded_at,
                    source=old.source,
                    discovered=MappingProxyType(known),
                )
            except ConfigInvalid as exc:
                log.error("models discovered at %s not served: %s", provider, exc.message)
                return False
            self._discovered = known
            # The same findings keep the file line and column the reload located them at;
            # one that the new list settles ("does not serve ... now") goes away.
            located = {(w.message, w.path): w for w in old.warnings}
            warnings = tuple(located.get((w.message, w.path), w) for w in table.warnings)
            self._table = attrs.evolve(table, warnings=warnings)
            before = old.providers.get(provider)
            after = table.providers.get(provider)
            names = set(after.models) if after else set()
            gone = set(before.models) - names if before else set()
            log.info(
                "provider %s serves %d models (%d new, %d gone)",
                provider,
                len(names),
                len(names - set(before.models if before else ())),
                len(gone),
                extra={"fields": {"event": "discovery", "provider": provider}},
            )
            for listener in self._listeners:
                listener(self._table)
            return True

    async def adiscovered(self, provider: str, discovery: Discovery) -> bool:
        """`discovered` in a worker thread (compiling a large config takes a while)."""
        return await anyio.to_thread.run_sync(self.discovered, provider, discovery)

    def _check(self, table: RoutingTable) -> None:
        problems = [*self._refusals(table)]
        problems += [d for check in self.checks if (d := check(table)) is not None]
        if problems:
            raise ConfigInvalid([attrs.evolve(d, file=str(self.path)) for d in problems])

    def _refusals(self, new: RoutingTable) -> list[Diagnostic]:
        """What a new version may not do to the running one, however valid it is on its own.

        A file cut short by an interrupted writer or a full disk is often still valid
        YAML: without these rules it could silently switch authentication off or
        leave nothing routable.
        """
        old = self._table
        out = []
        if old.auth is not None and old.auth.required and new.auth is None:
            out.append(
                Diagnostic(
                    "error",
                    "this version has no 'auth' section but the running one requires API "
                    "keys; a reload never switches authentication off (is the file cut "
                    "short?). Write 'auth: {mode: none}' to serve without keys on purpose",
                    ("auth",),
                )
            )
        routable = len(old.routable_models())
        # A provider that discovers may list models once it is probed: not "empty".
        discovering = any(e.discover and e.enabled for e in new.providers.values())
        if not self.allow_empty and routable and not new.routable_models() and not discovering:
            out.append(
                Diagnostic(
                    "error",
                    f"this version leaves no routable model (the running one has {routable}); "
                    "is the file cut short? Start the router "
                    "with 'nexus serve --allow-empty' to allow it",
                    ("providers",),
                )
            )
        return out

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
