"""`nexus serve` refuses bad start-up conditions with one line (what, where, how) and exit 1.

Each case runs the real command in a subprocess, as a user file modes apply to
(tests/unprivileged.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.unprivileged import unprivileged, world_dir


@pytest.fixture
def world() -> Iterator[Path]:
    with world_dir() as path:
        yield path


def config(directory: Path, *, storage: str, write_back: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nexus.yaml"
    path.write_text(
        f"version: 1\nstorage: '{storage}'\nproviders: []\n"
        f"admin: {{write_back: {str(write_back).lower()}}}\n"
    )
    path.chmod(0o644)
    return path


def serve_fails(path: Path | str) -> str:
    """Run `nexus serve` unprivileged; assert it exits 1 with exactly one line; return it."""
    done = subprocess.run(
        unprivileged(
            [sys.executable, "-m", "router", "serve", "-c", str(path), "--port", str(free_port())]
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd="/",
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr  # one clear line, never a traceback
    assert lines[0].startswith("nexus: not starting: ")
    return lines[0]


def test_a_missing_config_names_the_path_and_the_ways_to_give_one(world: Path) -> None:
    line = serve_fails(world / "nope.yaml")
    assert f"{world / 'nope.yaml'}: config file not found" in line
    assert "--config PATH or set NEXUS_CONFIG" in line


def test_a_directory_given_as_config_says_to_pass_the_file(world: Path) -> None:
    line = serve_fails(world)
    assert f"{world}: is a directory" in line
    assert "pass the YAML file inside it" in line


def test_an_unreadable_config_names_the_user_who_cannot_read_it(world: Path) -> None:
    path = config(world / "etc", storage="sqlite:///:memory:", write_back=False)
    path.chmod(0o000)
    line = serve_fails(path)
    assert f"{path}: cannot read config file: Permission denied" in line
    assert "make the file readable by user " in line


def test_write_back_into_a_read_only_config_directory_is_refused(world: Path) -> None:
    etc = world / "etc"
    path = config(etc, storage="sqlite:///:memory:", write_back=True)
    etc.chmod(0o555)
    line = serve_fails(path)
    assert f"admin.write_back is on but the config directory {etc} is not writable" in line
    assert f"set 'admin: {{write_back: false}}' in {path}" in line


def test_a_state_directory_that_is_not_writable_is_refused(world: Path) -> None:
    state = world / "state"
    state.mkdir(mode=0o555)
    state.chmod(0o555)
    path = config(world / "etc", storage=f"sqlite:///{state}/db/nexus.db", write_back=False)
    line = serve_fails(path)
    assert f"the state directory {state} is not writable" in line
    assert f"(storage: {state}/db/nexus.db)" in line
    assert f"point 'storage' in {path} somewhere writable" in line


def test_a_database_file_that_is_not_writable_is_refused(world: Path) -> None:
    state = world / "state"
    state.mkdir(mode=0o777)
    state.chmod(0o777)
    (state / "nexus.db").write_bytes(b"")
    (state / "nexus.db").chmod(0o444)
    path = config(world / "etc", storage=f"sqlite:///{state}/nexus.db", write_back=False)
    line = serve_fails(path)
    assert f"the database file {state / 'nexus.db'} is not writable" in line


def test_storage_naming_an_unset_variable_is_refused_without_printing_the_url(
    world: Path,
) -> None:
    url = "postgresql://nexus:${NEXUS_TEST_UNSET_PASSWORD}@db:5432/nexus"
    path = config(world / "etc", storage=url, write_back=False)
    assert "NEXUS_TEST_UNSET_PASSWORD" not in os.environ
    line = serve_fails(path)
    assert "needs the environment variable(s) NEXUS_TEST_UNSET_PASSWORD, which are not set" in line
    assert "postgresql://" not in line


def test_the_same_files_made_writable_serve(world: Path) -> None:
    """The checks refuse only what would fail: writable places start, unprivileged too."""
    etc, state = world / "etc", world / "state"
    path = config(etc, storage=f"sqlite:///{state}/nexus.db", write_back=True)
    for directory in (etc, state):
        directory.mkdir(exist_ok=True)
        directory.chmod(0o777)
    port = free_port()
    proc = subprocess.Popen(
        unprivileged(
            [sys.executable, "-m", "router", "serve", "-c", str(path), "--port", str(port)]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd="/",
    )
    try:
        wait_for(lambda: _health(port), what="the router to serve", timeout=30)
        assert (state / "nexus.db").exists()
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGTERM, stderr  # uvicorn re-raises it after draining


def _health(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    except httpx.HTTPError:
        return False
