"""The nexus command: check, explain, and serve's log output (reloads: tests/config)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from router.cli import main
from tests.conftest import EXAMPLE, free_port, wait_for


def test_check_passes_on_the_reference_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    assert main(["check", str(EXAMPLE), "--format", "json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["valid"] is True
    messages = [d["message"] for d in report["diagnostics"]]
    assert messages == [
        "provider 'openai' is disabled: environment variable OPENAI_API_KEY is not set (api_key)",
        "provider 'anthropic' is disabled: environment variable ANTHROPIC_API_KEY is not set (api_key)",
    ]


def test_check_passes_on_the_two_replica_deployment_example(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEXUS_DB_PASSWORD", "NEXUS_TEAM_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(name, "set")
    assert main(["check", str(EXAMPLE.parent / "replicas" / "nexus.yaml"), "--format", "json"]) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report == {"file": report["file"], "valid": True, "diagnostics": []}


def test_check_fails_on_any_invalid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nproviders: 3\n")
    assert main(["check", str(EXAMPLE), str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2:12: error: expected a list, got an integer (3) (at $.providers)" in err


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        pytest.param(
            ["--model", "chat"],
            0,
            "1. gpu-box/llama3.1:70b (zone restricted, primary)",
            id="routed",
        ),
        pytest.param(
            ["--model", "chat", "--history", "3", "--down", "gpu-box"],
            2,
            "-> 503 overflow_blocked_with_history",
            id="rejected with history",
        ),
        pytest.param(
            ["--model", "llama3:70b", "--down", "gpu-box", "--max-zone", "restricted"],
            3,
            "openai/gpt-4o (zone open, overflow)",
            id="would leave the zone",
        ),
        pytest.param(
            ["--model", "coder"],
            0,
            "+ openai/gpt-4o (zone open): usable [budget cloud-month: $0 of $20]",
            id="budget state per candidate",
        ),
        pytest.param(
            ["--model", "coder", "--spent", "cloud-month=20"],
            2,
            "-> 503 budget_exhausted: Budget 'cloud-month' is spent",
            id="spent budget rejects",
        ),
        pytest.param(
            ["--model", "llama3:70b", "--spent", "cloud-month=25"],
            0,
            "- openai/gpt-4o (zone open): behind spent budget cloud-month "
            "[budget cloud-month: $25 of $20, spent]",
            id="spent budget stops overflow",
        ),
        pytest.param(["--model", "coder", "--spent", "cloud=1"], 1, "", id="unknown budget"),
        pytest.param(["--model", "gpt-5"], 1, "404 model_not_found", id="unknown model"),
        pytest.param(["--model", "chat", "--down", "gpu-boxx"], 1, "", id="unknown --down"),
    ],
)
def test_explain(
    args: list[str],
    status: int,
    needle: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    assert main(["explain", "-c", str(EXAMPLE), *args]) == status
    assert needle in capsys.readouterr().out


def test_serve_writes_only_json_lines_when_asked(tmp_path: Path) -> None:
    """uvicorn's own lines go through our formatter too: a log shipper parses every line."""
    config = tmp_path / "nexus.yaml"
    config.write_text("version: 1\nproviders: []\n")
    port = free_port()
    command = [sys.executable, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
    proc = subprocess.Popen(
        [*command, "--no-watch", "--log-format", "json"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=60, what="the router")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    lines = [json.loads(line) for line in stderr.splitlines()]  # fails on any non-JSON line
    assert {"uvicorn.error", "nexus", "nexus.access"} <= {line["logger"] for line in lines}
    assert any(line.get("path") == "/health" for line in lines)  # flushed at shutdown


def _answers(url: str) -> bool:
    try:
        return httpx.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def test_version_prints_the_package_version() -> None:
    """`nexus --version` is the one version string, and the installed metadata says the same."""
    from importlib.metadata import version

    from router import __version__

    done = subprocess.run(
        [sys.executable, "-m", "router", "--version"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == f"nexus {__version__}\n"
    assert version("nexus-router") == __version__


def test_check_without_a_path_uses_nexus_config_then_the_local_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the README says: `nexus check` alone checks $NEXUS_CONFIG, else ./nexus.yaml."""
    here = tmp_path / "nexus.yaml"
    here.write_text("version: 1\nproviders: []\n")
    elsewhere = tmp_path / "etc.yaml"
    elsewhere.write_text("version: 1\nprovders: []\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEXUS_CONFIG", raising=False)
    assert main(["check"]) == 0
    assert "nexus.yaml: ok" in capsys.readouterr().err
    monkeypatch.setenv("NEXUS_CONFIG", str(elsewhere))
    assert main(["check"]) == 1
    assert "did you mean 'providers'" in capsys.readouterr().err


def test_serve_says_what_it_loaded_and_what_its_first_probes_found(tmp_path: Path) -> None:
    """A first run shows the routes, each provider's zone and URL, whether it answered
    (and why not), and a request to try."""
    from tests.fakes.ollama_upstream import FakeOllama
    from tests.fakes.servers import serve

    dead = free_port()
    port = free_port()
    with serve(FakeOllama()) as live:
        config = tmp_path / "nexus.yaml"
        config.write_text(
            "version: 1\nzones: [{name: home}]\nproviders:\n"
            f"  - {{name: box, kind: ollama, base_url: '{live}', zone: home, models: [{{name: llama3}}]}}\n"
            f"  - {{name: gone, kind: ollama, base_url: 'http://127.0.0.1:{dead}', zone: home,"
            " models: [{name: qwen}]}\n"
            "routes:\n  - {model: chat, targets: [box/llama3, gone/qwen], zone: home}\n"
        )
        command = [sys.executable, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
        proc = subprocess.Popen(
            [*command, "--no-watch", "--log-format", "text"], stderr=subprocess.PIPE, text=True
        )
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=60, what="router")
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/ready"), what="the first probes")
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
    assert "route chat -> box/llama3, gone/qwen (zone home" in stderr
    assert f"provider box (ollama, zone home) at {live}" in stderr
    assert f"provider box ({live}, zone home): first probe ok" in stderr
    assert f"provider gone (http://127.0.0.1:{dead}, zone home): first probe failed" in stderr
    assert "connection refused" in stderr.lower()
    assert f"try: curl http://127.0.0.1:{port}/v1/chat/completions" in stderr
    assert '"model": "chat"' in stderr


def test_stopping_dev_py_serve_stops_the_server(tmp_path: Path) -> None:
    """SIGTERM (or Ctrl-C) to `python3 dev.py serve` reaches the server, which frees its port."""
    config = tmp_path / "nexus.yaml"
    config.write_text("version: 1\nproviders: []\n")
    port = free_port()
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, str(root / "dev.py"), "serve", "-c", str(config), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    try:
        # a cold start under a loaded CI machine can take several seconds
        wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=60, what="router")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert not _answers(f"http://127.0.0.1:{port}/health")  # nothing left holding the port
    finally:
        if proc.poll() is None:
            proc.kill()
