"""`nexus init`: a starter config from the servers that answer, which then serves."""

from __future__ import annotations

import socket
from pathlib import Path

import openai
import pytest

from router.cli import main
from tests.conftest import free_port, wait_for
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import run_router
from tests.fakes.servers import serve

SECRET = "sk-init-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _no_cloud_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)


def _port(url: str) -> str:
    return url.rpartition(":")[2]


def test_probed_servers_and_cloud_keys_make_a_config_that_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ollama and an OpenAI-compatible server found, OpenAI's key as a reference; it routes."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    ollama = FakeOllama(models=("nomic-embed-text:latest", "qwen3:8b"))
    compatible = FakeOpenAI(models=("llama-3.1-8b",))
    closed = free_port()
    path = tmp_path / "nexus.yaml"
    with serve(ollama) as ol, serve(compatible) as oa:
        probes = [f"127.0.0.1:{_port(ol)}", f"127.0.0.1:{_port(oa)}", f"127.0.0.1:{closed}"]
        args = ["init", str(path), "--no-scan", *(x for p in probes for x in ("--probe", p))]
        assert main(args) == 0
        out = capsys.readouterr().out
        assert f"found: Ollama at {ol} (2 models) -> provider 'ollama-127.0.0.1-{_port(ol)}'" in out
        assert f"found: an OpenAI-compatible server at {oa}/v1 (1 model)" in out
        assert f"not reachable: the server at 127.0.0.1:{closed} (" in out
        assert "OPENAI_API_KEY is set" in out
        text = path.read_text()
        assert SECRET not in text + out
        assert "api_key: ${OPENAI_API_KEY}" in text
        assert text.startswith("# yaml-language-server: $schema=")
        assert Path(text.splitlines()[0].partition("$schema=")[2]).is_file()
        assert main(["check", str(path)]) == 0
        assert "warning" not in capsys.readouterr().out

        with run_router(path, env={"OPENAI_API_KEY": SECRET}) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            wanted = {"chat", "qwen3:8b", "nomic-embed-text:latest", "llama-3.1-8b"}
            wait_for(lambda: wanted <= {m.id for m in client.models.list()}, what="discovery")
            providers = router.http.get("/admin/providers").json()["providers"]
            zones = {p["name"]: (p["zone"], p["discover"]) for p in providers}
            assert zones == {
                f"ollama-127.0.0.1-{_port(ol)}": ("restricted", True),
                f"openai-127.0.0.1-{_port(oa)}": ("restricted", True),
                "openai": ("open", False),
            }
            answer = client.chat.completions.create(
                model="chat", messages=[{"role": "user", "content": "hi"}]
            )
            assert answer.choices[0].message.content == "Hello from Ollama"
            assert ollama.requests[-1]["model"] == "qwen3:8b"  # local first, not the embedder
            explained = router.http.post("/v1/route/explain", json={"model": "chat"}).json()
            assert explained["route"] == {
                "zone": "restricted",
                "overflow": "fresh-only",
                "direct": False,
                "min_tiers": None,
            }


def test_an_existing_file_needs_force(tmp_path: Path) -> None:
    path = tmp_path / "nexus.yaml"
    path.write_text("mine\n")
    assert main(["init", str(path), "--no-scan"]) == 1
    assert path.read_text() == "mine\n"
    assert main(["init", str(path), "--no-scan", "--force"]) == 0
    assert path.read_text().startswith("# yaml-language-server")


def test_nothing_reachable_still_writes_a_valid_config_saying_what_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nexus.yaml"
    closed = free_port()
    assert main(["init", str(path), "--no-scan", "--probe", f"127.0.0.1:{closed}"]) == 0
    assert "nothing answered" in capsys.readouterr().out
    text = path.read_text()
    assert f"# not reachable: the server at 127.0.0.1:{closed}" in text
    assert "# Nothing answered, so no provider is declared yet" in text
    assert "providers: []" in text
    assert main(["check", str(path)]) == 0


@pytest.mark.parametrize("bad", ["localhost", "host:", ":80", "host:99999", "host:http"])
def test_a_probe_that_is_no_host_and_port_is_refused(
    tmp_path: Path, bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", str(tmp_path / "n.yaml"), "--no-scan", "--probe", bad]) == 1
    assert "--probe: expected HOST:PORT" in capsys.readouterr().err
    assert not (tmp_path / "n.yaml").exists()


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_the_usual_local_ports_are_scanned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ollama on 11434 and llama.cpp on 8080, found without being named."""
    if not (_free(11434) and _free(8080)):
        pytest.skip("11434 or 8080 is in use on this machine")
    path = tmp_path / "nexus.yaml"
    with (
        serve(FakeOllama(models=("llama3.2:latest",)), port=11434),
        serve(FakeOpenAI(models=("model.gguf",)), port=8080),
    ):
        assert main(["init", str(path), "--timeout", "1"]) == 0
    out = capsys.readouterr().out
    assert "found: Ollama at http://127.0.0.1:11434 (1 model) -> provider 'ollama'" in out
    assert "found: llama.cpp at http://127.0.0.1:8080/v1 (1 model) -> provider 'llamacpp'" in out
    text = path.read_text()
    assert 'targets: ["ollama/llama3.2:latest", "llamacpp/model.gguf"]' in text
    assert main(["check", str(path)]) == 0


def test_a_server_that_answers_without_a_model_list_is_reported_not_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "nexus.yaml"
    with serve(FakeOpenAI(probe_status=500)) as url:
        assert main(["init", str(path), "--no-scan", "--probe", f"127.0.0.1:{_port(url)}"]) == 0
    assert f"the server at 127.0.0.1:{_port(url)} (HTTP 500 from /v1/models)" in (
        capsys.readouterr().out
    )
    assert "providers: []" in path.read_text()


def test_explain_discover_asks_the_backends_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --discover only the file's models exist; with it the backend's list is used."""
    path = tmp_path / "nexus.yaml"
    with serve(FakeOllama(models=("qwen3:8b",))) as url:
        path.write_text(
            "version: 1\nproviders:\n"
            f"  - {{name: box, kind: ollama, base_url: '{url}', discover: true}}\n"
        )
        assert main(["explain", "-c", str(path), "--model", "qwen3:8b"]) == 1
        capsys.readouterr()
        assert main(["explain", "-c", str(path), "--model", "qwen3:8b", "--discover"]) == 0
    assert "+ box/qwen3:8b [discovered]" in capsys.readouterr().out
