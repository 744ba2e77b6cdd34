"""Shared fixtures: config files on disk, waiting on observable state, free ports."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

T = TypeVar("T")

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "nexus.yaml"


def wait_for(probe: Callable[[], T | None], *, timeout: float = 10.0, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy; fail the test after `timeout` seconds.

    Used to wait on state the router reports (a version, a counter), never as a sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


MINIMAL = """\
version: 1
providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:9/v1
    models:
      - name: small
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- real PostgreSQL and Redis (issue: scale out) -------------------------------------------
# Their URLs come from the environment; `.ci/run` sets them when the services answer on
# this machine. Each test gets its own schema / key prefix and leaves nothing behind.

POSTGRES_ENV, REDIS_ENV = "NEXUS_TEST_POSTGRES_URL", "NEXUS_TEST_REDIS_URL"


@contextlib.contextmanager
def postgres_schema(base: str) -> Iterator[str]:
    """A URL for `base` whose search_path is a fresh schema, dropped afterwards."""
    import asyncpg

    schema = f"nexus_test_{secrets.token_hex(6)}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(base)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}search_path={schema}"
    finally:
        asyncio.run(run(f"DROP SCHEMA {schema} CASCADE"))


@contextlib.contextmanager
def redis_prefix(base: str) -> Iterator[str]:
    """A URL for `base` with a fresh key prefix; its keys are deleted afterwards."""
    import redis

    prefix = f"nexus-test-{secrets.token_hex(6)}:"
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}prefix={prefix}"
    finally:
        client = redis.Redis.from_url(base)
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def service_url(env: str, what: str) -> str:
    base = os.environ.get(env)
    if not base:
        pytest.skip(f"{env} is not set ({what})")
    return base


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL (NEXUS_TEST_POSTGRES_URL) in a schema of its own."""
    with postgres_schema(service_url(POSTGRES_ENV, "a PostgreSQL server")) as url:
        yield url


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis (NEXUS_TEST_REDIS_URL) under a key prefix of its own."""
    with redis_prefix(service_url(REDIS_ENV, "a Redis server")) as url:
        yield url
