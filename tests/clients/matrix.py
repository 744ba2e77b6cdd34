"""The client matrix's stack: one fake upstream per provider kind behind the real router.

Each route `via-<kind>` has one target, on the fake of that kind, so a client run
against every route exercises every adapter. `private-only` may only be served in
the `restricted` zone, whose one provider is disabled, and its other target is in
`open`: every request to it is refused by policy (503 `privacy_zone_mismatch`),
the permanent error whose retries the stall tests time. The disabled model
offers tools, so a request with tools (Codex's) is refused for its zone too,
not for a missing capability.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

__all__ = [
    "API_KEY",
    "BUDGET_S",
    "CODEX_MODEL",
    "KINDS",
    "REFUSED",
    "REPLIES",
    "Matrix",
    "kinds",
    "route",
    "running_matrix",
]

#: Provider kinds, each served by one route of the same name.
KINDS = ("openai", "ollama", "anthropic")
#: The route nothing may serve (privacy zone), for the permanent-error tests.
REFUSED = "private-only"
#: Seconds a client may take to give up on a request `REFUSED` (nothing can serve it).
BUDGET_S = 5.0
#: A model name Codex CLI knows (its catalog): for it Codex offers its freeform `apply_patch`.
CODEX_MODEL = "gpt-5.5"
#: What clients send as their key (the router has no `auth` section, so any key works).
API_KEY = "sk-client-matrix"
ANTHROPIC_KEY = "sk-ant-client-matrix-0123456789"

CONFIG = """\
version: 1
zones: [{{name: restricted}}, {{name: open}}]
providers:
  - name: oa
    kind: openai
    base_url: "{oa}/v1"
    zone: open
    models: [{{name: gpt-x, tools: true, vision: true, embeddings: true, reasoning: true}}]
  - name: ol
    kind: ollama
    base_url: "{ol}"
    zone: open
    models: [{{name: llama3, tools: true, embeddings: true, reasoning: true}}]
  - name: an
    kind: anthropic
    base_url: "{an}"
    api_key: ${{ANTHROPIC_KEY}}
    zone: open
    models: [{{name: claude-x, tools: true, reasoning: true}}]
  - name: vault
    kind: ollama
    base_url: "{ol}"
    zone: restricted
    enabled: false
    models: [{{name: llama3-vault, tools: true}}]
routes:
  - {{model: via-openai, targets: [oa/gpt-x]}}
  - {{model: via-ollama, targets: [ol/llama3]}}
  - {{model: via-anthropic, targets: [an/claude-x]}}
  - {{model: "{codex}", targets: [oa/gpt-x]}}
  - {{model: {refused}, targets: [vault/llama3-vault, oa/gpt-x], zone: restricted, overflow: never}}
"""

#: What each fake answers with text, by kind (the fakes' own defaults).
REPLIES = {
    "openai": "Hello from the fake upstream",
    "ollama": "Hello from Ollama",
    "anthropic": "Hello from Claude",
}


@attrs.frozen
class Matrix:
    router: RouterHandle
    openai: FakeOpenAI
    ollama: FakeOllama
    anthropic: FakeAnthropic

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as its base URL."""
        return f"{self.router.url}/v1"

    def reset(self) -> None:
        """Back to plain text answers, nothing recorded."""
        for fake in (self.openai, self.ollama, self.anthropic):
            fake.reply = REPLIES[_kind(fake)]
            fake.answer_tool_results = False
            fake.requests.clear()
        self.openai.tool_call = None
        self.ollama.tool_call = None
        self.anthropic.tool_use = None
        self.think(None)

    def think(self, thought: str | None) -> None:
        """Every fake thinks `thought` before it answers, in its own wire format."""
        self.openai.reasoning = thought
        self.ollama.thinking = thought
        self.anthropic.thinking = thought

    def answer(self, text: str) -> None:
        """Every fake answers with `text`."""
        for fake in (self.openai, self.ollama, self.anthropic):
            fake.reply = text

    def call_tool(self, name: str, arguments: dict[str, Any], *, then: str | None = None) -> None:
        """Every fake answers with a call of `name`; once it sees the result, with `then`."""
        self.openai.tool_call = {"name": name, "arguments": arguments}
        self.ollama.tool_call = {"name": name, "arguments": arguments}
        self.anthropic.tool_use = {"name": name, "input": arguments}
        for fake in (self.openai, self.ollama, self.anthropic):
            fake.answer_tool_results = then is not None
            if then is not None:
                fake.reply = then

    def requests(self, kind: str) -> list[dict[str, Any]]:
        """The bodies the fake of `kind` received, in its own wire format."""
        fake: FakeOpenAI | FakeOllama | FakeAnthropic = getattr(self, kind)
        return fake.requests

    def last_messages(self, kind: str) -> list[dict[str, Any]]:
        """The messages of the last request the fake of `kind` received."""
        return list(self.requests(kind)[-1]["messages"])


def _kind(fake: FakeOpenAI | FakeOllama | FakeAnthropic) -> str:
    if isinstance(fake, FakeOpenAI):
        return "openai"
    return "ollama" if isinstance(fake, FakeOllama) else "anthropic"


def kinds(**marks: pytest.MarkDecorator) -> pytest.MarkDecorator:
    """Parametrize `kind` over every provider kind, some with marks (an xfail for one kind)."""
    return pytest.mark.parametrize(
        "kind", [pytest.param(k, marks=marks.get(k, ()), id=k) for k in KINDS]
    )


def route(kind: str) -> str:
    """The public model name served by the fake of `kind`."""
    return f"via-{kind}"


@contextlib.contextmanager
def running_matrix(directory: Path) -> Iterator[Matrix]:
    """Start the three fakes and the router (config and SQLite file in `directory`)."""
    oa = FakeOpenAI(reply=REPLIES["openai"], models=("gpt-x",))
    ol = FakeOllama(reply=REPLIES["ollama"])
    an = FakeAnthropic(api_key=ANTHROPIC_KEY, reply=REPLIES["anthropic"])
    with serve(oa) as oa_url, serve(ol) as ol_url, serve(an) as an_url:
        path = directory / "nexus.yaml"
        path.write_text(
            CONFIG.format(oa=oa_url, ol=ol_url, an=an_url, refused=REFUSED, codex=CODEX_MODEL)
        )
        with run_router(path, env={"ANTHROPIC_KEY": ANTHROPIC_KEY}) as router:
            yield Matrix(router, oa, ol, an)
