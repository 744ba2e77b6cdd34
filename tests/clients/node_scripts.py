"""Run the client matrix's node scripts and read the JSON line each prints."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.clients.matrix import API_KEY, Matrix

__all__ = ["run_script"]


def run_script(
    node_modules: Path,
    env: dict[str, str],
    matrix: Matrix,
    script: str,
    *args: str,
    model: str,
    timeout: float = 60,
) -> dict[str, Any]:
    """`node <script> <args>` against the router; its result (``ok`` false on a client error)."""
    done = subprocess.run(
        ["node", script, *args],
        cwd=node_modules.parent,
        env={
            **env,
            "NEXUS_BASE_URL": matrix.base_url,
            "NEXUS_MODEL": model,
            "NEXUS_API_KEY": API_KEY,
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    lines = done.stdout.strip().splitlines()
    if not lines:
        raise AssertionError(f"{script} {args} printed nothing; stderr:\n{done.stderr}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
