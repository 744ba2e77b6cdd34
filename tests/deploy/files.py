"""Read the deployment files the way their tools would, for tests/deploy."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_FILES = (DEPLOY / "compose.yaml", DEPLOY / "compose.replicas.yaml")
UNIT = DEPLOY / "nexus.service"
KUBERNETES = REPO / "examples" / "replicas" / "kubernetes.yaml"
CONFIG_DIR = "/etc/nexus"


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def instructions(name: str) -> list[str]:
    return [rest for instruction, rest in dockerfile() if instruction == name]


def compose(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())  # merge keys (<<) included
    return data


def nexus_services(path: Path) -> dict[str, dict[str, Any]]:
    """The services built from deploy/Dockerfile."""
    return {
        name: service
        for name, service in compose(path)["services"].items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
    }


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of the volumes that name a host path."""
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def seconds(value: str) -> float:
    """'30s', '1m30s', '35' -> seconds (compose durations, systemd time spans)."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", str(value))
    return sum(float(n) * units[u] for n, u in parts)


def unit() -> dict[str, list[str]]:
    """Key -> values of the systemd unit (all sections)."""
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def kubernetes() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(KUBERNETES.read_text()) if doc]


def exec_start() -> list[str]:
    return shlex.split(unit()["ExecStart"][0])
