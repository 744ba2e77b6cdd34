"""Each file under broken/ has one defect; its first line says the message and where it points."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.errors import ConfigInvalid
from router.snapshot.loader import load_bytes

BROKEN = sorted((Path(__file__).parent / "broken").glob("*.yaml"))


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_broken_config_reports_message_and_location(path: Path) -> None:
    data = path.read_bytes()
    expected = data.split(b"\n", 1)[0].decode().removeprefix("# expect: ")
    with pytest.raises(ConfigInvalid) as info:
        load_bytes(data, source=str(path), env={}, loaded_at=0.0)
    formatted = [d.format() for d in info.value.diagnostics if d.severity == "error"]
    # Location-less defects (an empty file) print as "file: error: ..."
    wanted = f"{path}:{expected}" if expected[0].isdigit() else f"{path}: {expected}"
    assert any(line.startswith(wanted) for line in formatted), formatted


def test_every_error_of_a_file_is_reported_together() -> None:
    """Not only the first error: three independent mistakes give three messages."""
    text = b"""\
version: 1
provders: []
providers:
  - name: a
    kind: olama
    base_url: http://x
    timeout: 3
"""
    with pytest.raises(ConfigInvalid) as info:
        load_bytes(text, source="f.yaml", env={}, loaded_at=0.0)
    lines = sorted(d.line or 0 for d in info.value.diagnostics)
    assert lines == [2, 5, 7]
    messages = " | ".join(d.message for d in info.value.diagnostics)
    assert "did you mean 'providers'" in messages
    assert "did you mean 'ollama'" in messages
    assert "did you mean 'timeout_s'" in messages


def test_semantic_errors_are_all_reported() -> None:
    text = b"""\
version: 1
providers:
  - {name: a, kind: ollama, base_url: "http://x", models: [{name: m}]}
routes:
  - {model: r1, targets: [a/nope]}
  - {model: r2, targets: [zzz]}
  - {model: r3, targets: [a/m], zone: secret}
"""
    with pytest.raises(ConfigInvalid) as info:
        load_bytes(text, source="f.yaml", env={}, loaded_at=0.0)
    assert [d.line for d in info.value.diagnostics if d.severity == "error"] == [5, 6, 7]
