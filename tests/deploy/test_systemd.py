"""deploy/nexus.service: systemd's own verifier, its hardening score, and the install it assumes."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from router.snapshot.loader import load_bytes
from tests.deploy.files import DEPLOY, UNIT, exec_start, seconds, unit

ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze is not installed (Debian package: systemd)"
)


def installed_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart's program pointed at a real one: verify checks that it exists."""
    program = exec_start()[0]
    executable = tmp_path / "nexus"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(program) == 1
    copy = tmp_path / "nexus.service"
    copy.write_text(text.replace(program, str(executable)))
    return copy


@needs_analyze
def test_systemd_analyze_verify_finds_nothing(tmp_path: Path) -> None:
    """It exits 0 even for unknown keys and bad values, so any output at all is a failure."""
    assert ANALYZE is not None
    done = subprocess.run(
        [ANALYZE, "verify", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )
    assert (done.returncode, done.stdout + done.stderr) == (0, "")


@needs_analyze
def test_the_hardening_stays_at_an_exposure_of_at_most_4(tmp_path: Path) -> None:
    assert ANALYZE is not None
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", "--threshold=40", str(installed_copy(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:]


def test_the_unit_says_what_the_issue_asks_for() -> None:
    keys = unit()
    for key, value in {
        "DynamicUser": "yes",
        "StateDirectory": "nexus",
        "ProtectSystem": "strict",
        "NoNewPrivileges": "yes",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
    }.items():
        assert keys.get(key) == [value], key


def test_the_unit_matches_the_config_it_reads_and_the_readme() -> None:
    program, *args = exec_start()
    config = Path(args[args.index("--config") + 1])
    assert config == Path("/etc/nexus/nexus.yaml")
    shipped = DEPLOY / "config" / "nexus.yaml"
    table = load_bytes(shipped.read_bytes(), source=str(shipped), env={}, loaded_at=0.0)
    # systemd sets STATE_DIRECTORY=/var/lib/<StateDirectory>; the config falls back to it too
    state = f"/var/lib/{unit()['StateDirectory'][0]}"
    assert table.config.storage == f"sqlite:///${{STATE_DIRECTORY:-{state}}}/nexus.db"
    assert table.config.admin.write_back is False  # ProtectSystem=strict: /etc is read-only
    assert seconds(unit()["TimeoutStopSec"][0]) > table.config.server.shutdown_grace_s
    assert program == "/opt/nexus/bin/nexus"  # the venv the README's commands create
    assert unit()["EnvironmentFile"] == ["-/etc/nexus/nexus.env"]
