"""Write-back edits change only what they must: untouched lines stay byte for byte."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
import yaml

from router.config.writeback import add_provider, remove_provider, update_provider
from router.errors import ConfigInvalid
from router.snapshot.loader import load_bytes

TEXT = """\
version: 1
providers:
  # the GPU box under the desk
  - name: gpu
    kind: ollama
    base_url: http://127.0.0.1:11434   # do not change
    models: [ {name: llama3,  tiers: { reasoning: 7 } }, {name: "qwen"} ]   # flow style
    rpm: 600

  # the cloud, for overflow
  - name: cloud
    kind: openai
    # rotated monthly
    api_key: ${KEY}
    base_url: 'https://api.example.com/v1'
    models:
      - { name: gpt, tools: true }
routes: []
"""


def diff(before: str, after: str) -> list[str]:
    return [
        line.rstrip("\n")
        for line in difflib.unified_diff(before.splitlines(True), after.splitlines(True), n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_an_update_rewrites_only_the_changed_keys_lines() -> None:
    """The flow-style models line nobody touched is not re-rendered."""
    out = update_provider(TEXT, 0, {"base_url": "http://10.0.0.2:11434", "description": "x"})
    assert diff(TEXT, out) == [
        "-    base_url: http://127.0.0.1:11434   # do not change",
        "+    base_url: http://10.0.0.2:11434    # do not change",  # the comment keeps its column
        "+    description: x",
    ]


def test_removing_a_key_takes_its_own_comment_with_it() -> None:
    out = update_provider(TEXT, 1, {}, frozenset({"api_key"}))
    assert diff(TEXT, out) == ["-    # rotated monthly", "-    api_key: ${KEY}"]


def test_a_new_first_key_takes_the_sequence_marker() -> None:
    out = update_provider(TEXT, 0, {"id": "4f2d8a62-5e2c-4e08-9b64-0c1d2e3f4a5b"})
    assert diff(TEXT, out) == [
        "-  - name: gpu",
        "+  - id: 4f2d8a62-5e2c-4e08-9b64-0c1d2e3f4a5b",
        "+    name: gpu",
    ]


@pytest.mark.parametrize("index", [0, 1])
def test_a_deleted_provider_takes_its_leading_comment(index: int) -> None:
    out = remove_provider(TEXT, index)
    gone = "# the GPU box under the desk" if index == 0 else "# the cloud, for overflow"
    assert gone in TEXT
    assert gone not in out
    assert "\n\n\n" not in out
    assert "providers:\n\n" not in out
    other = "# the cloud, for overflow" if index == 0 else "# the GPU box under the desk"
    assert other in out


@pytest.mark.parametrize("name", ["bad\x07name", "tab\there", "new\nline", "del\x7f"])
def test_provider_names_with_control_characters_are_refused(name: str) -> None:
    text = TEXT.replace("name: gpu\n", f"name: {json.dumps(name)}\n")  # YAML reads JSON strings
    with pytest.raises(ConfigInvalid) as info:
        load_bytes(text.encode(), source="f.yaml", env={}, loaded_at=0.0)
    assert "control characters" in str(info.value)


def test_a_provider_added_to_the_example_config_lines_up_with_the_others() -> None:
    """Comments fooled ruamel's indentation guess: the new block landed at column 0."""
    example = (Path(__file__).parents[2] / "examples" / "nexus.yaml").read_text()
    out = add_provider(example, {"name": "p", "kind": "openai", "base_url": "http://o/v1"})
    assert "\n  - name: p\n    kind: openai\n" in out
    load_bytes(out.encode(), source="f.yaml", env={}, loaded_at=0.0)


def test_tier_names_ruamel_cannot_write_in_flow_style_are_written_in_block_style() -> None:
    """{':latest': 1} became '{:latest: 1}', which no YAML parser reads back (a 500)."""
    out = add_provider(
        TEXT,
        {
            "name": "p",
            "kind": "openai",
            "base_url": "http://o/v1",
            "models": [{"name": "m", "tiers": {":latest": 1}}],
        },
    )
    assert yaml.safe_load(out)["providers"][-1]["models"][0]["tiers"] == {":latest": 1}
