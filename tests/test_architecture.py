"""The packages form layers that import in one direction only: down.

From the bottom: the exception tree and small utilities; the config file format;
keys; routing (the compiled table and the pure decision); the live snapshot and
the wire dialects; the database; the upstream client and everything that talks
to providers; the services; the HTTP layer; the composition root; the command
line. A module may import its own package and any layer below its own, never one
above or beside it. Imports are read from the source (the functions' too).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "router"

#: Each package (or top-level module) of router/ and its layer, bottom first.
LAYERS: dict[str, int] = {
    "__init__": 0,
    "errors": 0,
    "redact": 0,
    "logs": 0,
    "gc_policy": 0,
    "ids": 0,
    "config": 1,
    "auth": 2,
    "routing": 3,
    "snapshot": 4,
    "dialects": 4,
    "store": 5,
    "upstream": 6,
    "services": 7,
    "admin": 7,
    "http": 8,
    "app": 9,
    "cli": 10,
    "__main__": 11,
}


def unit(module: str) -> str:
    """``router.upstream.health`` -> ``upstream``; ``router.errors`` -> ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name == "router" or name.startswith("router.")]


def modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def test_every_package_has_a_layer() -> None:
    units = {
        unit("router." + ".".join(p.relative_to(ROOT).with_suffix("").parts)) for p in modules()
    }
    assert units <= set(LAYERS), f"give these a layer: {sorted(units - set(LAYERS))}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT.parent)))
def test_imports_only_run_down(path: Path) -> None:
    here = unit("router." + ".".join(path.relative_to(ROOT).with_suffix("").parts))
    back = [
        f"{path.relative_to(ROOT.parent)}:{line} imports {name} ({unit(name)}, layer "
        f"{LAYERS[unit(name)]}) from layer {LAYERS[here]}"
        for line, name in imports(path)
        if unit(name) != here and LAYERS[unit(name)] >= LAYERS[here] and name != "router"
    ]
    assert not back, "\n".join(back)
