"""Discovery benchmark: route() over 1,000 discovered models on 100 providers.

    .venv/bin/python -m bench.discovery_bench [--providers 100] [--models 10]

Compares route() on a table whose models were discovered with the same models
declared in the file (the existing bound), and times what a changed model list
costs off the request path (one compile). Medians of one run; no thresholds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

from router.config.model import Preference
from router.routing.compile import compile_config
from router.routing.decision import Health, ProviderState, RequestFacts, route
from router.routing.discovered import DiscoveredModel, Discovery
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes

URL = "http://127.0.0.1:9/v1"
ZONES = ("restricted", "internal", "open")


def _model(i: int, j: int) -> str:
    return f"m{i}-{j}"


def config_text(providers: int, models: int, *, discover: bool) -> str:
    """`providers` providers with `models` models each, discovered or declared; routes over them."""
    lines = ["version: 1", "zones:", *(f"  - name: {z}" for z in ZONES), "providers:"]
    for i in range(providers):
        lines += [
            f"  - name: p{i}",
            "    kind: openai",
            f"    base_url: {URL}",
            f"    zone: {ZONES[i % 3]}",
        ]
        if discover:
            lines += ["    discover: true", "    model_defaults: {tools: true}"]
        else:
            lines.append("    models:")
            lines += [
                f"      - {{name: {_model(i, j)}, tools: true, context_window: 32768}}"
                for j in range(models)
            ]
    lines.append("routes:")
    for i in range(0, providers - 1, 2):
        lines += [
            f"  - model: route-{i}",
            f"    targets: [p{i}/{_model(i, 0)}, p{i + 1}/{_model(i + 1, 0)}]",
            f"    zone: {ZONES[i % 3]}",
            "    overflow: fresh-only",
        ]
    return "\n".join(lines) + "\n"


def discoveries(providers: int, models: int) -> dict[str, Discovery]:
    return {
        f"p{i}": Discovery(
            URL,
            tuple(DiscoveredModel(_model(i, j), context_window=32768) for j in range(models)),
        )
        for i in range(providers)
    }


def _alternating_us(
    calls: tuple[Callable[[], object], Callable[[], object]], loops: int = 20_000
) -> tuple[float, float]:
    """Median µs per call of each, their rounds alternated so a busy machine's drift hits both."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(9):
        for call, out in zip(calls, samples, strict=True):
            start = time.perf_counter()
            for _ in range(loops):
                call()
            out.append((time.perf_counter() - start) / loops)
    return statistics.median(samples[0]) * 1e6, statistics.median(samples[1]) * 1e6


def _route_rows(declared: RoutingTable, discovered: RoutingTable, providers: int) -> list[str]:
    live = {f"p{i}": ProviderState(Health.HEALTHY, 1) for i in range(providers)}
    down = {**live, "p0": ProviderState(Health.UNHEALTHY)}
    cases = [
        (RequestFacts(model="route-0"), live),
        (RequestFacts(model="route-0"), down),
        (RequestFacts(model="route-0", preference=Preference.FLEXIBLE), down),
        (RequestFacts(model=_model(providers // 2, 3)), live),
    ]
    cells: tuple[list[str], list[str]] = ([], [])
    for facts, state in cases:
        pair = _alternating_us(
            (
                lambda f=facts, s=state: route(declared, f, s),
                lambda f=facts, s=state: route(discovered, f, s),
            )
        )
        for out, us in zip(cells, pair, strict=True):
            out.append(f"{us:.1f} µs")
    return [
        "| declared in the file | " + " | ".join(cells[0]) + " |",
        "| discovered | " + " | ".join(cells[1]) + " |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--providers", type=int, default=100)
    parser.add_argument("--models", type=int, default=10)
    args = parser.parse_args()
    n, m = args.providers, args.models

    declared = load_bytes(
        config_text(n, m, discover=False).encode(), source="b", env={}, loaded_at=0.0
    )
    empty = load_bytes(config_text(n, m, discover=True).encode(), source="b", env={}, loaded_at=0.0)
    found = discoveries(n, m)

    def recompile() -> RoutingTable:
        return compile_config(
            empty.config,
            env={},
            digest=empty.digest,
            loaded_at=0.0,
            source="b",
            discovered=found,
        )

    discovered = recompile()
    served = sum(len(e.models) for e in discovered.providers.values())
    assert served == n * m, served
    assert sum(len(e.models) for e in declared.providers.values()) == n * m

    print(f"# discovery benchmark ({os.cpu_count()} cores, Python {sys.version.split()[0]})\n")
    print(f"{n} providers x {m} models = {served:,} models; route() medians (pure function):\n")
    print(
        "| models | route, primary usable | primary down (failover) | flexible alternatives "
        "| a model by its own name |"
    )
    print("|---|---:|---:|---:|---:|")
    print("\n".join(_route_rows(declared, discovered, n)))
    samples = []
    for _ in range(9):
        start = time.perf_counter()
        recompile()
        samples.append(time.perf_counter() - start)
    print(
        f"\nA changed model list (off the request path, in a worker thread): one compile of "
        f"the loaded config with every discovered list, median "
        f"{statistics.median(samples) * 1e3:.1f} ms over 9 runs."
    )


if __name__ == "__main__":
    main()
