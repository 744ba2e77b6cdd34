"""Durable state: stored responses (and, later, conversations)."""

from __future__ import annotations

from pathlib import Path

from router.store.base import ResponseStore, Store, StoredResponse
from router.store.sqlite import SqliteStore

__all__ = ["ResponseStore", "Store", "StoredResponse", "open_store"]


def open_store(url: str, *, base_dir: Path) -> Store:
    """Open the store a ``storage:`` URL names; relative SQLite paths resolve under `base_dir`."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path == ":memory:":
            return SqliteStore(":memory:")
        # sqlite:////abs/file.db is absolute; sqlite:///file.db is relative to the config
        target = Path(path) if path.startswith("/") else base_dir / path
        return SqliteStore(str(target))
    raise ValueError(f"unsupported storage URL scheme: {url.split('://', 1)[0]}")
