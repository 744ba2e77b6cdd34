"""Run the real router app on a loopback port for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

from router.app import AppOptions, create_app
from router.http.server import http_protocol
from router.snapshot.atomic import exchange_files
from router.snapshot.holder import ConfigHolder
from tests.fakes.servers import serve


@attrs.frozen
class RouterHandle:
    url: str
    holder: ConfigHolder
    http: httpx.Client

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/admin/config").json()
        return data

    def version(self) -> str:
        return str(self.status()["version"])


@contextlib.contextmanager
def run_router(
    config: Path,
    *,
    env: dict[str, str] | None = None,
    replace: Callable[[str, str], None] = os.replace,
    exchange: Callable[[str, str], None] | None = exchange_files,
    **options: Any,
) -> Iterator[RouterHandle]:
    """Load `config` and serve the app (lifespan on: watcher, probes) until the block ends."""
    options.setdefault("watch_debounce_ms", 50)
    options.setdefault("watch_step_ms", 10)
    options.setdefault("handle_sighup", False)
    holder = ConfigHolder.open(config, env=env or {}, replace=replace, exchange=exchange)
    app = create_app(holder, options=AppOptions(**options))
    # The router runs under its own server protocol, as `nexus serve` runs it.
    protocol = http_protocol(holder.current.config.server)
    with (
        serve(app, lifespan="on", http=protocol) as url,
        httpx.Client(base_url=url, timeout=30) as http,
    ):
        yield RouterHandle(url, holder, http)
