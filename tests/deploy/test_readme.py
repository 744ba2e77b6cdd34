"""The README's install section names files that exist and commands that fit them."""

from __future__ import annotations

import re

from router import __version__
from tests.conftest import REPO
from tests.deploy.files import COMPOSE_FILES, DEPLOY, exec_start

README = (REPO / "README.md").read_text()


def test_every_deploy_and_example_path_it_names_exists() -> None:
    named = set(re.findall(r"\b((?:deploy|examples)/[\w./-]*\w)", README))
    assert {"deploy/Dockerfile", "deploy/nexus.service", "deploy/compose.yaml"} <= named
    missing = {
        path
        for path in named
        if not (REPO / path).exists() and path != "deploy/.env"  # made by the reader
    }
    assert missing == set()


def test_the_commands_fit_the_files() -> None:
    wheel = f"nexus_router-{__version__}-py3-none-any.whl"
    for path in COMPOSE_FILES:
        assert f"docker compose -f {path.relative_to(REPO)} up -d --build" in README
    assert f"docker build -f deploy/Dockerfile -t nexus-router:{__version__} ." in README
    venv = exec_start()[0].removesuffix("/bin/nexus")
    assert f"sudo python3 -m venv {venv}" in README
    assert f"sudo {venv}/bin/pip install ./dist/{wheel}" in README
    assert "cp deploy/nexus.env.example deploy/.env" in README
    assert (DEPLOY / "nexus.env.example").is_file()
    assert "/.env" in (DEPLOY / ".gitignore").read_text().splitlines()  # keys stay out of git
