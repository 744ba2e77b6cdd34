#!/usr/bin/env python3
"""Bootstrap and run Nexus with nothing but python3.

    python3 dev.py serve [nexus serve options]   # start the router on examples/nexus.yaml
    python3 dev.py test [pytest options]         # run the whole test suite, then ruff and mypy

`test` points the PostgreSQL and Redis tests at servers answering on 127.0.0.1
(5432, 6379) unless NEXUS_TEST_POSTGRES_URL / NEXUS_TEST_REDIS_URL are set.

The first call creates ``.venv`` next to this file and installs the project with
its dev extras; later calls reinstall only when ``pyproject.toml`` (or the version) changed.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".nexus-installed"


def _run(*cmd: str | Path) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT)


def ensure_venv() -> None:
    """Create the virtualenv and install the project when its metadata changed."""
    # The version is read from router/__init__.py into the installed metadata.
    sources = (ROOT / "pyproject.toml", ROOT / "router" / "__init__.py")
    wanted = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"dev.py: creating virtualenv in {VENV}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True, clear=False).create(VENV)
    print("dev.py: installing nexus and its dependencies", file=sys.stderr)
    pip = [BIN / "python", "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if _run(*pip, "-e", ".[dev]") != 0:
        sys.exit("dev.py: pip install failed (see above)")
    STAMP.write_text(wanted)


#: Real services the scale-out tests use when they answer on this machine (else they skip).
SERVICES = {
    "NEXUS_TEST_POSTGRES_URL": (5432, "postgresql://postgres@127.0.0.1:5432/test"),
    "NEXUS_TEST_REDIS_URL": (6379, "redis://127.0.0.1:6379/0"),
}


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def detect_services() -> None:
    """Point the PostgreSQL and Redis tests at local servers unless told otherwise."""
    for env, (port, url) in SERVICES.items():
        if env not in os.environ and _answers(port):
            os.environ[env] = url
        state = os.environ.get(env) or "not set: those tests skip"
        print(f"dev.py: {env}={state}", file=sys.stderr)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "shell"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    if command == "serve":
        if not any(a in {"-c", "--config"} for a in rest):
            rest = ["-c", str(ROOT / "examples" / "nexus.yaml"), *rest]
        return _run(BIN / "nexus", "serve", *rest)
    if command == "shell":
        return _run(BIN / "python", *rest)
    detect_services()
    status = _run(BIN / "python", "-m", "pytest", *rest)
    if status != 0 or rest:
        return status
    status = _run(BIN / "ruff", "check", "router", "tests", "bench", "dev.py")
    status = status or _run(BIN / "ruff", "format", "--check", "router", "tests", "bench", "dev.py")
    return status or _run(BIN / "mypy")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
