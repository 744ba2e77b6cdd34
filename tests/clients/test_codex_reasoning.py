"""Codex CLI shows a thinking model's reasoning and runs its shell tool through the router.

Codex's own tool namespace and hosted web search wait for issue 18 (see
test_codex.py); with both turned off in its config it offers only its function
tool `exec_command`, which every provider dialect carries. Each fake upstream thinks
before it answers, in its own wire format.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.matrix import API_KEY, Matrix
from tests.clients.test_codex import CONFIG

pytestmark = pytest.mark.clients

#: Codex's config without what issue 18 adds: no subagent namespace, no hosted web search.
FUNCTIONS_ONLY = CONFIG.replace(
    "check_for_update_on_startup = false\n",
    'check_for_update_on_startup = false\nweb_search = "disabled"\n'
    'model_reasoning_effort = "low"\nmodel_reasoning_summary = "auto"\n\n'
    "[agents]\nenabled = false\n",
    1,
)
THOUGHT = "The user wants a file so I run echo"
#: What Codex's reasoning effort ("low") becomes in each provider's own request.
LOW_EFFORT = {
    "openai": ("reasoning_effort", "low"),
    "ollama": ("think", "low"),
    "anthropic": ("thinking", {"type": "enabled", "budget_tokens": 2048}),
}


def codex_exec(
    binary: Path, env: dict[str, str], home: Path, work: Path, base_url: str, model: str
) -> tuple[int, list[dict[str, Any]], str]:
    (home / "config.toml").write_text(FUNCTIONS_ONLY.format(model=model, base_url=base_url))
    done = subprocess.run(
        [
            str(binary),
            "exec",
            "--json",
            "--strict-config",
            "--skip-git-repo-check",
            "--ephemeral",
            "--dangerously-bypass-approvals-and-sandbox",
            "--cd",
            str(work),
            "create out.txt containing hello",
        ],
        env={**env, "HOME": str(home), "CODEX_HOME": str(home)},
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, events, done.stderr


def test_codex_shows_reasoning_and_runs_the_shell_tool(
    node_modules: Path,
    node_env: dict[str, str],
    matrix: Matrix,
    tmp_path: Path,
    kind: str,
    model: str,
) -> None:
    """The fake thinks, asks for exec_command, then answers; codex shows the thinking as
    reasoning items, runs the command in its work dir and ends with the answer."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    matrix.think(THOUGHT)
    matrix.call_tool("exec_command", {"cmd": "echo hello > out.txt"}, then="Wrote out.txt")
    code, events, stderr = codex_exec(
        node_modules / ".bin" / "codex",
        {**node_env, "NEXUS_API_KEY": API_KEY},
        home,
        work,
        matrix.base_url,
        model,
    )
    failures = [e for e in events if e.get("type") in {"error", "turn.failed"}]
    assert code == 0, f"{json.dumps(failures)}\n{stderr[-2000:]}"
    assert (work / "out.txt").read_text() == "hello\n"
    done = [e["item"] for e in events if e.get("type") == "item.completed"]
    reasoning = [i["text"].strip() for i in done if i.get("type") == "reasoning"]
    assert reasoning == [THOUGHT, THOUGHT]  # before the call, and before the answer
    messages = [i["text"].strip() for i in done if i.get("type") == "agent_message"]
    assert messages[-1] == "Wrote out.txt"
    assert any(i.get("type") == "command_execution" for i in done)
    key, value = LOW_EFFORT[kind]
    assert matrix.requests(kind)[0][key] == value  # Codex's effort, in the provider's field
    if kind == "anthropic":
        # Codex sent the sealed reasoning item back: Claude keeps thinking after the tool.
        second = matrix.requests(kind)[1]
        assert second["thinking"] == value
        turn = next(m for m in second["messages"] if m["role"] == "assistant")
        assert turn["content"][0] == {"type": "thinking", "thinking": THOUGHT, "signature": "sig-1"}
