"""The ``nexus`` command: ``serve``, ``check``, ``explain``, ``init`` and ``spend``."""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from router import __version__
from router.config.diagnostics import Diagnostic, did_you_mean
from router.errors import ConfigInvalid, ConfigUnavailable, StoreUnavailable
from router.gc_policy import tune_for_serving
from router.logs import configure_logging
from router.routing.table import RoutingTable
from router.snapshot.loader import load_bytes, read_config_bytes

if TYPE_CHECKING:
    from litestar import Litestar

    from router.snapshot.holder import ConfigHolder

__all__ = ["main"]


def _default_config() -> str:
    return os.environ.get("NEXUS_CONFIG") or "nexus.yaml"


def _check_one(path: str) -> tuple[list[Diagnostic], bool]:
    """Return the diagnostics of one file and whether it is valid."""
    try:
        table = load_bytes(
            read_config_bytes(Path(path)), source=path, env=os.environ, loaded_at=time.time()
        )
    except ConfigInvalid as exc:
        return list(exc.diagnostics), False
    except ConfigUnavailable as exc:
        return [Diagnostic("error", exc.message, file=path)], False
    return list(table.warnings), True


def cmd_check(args: argparse.Namespace) -> int:
    """Validate config files; exit 0 when all are valid, 1 otherwise."""
    results = {path: _check_one(path) for path in args.paths or [_default_config()]}
    if args.format == "json":
        out = [
            {"file": p, "valid": ok, "diagnostics": [d.to_dict() for d in ds]}
            for p, (ds, ok) in results.items()
        ]
        print(json.dumps(out, indent=2))
    else:
        for path, (diagnostics, ok) in results.items():
            for d in diagnostics:
                print(d.format(), file=sys.stdout if ok else sys.stderr)
            errors = sum(d.severity == "error" for d in diagnostics)
            warnings = len(diagnostics) - errors
            verdict = "ok" if ok else f"{errors} error(s)"
            print(f"{path}: {verdict}, {warnings} warning(s)", file=sys.stderr)
    return 0 if all(ok for _, ok in results.values()) else 1


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_check(host: str) -> Callable[[RoutingTable], Diagnostic | None]:
    """A rule every config must pass while bound to `host`: no open proxy on a public address."""

    def check(table: RoutingTable) -> Diagnostic | None:
        if table.auth is None and not _loopback(host):
            return Diagnostic(
                "error",
                f"binding {host} (not a loopback address) needs an 'auth' section: add keys, "
                "or 'auth: {mode: none}' to serve without authentication on purpose",
                ("auth",),
            )
        return None

    return check


def _whoami() -> str:
    """This process's user, as a message names it (a container may run as a bare uid)."""
    import pwd

    uid = os.geteuid()
    try:
        return f"user {pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _config_fix(path: Path) -> str:
    """How to fix a config file that could not be read."""
    if not os.path.lexists(path):
        return "check the path, or pass --config PATH or set NEXUS_CONFIG"
    if path.is_dir():
        return "pass the YAML file inside it with --config PATH"
    return f"make the file readable by {_whoami()} (chmod or chown)"


def _unwritable_dir(directory: Path) -> Path | None:
    """The directory that keeps this process from creating files in `directory`, if any.

    A missing directory counts as its nearest existing parent: the store creates the rest.
    """
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if probe.is_dir() and os.access(probe, os.W_OK | os.X_OK):
        return None
    return probe


def _write_back_problem(store: ConfigHolder) -> str | None:
    """The provider API writes a temp file beside the config and renames it over the file."""
    if not store.current.config.admin.write_back:
        return None
    directory = store.path.resolve().parent
    if _unwritable_dir(directory) is None:
        return None
    return (
        f"admin.write_back is on but the config directory {directory} is not writable by "
        f"{_whoami()}; set 'admin: {{write_back: false}}' in {store.path} (git stays the only "
        "writer), or make the directory writable"
    )


def _state_problem(store: ConfigHolder) -> str | None:
    """Check the ``storage`` URL before serving: its variables, its driver, its directory."""
    from router.config.envvars import expand
    from router.store import open_store
    from router.store.sqlite import SqliteStore

    url = expand(store.current.config.storage, os.environ)
    if url.value is None:
        return (
            f"'storage' in {store.path} needs the environment variable(s) "
            f"{', '.join(url.missing)}, which are not set; set them, or change 'storage'"
        )
    try:
        opened = open_store(url.value, base_dir=store.path.parent)  # no I/O until open()
    except ValueError as exc:
        return f"{exc} (in {store.path})"
    if not isinstance(opened, SqliteStore) or opened.path == ":memory:":
        return None  # a database server: reached (and reported) when the app starts
    database = Path(opened.path)
    blocked = _unwritable_dir(database.parent)  # SQLite adds -wal and -shm files beside it
    if blocked is None and database.exists() and not os.access(database, os.W_OK):
        blocked = database
    if blocked is None:
        return None
    what = "the database file" if blocked == database else "the state directory"
    return (
        f"{what} {blocked} is not writable by {_whoami()} (storage: {database}); make it "
        f"writable (e.g. chown {os.geteuid()} {blocked}, or mount a writable volume there), "
        f"or point 'storage' in {store.path} somewhere writable"
    )


def _load_for_serving(
    config: str, host: str | None, *, allow_empty: bool = False
) -> tuple[ConfigHolder, str] | int:
    """Load the config and check it may be served on `host`; an int is an exit status.

    Every problem an operator can fix before start-up gets one line: what, where, how.
    """
    from router.snapshot.holder import ConfigHolder

    try:
        store = ConfigHolder.open(config)
    except ConfigInvalid as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        print(f"{config}: not starting: the config is invalid", file=sys.stderr)
        return 1
    except ConfigUnavailable as exc:
        fix = _config_fix(Path(config).absolute())
        print(f"nexus: not starting: {exc.message}; {fix}", file=sys.stderr)
        return 1
    bind = host or store.current.config.server.host
    exposure = exposure_check(bind)
    problem = exposure(store.current)
    if problem is not None:
        print(f"nexus: not starting: {problem.message}", file=sys.stderr)
        return 1
    for message in (_write_back_problem(store), _state_problem(store)):
        if message is not None:
            print(f"nexus: not starting: {message}", file=sys.stderr)
            return 1
    store.checks.append(exposure)  # reloads may not open the router up either
    store.allow_empty = allow_empty
    return store, bind


def worker_app() -> Litestar:
    """One worker's app under ``nexus serve --workers N`` (uvicorn's factory entry point).

    Each worker process loads and watches the file itself; `cmd_serve` passes what
    it checked through the environment.
    """
    from router.app import AppOptions, create_app

    configure_logging(
        os.environ.get("NEXUS_LOG_LEVEL", "info"), os.environ.get("NEXUS_LOG_FORMAT", "auto")
    )
    loaded = _load_for_serving(
        os.environ["NEXUS_CONFIG"],
        os.environ.get("NEXUS_HOST"),
        allow_empty=os.environ.get("NEXUS_ALLOW_EMPTY") == "1",
    )
    if isinstance(loaded, int):
        raise SystemExit(loaded)
    app = create_app(loaded[0], options=AppOptions(watch=os.environ.get("NEXUS_WATCH", "1") == "1"))
    tune_for_serving()
    return app


def startup_summary(table: RoutingTable, host: str, port: int) -> list[str]:
    """What a first run needs to see: the routes, each provider's zone, how to try it."""
    lines = []
    for route in table.routes.values():
        if route.direct:
            continue
        targets = ", ".join(t.key for t in route.targets) or "no targets"
        lines.append(
            f"route {route.name} -> {targets} (zone {route.zone}, overflow {route.overflow.value})"
        )
    for entry in table.providers.values():
        state = "" if entry.enabled else f" [disabled: {entry.disabled_reason or 'enabled: false'}]"
        lines.append(
            f"provider {entry.name} ({entry.kind}, zone {entry.zone}) at {entry.display_url}{state}"
        )
    model = next(iter(table.routable_models()), None)
    if model is not None:
        shown = "127.0.0.1" if host in {"0.0.0.0", "::"} else host
        shown = f"[{shown}]" if ":" in shown else shown
        key = ' -H "Authorization: Bearer $NEXUS_API_KEY"' if table.auth is not None else ""
        lines.append(
            f"try: curl http://{shown}:{port}/v1/chat/completions{key} "
            "-H 'content-type: application/json' "
            f"""-d '{{"model": "{model}", "messages": [{{"role": "user", "content": "hi"}}]}}'"""
        )
    return lines


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the config (failing fast with `check`'s messages) and serve it with uvicorn."""
    import uvicorn

    from router.app import AppOptions, create_app
    from router.http.server import http_protocol

    configure_logging(args.log_level, args.log_format)
    loaded = _load_for_serving(args.config, args.host, allow_empty=args.allow_empty)
    if isinstance(loaded, int):
        return loaded
    store, host = loaded
    for warning in store.current.warnings:
        logging.getLogger("nexus.config").warning("%s", warning.format())
    port = args.port or store.current.config.server.port
    log = logging.getLogger("nexus")
    if store.current.auth is None:
        log.info("no 'auth' section: serving on the loopback address %s only", host)
    elif not store.current.auth.required and not _loopback(host):
        log.warning(
            "auth.mode is 'none' on %s: anyone who can reach this address can use "
            "every provider and key configured here",
            host,
        )
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": args.log_level,
        "access_log": False,
        "log_config": None,  # keep our handlers: uvicorn would install its own plain-text ones
        "http": http_protocol(store.current.config.server),  # httptools, with read deadlines
        "loop": "uvloop" if sys.platform != "win32" else "asyncio",
        # SIGTERM: stop accepting, let requests in flight finish, cancel what is left
        # after this long (uvicorn's default is to wait for ever).
        "timeout_graceful_shutdown": store.current.config.server.shutdown_grace_s,
    }
    if args.workers > 1:
        if store.current.config.shared is None:
            log.warning(
                "%d workers without 'shared:' (Redis): rate limits, max_concurrency and "
                "circuits are per worker, so a limit of N lets through up to %d x N",
                args.workers,
                args.workers,
            )
        os.environ.update(
            NEXUS_CONFIG=str(store.path),
            NEXUS_HOST=host,
            NEXUS_WATCH="0" if args.no_watch else "1",
            NEXUS_ALLOW_EMPTY="1" if args.allow_empty else "0",
            NEXUS_LOG_LEVEL=args.log_level,
            NEXUS_LOG_FORMAT=args.log_format,
        )
        log.info("serving %s with %d workers on http://%s:%d", store.path, args.workers, host, port)
        for line in startup_summary(store.current, host, port):
            log.info("%s", line)
        uvicorn.run("router.cli:worker_app", factory=True, workers=args.workers, **common)
        return 0
    app = create_app(store, options=AppOptions(watch=not args.no_watch))
    log.info(
        "serving %s (version %s) on http://%s:%d", store.path, store.current.version, host, port
    )
    for line in startup_summary(store.current, host, port):
        log.info("%s", line)
    tune_for_serving()
    uvicorn.run(app, **common)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    """Print the decision the router would take; exit 0 routed, 2 rejected, 1 on bad input."""
    from router.routing.decision import RequestFacts
    from router.routing.explain import explain, format_explanation

    try:
        table = load_bytes(
            read_config_bytes(Path(args.config)),
            source=args.config,
            env=os.environ,
            loaded_at=time.time(),
        )
    except ConfigInvalid as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        return 1
    except ConfigUnavailable as exc:
        print(f"nexus: {exc.message}", file=sys.stderr)
        return 1
    if args.discover:
        import asyncio

        import attrs

        from router.routing.compile import compile_config
        from router.upstream.discovery import discover_once

        found = asyncio.run(discover_once(table, timeout_s=table.settings.health.timeout_s))
        table = attrs.evolve(
            compile_config(
                table.config,
                env=os.environ,
                digest=table.digest,
                loaded_at=table.loaded_at,
                source=table.source,
                discovered=found,
            ),
            warnings=table.warnings,
        )
    unknown = [name for name in args.down if name not in table.providers]
    if unknown:
        print(f"nexus: --down names unknown provider(s): {', '.join(unknown)}", file=sys.stderr)
        return 1
    spent: dict[str, float] = {}
    budgets = [b.name for b in table.budgets]
    for item in args.spent:
        name, _, usd = item.partition("=")
        if name not in budgets:
            hint = did_you_mean(name, budgets) or (
                f" (budgets: {', '.join(budgets)})" if budgets else " (the config has no budgets)"
            )
            print(f"nexus: --spent: unknown budget {name!r}{hint}", file=sys.stderr)
            return 1
        try:
            spent[name] = float(usd)
        except ValueError:
            print(f"nexus: --spent {item!r}: expected BUDGET=USD", file=sys.stderr)
            return 1
    from router.config.model import Preference

    preference = (
        Preference.STRICT if args.strict else Preference.FLEXIBLE if args.flexible else None
    )
    facts = RequestFacts(
        model=args.model,
        has_history=args.history > 0,
        conversation_messages=args.history + 1 if args.history else 1,
        needs_vision=args.vision,
        needs_tools=args.tools,
        context_tokens=args.context,
        preference=preference,
    )
    report = explain(table, facts, {}, down=tuple(args.down), spent=spent, now=time.time())
    if args.max_zone is not None and report["outcome"] == "routed":
        if args.max_zone not in table.zones:
            print(f"nexus: --max-zone: unknown zone {args.max_zone!r}", file=sys.stderr)
            return 1
        limit = table.zones.index(args.max_zone)
        leaks = [c for c in report["candidates"] if table.zones.index(c["zone"]) > limit]
        report["max_zone_violations"] = leaks
    if args.format == "json":
        print(json.dumps(report, indent=2))
    else:
        print(format_explanation(report))
        for leak in report.get("max_zone_violations", []):
            print(
                f"error: {leak['target']} is in zone {leak['zone']!r}, less private than "
                f"--max-zone {args.max_zone!r}",
                file=sys.stderr,
            )
    if report.get("max_zone_violations"):
        return 3
    return {"routed": 0, "rejected": 2}.get(report["outcome"], 1)


def cmd_init(args: argparse.Namespace) -> int:
    """Write a starter config from what answers; exit 0 written, 1 refused or invalid."""
    import asyncio

    from router.config.starter import CLOUDS, Found, starter_config
    from router.upstream.survey import LOCAL, given, survey

    path = Path(args.path)
    if path.exists() and not args.force:
        print(f"nexus: {path} exists; pass --force to overwrite it", file=sys.stderr)
        return 1
    try:
        candidates = [*(() if args.no_scan else LOCAL), *(given(p) for p in args.probe)]
    except ValueError as exc:
        print(f"nexus: --probe: {exc}", file=sys.stderr)
        return 1
    results = asyncio.run(survey(candidates, timeout_s=args.timeout))
    found = [r for r in results if isinstance(r, Found)]
    missed = [r for r in results if not isinstance(r, Found)]
    clouds = [c for c in CLOUDS if os.environ.get(c.env)]
    taken = any(f.base_url.startswith("http://127.0.0.1:8000") for f in found)
    schema = Path(__file__).with_name("config") / "nexus.schema.json"
    text = starter_config(found, missed, clouds, schema=str(schema), port=8001 if taken else 8000)
    for f in found:
        count = f"{len(f.models)} model{'' if len(f.models) == 1 else 's'}"
        print(f"found: {f.what} at {f.base_url} ({count}) -> provider {f.name!r}")
    for c in clouds:
        print(f"found: ${c.env} is set -> provider {c.name!r} (written as ${{{c.env}}})")
    for m in missed:
        print(f"not reachable: {m.what} at {m.where} ({m.reason})")
    if not found and not clouds:
        print("nothing answered: the file has no provider yet; its comments say what to add")
    try:
        load_bytes(text.encode(), source=str(path), env=os.environ, loaded_at=time.time())
    except ConfigInvalid as exc:  # a bug of ours: never write a file that does not load
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        return 1
    path.write_text(text)
    print(f"wrote {path}; next: nexus check {path} && nexus serve -c {path}")
    return 0


def _load(path: str) -> RoutingTable | None:
    """The config at `path`, or None after printing why it cannot be loaded."""
    try:
        return load_bytes(
            read_config_bytes(Path(path)), source=path, env=os.environ, loaded_at=time.time()
        )
    except ConfigInvalid as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
    except ConfigUnavailable as exc:
        print(f"nexus: {exc.message}", file=sys.stderr)
    return None


async def _read_spend(table: RoutingTable, base_dir: Path, period: str) -> dict[str, Any]:
    from router.config.envvars import expand
    from router.config.model import Period
    from router.services.spend_report import earliest_window, spend_report
    from router.store import open_store

    url = expand(table.config.storage, os.environ)
    if url.value is None:
        raise StoreUnavailable(f"storage: environment variable {', '.join(url.missing)} is not set")
    try:
        store = open_store(url.value, base_dir=base_dir, instance="nexus-spend")
    except ValueError as exc:
        raise StoreUnavailable(str(exc)) from exc
    await store.open()
    try:
        now = time.time()
        chosen = Period(period)
        since = earliest_window((chosen, *(b.period for b in table.budgets)), now)
        rows = await store.spend_since(since)
    finally:
        await store.close()
    return spend_report(rows, table.budgets, chosen, now)


def format_spend(report: dict[str, Any]) -> str:
    """Render the spend report for a terminal."""
    lines = [
        f"spend this {report['period']} (since {report['since']}): "
        f"${report['total_usd']:.6f} over {report['requests']} request(s)"
    ]
    if report["estimated_requests"]:
        lines.append(
            f"  of which estimated (no usage reported): ${report['estimated_usd']:.6f} over "
            f"{report['estimated_requests']} request(s)"
        )
    for dimension in ("provider", "zone", "route", "key", "model"):
        values = report[f"by_{dimension}"]
        if values:
            shown = ", ".join(f"{name} ${usd:.6f}" for name, usd in values.items())
            lines.append(f"by {dimension}: {shown}")
    for b in report["budgets"]:
        scope, value = next(iter(b["scope"].items()))
        state = "SPENT" if b["exhausted"] else "ok"
        lines.append(
            f"budget {b['name']} ({scope} {value}, per {b['period']}): ${b['spent_usd']:.6f} "
            f"of ${b['limit_usd']:g} [{state}], resets {b['resets_at']}"
        )
    return "\n".join(lines)


def cmd_spend(args: argparse.Namespace) -> int:
    """Print what was spent in the current period, from the config's storage database."""
    import asyncio

    table = _load(args.config)
    if table is None:
        return 1
    try:
        report = asyncio.run(_read_spend(table, Path(args.config).resolve().parent, args.period))
    except StoreUnavailable as exc:
        print(f"nexus: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2) if args.format == "json" else format_spend(report))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nexus {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the router")
    serve.add_argument(
        "-c",
        "--config",
        default=_default_config(),
        help="config file (default: $NEXUS_CONFIG, then ./nexus.yaml)",
    )
    serve.add_argument("--host", help="listen address (default: server.host in the config)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port in the config)")
    serve.add_argument(
        "--no-watch",
        action="store_true",
        help="do not reload on file changes (SIGHUP and the admin API still reload)",
    )
    serve.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept a reload that leaves no routable model (refused by default: a file cut "
        "short by an interrupted write looks like that)",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes (use 'shared:' so limits and circuits span them)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format",
        default="auto",
        choices=["auto", "json", "text"],
        help="auto: JSON unless stderr is a terminal",
    )
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate config files (for CI)")
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="config files (default: $NEXUS_CONFIG, then ./nexus.yaml)",
    )
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.set_defaults(func=cmd_check)

    exp = sub.add_parser(
        "explain",
        help="show the routing decision for a request, without calling any provider",
        description="Exit status: 0 routed, 2 rejected (503), 1 bad input or unknown model, "
        "3 a candidate is less private than --max-zone.",
    )
    exp.add_argument("-c", "--config", default=_default_config())
    exp.add_argument("--model", required=True)
    exp.add_argument(
        "--history", type=int, default=0, metavar="N", help="the request carries N earlier messages"
    )
    mode = exp.add_mutually_exclusive_group()
    mode.add_argument("--strict", action="store_true")
    mode.add_argument("--flexible", action="store_true")
    exp.add_argument(
        "--down",
        action="append",
        default=[],
        metavar="PROVIDER",
        help="treat PROVIDER as unhealthy (repeatable)",
    )
    exp.add_argument("--vision", action="store_true", help="the request has images")
    exp.add_argument("--tools", action="store_true", help="the request has tools")
    exp.add_argument("--context", type=int, default=0, metavar="TOKENS")
    exp.add_argument(
        "--max-zone",
        metavar="ZONE",
        help="fail (exit 3) if any candidate is less private than ZONE",
    )
    exp.add_argument(
        "--discover",
        action="store_true",
        help="first ask the providers with 'discover: true' which models they serve "
        "(contacts them; without it only the file's models are known)",
    )
    exp.add_argument(
        "--spent",
        action="append",
        default=[],
        metavar="BUDGET=USD",
        help="assume BUDGET has spent USD in its current period (repeatable; default: 0)",
    )
    exp.add_argument("--format", choices=["text", "json"], default="text")
    exp.set_defaults(func=cmd_explain)

    init = sub.add_parser(
        "init",
        help="write a starter config from the model servers that answer",
        description="Asks Ollama (127.0.0.1:11434), llama.cpp (8080), LM Studio (1234) and "
        "vLLM (8000) on this machine and each --probe host for their models, adds OpenAI and "
        "Anthropic when OPENAI_API_KEY / ANTHROPIC_API_KEY are set (as ${VAR} references), "
        "and writes a commented config that passes `nexus check`.",
    )
    init.add_argument("path", nargs="?", default="nexus.yaml", metavar="PATH")
    init.add_argument(
        "--probe",
        action="append",
        default=[],
        metavar="HOST:PORT",
        help="also ask this server (Ollama or OpenAI-compatible; repeatable)",
    )
    init.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    init.add_argument(
        "--no-scan", action="store_true", help="skip the usual local ports; ask only --probe hosts"
    )
    init.add_argument(
        "--timeout", type=float, default=1.5, metavar="S", help="seconds per probe (default 1.5)"
    )
    init.set_defaults(func=cmd_init)
    spend = sub.add_parser(
        "spend", help="what was spent this day, week or month, and each budget's state"
    )
    spend.add_argument("-c", "--config", default=_default_config())
    spend.add_argument("--period", choices=["day", "week", "month"], default="day")
    spend.add_argument("--format", choices=["text", "json"], default="text")
    spend.set_defaults(func=cmd_spend)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status
