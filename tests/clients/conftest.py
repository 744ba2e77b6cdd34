"""Fixtures of the client matrix: the router stack, the provider kinds, the node clients."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.matrix import KINDS, Matrix, route, running_matrix

NODE_DIR = Path(__file__).resolve().parent / "node"
#: Written into node_modules after a successful `npm ci`: the lock file it installed.
STAMP = NODE_DIR / "node_modules" / ".nexus-lock.sha256"


@pytest.fixture(scope="session")
def matrix_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    """One router and its three fakes for the whole session (starting them costs ~1 s)."""
    with running_matrix(tmp_path_factory.mktemp("matrix")) as stack:
        yield stack


@pytest.fixture
def matrix(matrix_stack: Matrix) -> Iterator[Matrix]:
    """The shared stack, its fakes back to plain text answers with nothing recorded."""
    matrix_stack.reset()
    yield matrix_stack
    matrix_stack.reset()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    """Each provider kind in turn."""
    value: str = request.param
    return value


@pytest.fixture
def model(kind: str) -> str:
    """The route served by the provider of `kind`."""
    return route(kind)


def _lock_digest() -> str:
    return hashlib.sha256((NODE_DIR / "package-lock.json").read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """tests/clients/node/node_modules as package-lock.json pins it (`npm ci` when it changed).

    Skips when node or npm is not installed; an `npm ci` that fails is an error.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for the Vercel AI SDK and Codex CLI clients")
    wanted = _lock_digest()
    if not (STAMP.exists() and STAMP.read_text().strip() == wanted):
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci in {NODE_DIR} failed:\n{done.stdout}\n{done.stderr}")
        STAMP.write_text(wanted)
    return NODE_DIR / "node_modules"


@pytest.fixture(scope="session")
def node_env() -> dict[str, str]:
    """The environment node scripts run in: no proxy or key of the developer's leaks in."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}
