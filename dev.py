#!/usr/bin/env python3
"""Bootstrap and run Nexus with nothing but python3.

    python3 dev.py serve [nexus serve options]   # start the router on examples/nexus.yaml
    python3 dev.py test [pytest options]         # the whole suite, ruff, mypy, then `artifact`
    python3 dev.py artifact                      # build sdist + wheel, smoke-test the installed wheel

`test` points the PostgreSQL and Redis tests at servers answering on 127.0.0.1
(5432, 6379) unless NEXUS_TEST_POSTGRES_URL / NEXUS_TEST_REDIS_URL are set.

`artifact` builds the sdist and, from it, the wheel; installs the wheel into a fresh
virtualenv outside this tree (its dependencies come from the wheel's metadata), and
from there runs ``nexus --version``, ``nexus check`` and ``nexus serve`` on a copy of
examples/nexus.yaml in front of a fake Ollama. `test` runs it last, unless pytest
options narrow the run.

The first call creates ``.venv`` next to this file and installs the project with
its dev extras; later calls reinstall only when ``pyproject.toml`` (or the version) changed.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".nexus-installed"


def _run(*cmd: str | Path) -> int:
    return subprocess.call([str(c) for c in cmd], cwd=ROOT)


def _run_server(*cmd: str | Path) -> int:
    """Run the server, passing SIGINT/SIGTERM on to it and waiting until it has stopped,
    so stopping this script never leaves a server holding the port."""
    child = subprocess.Popen([str(c) for c in cmd], cwd=ROOT)
    forwarded: list[int] = []

    def forward(signum: int, _frame: Any) -> None:
        if child.poll() is None:
            forwarded.append(signum)
            child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    status = child.wait()
    # uvicorn re-raises the signal it stopped on: that is the stop we asked for.
    return 0 if status < 0 and -status in forwarded else status


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


# -- the installed artifact --------------------------------------------------------------


class ArtifactError(Exception):
    """What a new user would have hit."""


def _say(message: str) -> None:
    print(f"dev.py: artifact: {message}", file=sys.stderr, flush=True)


class _FakeOllama(http.server.BaseHTTPRequestHandler):
    """Just enough Ollama for the example's gpu-box: /api/tags and /api/chat."""

    server: _FakeOllamaServer

    def do_GET(self) -> None:
        self.server.user_agents.add(self.headers.get("User-Agent", ""))
        if self.path != "/api/tags":
            return self._send(404, {"error": "not found"})
        models = [{"name": n, "model": n} for n in ("llama3.1:70b", "nomic-embed-text:latest")]
        return self._send(200, {"models": models})

    def do_POST(self) -> None:
        self.server.user_agents.add(self.headers.get("User-Agent", ""))
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        if self.path != "/api/chat":
            return self._send(404, {"error": "not found"})
        message = {"role": "assistant", "content": "hello from the installed wheel"}
        final = {"model": body["model"], "message": message, "done": True, "done_reason": "stop"}
        return self._send(200, {**final, "prompt_eval_count": 3, "eval_count": 5})

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _FakeOllamaServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    user_agents: set[str]


def _http(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """GET (or POST `body`) on loopback, ignoring any proxy in the environment."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def _until(probe: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = probe()
        except OSError:  # refused while starting
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise ArtifactError(f"timed out after {timeout:.0f} s waiting for {what}")


def _check(cmd: list[str | Path], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ArtifactError(f"{' '.join(map(str, cmd))} exited {done.returncode}:\n{done.stderr}")
    return done.stdout + done.stderr


def _serve(nexus: Path, work: Path, env: dict[str, str], version: str) -> None:
    """`nexus serve` on a copy of the example, its gpu-box a fake Ollama; check what answers."""
    fake = _FakeOllamaServer(("127.0.0.1", 0), _FakeOllama)
    fake.user_agents = set()
    threading.Thread(target=fake.serve_forever, daemon=True).start()
    example = (ROOT / "examples" / "nexus.yaml").read_text()
    gpu_box = "base_url: http://127.0.0.1:11434"
    if gpu_box not in example:
        raise ArtifactError(f"examples/nexus.yaml no longer says {gpu_box!r}: update dev.py")
    upstream = f"base_url: http://127.0.0.1:{fake.server_address[1]}"
    (work / "nexus.yaml").write_text(example.replace(gpu_box, upstream))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (work / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(nexus), "serve", "-c", "nexus.yaml", "--port", str(port), "--log-format", "json"],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def health() -> tuple[int, Any]:
        if proc.poll() is not None:
            raise ArtifactError(f"nexus serve exited {proc.returncode} at start-up")
        return _http(f"{url}/health")

    try:
        _, body = _until(health, "/health")
        if body != {"status": "ok", "version": version}:
            raise ArtifactError(f"/health answered {body}")
        _until(lambda: _http(f"{url}/ready")[0] == 200, "/ready to answer 200")
        status, models = _http(f"{url}/v1/models")
        ids = {m["id"] for m in models["data"]} if status == 200 else set()
        if not {"chat", "llama3:70b"} <= ids:
            raise ArtifactError(f"/v1/models answered {status}: {models}")
        chat = {"model": "chat", "messages": [{"role": "user", "content": "hi"}]}
        status, answer = _http(f"{url}/v1/chat/completions", chat)
        if status != 200 or fake.user_agents != {f"nexus/{version}"}:
            raise ArtifactError(f"chat answered {status} {answer}; agents {fake.user_agents}")
        rss = _rss_mb(proc.pid)
        _say(f"serve: /health {body}, /ready 200, /v1/models {sorted(ids)}")
        _say(f"serve: chat through the fake Ollama 200, User-Agent nexus/{version}; RSS {rss} MB")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        if proc.returncode not in (0, -signal.SIGTERM):
            raise ArtifactError(f"nexus serve exited {proc.returncode} on SIGTERM")
    except (ArtifactError, subprocess.TimeoutExpired, KeyError, ValueError) as exc:
        log.flush()
        output = _tail(work / "serve.log")
        raise ArtifactError(f"{exc}\n--- nexus serve output ---\n{output}") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        fake.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def _tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _clean_copy(target: Path) -> Path:
    """The files git tracks, as a clean clone would have them (with uncommitted edits).

    setuptools merges a stale ``*.egg-info/SOURCES.txt`` of this tree into the sdist,
    which could ship a file that a clean clone would not; untracked files stay out too.
    """
    listed = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=False
    )
    if listed.returncode != 0:  # not a git checkout: build from the tree itself
        return ROOT
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name, follow_symlinks=False)
    return target


#: Imports every module, so a dependency missing from the metadata cannot hide in one.
IMPORT_ALL = """
import importlib, pkgutil, router
names = [m.name for m in pkgutil.walk_packages(router.__path__, "router.")]
names.remove("router.__main__")  # importing it runs the command
for name in names:
    importlib.import_module(name)
print(len(names), "modules from", router.__path__[0])
"""


def artifact() -> int:
    """Build, install outside the tree, and use the wheel as a new user would; 0 when it works."""
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="nexus-artifact-")).resolve()
    if ROOT in work.parents:
        sys.exit(f"dev.py: artifact: {work} is inside the source tree; set TMPDIR elsewhere")
    # The installed program must see neither this tree nor a key that would call a cloud API.
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "NEXUS_CONFIG"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.endswith("_API_KEY")}
    try:
        source = _clean_copy(work / "src")
        _say(f"building the sdist from {source}, then the wheel from the sdist")
        _check([BIN / "python", "-m", "build", "--outdir", work / "dist", source], work, env)
        [sdist] = (work / "dist").glob("*.tar.gz")
        [wheel] = (work / "dist").glob("*.whl")
        version = wheel.name.split("-")[1]
        _say(f"built {sdist.name} and {wheel.name}")
        _say(f"installing {wheel.name} into a fresh virtualenv {work / 'venv'}")
        venv.EnvBuilder(with_pip=False).create(work / "venv")  # .venv's pip installs into it
        python, nexus = work / "venv" / "bin" / "python", work / "venv" / "bin" / "nexus"
        pip = [BIN / "python", "-m", "pip", "--python", python, "install", "-q", "--no-compile"]
        _check([*pip, wheel], work, env)
        found = _check([python, "-c", "import router; print(router.__file__)"], work, env)
        if not Path(found.strip()).is_relative_to(work / "venv"):
            raise ArtifactError(f"router was imported from {found.strip()}, not the virtualenv")
        said = _check([nexus, "--version"], work, env).strip()
        if said != f"nexus {version}":
            raise ArtifactError(f"nexus --version said {said!r}, the wheel is {version}")
        _say(f"nexus --version -> {said}")
        shutil.copy(ROOT / "examples" / "nexus.yaml", work / "example.yaml")
        verdict = _check([nexus, "check", "example.yaml"], work, env).strip().splitlines()[-1]
        _say(f"nexus check example.yaml -> exit 0 ({verdict})")
        _serve(nexus, work, env, version)
        _say(f"installing {wheel.name}[postgres,redis] (the container image's install)")
        _check([*pip, f"{wheel}[postgres,redis]"], work, env)
        _say(f"every module imports: {_check([python, '-c', IMPORT_ALL], work, env).strip()}")
    except (ArtifactError, ValueError) as exc:
        _say(f"FAILED: {exc}")
        _say(f"left {work} for a look")
        return 1
    shutil.rmtree(work)
    _say(f"ok in {time.monotonic() - started:.1f} s")
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "shell", "artifact"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    ensure_venv()
    if command == "serve":
        if not any(a in {"-c", "--config"} for a in rest):
            rest = ["-c", str(ROOT / "examples" / "nexus.yaml"), *rest]
        return _run_server(BIN / "nexus", "serve", *rest)
    if command == "shell":
        return _run(BIN / "python", *rest)
    if command == "artifact":
        return artifact()
    detect_services()
    status = _run(BIN / "python", "-m", "pytest", *rest)
    if status != 0 or rest:
        return status
    status = _run(BIN / "ruff", "check", "router", "tests", "bench", "dev.py")
    status = status or _run(BIN / "ruff", "format", "--check", "router", "tests", "bench", "dev.py")
    status = status or _run(BIN / "mypy")
    return status or artifact()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
