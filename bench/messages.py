"""The Messages API beside chat completions on one router: what translation and passthrough cost.

    .venv/bin/python -m bench.messages [--rounds 3] [--duration 8] [--stream-requests 300]

One router (this tree) pinned to core 0; the fake upstream and wrk on core 1. Each
round measures in turn (each going first in turn) chat completions, ``/v1/messages`` translated to chat
completions, and ``/v1/messages`` passed through to an Anthropic-kind provider: 32
connections (requests/s, the router's CPU time per request), one connection (p50,
and what the router adds to the upstream's own p50), sequential streams (time to
first byte). It prints the medians over rounds and each API's ratio to chat.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from bench.compare import group_cpu
from bench.run import (
    CHAT,
    CHAT_STREAM,
    MESSAGES,
    MESSAGES_STREAM,
    NEXUS_CONFIG,
    PASSTHROUGH,
    PASSTHROUGH_STREAM,
    PY,
    free_port,
    process,
    stream_times,
    wait_ready,
    wrk,
)

#: name -> (router path, body, stream body, the upstream path it reaches, its body there)
APIS = {
    "chat": ("/v1/chat/completions", CHAT, CHAT_STREAM, "/v1/chat/completions", CHAT),
    "messages": ("/v1/messages", MESSAGES, MESSAGES_STREAM, "/v1/chat/completions", CHAT),
    "passthrough": ("/v1/messages", PASSTHROUGH, PASSTHROUGH_STREAM, "/v1/messages", MESSAGES),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8, help="seconds at 32 connections")
    parser.add_argument("--stream-requests", type=int, default=300)
    args = parser.parse_args()
    figures: dict[str, dict[str, list[float]]] = {
        name: {"rps": [], "cpu": [], "p50": [], "ttfb": []} for name in APIS
    }
    direct: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="nexus-messages-") as tmp:
        up_port, port = free_port(), free_port()
        config = Path(tmp) / "nexus.yaml"
        config.write_text(NEXUS_CONFIG.format(upstream=up_port, marker="0", batch_ms=0))
        with process([PY, "-m", "bench.fake_upstream", str(up_port)], core=1):
            wait_ready(f"http://127.0.0.1:{up_port}/v1/models")
            for path, body in {(a[3], a[4]) for a in APIS.values()}:
                one = wrk(f"http://127.0.0.1:{up_port}{path}", body, connections=1, duration=3)
                direct[path] = one["p50"]
            cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
            cmd += ["--log-format", "json", "--no-watch"]
            with process(["sh", "-c", 'exec "$@" 2>/dev/null', "sh", *cmd], core=0) as pid:
                wait_ready(f"http://127.0.0.1:{port}/health")
                names = list(APIS)
                for n in range(1, args.rounds + 1):
                    # each API goes first in turn: the machine's drift spreads over all three
                    for name in names[n % 3 :] + names[: n % 3]:
                        path, body, stream, _, _ = APIS[name]
                        url = f"http://127.0.0.1:{port}{path}"
                        wrk(url, body, connections=32, duration=2)  # warm up
                        before = group_cpu(pid)
                        many = wrk(url, body, connections=32, duration=args.duration)
                        cpu = (
                            1e6 * (group_cpu(pid) - before) / max(1.0, many["rps"] * args.duration)
                        )
                        one = wrk(url, body, connections=1, duration=5)
                        first, _ = stream_times(port, path, stream, requests=args.stream_requests)
                        bad = many["non_200"] + many["socket_errors"] + one["non_200"]
                        if bad:
                            sys.exit(f"{name}: {bad:.0f} failed requests")
                        for key, value in (
                            ("rps", many["rps"]),
                            ("cpu", cpu),
                            ("p50", one["p50"]),
                            ("ttfb", first),
                        ):
                            figures[name][key].append(value)
                        print(
                            f"round {n} {name:>11}: c32 {many['rps']:7,.0f} req/s  CPU {cpu:6.1f} "
                            f"µs/request  c1 p50 {one['p50']:5.0f} µs  stream TTFB {first:5.0f} µs",
                            flush=True,
                        )
    med = {name: {k: statistics.median(v) for k, v in f.items()} for name, f in figures.items()}
    print("\n| API | c32 requests/s | CPU µs/request | c1 p50 | c1 added | stream TTFB |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in med.items():
        added = m["p50"] - direct[APIS[name][3]]
        print(
            f"| {name} | {m['rps']:,.0f} | {m['cpu']:.1f} | {m['p50']:.0f} µs | {added:+.0f} µs "
            f"| {m['ttfb']:.0f} µs |"
        )
    chat = med["chat"]
    for name in ("messages", "passthrough"):
        m = med[name]
        print(
            f"{name}: throughput {100 * (m['rps'] / chat['rps'] - 1):+.1f}% vs chat, "
            f"CPU per request {100 * (m['cpu'] / chat['cpu'] - 1):+.1f}%"
        )


if __name__ == "__main__":
    sys.exit(main())
