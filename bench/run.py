"""The benchmark suite: the fake upstream directly, Nexus, and (optionally) LiteLLM, side by side.

    .venv/bin/python -m bench.run [--duration 10] [--litellm] [--out bench/RESULTS.md]

The router under test is pinned to core 0; the load generator (wrk) and the fake
upstream share core 1. Every scenario runs against each system in one run, so
ratios are comparable even on a noisy machine. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.config_bench import decision_rows, load_compile_rows

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
PY = sys.executable

CHAT = '{"model": "bench", "messages": [{"role": "user", "content": "Say hello in one sentence."}]}'
CHAT_STREAM = CHAT[:-1] + ', "stream": true, "stream_options": {"include_usage": true}}'
RESPONSES = '{"model": "bench", "input": "Say hello in one sentence.", "store": false}'
RESPONSES_STREAM = RESPONSES[:-1] + ', "stream": true}'

NEXUS_CONFIG = """\
version: 1
providers:
  - name: bench
    kind: openai
    base_url: http://127.0.0.1:{upstream}/v1
    models: [{{name: bench}}, {{name: embed, embeddings: true}}]
  - name: gpu
    kind: openai
    base_url: http://127.0.0.1:{upstream}/gpu/v1
    models: [{{name: embed-gpu, embeddings: true}}]
  - name: claude
    kind: anthropic
    base_url: http://127.0.0.1:{upstream}
    models: [{{name: bench-claude}}]
routes:
  - {{model: bench-route, targets: [bench/bench]}}
  - {{model: bench-cached, targets: [bench/bench], cache: {{ttl_s: 600}}}}
routing:
  health: {{interval_s: 30}}
  embeddings_batch_ms: {batch_ms}
# {marker}
"""
#: The Messages API: translated to chat completions (to `bench`), and passed through to the
#: Anthropic-kind `bench-claude`.
MESSAGES = (
    '{"model": "bench", "max_tokens": 256, '
    '"messages": [{"role": "user", "content": "Say hello in one sentence."}]}'
)
MESSAGES_STREAM = MESSAGES[:-1] + ', "stream": true}'
PASSTHROUGH = MESSAGES.replace('"bench"', '"bench-claude"')
PASSTHROUGH_STREAM = PASSTHROUGH[:-1] + ', "stream": true}'
EMBED = '{"model": "embed", "input": ["one short sentence to embed"], "encoding_format": "float"}'
EMBED_GPU = EMBED.replace('"embed"', '"embed-gpu"')
CACHED = CHAT.replace('"bench"', '"bench-cached"')[:-1] + ', "temperature": 0}'

LITELLM_CONFIG = """\
model_list:
  - model_name: bench
    litellm_params:
      model: openai/bench
      api_base: http://127.0.0.1:{upstream}/v1
      api_key: dummy
litellm_settings:
  drop_params: true
general_settings:
  # Nexus runs without auth on loopback in this suite; LiteLLM gets the same footing.
  dangerously_permit_weak_or_unset_master_key: true
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(cmd: list[str], *, core: int | str, env: dict[str, str] | None = None) -> Iterator[int]:
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (LiteLLM forks), in MB."""
    total = 0
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().split()
            except OSError:
                continue
            if stat[3] == str(pid):
                pids.append(int(entry.name))
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


# -- wrk -----------------------------------------------------------------------------------

WRK_SCRIPT = """\
wrk.method = "POST"
wrk.body = [[BODY]]
wrk.headers["Content-Type"] = "application/json"
EXTRA_HEADERS
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0; seen = "" end
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
  local v = headers["x-nexus-config-version"]
  if v and not string.find(seen, v, 1, true) then seen = seen .. v .. "," end
end
function done(summary, latency, requests)
  local total_bad, versions = 0, {}
  for _, t in ipairs(threads) do
    total_bad = total_bad + t:get("bad")
    for v in string.gmatch(t:get("seen"), "([^,]+)") do versions[v] = true end
  end
  local n = 0
  for _ in pairs(versions) do n = n + 1 end
  io.write(string.format("NEXUS bad=%d versions=%d\\n", total_bad, n))
end
"""


def _us(text: str) -> float:
    value = float(re.match(r"[\d.]+", text).group())  # type: ignore[union-attr]
    unit = text[len(str(re.match(r"[\d.]+", text).group())) :]  # type: ignore[union-attr]
    return value * {"us": 1, "ms": 1e3, "s": 1e6}.get(unit, 1)


def wrk(
    url: str,
    body: str,
    *,
    connections: int,
    duration: int,
    headers: dict[str, str] | None = None,
    core: str = "1",
) -> dict[str, float]:
    extra = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items())
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT.replace("BODY", body).replace("EXTRA_HEADERS", extra))
        script = f.name
    out = subprocess.run(
        [
            "taskset",
            "-c",
            core,
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            script,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script)
    result: dict[str, float] = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for pct in ("50", "90", "99"):
        result[f"p{pct}"] = _us(re.search(rf"\s{pct}%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    result["socket_errors"] = sum(int(x) for x in errors.groups()) if errors else 0
    custom = re.search(r"NEXUS bad=(\d+) versions=(\d+)", out)
    result["non_200"] = int(custom.group(1)) if custom else 0
    result["versions"] = int(custom.group(2)) if custom else 0
    return result


# -- streaming: time to first byte --------------------------------------------------------


def stream_times(port: int, path: str, body: str, *, requests: int) -> tuple[float, float]:
    """Median (time to first body byte, total) in µs over sequential requests.

    Keeps the connection alive when the server does (a chunked body ends with a
    zero-size chunk); reconnects when the server closes it after each stream.
    """
    payload = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    firsts, totals = [], []
    sock: socket.socket | None = None
    try:
        for _ in range(requests):
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=30)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            start = time.perf_counter()
            sock.sendall(head)
            buffer = b""
            first = None
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    sock.close()
                    sock = None
                    break
                buffer += chunk
                header_end = buffer.find(b"\r\n\r\n")
                if first is None and header_end >= 0 and len(buffer) > header_end + 4:
                    first = time.perf_counter() - start
                if header_end >= 0 and not buffer.startswith(b"HTTP/1.1 200"):
                    status = buffer.split(b"\r\n", 1)[0].decode()
                    raise RuntimeError(f"{path} answered {status}")
                if buffer.endswith(b"0\r\n\r\n"):
                    break
            totals.append(time.perf_counter() - start)
            firsts.append(first or totals[-1])
    finally:
        if sock is not None:
            sock.close()
    return statistics.median(firsts) * 1e6, statistics.median(totals) * 1e6


# -- the run ------------------------------------------------------------------------------


def machine_facts() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown",
    )
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; router pinned to core 0, wrk + fake upstream to core 1",
        f"- Python {platform.python_version()}, {platform.system()} {platform.release()}",
        f"- wrk: {subprocess.run(['wrk', '-v'], check=False, capture_output=True, text=True).stdout.split()[1]}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def litellm_bin() -> Path | None:
    venv = WORK / "litellm-venv"
    binary = venv / "bin" / "litellm"
    if not binary.exists():
        print("installing litellm[proxy] into bench/.work/litellm-venv ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "litellm[proxy]"], check=True)
    return binary if binary.exists() else None


def main() -> None:  # noqa: PLR0915 - a linear script reads best as one
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--stream-requests", type=int, default=400)
    parser.add_argument("--litellm", action="store_true", help="also measure LiteLLM's proxy")
    parser.add_argument("--out", default=str(ROOT / "RESULTS.md"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    WORK.mkdir(exist_ok=True)
    up_port, nexus_port, litellm_port = free_port(), free_port(), free_port()
    lines = [
        "# Benchmark results",
        "",
        f"Produced by `python -m bench.run` (duration {args.duration}s per wrk run).",
        "",
        *machine_facts(),
        "",
    ]
    systems: dict[str, tuple[int, str]] = {}
    results: dict[str, dict[str, dict[str, float]]] = {}
    rss: dict[str, list[float]] = {}
    streams: dict[str, dict[str, tuple[float, float]]] = {}
    notes: list[str] = []

    config = WORK / "nexus.yaml"
    config.write_text(NEXUS_CONFIG.format(upstream=up_port, marker="0", batch_ms=3))
    lite_config = WORK / "litellm.yaml"
    lite_config.write_text(LITELLM_CONFIG.format(upstream=up_port))

    with process([PY, "-m", "bench.fake_upstream", str(up_port)], core=1):
        wait_ready(f"http://127.0.0.1:{up_port}/v1/models")
        systems["direct"] = (up_port, "/v1/chat/completions")
        candidates = [
            (
                "nexus",
                [
                    PY,
                    "-m",
                    "router",
                    "serve",
                    "-c",
                    str(config),
                    "--port",
                    str(nexus_port),
                    "--log-format",
                    "json",
                ],
                nexus_port,
            )
        ]
        if args.litellm and (binary := litellm_bin()) is not None:
            candidates.append(
                (
                    "litellm",
                    [
                        str(binary),
                        "--config",
                        str(lite_config),
                        "--port",
                        str(litellm_port),
                        "--num_workers",
                        "1",
                    ],
                    litellm_port,
                )
            )
        # the upstream alone first
        results["direct"] = {}
        for c in (1, 32, 64):
            results["direct"][f"c{c}"] = wrk(
                f"http://127.0.0.1:{up_port}/v1/chat/completions",
                CHAT,
                connections=c,
                duration=args.duration,
            )
        streams["direct"] = {
            "chat": stream_times(
                up_port, "/v1/chat/completions", CHAT_STREAM, requests=args.stream_requests
            )
        }
        for name, cmd, port in candidates:
            try:
                measure(name, cmd, port, args, config, up_port, results, rss, streams)
            except Exception as exc:  # LiteLLM is optional: report its failure, keep the rest
                if name == "nexus":
                    raise
                notes.append(f"- {name} could not be measured: {exc}")
                for table in (results, streams, rss):
                    table.pop(name, None)

    d = results["direct"]
    lines += [
        "## 1. Non-streaming chat completion, 1 connection",
        "",
        "| system | p50 | p90 | p99 | added p50 vs direct | added p99 vs direct |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        c1 = r["c1"]
        lines.append(
            f"| {name} | {c1['p50']:.0f} µs | {c1['p90']:.0f} µs | {c1['p99']:.0f} µs | "
            f"{c1['p50'] - d['c1']['p50']:+.0f} µs | {c1['p99'] - d['c1']['p99']:+.0f} µs |"
        )
    lines += [
        "",
        "## 2. Throughput (non-streaming)",
        "",
        "| system | connections | requests/s | p50 | p99 | errors (non-200 + socket) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        for c in (32, 64):
            x = r[f"c{c}"]
            lines.append(
                f"| {name} | {c} | {x['rps']:,.0f} | {x['p50'] / 1000:.2f} ms | "
                f"{x['p99'] / 1000:.2f} ms | {x['non_200'] + x['socket_errors']:.0f} |"
            )
    if "litellm" in results:
        ratio = results["nexus"]["c32"]["rps"] / results["litellm"]["c32"]["rps"]
        lines += ["", f"Nexus / LiteLLM throughput at 32 connections: **{ratio:.1f}x**."]
    lines += [
        "",
        "## 3. Streaming chat completion (sequential, keep-alive)",
        "",
        "| system | time to first byte | added TTFB | total | added total |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, s in streams.items():
        first, total = s["chat"]
        lines.append(
            f"| {name} | {first:.0f} µs | {first - streams['direct']['chat'][0]:+.0f} µs | "
            f"{total:.0f} µs | {total - streams['direct']['chat'][1]:+.0f} µs |"
        )
    lines += [
        "",
        "## 4. `POST /v1/responses` (translated to chat/completions upstream)",
        "",
        "| system | c1 p50 | c1 p99 | c32 requests/s | errors | stream TTFB | stream total |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        if "responses_c1" in r:
            first, total = streams[name].get("responses", (float("nan"), float("nan")))
            errors = sum(
                r[k]["non_200"] + r[k]["socket_errors"] for k in ("responses_c1", "responses_c32")
            )
            lines.append(
                f"| {name} | {r['responses_c1']['p50']:.0f} µs | {r['responses_c1']['p99']:.0f} µs"
                f" | {r['responses_c32']['rps']:,.0f} | {errors:.0f} | {first:.0f} µs"
                f" | {total:.0f} µs |"
            )
    lines += [
        "",
        "## 5. Router RSS (MB) after: start, c1, c32, c64, streaming, responses, storm",
        "",
    ]
    for name, values in rss.items():
        lines.append(f"- {name}: " + ", ".join(f"{v:.0f}" for v in values))
    if "storm" in results.get("nexus", {}):
        storm = results["nexus"]["storm"]
        lines += [
            "",
            "## 6. Reload storm: 50 config rewrites during 32-connection load",
            "",
            f"- requests/s {storm['rps']:,.0f}, p99 {storm['p99'] / 1000:.2f} ms",
            f"- failed requests: {storm['non_200'] + storm['socket_errors']:.0f} "
            f"(non-200 {storm['non_200']:.0f}, socket errors {storm['socket_errors']:.0f})",
            f"- distinct config versions served: {storm['versions']:.0f} (of 51 written)",
        ]
    nexus = results.get("nexus", {})
    if "cache_hit_c1" in nexus:
        hit, miss = nexus["cache_hit_c1"], nexus["c1"]
        batched, unbatched = nexus["embed_batched"], nexus["embed_unbatched"]
        gpu, gpu_alone = nexus["gpu_batched"], nexus["gpu_unbatched"]

        def row(label: str, r: dict[str, float]) -> str:
            return (
                f"| {label} | {r['p50']:.0f} µs | {r['p99']:.0f} µs | {r['rps']:,.0f}"
                f" | {r['non_200'] + r['socket_errors']:.0f} |"
            )

        lines += [
            "",
            "## 8. Response cache and embedding batching (Nexus)",
            "",
            "| scenario | p50 | p99 | requests/s | errors |",
            "|---|---:|---:|---:|---:|",
            f"| chat, 1 connection, cache hit | {hit['p50']:.0f} µs | {hit['p99']:.0f} µs"
            f" | {hit['rps']:,.0f} | {hit['non_200'] + hit['socket_errors']:.0f} |",
            f"| chat, 1 connection, upstream (section 1) | {miss['p50']:.0f} µs"
            f" | {miss['p99']:.0f} µs | {miss['rps']:,.0f} | 0 |",
            row("embeddings, 32 connections, batched (3 ms window)", batched),
            row("embeddings, 32 connections, unbatched", unbatched),
            row("embeddings to a one-call-at-a-time upstream, batched", gpu),
            row("embeddings to a one-call-at-a-time upstream, unbatched", gpu_alone),
            "",
            f"Batching: **{batched['rps'] / unbatched['rps']:.2f}x** the embedding requests/s"
            " against the instant fake upstream (only the router's per-call work is saved);"
            f" **{gpu['rps'] / gpu_alone['rps']:.2f}x** against an upstream that serves one call"
            " at a time like a single GPU worker (1 ms per call + 20 µs per input). A cache hit"
            f" answers in {hit['p50'] / miss['p50']:.2f}x the time of an upstream call.",
        ]
    lines += [
        "",
        "## 9. Routing decision and config load",
        "",
        *decision_rows([10, 100, 1000]),
        "",
        *load_compile_rows([10, 100, 1000]),
    ]
    lines += ["", *notes] if notes else []
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


def measure(
    name: str,
    cmd: list[str],
    port: int,
    args: argparse.Namespace,
    config: Path,
    up_port: int,
    results: dict[str, dict[str, dict[str, float]]],
    rss: dict[str, list[float]],
    streams: dict[str, dict[str, tuple[float, float]]],
) -> None:
    """Run every scenario against one router process."""
    with process(cmd, core=0, env={"PYTHONUNBUFFERED": "1"}) as pid:
        wait_ready(
            f"http://127.0.0.1:{port}/health"
            if name == "nexus"
            else f"http://127.0.0.1:{port}/health/liveliness"
        )
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        wrk(url, CHAT, connections=8, duration=2)  # warm up
        results[name] = {}
        rss[name] = [rss_mb(pid)]
        for c in (1, 32, 64):
            results[name][f"c{c}"] = wrk(url, CHAT, connections=c, duration=args.duration)
            rss[name].append(rss_mb(pid))
        streams[name] = {
            "chat": stream_times(
                port, "/v1/chat/completions", CHAT_STREAM, requests=args.stream_requests
            )
        }
        rss[name].append(rss_mb(pid))
        resp_url = f"http://127.0.0.1:{port}/v1/responses"
        results[name]["responses_c1"] = wrk(
            resp_url, RESPONSES, connections=1, duration=args.duration
        )
        results[name]["responses_c32"] = wrk(
            resp_url, RESPONSES, connections=32, duration=args.duration
        )
        try:
            streams[name]["responses"] = stream_times(
                port, "/v1/responses", RESPONSES_STREAM, requests=args.stream_requests
            )
        except (RuntimeError, OSError) as exc:
            if name == "nexus":
                raise
            print(f"{name}: streaming /v1/responses failed: {exc}", file=sys.stderr)
        rss[name].append(rss_mb(pid))
        if name == "nexus":
            results[name]["cache_hit_c1"] = wrk(url, CACHED, connections=1, duration=args.duration)
            embed_url = f"http://127.0.0.1:{port}/v1/embeddings"
            results[name]["embed_batched"] = wrk(
                embed_url, EMBED, connections=32, duration=args.duration
            )
            results[name]["gpu_batched"] = wrk(
                embed_url, EMBED_GPU, connections=32, duration=args.duration
            )
            switch_config(
                port, config, NEXUS_CONFIG.format(upstream=up_port, marker="nobatch", batch_ms=0)
            )
            results[name]["embed_unbatched"] = wrk(
                embed_url, EMBED, connections=32, duration=args.duration
            )
            results[name]["gpu_unbatched"] = wrk(
                embed_url, EMBED_GPU, connections=32, duration=args.duration
            )
            results[name]["storm"] = reload_storm(url, config, up_port, args.duration)
            rss[name].append(rss_mb(pid))


def switch_config(port: int, config: Path, text: str) -> None:
    """Rename-save a new config and wait until the router serves it."""
    version = hashlib.sha256(text.encode()).hexdigest()[:12]
    tmp = config.with_name(".nexus.yaml.tmp")
    tmp.write_text(text)
    os.replace(tmp, config)
    deadline = time.monotonic() + 30
    while httpx.get(f"http://127.0.0.1:{port}/admin/config").json()["version"] != version:
        if time.monotonic() > deadline:
            raise RuntimeError("the router did not load the new config")
        time.sleep(0.05)


def reload_storm(url: str, config: Path, upstream: int, duration: int) -> dict[str, float]:
    """Rewrite the config 50 times (rename-saves) while wrk runs 32 connections."""
    import threading

    result: dict[str, dict[str, float]] = {}
    runner = threading.Thread(
        target=lambda: result.update(r=wrk(url, CHAT, connections=32, duration=max(duration, 8)))
    )
    runner.start()
    time.sleep(0.5)
    span = max(duration, 8) - 1.5
    for i in range(1, 51):
        text = NEXUS_CONFIG.format(
            upstream=upstream, marker=hashlib.sha1(str(i).encode()).hexdigest(), batch_ms=3
        )
        tmp = config.with_name(".nexus.yaml.tmp")
        tmp.write_text(text)
        os.replace(tmp, config)
        time.sleep(span / 50)
    runner.join()
    return result["r"]


if __name__ == "__main__":
    main()
