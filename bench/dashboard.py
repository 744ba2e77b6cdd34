"""What the dashboard costs: its recorder on every request, and its data endpoint.

    .venv/bin/python -m bench.dashboard [--requests 200]

1. The recorder (`Activity.record`, called once per finished request) timed in
   process against a call that does nothing, alternating, best of several runs; then
   set against the router's CPU time per chat completion at 32 connections (the
   figure `bench.compare` reports), which is what it adds to.
2. A real router (`nexus serve`, fake upstream): `--requests` chat completions fill
   the feed, then `GET /ui/api/state` is timed 50 times.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import timeit
from pathlib import Path

import httpx

from bench.compare import group_cpu
from bench.run import CHAT, NEXUS_CONFIG, PY, free_port, process, wait_ready, wrk
from router.http.observe import RequestInfo
from router.services.activity import Activity


def recorder_us() -> float:
    """Microseconds `Activity.record` adds to one served chat completion."""
    activity = Activity()

    def served() -> RequestInfo:
        return RequestInfo(
            "0123456789abcdef",
            0.0,
            key="alice",
            route="bench",
            provider="bench",
            model="bench",
            zone="default",
            prompt_tokens=9,
            completion_tokens=7,
            route_reason="primary",
        )

    def with_record() -> None:
        activity.record(served(), "POST", "/v1/chat/completions", 200, 0.0012)

    def without() -> None:
        served()

    n = 100_000
    gains = []
    for _ in range(5):
        on = min(timeit.repeat(with_record, number=n, repeat=3)) / n
        off = min(timeit.repeat(without, number=n, repeat=3)) / n
        gains.append(on - off)
    return 1e6 * statistics.median(gains)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests in the feed")
    args = parser.parse_args()
    record = recorder_us()
    print(f"recorder: {record:.2f} µs per request (in process, median of 5)")
    with tempfile.TemporaryDirectory(prefix="nexus-ui-bench-") as tmp:
        up_port, port = free_port(), free_port()
        config = Path(tmp) / "nexus.yaml"
        config.write_text(NEXUS_CONFIG.format(upstream=up_port, batch_ms=3, marker="dashboard"))
        with process([PY, "-m", "bench.fake_upstream", str(up_port)], core=1):
            cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
            with process([*cmd, "--log-format", "json", "--no-watch"], core=0) as pid:
                base = f"http://127.0.0.1:{port}"
                wait_ready(f"{base}/health")
                url = f"{base}/v1/chat/completions"
                wrk(url, CHAT, connections=32, duration=2)
                before = group_cpu(pid)
                many = wrk(url, CHAT, connections=32, duration=8)
                cpu_us = 1e6 * (group_cpu(pid) - before) / max(1.0, many["rps"] * 8)
                share = 100 * record / cpu_us
                print(f"router CPU per chat completion at c32: {cpu_us:.1f} µs")
                print(f"recorder share of it: {share:.2f}%")
                with httpx.Client(base_url=base, timeout=10) as client:
                    for _ in range(args.requests):
                        client.post("/v1/chat/completions", content=CHAT)
                    feed = len(client.get("/ui/api/state").json()["feed"])
                    times, size = [], 0
                    for _ in range(50):
                        started = time.perf_counter()
                        answer = client.get("/ui/api/state")
                        times.append(1000 * (time.perf_counter() - started))
                        size = len(answer.content)
                times.sort()
                print(
                    f"GET /ui/api/state with {feed} requests in the feed: median "
                    f"{statistics.median(times):.1f} ms, p95 {times[int(0.95 * len(times)) - 1]:.1f} ms, "
                    f"{size / 1024:.0f} KiB"
                )


if __name__ == "__main__":
    main()
