"""Scale-out figures: one router process vs two, and what the Redis-backed limiter costs.

    .venv/bin/python -m bench.replicas [--duration 10] [--out bench/REPLICAS.md]

Needs a PostgreSQL and a Redis (NEXUS_BENCH_POSTGRES_URL / NEXUS_BENCH_REDIS_URL,
default the local servers). Everything runs on this machine's 2 cores:

1. The limiter: the same router (pinned to core 0) and the same key with a huge
   `rpm`, first with per-process buckets, then with `shared: redis://`. Side by
   side: 1-connection latency and 32-connection throughput, plus the bare
   round trip of one `take()`.
2. Throughput of `nexus serve --workers 2` vs `--workers 1`, both on PostgreSQL
   and Redis. wrk and the fake upstream share the same two cores, so the second
   worker competes with them: the figure is what one 2-core box gains, not 2x.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

import asyncpg

from bench.run import PY, WORK, free_port, machine_facts, process, wait_ready, wrk
from router.upstream.limits import RateLimiter
from router.upstream.redis_state import RedisState

ROOT = Path(__file__).resolve().parent
PG = os.environ.get("NEXUS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("NEXUS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
KEY = "sk-bench-" + secrets.token_hex(8)
CHAT = '{"model": "bench", "messages": [{"role": "user", "content": "Say hello."}]}'
RESPONSES = '{"model": "bench", "input": "Say hello."}'

CONFIG = """\
version: 1
storage: "{storage}"
{shared}
auth:
  keys:
    - {{name: bench, role: user, key: "{key}", rpm: 100000000}}
providers:
  - name: bench
    kind: openai
    base_url: http://127.0.0.1:{upstream}/v1
    models: [{{name: bench}}]
routing:
  health: {{interval_s: 30}}
"""


async def take_round_trips(n: int = 3000) -> tuple[float, float]:
    """Median µs of one take(): per-process bucket, Redis bucket."""
    local = RateLimiter()
    t0: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        local.take("key:bench", 100_000_000)
        t0.append(time.perf_counter() - start)
    shared = RedisState(f"{REDIS}?prefix=nexus-bench-{secrets.token_hex(4)}:")
    await shared.start(lambda event: None)
    t1: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        await shared.take("key:bench", 100_000_000)
        t1.append(time.perf_counter() - start)
    await shared.close()
    return statistics.median(t0) * 1e6, statistics.median(t1) * 1e6


async def fresh_schema() -> str:
    schema = f"nexus_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(PG)
    await conn.execute(f"CREATE SCHEMA {schema}")
    await conn.close()
    return f"{PG}{'&' if '?' in PG else '?'}search_path={schema}"


async def drop_schema(url: str) -> None:
    conn = await asyncpg.connect(PG)
    await conn.execute(f"DROP SCHEMA {url.rsplit('=', 1)[1]} CASCADE")
    await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "REPLICAS.md"))
    args = parser.parse_args()
    WORK.mkdir(exist_ok=True)
    local_us, redis_us = asyncio.run(take_round_trips())
    storage = asyncio.run(fresh_schema())
    upstream = free_port()
    auth = {"Authorization": f"Bearer {KEY}"}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    try:
        with process([PY, "-m", "bench.fake_upstream", str(upstream)], core=1):
            wait_ready(f"http://127.0.0.1:{upstream}/v1/models")
            runs = [
                ("per-process limiter", "sqlite:///bench.db", "", 1, "0"),
                ("Redis limiter", "sqlite:///bench.db", f'shared: "{REDIS}?prefix=nb:"', 1, "0"),
                ("1 worker (PG + Redis)", storage, f'shared: "{REDIS}?prefix=nb:"', 1, "0"),
                ("2 workers (PG + Redis)", storage, f'shared: "{REDIS}?prefix=nb:"', 2, "0,1"),
            ]
            for name, store, shared, workers, cores in runs:
                config = WORK / "replicas.yaml"
                config.write_text(
                    CONFIG.format(storage=store, shared=shared, key=KEY, upstream=upstream)
                )
                port = free_port()
                cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
                cmd += ["--workers", str(workers), "--log-level", "warning", "--no-watch"]
                with process(cmd, core=cores):
                    url = f"http://127.0.0.1:{port}"
                    wait_ready(f"{url}/health")
                    chat, resp = f"{url}/v1/chat/completions", f"{url}/v1/responses"
                    wrk(chat, CHAT, connections=8, duration=2, headers=auth)  # warm up
                    rows[name] = {
                        "c1": wrk(chat, CHAT, connections=1, duration=args.duration, headers=auth),
                        "c32": wrk(
                            chat, CHAT, connections=32, duration=args.duration, headers=auth
                        ),
                        "c64": wrk(
                            chat, CHAT, connections=64, duration=args.duration, headers=auth
                        ),
                        "resp32": wrk(
                            resp, RESPONSES, connections=32, duration=args.duration, headers=auth
                        ),
                    }
                print(f"measured: {name}", file=sys.stderr)
    finally:
        asyncio.run(drop_schema(storage))
    lines = [
        "# Scale-out benchmarks",
        "",
        f"Produced by `python -m bench.replicas` (duration {args.duration}s per wrk run).",
        "",
        *machine_facts(),
        "",
        "## 1. The Redis-backed limiter (router on core 0, wrk + upstream on core 1)",
        "",
        f"- one `take()`: per-process {local_us:.1f} µs, Redis {redis_us:.0f} µs (median of 3000)",
        "",
        "| limiter | c1 p50 | c1 p99 | c32 requests/s | errors |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in ("per-process limiter", "Redis limiter"):
        r = rows[name]
        errors = sum(r[k]["non_200"] + r[k]["socket_errors"] for k in r)
        lines.append(
            f"| {name} | {r['c1']['p50']:.0f} µs | {r['c1']['p99']:.0f} µs"
            f" | {r['c32']['rps']:,.0f} | {errors:.0f} |"
        )
    added = rows["Redis limiter"]["c1"]["p50"] - rows["per-process limiter"]["c1"]["p50"]
    lines += [
        "",
        f"Added by Redis at 1 connection (p50): {added:+.0f} µs per request.",
        "",
        "## 2. `--workers 2` vs `--workers 1` (PostgreSQL store, Redis shared state)",
        "",
        "| processes | chat c32 requests/s | chat c64 requests/s | c64 p99 |"
        " responses (stored) c32 requests/s | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("1 worker (PG + Redis)", "2 workers (PG + Redis)"):
        r = rows[name]
        errors = sum(r[k]["non_200"] + r[k]["socket_errors"] for k in r)
        lines.append(
            f"| {name} | {r['c32']['rps']:,.0f} | {r['c64']['rps']:,.0f}"
            f" | {r['c64']['p99'] / 1000:.1f} ms | {r['resp32']['rps']:,.0f} | {errors:.0f} |"
        )
    one, two = rows["1 worker (PG + Redis)"], rows["2 workers (PG + Redis)"]
    lines += [
        "",
        f"2 workers / 1 worker at 64 connections: **{two['c64']['rps'] / one['c64']['rps']:.2f}x**"
        " (wrk and the upstream take their share of the same two cores).",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
