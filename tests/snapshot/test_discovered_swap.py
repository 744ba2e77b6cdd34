"""The config holder serves discovered lists: swapped like a reload, kept across reloads."""

from __future__ import annotations

from pathlib import Path

from router.routing.discovered import DiscoveredModel, Discovery
from router.routing.table import RoutingTable
from router.snapshot.holder import ConfigHolder, ReloadResult

URL = "http://127.0.0.1:9"

FILE = """\
version: 1
providers:
  - {{name: box, kind: ollama, base_url: "{url}", discover: true}}
routes:
  - {{model: chat, targets: [box/qwen3:8b]}}
"""


def _holder(tmp_path: Path, url: str = URL) -> ConfigHolder:
    path = tmp_path / "nexus.yaml"
    path.write_text(FILE.format(url=url))
    return ConfigHolder.open(path, env={})


def _found(*names: str, url: str = URL) -> Discovery:
    return Discovery(url, tuple(DiscoveredModel(n) for n in names))


def test_a_new_list_swaps_a_table_with_the_same_file_version(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    before = holder.current
    assert before.routes["chat"].targets == ()
    seen: list[RoutingTable] = []
    holder.subscribe(seen.append)
    assert holder.discovered("box", _found("qwen3:8b", "llama3:latest")) is True
    after = holder.current
    assert after is not before
    assert seen == [after]
    assert after.version == before.version
    [warning] = before.warnings
    assert (warning.line, "does not serve model 'qwen3:8b' now" in warning.message) == (5, True)
    assert after.warnings == ()  # the list settled it
    assert [t.key for t in after.routes["chat"].targets] == ["box/qwen3:8b"]
    assert set(after.public_models) == {"chat", "qwen3:8b", "llama3:latest"}
    assert before.routes["chat"].targets == ()  # a request holding the old table keeps it

    assert holder.discovered("box", _found("qwen3:8b", "llama3:latest")) is False  # unchanged
    assert holder.current is after
    assert len(seen) == 1

    holder.discovered("box", _found("llama3:latest"))
    assert holder.current.routes["chat"].targets == ()
    [again] = holder.current.warnings
    assert again.message == warning.message
    assert "qwen3:8b" not in holder.current.public_models


def test_a_reload_keeps_what_was_discovered(tmp_path: Path) -> None:
    holder = _holder(tmp_path)
    holder.discovered("box", _found("qwen3:8b"))
    holder.path.write_text(FILE.format(url=URL) + "  - {model: other, targets: [qwen3:8b]}\n")
    assert holder.reload() is ReloadResult.RELOADED
    assert [t.key for t in holder.current.routes["other"].targets] == ["box/qwen3:8b"]
    assert holder.current.warnings == ()  # the targets exist: no "not served now" warning


def test_a_list_from_the_old_address_is_dropped_when_the_file_moves_the_provider(
    tmp_path: Path,
) -> None:
    """Not refused as "leaves no routable model": the new address is probed next."""
    holder = _holder(tmp_path)
    holder.discovered("box", _found("qwen3:8b"))
    holder.path.write_text(FILE.format(url="http://127.0.0.1:10"))
    assert holder.reload() is ReloadResult.RELOADED
    assert dict(holder.current.providers["box"].models) == {}
