"""deploy/Dockerfile, read as BuildKit would (no engine runs here to build it).

The wheel it installs is built and smoke-tested by `python3 dev.py artifact`; these
tests keep the image's promises and the files it copies consistent.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import sys

from router.snapshot.loader import load_bytes
from tests.conftest import REPO
from tests.deploy.files import CONFIG_DIR, DEPLOY, instructions

IMAGE_CONFIG = DEPLOY / "config" / "nexus.yaml"


def test_two_stages_build_the_wheel_then_install_it_into_a_slim_runtime() -> None:
    stages = instructions("FROM")
    assert len(stages) == 2
    assert stages[0].endswith(" AS build")
    assert "-slim" in stages[1]
    [build] = [rest for rest in instructions("RUN") if "python -m build" in rest]
    assert "[postgres,redis]" in build  # one image for one router and for replicas
    assert any(rest.startswith("--from=build /opt/nexus ") for rest in instructions("COPY"))


def test_the_image_runs_the_python_ci_tests_the_wheel_with() -> None:
    [arg] = [rest for rest in instructions("ARG") if rest.startswith("PYTHON=")]
    assert arg == f"PYTHON={sys.version_info.major}.{sys.version_info.minor}"


def test_every_file_copied_from_the_context_exists_and_is_not_ignored() -> None:
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    copied = [shlex.split(rest)[:-1] for rest in instructions("COPY") if "--from" not in rest]
    assert copied
    for sources in copied:
        for source in sources:
            assert (REPO / source).exists(), source
            assert any(fnmatch.fnmatch(source, pattern) for pattern in allowed), source


def test_it_runs_as_a_numeric_non_root_user() -> None:
    [user] = instructions("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) > 0
    assert gid == uid
    [create] = [rest for rest in instructions("RUN") if "useradd" in rest]
    assert f"--uid {uid}" in create


def test_config_state_port_health_and_signals() -> None:
    env = " ".join(instructions("ENV"))
    assert f"NEXUS_CONFIG={CONFIG_DIR}/nexus.yaml" in env
    assert f"deploy/config/nexus.yaml {CONFIG_DIR}/nexus.yaml" in instructions("COPY")
    assert instructions("VOLUME") == ['["/var/lib/nexus"]']
    assert instructions("EXPOSE") == ["8000"]
    [health] = instructions("HEALTHCHECK")
    assert "http://127.0.0.1:8000/health" in health
    assert instructions("STOPSIGNAL") == ["SIGTERM"]
    # exec form, so nexus is PID 1 and receives SIGTERM and SIGHUP itself
    [entrypoint] = instructions("ENTRYPOINT")
    assert json.loads(entrypoint) == ["nexus"]
    [cmd] = instructions("CMD")
    assert json.loads(cmd)[0] == "serve"


def test_the_image_config_keeps_state_in_the_volume_and_listens_outside() -> None:
    """Off loopback it must declare keys (from the environment) and write only its volume."""
    text = IMAGE_CONFIG.read_text()
    table = load_bytes(text.encode(), source=str(IMAGE_CONFIG), env={}, loaded_at=0.0)
    config = table.config
    assert config.server.host == "0.0.0.0"
    assert config.server.port == 8000
    assert config.auth is not None
    assert all(re.fullmatch(r"\$\{[A-Z_]+\}", k.key or "") for k in config.auth.keys)
    assert config.storage == "sqlite:///${STATE_DIRECTORY:-/var/lib/nexus}/nexus.db"
    assert config.admin.write_back is False  # /etc/nexus is read-only in the image
