"""Run the router as a process file modes apply to, as in the image or under systemd.

Root ignores file modes through two capabilities, CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH. Under root the router keeps uid 0 but runs without them
(setpriv drops them from the bounding set), so a mode 0555 directory is as
read-only to it as to uid 10001 in the container. Another user would not do:
it may not reach the checkout's interpreter (CI's clone may sit in a private
directory).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def unprivileged(command: list[str]) -> list[str]:
    """`command`, wrapped so file modes apply to it when the suite runs as root."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): file modes would not apply")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]


@contextlib.contextmanager
def world_dir() -> Iterator[Path]:
    """A temporary directory, its modes restored before it is removed."""
    path = Path(tempfile.mkdtemp(prefix="nexus-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for sub in path.rglob("*"):
            if sub.is_dir() and not sub.is_symlink():
                sub.chmod(0o755)
        shutil.rmtree(path)
