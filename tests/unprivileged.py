"""Run the router as a user file modes apply to, in directories that user can reach.

Root ignores file modes, so when the suite runs as root the router under test runs
as `nobody`, as it would in the container image or under systemd's DynamicUser.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NOBODY = 65534


def unprivileged() -> dict[str, Any]:
    """Popen arguments that run the child as nobody when the suite runs as root."""
    if os.geteuid() != 0:
        return {}
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []}


@contextlib.contextmanager
def world_dir() -> Iterator[Path]:
    """A temporary directory every user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="nexus-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)
