"""Generate synthetic configs of a given size for the benchmarks."""

from __future__ import annotations


def synthetic_config(providers: int, *, base_url: str = "http://127.0.0.1:9/v1") -> str:
    """A valid config with `providers` providers (2 models each), 3 zones and providers/2 routes."""
    zones = ["restricted", "internal", "open"]
    lines = ["version: 1", "zones:"] + [f"  - name: {z}" for z in zones] + ["providers:"]
    for i in range(providers):
        zone = zones[i % 3]
        lines += [
            f"  - name: p{i}",
            "    kind: openai",
            f"    base_url: {base_url}",
            f"    zone: {zone}",
            "    max_concurrency: 8",
            "    models:",
            f"      - {{name: m{i}-a, tiers: {{reasoning: {i % 11}, coding: {(i * 7) % 11}}}, tools: true}}",
            f"      - {{name: m{i}-b, tiers: {{reasoning: {(i * 3) % 11}, coding: {i % 5}}}}}",
        ]
    lines.append("routes:")
    for i in range(0, providers - 1, 2):
        lines += [
            f"  - model: route-{i}",
            f"    targets: [p{i}/m{i}-a, p{i + 1}/m{i + 1}-a]",
            f"    zone: {zones[i % 3]}",
            "    overflow: fresh-only",
        ]
    return "\n".join(lines) + "\n"
