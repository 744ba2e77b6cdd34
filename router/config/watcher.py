"""Watch the config file's directory and reload the store when the file changes.

The directory is watched, not the file: editors save by writing a temp file and
renaming it over the original, and Kubernetes swaps a ``..data`` symlink.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import watchfiles

from router.config.store import ConfigStore

__all__ = ["watch_config"]

log = logging.getLogger("nexus.config")


def _wait_settled(path: Path, settle_s: float, attempts: int) -> None:
    """Return once two reads `settle_s` apart agree, so a write in progress is not parsed.

    The store reads the file again itself, under its lock: bytes read here could be
    older than an admin API write that lands meanwhile.
    """
    try:
        data = path.read_bytes()
        for _ in range(attempts):
            time.sleep(settle_s)
            again = path.read_bytes()
            if again == data:
                return
            data = again
    except OSError:
        return  # missing or unreadable: the store records why


async def watch_config(
    store: ConfigStore,
    *,
    stop: asyncio.Event,
    debounce_ms: int = 300,
    step_ms: int = 30,
    settle_s: float = 0.02,
) -> None:
    """Reload `store` after each burst of changes to its file, until `stop` is set."""
    path = store.path
    names = {path.name}

    def relevant(_change: watchfiles.Change, changed: str) -> bool:
        name = Path(changed).name
        # "..data" / "..2024_01_01_..." are Kubernetes' atomic-writer entries.
        return name in names or name.startswith("..")

    log.info("watching %s for changes", path.parent)
    async for _changes in watchfiles.awatch(
        path.parent,
        watch_filter=relevant,
        debounce=debounce_ms,
        step=step_ms,
        stop_event=stop,
        recursive=False,
    ):
        await asyncio.to_thread(_wait_settled, path, settle_s, 50)
        try:
            await store.areload()
        except Exception:  # the watcher must outlive any bug in one reload
            log.exception("unexpected error while reloading %s", path)
