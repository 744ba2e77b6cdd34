"""examples/replicas/kubernetes.yaml runs the image as built, as a non-root user, sized and probed."""

from __future__ import annotations

from typing import Any

from router import __version__
from router.snapshot.loader import load_bytes
from tests.deploy.files import KUBERNETES, instructions, kubernetes


def container() -> tuple[dict[str, Any], dict[str, Any]]:
    [deployment] = [doc for doc in kubernetes() if doc["kind"] == "Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    [nexus] = pod["containers"]
    return pod, nexus


def test_it_runs_the_image_and_installs_nothing_at_start_up() -> None:
    _, nexus = container()
    assert nexus["image"].endswith(f"/nexus-router:{__version__}")
    assert "command" not in nexus  # the image's ENTRYPOINT (nexus) stays
    assert nexus["args"][0] == "serve"
    assert "pip install" not in KUBERNETES.read_text()


def test_it_runs_as_the_image_user_without_privileges() -> None:
    pod, nexus = container()
    [user] = instructions("USER")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == user
    security = nexus["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]


def test_resources_probes_and_the_drain() -> None:
    pod, nexus = container()
    resources = nexus["resources"]
    assert resources["requests"]["memory"] == "128Mi"  # measured: 92 MB RSS (see the comment)
    assert resources["limits"]["memory"] == "256Mi"
    assert nexus["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert nexus["livenessProbe"]["httpGet"]["path"] == "/health"
    assert nexus["ports"][0]["containerPort"] == 8000
    pre_stop = int(nexus["lifecycle"]["preStop"]["exec"]["command"][1])
    config = KUBERNETES.parent / "nexus.yaml"  # the ConfigMap's file
    table = load_bytes(config.read_bytes(), source=str(config), env={}, loaded_at=0.0)
    grace = table.config.server.shutdown_grace_s
    assert pod["terminationGracePeriodSeconds"] > pre_stop + grace
