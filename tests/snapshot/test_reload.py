"""Hot reload through the real app: every way a file can change on disk.

Each test waits on the version or counters the router reports, never on a sleep.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_for
from tests.fakes.router import run_router

BASE = """\
version: 1
providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:9/v1
    models: [{name: small}, {name: {model}}]
"""


def config_text(model: str) -> str:
    return BASE.replace("{model}", model)


def version_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def write(path: Path, text: str) -> None:
    path.write_text(text)


def rename_save(path: Path, text: str) -> None:
    """What vim/VS Code/most editors do: write a temp file, then rename it over the original."""
    tmp = path.with_name(f".{path.name}.swp")
    tmp.write_text(text)
    os.replace(tmp, path)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "nexus.yaml"
    write(path, config_text("v1"))
    return path


def test_rename_save_is_picked_up(config: Path) -> None:
    with run_router(config, health_probes=False) as router:
        assert router.version() == version_of(config_text("v1"))
        rename_save(config, config_text("v2"))
        wait_for(lambda: router.version() == version_of(config_text("v2")), what="v2")
        assert router.status()["reloads"]["succeeded"] == 1


def test_kubernetes_configmap_symlink_swap_is_picked_up(tmp_path: Path) -> None:
    """A ConfigMap volume: nexus.yaml -> ..data/nexus.yaml, ..data -> ..<timestamp>, swapped atomically."""
    first = tmp_path / "..2026_11_23_01"
    first.mkdir()
    (first / "nexus.yaml").write_text(config_text("v1"))
    (tmp_path / "..data").symlink_to(first.name)
    config = tmp_path / "nexus.yaml"
    config.symlink_to("..data/nexus.yaml")
    with run_router(config, health_probes=False) as router:
        second = tmp_path / "..2026_11_23_02"
        second.mkdir()
        (second / "nexus.yaml").write_text(config_text("v2"))
        (tmp_path / "..data_tmp").symlink_to(second.name)
        os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
        wait_for(lambda: router.version() == version_of(config_text("v2")), what="v2")


def test_half_written_file_fails_then_the_whole_file_loads(config: Path) -> None:
    """An in-place rewrite seen half-written fails to parse; the next event loads the whole file."""
    text = config_text("v2")
    cut = text.index("{name: v2}") + 4  # inside a flow mapping: not valid YAML on its own
    with run_router(config, health_probes=False) as router:
        with config.open("r+") as f:
            f.truncate(0)
            f.write(text[:cut])
            f.flush()
            os.fsync(f.fileno())
            wait_for(lambda: router.status()["reloads"]["failed"] >= 1, what="failed reload")
            assert router.version() == version_of(config_text("v1"))
            f.write(text[cut:])
        wait_for(lambda: router.version() == version_of(text), what="whole file")
        assert router.status()["last_error"] is None


def test_invalid_edit_keeps_serving_and_reports_the_error(config: Path) -> None:
    with run_router(config, health_probes=False) as router:
        rename_save(config, config_text("v2").replace("kind: openai", "kind: opnai"))
        wait_for(lambda: router.status()["reloads"]["failed"] == 1, what="failed reload")
        status = router.status()
        assert status["version"] == version_of(config_text("v1"))
        error = status["last_error"]
        assert error["line"] == 4
        assert error["column"] == 11
        assert error["path"] == "$.providers[0].kind"
        assert "did you mean 'openai'" in error["message"]
        assert error["at"].endswith("Z")
        # the fixed edit is loaded and clears the error
        rename_save(config, config_text("v3"))
        wait_for(lambda: router.version() == version_of(config_text("v3")), what="v3")
        assert router.status()["last_error"] is None


def test_saving_identical_bytes_is_not_a_reload(config: Path) -> None:
    with run_router(config, health_probes=False) as router:
        rename_save(config, config_text("v1"))
        wait_for(lambda: router.status()["reloads"]["unchanged"] >= 1, what="no-op event")
        status = router.status()
        assert status["reloads"]["succeeded"] == 0
        assert status["version"] == version_of(config_text("v1"))


def test_admin_reload_reports_errors_with_422(config: Path) -> None:
    with run_router(config, watch=False, health_probes=False) as router:
        write(config, "version: 1\nproviders: [{name: x}]\n")
        response = router.http.post("/admin/config/reload")
        assert response.status_code == 422
        body = response.json()
        assert body["error_code"] == "CONFIG_INVALID"
        assert {e["message"] for e in body["details"]["errors"]} == {
            "missing required key 'kind'",
            "missing required key 'base_url'",
        }
        assert router.version() == version_of(config_text("v1"))
        write(config, config_text("v2"))
        response = router.http.post("/admin/config/reload")
        assert response.status_code == 200
        assert response.json()["result"] == "reloaded"
        assert router.version() == version_of(config_text("v2"))


def _nexus(*args: str, env: dict[str, str] | None = None) -> list[str]:
    return [sys.executable, "-m", "router", *args]


def test_sighup_forces_a_reload(config: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        _nexus(
            "serve", "-c", str(config), "--port", str(port), "--no-watch", "--log-level", "warning"
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/admin/config"

        def status() -> dict[str, object] | None:
            try:
                return httpx.get(url).json()  # type: ignore[no-any-return]
            except httpx.HTTPError:
                return None

        wait_for(status, what="router start", timeout=30)
        write(config, config_text("v2"))
        proc.send_signal(signal.SIGHUP)
        wait_for(
            lambda: (s := status()) and s["version"] == version_of(config_text("v2")),
            what="reload on SIGHUP",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_serve_with_an_invalid_file_exits_nonzero_with_checks_messages(tmp_path: Path) -> None:
    bad = tmp_path / "nexus.yaml"
    bad.write_text("version: 1\nprovders: []\n")
    serve = subprocess.run(
        _nexus("serve", "-c", str(bad), "--port", str(free_port())),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    check = subprocess.run(
        _nexus("check", str(bad)), check=False, capture_output=True, text=True, timeout=60
    )
    assert serve.returncode == 1
    assert check.returncode == 1
    line = f"{bad}:2:1: error: unknown key 'provders' (did you mean 'providers'?) (at $.provders)"
    assert line in serve.stderr.splitlines()
    assert line in check.stderr.splitlines()


def test_a_reload_that_would_open_the_router_to_the_network_is_refused(config: Path) -> None:
    """The exposure rule of `nexus serve` applies to every reload, not only to start-up."""
    from router.cli import exposure_check
    from router.snapshot.holder import ConfigHolder, ReloadResult

    store = ConfigHolder.open(config, env={})
    store.checks.append(exposure_check("127.0.0.1"))
    write(config, config_text("v2"))
    assert store.reload() is ReloadResult.RELOADED  # loopback: no auth section needed
    public = ConfigHolder.open(config, env={})
    public.checks.append(exposure_check("0.0.0.0"))
    write(config, config_text("v3"))
    assert public.reload() is ReloadResult.FAILED
    assert public.last_error is not None
    assert "needs an 'auth' section" in public.last_error.message
    assert public.current.version == version_of(config_text("v2"))
