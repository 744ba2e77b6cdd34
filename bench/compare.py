"""Two revisions of the router side by side: the figure behind each performance commit.

    .venv/bin/python -m bench.compare --base HEAD~1 [--head WORKTREE] [--rounds 2] [--stream]

Checks `--base` out into a temporary git worktree and alternates it with the working
tree (or `--head`), same config, same fake upstream, router pinned to core 0 and
wrk to core 1: a short warm-up, 32 connections for `--duration` seconds, then one
connection for 5 s. Alternating rounds keep a noisy machine's drift out of the ratio.
`--pipe` sends the router's stderr through a pipe (as under systemd or docker)
instead of /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
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


def measure(tree: Path, config: Path, body: str, *, duration: int, pipe: bool) -> str:
    port = free_port()
    cmd = [PY, "-m", "router", "serve", "-c", str(config), "--port", str(port)]
    cmd += ["--log-format", "json", "--no-watch"]
    # `python -m` puts the working directory first on sys.path: the tree's own code runs.
    script = 'cd "$0" && exec "$@"' + (" 2>&1 | cat >/dev/null" if pipe else "")
    with process(["sh", "-c", script, str(tree), *cmd], core=0):
        wait_ready(f"http://127.0.0.1:{port}/health")
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wrk(url, body, connections=32, duration=2)
        many = wrk(url, body, connections=32, duration=duration)
        one = wrk(url, body, connections=1, duration=5)
    bad = many["non_200"] + many["socket_errors"] + one["non_200"] + one["socket_errors"]
    return f"c32 {many['rps']:8,.0f} req/s   c1 p50 {one['p50']:6.0f} µs   errors {bad:.0f}"


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
            for n in range(1, args.rounds + 1):
                for name, tree in ((args.base, base), ("head", Path(args.head))):
                    line = measure(tree, config, body, duration=args.duration, pipe=args.pipe)
                    print(f"round {n}  {name:>12}  {line}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
