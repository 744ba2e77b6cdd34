"""The ``nexus`` command: ``serve``, ``check`` and ``explain``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from router.config.diagnostics import Diagnostic
from router.config.loader import load_bytes, read_config_bytes
from router.errors import ConfigInvalid, ConfigUnavailable

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
    results = {path: _check_one(path) for path in args.paths}
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


def cmd_serve(args: argparse.Namespace) -> int:
    """Load the config (failing fast with `check`'s messages) and serve it with uvicorn."""
    import uvicorn

    from router.config.store import ConfigStore
    from router.http.app import AppOptions, create_app

    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        store = ConfigStore.open(args.config)
    except ConfigInvalid as exc:
        for d in exc.diagnostics:
            print(d.format(), file=sys.stderr)
        print(f"{args.config}: not starting: the config is invalid", file=sys.stderr)
        return 1
    except ConfigUnavailable as exc:
        print(f"nexus: {exc.message}", file=sys.stderr)
        return 1
    for warning in store.current.warnings:
        logging.getLogger("nexus.config").warning("%s", warning.format())
    server = store.current.config.server
    host = args.host or server.host
    port = args.port or server.port
    app = create_app(store, options=AppOptions(watch=not args.no_watch))
    logging.getLogger("nexus").info(
        "serving %s (version %s) on http://%s:%d", store.path, store.current.version, host, port
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=args.log_level,
        access_log=False,
        http="httptools",
        loop="uvloop" if sys.platform != "win32" else "asyncio",
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nexus", description=__doc__)
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
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(func=cmd_serve)

    check = sub.add_parser("check", help="validate config files (for CI)")
    check.add_argument("paths", nargs="+", metavar="PATH")
    check.add_argument("--format", choices=["text", "json"], default="text")
    check.set_defaults(func=cmd_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    status: int = args.func(args)
    return status
