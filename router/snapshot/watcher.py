"""Watch the config file's directory and reload the store when the file changes.

The directory is watched, not the file: editors save by writing a temp file and
renaming it over the original, and Kubernetes swaps a ``..data`` symlink.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import watchfiles

from router.snapshot.holder import ConfigHolder

__all__ = ["watch_config"]

log = logging.getLogger("nexus.config")


async def watch_config(
    store: ConfigHolder,
    *,
    stop: asyncio.Event,
    debounce_ms: int = 300,
    step_ms: int = 30,
) -> None:
    """Reload `store` after each burst of changes to its file, until `stop` is set.

    The store itself waits for the file to settle and checks it did not change
    while it was parsed (`ConfigHolder.reload`).
    """
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
        try:
            await store.areload()
        except Exception:  # the watcher must outlive any bug in one reload
            log.exception("unexpected error while reloading %s", path)
