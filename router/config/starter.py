"""The starter config `nexus init` writes: findings in, commented YAML text out (pure).

What runs on this machine or the hosts named with ``--probe`` goes in the
``restricted`` zone with ``discover: true``; a cloud API whose key variable is
set goes in ``open``, its key written as a ``${VAR}`` reference. One ``chat``
route prefers what is local and overflows to the cloud only for fresh requests.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

__all__ = ["CLOUDS", "Cloud", "Found", "Unreachable", "starter_config"]


@attrs.frozen
class Found:
    """A server that answered a probe with a model list."""

    name: str  # the provider name to write
    kind: str  # ollama | openai
    base_url: str
    what: str  # "Ollama", "llama.cpp", ... for the comments
    models: tuple[str, ...]


@attrs.frozen
class Unreachable:
    where: str  # host:port
    what: str
    reason: str


@attrs.frozen
class Cloud:
    """A cloud API `nexus init` adds when its key variable is set."""

    name: str
    kind: str
    base_url: str
    env: str
    model: str  # the one model the starter declares; edit to taste
    window: int


#: The cloud APIs, each enabled by its key variable (the value is never read into the file).
CLOUDS: tuple[Cloud, ...] = (
    Cloud("openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", "gpt-4o-mini", 128000),
    Cloud(
        "anthropic",
        "anthropic",
        "https://api.anthropic.com",
        "ANTHROPIC_API_KEY",
        "claude-sonnet-4-5",
        200000,
    ),
)


def _q(text: str) -> str:
    """A YAML scalar that means `text` whatever it holds (JSON strings are YAML)."""
    return json.dumps(text)


def _chat_model(found: Found) -> str | None:
    """The model the chat route should try first: the first that is not for embeddings."""
    return next((m for m in found.models if "embed" not in m.lower()), None)


def _header(
    schema: str, found: Sequence[Found], missed: Sequence[Unreachable], clouds: Sequence[Cloud]
) -> list[str]:
    lines = [
        f"# yaml-language-server: $schema={schema}",
        "#",
        "# Nexus starter config, written by `nexus init` from what answered.",
        "# Check it with `nexus check`, start with `nexus serve -c` and this file; every",
        "# saved edit is reloaded without a restart.",
        "#",
    ]
    for f in found:
        count = f"{len(f.models)} model{'s' if len(f.models) != 1 else ''}"
        lines.append(f"# found: {f.what} at {f.base_url} ({count}) -> provider {f.name!r}")
    for c in clouds:
        lines.append(f"# found: ${c.env} is set -> provider {c.name!r} (the key stays in the env)")
    for m in missed:
        lines.append(f"# not reachable: {m.what} at {m.where} ({m.reason})")
    if not found and not clouds:
        lines += [
            "#",
            "# Nothing answered, so no provider is declared yet. Add one under 'providers',",
            "# for example a local Ollama whose models are discovered:",
            "#",
            "#   - name: ollama",
            "#     kind: ollama",
            "#     base_url: http://127.0.0.1:11434",
            "#     zone: restricted",
            "#     discover: true",
            "#",
            "# or set OPENAI_API_KEY / ANTHROPIC_API_KEY and run `nexus init --force` again.",
            "# `nexus init --probe HOST:PORT` also asks a server elsewhere on your network.",
        ]
    lines.append("#")
    return lines


def _provider(f: Found, declare: str | None) -> list[str]:
    lines = [
        f"  # {f.what}: its models are discovered (pull one and it is served, remove it",
        "  # and it goes); 'model_defaults' gives them tiers, 'exclude' hides some.",
        f"  - name: {_q(f.name)}",
        f"    kind: {f.kind}",
        f"    base_url: {_q(f.base_url)}",
        "    zone: restricted",
        "    discover: true",
        "    # model_defaults: {tiers: {reasoning: 5, coding: 5}}",
        '    # exclude: ["*embed*"]',
    ]
    if declare is not None:
        lines += [
            "    models:                     # declared values win over discovered ones",
            f"      - name: {_q(declare)}",
        ]
    return lines


def _cloud(c: Cloud) -> list[str]:
    return [
        f"  # Enabled while ${c.env} is set; unset, the provider is disabled (not an error).",
        f"  - name: {_q(c.name)}",
        f"    kind: {c.kind}",
        f"    base_url: {_q(c.base_url)}",
        f"    api_key: ${{{c.env}}}",
        "    zone: open",
        "    models:",
        f"      - {{name: {_q(c.model)}, context_window: {c.window}, tools: true, vision: true}}",
    ]


def starter_config(
    found: Sequence[Found],
    missed: Sequence[Unreachable],
    clouds: Sequence[Cloud],
    *,
    schema: str,
    port: int = 8000,
) -> str:
    """The text of a starter config (it passes `nexus check`)."""
    lines = _header(schema, found, missed, clouds)
    lines += ["version: 1", ""]
    if port != 8000:
        lines += [
            "server:",
            f"  port: {port}                    # 8000 is taken by a provider found on this machine",
            "",
        ]
    lines += [
        "# Privacy zones, most private first: a route in zone Z is served by Z or a zone",
        "# listed before it, and by later zones only as its 'overflow' allows.",
        "zones:",
        '  - {name: restricted, description: "this machine and the local network"}',
        '  - {name: open, description: "cloud APIs"}',
        "",
    ]
    targets: list[str] = []
    body: list[str] = []
    for f in found:
        first = _chat_model(f)
        if first is not None:
            targets.append(f"{f.name}/{first}")
        body += _provider(f, first)
    for c in clouds:
        targets.append(f"{c.name}/{c.model}")
        body += _cloud(c)
    lines += ["providers:", *body] if body else ["providers: []"]
    if targets:
        zone = "restricted" if any(_chat_model(f) for f in found) else "open"
        lines += [
            "",
            "# Every model a provider serves is also addressable by its own name.",
            "routes:",
            "  - model: chat     # local first; the cloud only for requests without history",
            f"    zone: {zone}     # ('fresh-only'), and only when nothing local can serve",
            f"    targets: [{', '.join(_q(t) for t in targets)}]",
            "    overflow: fresh-only",
        ]
    return "\n".join(lines) + "\n"
