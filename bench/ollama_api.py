"""Ollama's ``/api/chat`` beside ``/v1/chat/completions`` on one router: what the dialect costs.

    .venv/bin/python -m bench.ollama_api [--rounds 3] [--duration 8] [--stream]

One router (this tree), the bench fake upstream, three workloads alternating in
each round, router pinned to core 0 and wrk to core 1 as in `bench.compare`:

- ``v1``: ``/v1/chat/completions`` to an OpenAI-compatible provider (passed through);
- ``translated``: ``/api/chat`` to the same provider (Ollama in, Chat Completions
  out and back: the bound is 15% of ``v1``'s throughput);
- ``passthrough``: ``/api/chat`` to an Ollama provider (the body and the answer
  pass through: the bound is 5%).

The figures compared are the medians of the router's CPU time per request at 32
connections (the steadiest figure on a shared machine), with throughput and the
one-connection latency beside them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.compare import ROOT, group_cpu
from bench.run import CHAT, CHAT_STREAM, NEXUS_CONFIG, PY, free_port, process, wait_ready, wrk

#: The bench config plus an Ollama provider on the same fake upstream.
CONFIG = NEXUS_CONFIG.replace(
    "routes:\n",
    "  - name: ol\n    kind: ollama\n    base_url: http://127.0.0.1:{upstream}\n"
    "    models: [{{name: bench-ol}}]\nroutes:\n",
)
_MESSAGES = '"messages": [{"role": "user", "content": "Say hello in one sentence."}]'


def _ollama(model: str, stream: bool) -> str:
    flag = "true" if stream else "false"
    return (
        f'{{"model": "{model}", {_MESSAGES}, "stream": {flag}, "options": {{"temperature": 0.7}}}}'
    )


def workloads(stream: bool) -> dict[str, tuple[str, str]]:
    """Name -> (path, body)."""
    return {
        "v1": ("/v1/chat/completions", CHAT_STREAM if stream else CHAT),
        "translated": ("/api/chat", _ollama("bench", stream)),
        "passthrough": ("/api/chat", _ollama("bench-ol", stream)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds at 32 connections")
    parser.add_argument("--stream", action="store_true", help="streamed answers")
    args = parser.parse_args()
    jobs = workloads(args.stream)
    cpu: dict[str, list[float]] = {name: [] for name in jobs}
    rps: dict[str, list[float]] = {name: [] for name in jobs}
    with tempfile.TemporaryDirectory(prefix="nexus-ollama-bench-") as tmp:
        up_port, port = free_port(), free_port()
        config = Path(tmp) / "nexus.yaml"
        config.write_text(CONFIG.format(upstream=up_port, marker="0", batch_ms=0))
        cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
        cmd += ["--log-format", "json", "--no-watch"]
        script = 'cd "$0" && exec "$@" 2>/dev/null'
        with (
            process([PY, "-m", "bench.fake_upstream", str(up_port)], core=1),
            process(["sh", "-c", script, str(ROOT), *cmd], core=0) as pid,
        ):
            wait_ready(f"http://127.0.0.1:{up_port}/v1/models")
            wait_ready(f"http://127.0.0.1:{port}/health")
            for n in range(1, args.rounds + 1):
                order = list(jobs) if n % 2 else list(jobs)[::-1]
                for name in order:
                    path, body = jobs[name]
                    url = f"http://127.0.0.1:{port}{path}"
                    wrk(url, body, connections=32, duration=2)
                    before = group_cpu(pid)
                    many = wrk(url, body, connections=32, duration=args.duration)
                    cpu_us = 1e6 * (group_cpu(pid) - before) / max(1.0, many["rps"] * args.duration)
                    one = wrk(url, body, connections=1, duration=5)
                    bad = many["non_200"] + many["socket_errors"] + one["non_200"]
                    cpu[name].append(cpu_us)
                    rps[name].append(many["rps"])
                    print(
                        f"round {n}  {name:>11}  c32 {many['rps']:8,.0f} req/s   "
                        f"c1 p50 {one['p50']:6.0f} µs   CPU {cpu_us:6.1f} µs/request   "
                        f"errors {bad:.0f}",
                        flush=True,
                    )
    base_cpu, base_rps = statistics.median(cpu["v1"]), statistics.median(rps["v1"])
    for name in jobs:
        mid_cpu, mid_rps = statistics.median(cpu[name]), statistics.median(rps[name])
        print(
            f"median {name:>11}: CPU {mid_cpu:6.1f} µs/request ({100 * (mid_cpu / base_cpu - 1):+.1f}%"
            f" vs v1), c32 {mid_rps:8,.0f} req/s ({100 * (mid_rps / base_rps - 1):+.1f}% vs v1)"
        )


if __name__ == "__main__":
    sys.exit(main())
