"""The image's config, served as the image serves it: keys from the environment or no service.

It listens on 0.0.0.0 in a container; here `--host 127.0.0.1` keeps the test on
loopback, and the rule that an address off loopback needs `auth` is checked with
the config's own host. The router runs unprivileged, its state in a directory
given as STATE_DIRECTORY (the image's volume, systemd's StateDirectory).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.deploy.files import DEPLOY
from tests.unprivileged import unprivileged, world_dir

IMAGE_CONFIG = DEPLOY / "config" / "nexus.yaml"
KEYS = ("NEXUS_API_KEY", "NEXUS_ADMIN_KEY", "OPENAI_API_KEY", "OLLAMA_URL")


@pytest.fixture
def state() -> Iterator[Path]:
    with world_dir() as path:
        (path / "state").mkdir(mode=0o777)
        (path / "state").chmod(0o777)
        yield path / "state"


def environment(state: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in KEYS}
    return {**env, "STATE_DIRECTORY": str(state), "OLLAMA_URL": "http://127.0.0.1:9", **extra}


def serving(state: Path, **extra: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    listen = ["--host", "127.0.0.1", "--port", str(port), "--log-format", "text"]
    proc = subprocess.Popen(
        unprivileged([sys.executable, "-m", "router", "serve", "-c", str(IMAGE_CONFIG), *listen]),
        env=environment(state, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    url = f"http://127.0.0.1:{port}"

    def health() -> bool:
        try:
            return httpx.get(f"{url}/health").status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None  # died: stop waiting, the test reports why

    wait_for(health, what="the router to serve", timeout=30)
    assert proc.poll() is None, proc.communicate()[1]
    return proc, url


def stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=30)[1]


def test_without_keys_in_the_environment_nothing_is_served(state: Path) -> None:
    proc, url = serving(state)
    try:
        assert httpx.get(f"{url}/health").status_code == 200  # the HEALTHCHECK needs no key
        assert httpx.get(f"{url}/v1/models").status_code == 401
        assert httpx.get(f"{url}/v1/models", headers={"x-api-key": "guess"}).status_code == 401
    finally:
        stderr = stop(proc)
    assert "auth requires keys but none is usable: every request will get 401" in stderr


def test_a_key_from_the_environment_opens_it_to_its_holder(state: Path) -> None:
    proc, url = serving(state, NEXUS_API_KEY="k-123")
    try:
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": "Bearer k-123"})
        assert models.status_code == 200
        assert httpx.get(f"{url}/v1/models").status_code == 401
        assert httpx.get(f"{url}/admin/config", headers={"x-api-key": "k-123"}).status_code == 403
    finally:
        stderr = stop(proc)
    assert (state / "nexus.db").exists()  # its state went to the volume
    assert "k-123" not in stderr


def test_without_its_auth_section_it_refuses_to_start_on_every_interface(state: Path) -> None:
    text = IMAGE_CONFIG.read_text()
    start, end = text.index("\nauth:\n"), text.index("\nzones:")
    config = state / "no-auth.yaml"
    config.write_text(text[:start] + text[end:])
    config.chmod(0o644)
    done = subprocess.run(
        unprivileged(
            [sys.executable, "-m", "router", "serve", "-c", str(config), "--port", str(free_port())]
        ),
        env=environment(state),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "nexus: not starting: binding 0.0.0.0 (not a loopback address) needs an 'auth' section: "
        "add keys, or 'auth: {mode: none}' to serve without authentication on purpose"
    ]
