"""`nexus init`'s probes: which model servers answer on the usual local ports and given hosts.

Each candidate address is asked, in turn, the model list of each kind it may be
(Ollama's ``/api/tags``, an OpenAI-compatible ``/v1/models``) through the one
pool and the adapters' own probe requests, with a short timeout; the first
answer that is a model list says what runs there. Nothing else is contacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import attrs

from router.config.starter import Found, Unreachable
from router.dialects import adapter_for
from router.dialects.base import UpstreamRequest
from router.errors import UpstreamError
from router.routing.table import ProviderEntry
from router.upstream.transport import Pool, Timeouts

__all__ = ["LOCAL", "Candidate", "survey"]

#: The most a model list may be.
_LIMIT = 8 * 1024 * 1024


@attrs.frozen
class Candidate:
    """An address to ask, with what usually listens there (tried first) and a name for it."""

    host: str
    port: int
    name: str
    what: str
    kinds: tuple[str, ...]  # provider kinds to try, in order

    @property
    def where(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


#: The usual local ports of the servers people run next to Nexus.
LOCAL: tuple[Candidate, ...] = (
    Candidate("127.0.0.1", 11434, "ollama", "Ollama", ("ollama",)),
    Candidate("127.0.0.1", 8080, "llamacpp", "llama.cpp", ("openai",)),
    Candidate("127.0.0.1", 1234, "lmstudio", "LM Studio", ("openai",)),
    Candidate("127.0.0.1", 8000, "vllm", "vLLM", ("openai",)),
)

_WHAT = {"ollama": "Ollama", "openai": "an OpenAI-compatible server"}


def given(text: str) -> Candidate:
    """A ``--probe HOST:PORT`` (ValueError if it is not one)."""
    host, sep, port = text.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    name = f"{host}-{port}".replace(":", "-")
    return Candidate(host, int(port), name, "the server", ("ollama", "openai"))


def _entry(candidate: Candidate, kind: str) -> ProviderEntry:
    root = f"http://{candidate.where}"
    return ProviderEntry(
        id=candidate.name,
        name=candidate.name,
        kind=kind,
        base_url=root if kind == "ollama" else f"{root}/v1",
        api_key=None,
        zone="restricted",
        zone_rank=0,
        enabled=True,
        disabled_reason=None,
        max_concurrency=None,
        timeout_s=1.0,
        models={},
        display_url=root,
    )


async def _ask(pool: Pool, candidate: Candidate, timeout_s: float) -> Found | Unreachable:
    reason = "no answer"
    timeouts = Timeouts(connect=timeout_s, total=timeout_s)
    for kind in candidate.kinds:
        entry = _entry(candidate, kind)
        adapter = adapter_for(kind)
        url, headers = adapter.probe(entry)
        try:
            answer = await pool.send(UpstreamRequest("GET", url, headers), entry, timeouts, _LIMIT)
        except UpstreamError as exc:
            # Nothing listens, or it does not answer in time: no other kind will either.
            return Unreachable(candidate.where, candidate.what, _short(exc.message))
        if answer.status >= 400:
            reason = f"HTTP {answer.status} from {url.removeprefix(entry.display_url)}"
            continue
        try:
            models = adapter.discovered(answer.body)
        except (ValueError, TypeError, AttributeError):
            reason = "it answered, but not with a model list"
            continue
        what = candidate.what if len(candidate.kinds) == 1 else _WHAT[kind]
        name = candidate.name if len(candidate.kinds) == 1 else f"{kind}-{candidate.name}"
        return Found(name, kind, entry.base_url, what, tuple(m.name for m in models))
    return Unreachable(candidate.where, candidate.what, reason)


def _short(message: str) -> str:
    """``Provider 'x' at http://...: connection refused`` -> ``connection refused``."""
    return message.rpartition(": ")[2][:160]


async def survey(
    candidates: Sequence[Candidate], *, timeout_s: float = 1.5
) -> list[Found | Unreachable]:
    """Ask every candidate at once; results in the candidates' order."""
    pool = Pool.create()
    try:
        return list(await asyncio.gather(*(_ask(pool, c, timeout_s) for c in candidates)))
    finally:
        await pool.close()
