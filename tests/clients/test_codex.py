"""Codex CLI (`codex exec`) with the router as a custom provider, `wire_api = "responses"`.

Codex streams every turn (`store: false`, the whole history sent each time) and
offers its own tools: `exec_command` (a function), a `multi_agent_v1` tool
namespace and `web_search` for a model it does not know; for its own model names
(`gpt-5.5`) also `apply_patch` as a freeform `custom` tool and `tool_search`.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.clients.matrix import API_KEY, BUDGET_S, CODEX_MODEL, REFUSED, Matrix

pytestmark = pytest.mark.clients

CONFIG = """\
model = "{model}"
model_provider = "nexus"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false

[analytics]
enabled = false

# Nothing but the router: no plugin sync from GitHub, no connectors, no update checks.
[features]
plugins = false
remote_plugin = false
plugin_sharing = false
apps = false
in_app_updates = false

[model_providers.nexus]
name = "Nexus"
base_url = "{base_url}"
wire_api = "responses"
env_key = "NEXUS_API_KEY"
"""


@attrs.frozen
class Run:
    returncode: int
    events: list[dict[str, Any]]
    last_message: str
    stderr: str

    def explain(self) -> str:
        errors = [e for e in self.events if e.get("type") in {"error", "turn.failed"}]
        return f"exit {self.returncode}; errors: {json.dumps(errors)}\n{self.stderr[-3000:]}"


@attrs.frozen
class Codex:
    """`codex exec` in a fresh work dir, with its own CODEX_HOME and HOME."""

    binary: Path
    env: dict[str, str]
    base_url: str
    home: Path
    work: Path

    def run(self, model: str, prompt: str, *, timeout: float = 120) -> Run:
        (self.home / "config.toml").write_text(CONFIG.format(model=model, base_url=self.base_url))
        last = self.home / "last-message.txt"
        done = subprocess.run(
            [
                str(self.binary),
                "exec",
                "--json",
                "--strict-config",
                "--skip-git-repo-check",
                "--ephemeral",
                "--dangerously-bypass-approvals-and-sandbox",
                "--cd",
                str(self.work),
                "--output-last-message",
                str(last),
                prompt,
            ],
            env={**self.env, "HOME": str(self.home), "CODEX_HOME": str(self.home)},
            cwd=self.work,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        message = last.read_text() if last.exists() else ""
        return Run(done.returncode, events, message, done.stderr)


@pytest.fixture
def codex(node_modules: Path, node_env: dict[str, str], matrix: Matrix, tmp_path: Path) -> Codex:
    home, work = tmp_path / "codex-home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {**node_env, "NEXUS_API_KEY": API_KEY}
    return Codex(node_modules / ".bin" / "codex", env, matrix.base_url, home, work)


def test_codex_version(node_modules: Path) -> None:
    """The platform binary ships inside the npm package: it runs without a download."""
    done = subprocess.run(
        [str(node_modules / ".bin" / "codex"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.stdout.strip() == "codex-cli 0.171.0"


def test_exec_runs_a_shell_command(codex: Codex, matrix: Matrix, kind: str, model: str) -> None:
    """The model asks for `exec_command`; codex runs it in the work dir and sends the result."""
    matrix.call_tool("exec_command", {"cmd": "echo hello > out.txt"}, then="Wrote out.txt")
    run = codex.run(model, "create out.txt containing hello")
    assert run.returncode == 0, run.explain()
    assert (codex.work / "out.txt").read_text() == "hello\n"
    assert run.last_message.strip() == "Wrote out.txt"
    commands = [e["item"] for e in run.events if e.get("type") == "item.completed"]
    assert any(i.get("type") == "command_execution" and "out.txt" in i["command"] for i in commands)
    # the tool's result went back to the provider, in its own dialect
    assert len(matrix.requests(kind)) == 2


def test_exec_with_codex_model_tools(codex: Codex, matrix: Matrix) -> None:
    """On a model name Codex knows it offers apply_patch (custom) and tool_search; a reply ends it."""
    matrix.openai.reply = "Nothing to change"
    run = codex.run(CODEX_MODEL, "say hi")
    assert run.returncode == 0, run.explain()
    assert run.last_message.strip() == "Nothing to change"


@pytest.mark.xfail(
    strict=True,
    reason=(
        "codex retries every 5xx whatever the answer says (it ignores x-should-retry: false), "
        "and the seed contract makes a policy refusal a 503"
    ),
)
def test_exec_gives_up_on_a_refused_route(codex: Codex) -> None:
    """On a route policy refuses, codex exits non-zero with the refusal within BUDGET_S."""
    start = time.monotonic()
    try:
        run = codex.run(REFUSED, "say hi", timeout=BUDGET_S + 3)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still retrying {BUDGET_S + 3:.0f} s after a permanent refusal")
    seconds = time.monotonic() - start
    assert run.returncode != 0
    assert "privacy zone" in run.explain()
    assert seconds < BUDGET_S
