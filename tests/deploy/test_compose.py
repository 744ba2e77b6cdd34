"""The compose files: every file they name exists, and every config they mount is valid.

No container engine runs here, so the files are read as Compose reads them (YAML with
merge keys, paths relative to the compose file) and the configs are loaded as
`nexus check` loads them, with the environment the compose file and .env provide.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from router import __version__
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes
from tests.deploy.files import (
    COMPOSE_FILES,
    CONFIG_DIR,
    DEPLOY,
    bind_mounts,
    compose,
    instructions,
    nexus_services,
    seconds,
)

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}")
ENV_EXAMPLE = DEPLOY / "nexus.env.example"

SERVICES = [
    pytest.param(path, name, id=f"{path.name}:{name}")
    for path in COMPOSE_FILES
    for name in nexus_services(path)
]


def documented_variables() -> set[str]:
    """The names deploy/nexus.env.example tells people to set (commented out or not)."""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def mounted_config(path: Path, service: dict[str, Any]) -> Path:
    [source] = [src for src, target in bind_mounts(service) if target == CONFIG_DIR]
    return (path.parent / source).resolve() / "nexus.yaml"


def load(config: Path, env: dict[str, str]) -> RoutingTable:
    """What `nexus check` does (it raises ConfigInvalid with every error)."""
    return load_bytes(config.read_bytes(), source=str(config), env=env, loaded_at=0.0)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_every_host_path_a_compose_file_names_exists(path: Path) -> None:
    for name, service in compose(path)["services"].items():
        for source, _ in bind_mounts(service):
            assert (path.parent / source).exists(), f"{path.name}: {name} mounts {source}"
        build = service.get("build")
        if build:
            context = path.parent / build["context"]
            assert (context / build["dockerfile"]).is_file(), f"{path.name}: {name} builds"
        for env_file in service.get("env_file", []):
            if env_file.get("required", True):
                assert (path.parent / env_file["path"]).is_file()


@pytest.mark.parametrize(("path", "name"), SERVICES)
def test_the_mounted_config_is_valid_with_the_environment_compose_gives(
    path: Path, name: str
) -> None:
    """Every ${VAR} it needs comes from the service's environment or is documented for .env."""
    service = nexus_services(path)[name]
    config = mounted_config(path, service)
    needed = {var for var, default in _REFERENCE.findall(config.read_text()) if not default}
    given = {str(k) for k in service.get("environment", {})}
    assert needed - given <= documented_variables(), "undocumented variables"
    env = {var: f"value-of-{var}" for var in needed | documented_variables()}
    env.update({str(k): str(v) for k, v in service.get("environment", {}).items()})
    table = load(config, env)
    assert [w.message for w in table.warnings] == []
    assert table.config.server.port == 8000  # the port the image EXPOSEs and the proxy uses


@pytest.mark.parametrize(("path", "name"), SERVICES)
def test_a_nexus_service_runs_this_release_and_outlasts_its_drain(path: Path, name: str) -> None:
    service = nexus_services(path)[name]
    assert service["image"] == f"nexus-router:{__version__}"
    table = load(mounted_config(path, service), {})
    grace = table.config.server.shutdown_grace_s
    assert seconds(service["stop_grace_period"]) > grace  # else docker SIGKILLs the drain
    assert "8000" in instructions("EXPOSE")


def test_the_homelab_file_puts_nexus_next_to_ollama() -> None:
    path = DEPLOY / "compose.yaml"
    services = compose(path)["services"]
    assert services["ollama"]["image"] == "ollama/ollama"
    nexus = services["nexus"]
    assert nexus["environment"]["OLLAMA_URL"] == "http://ollama:11434"
    table = load(mounted_config(path, nexus), {"OLLAMA_URL": "http://ollama:11434"})
    assert table.providers["ollama"].base_url == "http://ollama:11434"
    assert "nexus-state:/var/lib/nexus" in nexus["volumes"]


def test_the_replicas_file_runs_two_routers_on_its_database_and_redis() -> None:
    path = DEPLOY / "compose.replicas.yaml"
    services = compose(path)["services"]
    routers = nexus_services(path)
    assert len(routers) == 2
    [config] = {mounted_config(path, s) for s in routers.values()}
    table = load(config, {"NEXUS_DB_PASSWORD": "pw"})
    storage = urlsplit(table.config.storage.replace("${NEXUS_DB_PASSWORD}", "pw"))
    postgres = services[storage.hostname or ""]["environment"]
    assert (storage.username, storage.path) == (postgres["POSTGRES_USER"], "/nexus")
    assert postgres["POSTGRES_DB"] == "nexus"
    assert urlsplit(table.config.shared or "").hostname in services
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    upstreams = re.findall(r"\b([a-z][a-z0-9-]*):8000\b", caddyfile)
    assert sorted(upstreams) == sorted(routers)
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
