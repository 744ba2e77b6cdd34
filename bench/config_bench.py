"""Config benchmarks: load+compile time by size, file save -> new version served, route() time.

    .venv/bin/python -m bench.config_bench [--saves 30]

Reports medians (and p90) measured in one run; no pass/fail thresholds.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench.synth import synthetic_config
from router.config.model import Preference
from router.routing.decision import Health, ProviderState, RequestFacts, route
from router.snapshot.loader import load_bytes


def _median_us(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1e6:,.1f} µs"


def load_compile_rows(sizes: list[int]) -> list[str]:
    rows = [
        "load + compile (bytes -> YAML -> schema -> model -> RoutingTable):",
        "",
        "| providers | file size | median | p90 | runs |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        data = synthetic_config(n).encode()
        runs = max(5, 200 // max(1, n // 10))
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            load_bytes(data, source="bench.yaml", env={}, loaded_at=0.0)
            samples.append(time.perf_counter() - start)
        samples.sort()
        p90 = samples[int(len(samples) * 0.9) - 1]
        rows.append(
            f"| {n} | {len(data) / 1024:,.0f} KiB | {statistics.median(samples) * 1e3:,.2f} ms "
            f"| {p90 * 1e3:,.2f} ms | {runs} |"
        )
    return rows


def decision_rows(sizes: list[int]) -> list[str]:
    rows = [
        "route() alone (pure function), a route with 2 targets, medians:",
        "",
        "| providers | primary usable | primary down (failover target) | flexible alternatives |",
        "|---:|---:|---:|---:|",
    ]
    for n in sizes:
        table = load_bytes(synthetic_config(n).encode(), source="b", env={}, loaded_at=0.0)
        live = {f"p{i}": ProviderState(Health.HEALTHY, 1) for i in range(n)}
        down = {**live, "p0": ProviderState(Health.UNHEALTHY)}
        cases = [
            (RequestFacts(model="route-0"), live),
            (RequestFacts(model="route-0"), down),
            (RequestFacts(model="route-0", preference=Preference.FLEXIBLE), down),
        ]
        row = []
        for facts, state in cases:
            loops = 20_000
            samples = []
            for _ in range(7):
                start = time.perf_counter()
                for _ in range(loops):
                    route(table, facts, state)
                samples.append((time.perf_counter() - start) / loops)
            row.append(_median_us(samples))
        rows.append(f"| {n} | " + " | ".join(row) + " |")
    return rows


def save_to_served(saves: int) -> None:
    """Run `nexus serve` and time each rename-save until /admin/config reports the new version."""
    import subprocess

    from tests.conftest import free_port

    print(f"\n## file save -> new version served ({saves} rename-saves, real `nexus serve`)")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nexus.yaml"
        base = synthetic_config(10)
        path.write_text(base)
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "router",
                "serve",
                "-c",
                str(path),
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            client = httpx.Client(base_url=f"http://127.0.0.1:{port}")
            deadline = time.monotonic() + 30
            while True:
                try:
                    client.get("/health")
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            samples = []
            for i in range(saves):
                text = base + f"# edit {i}\n"
                version = hashlib.sha256(text.encode()).hexdigest()[:12]
                tmp_file = path.with_suffix(".tmp")
                tmp_file.write_text(text)
                start = time.perf_counter()
                os.replace(tmp_file, path)
                while client.get("/admin/config").json()["version"] != version:
                    pass
                samples.append(time.perf_counter() - start)
                time.sleep(0.1)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    samples.sort()
    print(
        f"median {statistics.median(samples) * 1e3:.0f} ms, p90 "
        f"{samples[int(len(samples) * 0.9) - 1] * 1e3:.0f} ms, min {samples[0] * 1e3:.0f} ms "
        "(watchfiles step 30 ms + settle check 20 ms + load)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# config benchmarks ({os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    print("\n".join(load_compile_rows(sizes)) + "\n")
    print("\n".join(decision_rows(sizes)))
    save_to_served(args.saves)


if __name__ == "__main__":
    main()
