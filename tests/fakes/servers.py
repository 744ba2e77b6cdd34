"""Run an ASGI app (a fake upstream, or the router itself) on a real loopback port."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import uvicorn

from tests.conftest import free_port, wait_for


@contextlib.contextmanager
def serve(
    app: Any, *, port: int | None = None, lifespan: str = "off", http: Any = "h11"
) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread; yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan=lifespan,
        loop="asyncio",
        http=http,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started or not thread.is_alive(), what="server start")
        if not server.started:
            raise RuntimeError("server failed to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
