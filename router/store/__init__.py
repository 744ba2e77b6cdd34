"""Durable state: stored responses and conversations, in SQLite or PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from router.store.base import ResponseStore, Store, StoredResponse, redact_url
from router.store.processes import ProcessId, this_process
from router.store.sqlite import SqliteStore

__all__ = ["ResponseStore", "Store", "StoredResponse", "open_store", "redact_url"]


def open_store(
    url: str,
    *,
    base_dir: Path,
    instance: str = "local",
    identify: Callable[[], ProcessId | None] = this_process,
) -> Store:
    """Open the store a ``storage:`` URL names; relative SQLite paths resolve under `base_dir`.

    `instance` names this process in the database (see `Store.heartbeat`); `identify`
    says which OS process it is (see `router.store.processes`).
    """
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path == ":memory:":
            return SqliteStore(":memory:", instance=instance, identify=identify)
        # sqlite:////abs/file.db is absolute; sqlite:///file.db is relative to the config
        target = Path(path) if path.startswith("/") else base_dir / path
        return SqliteStore(str(target), instance=instance, identify=identify)
    if url.startswith(("postgresql://", "postgres://")):
        try:
            from router.store.postgres import PostgresStore  # asyncpg loads only when used
        except ModuleNotFoundError as exc:
            raise ValueError(
                "storage: postgresql:// needs asyncpg: pip install 'nexus-router[postgres]'"
            ) from exc

        return PostgresStore(url, instance=instance, identify=identify)
    raise ValueError(f"unsupported storage URL scheme: {url.split('://', 1)[0]}")
