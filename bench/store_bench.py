"""The store's per-response cost, a revision against the working tree, on both backends.

    .venv/bin/python -m bench.store_bench --base 32076c0 [--rounds 7] [--n 2000]

Each round times `--n` sequential put_response + get_response pairs (the Responses
API stores every response and reads it back on GET and previous_response_id) in a
fresh process per revision and backend: SQLite on a file in a temporary directory,
and PostgreSQL in a fresh schema when NEXUS_TEST_POSTGRES_URL is set. Revisions
alternate within each round so a noisy machine's drift stays out of the ratio; the
table shows the median µs per pair. `--base` is exported with ``git archive`` (no
worktree is added to the repository).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BODY = {
    "object": "response",
    "status": "completed",
    "model": "bench",
    "output": [
        {
            "id": "msg_0123456789abcdef",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Hello! " * 60, "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 12, "output_tokens": 60, "total_tokens": 72},
    "metadata": {},
}
INPUT = [{"id": "msg_in", "type": "message", "role": "user", "content": "Say hello."}]


async def _child(backend: str, n: int) -> tuple[float, float]:
    """Wall and CPU µs per put_response + get_response pair, `router` from sys.path."""
    from router.store import open_store
    from router.store.base import StoredResponse

    with tempfile.TemporaryDirectory() as tmp:
        if backend == "sqlite":
            url = f"sqlite:///{tmp}/bench.db"
        else:
            url = f"{os.environ['NEXUS_TEST_POSTGRES_URL']}?search_path={os.environ['SCHEMA']}"
        store = open_store(url, base_dir=Path(tmp), instance="bench")
        await store.open()

        async def pairs(count: int) -> None:
            for _ in range(count):
                rid = f"resp_{secrets.token_hex(16)}"
                record = StoredResponse(
                    id=rid, created_at=1.0, status="completed", background=False, body=BODY
                )
                await store.put_response(record, INPUT)
                assert await store.get_response(rid) is not None

        await pairs(200)  # warm-up: pool, prepared statements, page cache
        start, cpu = time.perf_counter(), time.process_time()
        await pairs(n)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        await store.close()
    return elapsed / n * 1e6, cpu / n * 1e6


def _run_child(tree: Path, backend: str, n: int) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    schema = f"nexus_bench_{secrets.token_hex(4)}"
    if backend == "postgresql":
        env["SCHEMA"] = schema
        _psql(f"CREATE SCHEMA {schema}")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.store_bench", "--child", backend, "--n", str(n)],
            cwd=tree,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        if backend == "postgresql":
            _psql(f"DROP SCHEMA {schema} CASCADE")
    wall, cpu = out.split()
    return float(wall), float(cpu)


def _psql(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(os.environ["NEXUS_TEST_POSTGRES_URL"])
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _export(rev: str, into: Path) -> Path:
    """The revision's router package (and this script) in `into`, via git archive."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "router"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    (into / "bench").mkdir()
    (into / "bench" / "__init__.py").write_text("")
    (into / "bench" / "store_bench.py").write_bytes(Path(__file__).read_bytes())
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--child", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    if args.child:
        print(*asyncio.run(_child(args.child, args.n)))
        return
    backends = ["sqlite"] + (["postgresql"] if os.environ.get("NEXUS_TEST_POSTGRES_URL") else [])
    with tempfile.TemporaryDirectory(prefix="nexus-store-bench-") as tmp:
        trees = {args.base: _export(args.base, Path(tmp)), "worktree": ROOT}
        figures: dict[tuple[str, str, str], list[float]] = {}
        for round_ in range(args.rounds):
            order = list(trees.items()) if round_ % 2 == 0 else list(trees.items())[::-1]
            for backend in backends:
                for name, tree in order:
                    wall, cpu = _run_child(tree, backend, args.n)
                    figures.setdefault((backend, "wall", name), []).append(wall)
                    figures.setdefault((backend, "cpu", name), []).append(cpu)
        print(f"put_response + get_response, µs per pair, median of {args.rounds} rounds")
        print(f"{'backend':<12} {'clock':<5} {args.base:>12} {'worktree':>12} {'ratio':>7}")
        for backend in backends:
            for clock in ("wall", "cpu"):
                base = figures[(backend, clock, args.base)]
                head = figures[(backend, clock, "worktree")]
                ratio = statistics.median(h / b for h, b in zip(head, base, strict=True))
                print(
                    f"{backend:<12} {clock:<5} {statistics.median(base):12.1f}"
                    f" {statistics.median(head):12.1f} {ratio:7.3f}"
                )
        print("ratio: the median of each round's worktree / base. cpu: this process's")
        print("CPU time (event loop and SQLite thread), less noisy than wall. Every round:")
        for (backend, clock, name), values in figures.items():
            print(f"  {backend:<10} {clock:<4} {name:>12}: " + " ".join(f"{v:.0f}" for v in values))


if __name__ == "__main__":
    main()
