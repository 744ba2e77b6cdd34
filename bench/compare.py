"""Two revisions of the router side by side: the figure behind each performance commit.

    .venv/bin/python -m bench.compare --base HEAD~1 [--head WORKTREE] [--rounds 2] [--stream]

Checks `--base` out into a temporary git worktree and alternates it with the working
tree (or `--head`), same config, same fake upstream, router pinned to core 0 and
wrk to core 1: a short warm-up, 32 connections for `--duration` seconds, then one
connection for 5 s. Alternating rounds keep a noisy machine's drift out of the ratio.
Each round also reports the router's CPU time per request at 32 connections, and the
end their medians: on a shared virtual machine that figure is the steadiest one.
`--pipe` sends the router's stderr through a pipe (as under systemd or docker)
instead of /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.run import CHAT, CHAT_STREAM, NEXUS_CONFIG, PY, free_port, process, wait_ready, wrk

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def worktree(rev: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="nexus-base-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(path), rev],
            check=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False
            )


_TICK = os.sysconf("SC_CLK_TCK")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of every process in the process group `pgid`."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += (int(fields[11]) + int(fields[12])) / _TICK
    return total


def measure(tree: Path, config: Path, body: str, *, duration: int, pipe: bool) -> tuple[str, float]:
    """One round: the line to print, and the router's CPU time per request at c32 (µs).

    CPU per request (from /proc, over the requests served) varies far less than
    throughput on a shared virtual machine: it is the figure to compare.
    """
    port = free_port()
    cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
    cmd += ["--log-format", "json", "--no-watch"]
    # `python -m` puts the working directory first on sys.path: the tree's own code runs.
    script = 'cd "$0" && exec "$@"' + (" 2>&1 | cat >/dev/null" if pipe else "")
    with process(["sh", "-c", script, str(tree), *cmd], core=0) as pid:
        wait_ready(f"http://127.0.0.1:{port}/health")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wrk(url, body, connections=32, duration=2)
        before = group_cpu(pid)
        many = wrk(url, body, connections=32, duration=duration)
        cpu_us = 1e6 * (group_cpu(pid) - before) / max(1.0, many["rps"] * duration)
        one = wrk(url, body, connections=1, duration=5)
    bad = many["non_200"] + many["socket_errors"] + one["non_200"] + one["socket_errors"]
    line = f"c32 {many['rps']:8,.0f} req/s   c1 p50 {one['p50']:6.0f} µs   "
    return line + f"CPU {cpu_us:6.1f} µs/request   errors {bad:.0f}", cpu_us


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="the revision to compare against")
    parser.add_argument("--head", default=str(ROOT), help="the tree under test (default: this one)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--duration", type=int, default=8, help="seconds at 32 connections")
    parser.add_argument("--stream", action="store_true", help="streamed chat completions")
    parser.add_argument("--pipe", action="store_true", help="router stderr into a pipe")
    args = parser.parse_args()
    body = CHAT_STREAM if args.stream else CHAT
    with tempfile.TemporaryDirectory(prefix="nexus-compare-") as tmp, worktree(args.base) as base:
        up_port = free_port()
        config = Path(tmp) / "nexus.yaml"
        config.write_text(NEXUS_CONFIG.format(upstream=up_port, marker="0", batch_ms=0))
        with process([PY, "-m", "bench.fake_upstream", str(up_port)], core=1):
            wait_ready(f"http://127.0.0.1:{up_port}/v1/models")
            cpu: dict[str, list[float]] = {args.base: [], "head": []}
            trees = [(args.base, base), ("head", Path(args.head))]
            for n in range(1, args.rounds + 1):
                for name, tree in trees if n % 2 else trees[::-1]:  # alternate who goes first
                    line, us = measure(tree, config, body, duration=args.duration, pipe=args.pipe)
                    cpu[name].append(us)
                    print(f"round {n}  {name:>12}  {line}", flush=True)
            base_us, head_us = (statistics.median(cpu[k]) for k in (args.base, "head"))
            print(
                f"median CPU per request: {args.base} {base_us:.1f} µs, head {head_us:.1f} µs "
                f"({100 * (head_us / base_us - 1):+.1f}%)"
            )


if __name__ == "__main__":
    sys.exit(main())
