"""Edit the providers of a config file's text, changing only the edited provider's lines.

ruamel.yaml's round-trip mode edits the document (keeping the comments, quoting
and ``${VAR}`` references inside the changed block) and locates every provider
block; the new text is the original bytes with just that block spliced in. A
check that the spliced text parses to what ruamel wrote guards the splice.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.util import load_yaml_guess_indent

from router.errors import RequestInvalid

__all__ = ["add_provider", "remove_provider", "update_provider"]

_KEY_LINE = re.compile(r"^(\s*)[^\s#-][^:#]*:(\s|$)")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@attrs.frozen
class _Doc:
    yaml: YAML
    data: CommentedMap
    lines: list[str]


def _mapping_indent(lines: list[str]) -> int:
    """The indentation of nested mapping keys (``server:`` then ``  host:``); 2 if unseen."""
    for i, line in enumerate(lines):
        if (
            line
            and not line[0].isspace()
            and line.rstrip().endswith(":")
            and not line.startswith("#")
        ):
            for nxt in lines[i + 1 :]:
                if not nxt.strip() or nxt.lstrip().startswith("#"):
                    continue
                width = len(nxt) - len(nxt.lstrip())
                if width and not nxt.lstrip().startswith("-"):
                    return width
                break
    return 2


def _load(text: str) -> _Doc:
    _, sequence, offset = load_yaml_guess_indent(text)
    lines = text.splitlines(keepends=True)
    rt = YAML()
    rt.preserve_quotes = True
    rt.width = 4096
    rt.indent(mapping=_mapping_indent(lines), sequence=sequence or 2, offset=offset or 0)
    data = rt.load(text)
    return _Doc(rt, data, lines)


def _dump(doc: _Doc) -> str:
    out = io.StringIO()
    doc.yaml.dump(doc.data, out)
    return out.getvalue()


def _is_filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _ranges(doc: _Doc) -> list[tuple[int, int]]:
    """[start, end) line ranges of each provider block, without the comments that lead the next."""
    seq = doc.data["providers"]
    keys = list(doc.data)
    after = keys[keys.index("providers") + 1 :]
    section_end = min((doc.data.lc.key(k)[0] for k in after), default=len(doc.lines))
    starts = []
    for i in range(len(seq)):
        line = seq.lc.item(i)[0]
        while line > 0 and doc.lines[line - 1].strip() == "-":  # "-" alone on its own line
            line -= 1
        starts.append(line)
    ranges = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else section_end
        while end > start + 1 and _is_filler(doc.lines[end - 1]):
            end -= 1
        ranges.append((start, end))
    return ranges


def _block_style(doc: _Doc) -> bool:
    """Make an empty or flow-style ``providers`` a block sequence; True when it was changed."""
    seq = doc.data.get("providers")
    if not isinstance(seq, CommentedSeq):
        doc.data["providers"] = seq = CommentedSeq(seq or [])
    if seq.fa.flow_style() or not seq:
        seq.fa.set_block_style()
        return True
    return False


def _leading_comments(lines: list[str], start: int, floor: int) -> int:
    """Move `start` up over the comment lines directly above it (they describe that block)."""
    while start > floor and lines[start - 1].strip().startswith("#"):
        start -= 1
    return start


def _key_ranges(doc: _Doc, index: int, block_range: tuple[int, int]) -> list[tuple[str, int, int]]:
    """(key, start, end) line ranges of each key of provider `index`, leading comments included."""
    block = doc.data["providers"][index]
    start, end = block_range
    keys = list(block)
    firsts = [block.lc.key(k)[0] for k in keys]
    out = []
    for i, key in enumerate(keys):
        key_start = _leading_comments(doc.lines, firsts[i], start) if i else start
        key_end = firsts[i + 1] if i + 1 < len(keys) else end
        key_end = _leading_comments(doc.lines, key_end, firsts[i] + 1)
        while key_end > firsts[i] + 1 and not doc.lines[key_end - 1].strip():
            key_end -= 1
        out.append((key, key_start, key_end))
    return out


def _dash(line: str, column: int, first: bool) -> str:
    """Give a key line the sequence item's ``- `` marker, or take it away."""
    marker = line[column : column + 2]
    if first and marker == "  ":
        return line[:column] + "- " + line[column + 2 :]
    if not first and marker == "- ":
        return line[:column] + "  " + line[column + 2 :]
    return line


def _shift(lines: list[str], delta: int) -> list[str]:
    """Indent `lines` by `delta` columns (out, when negative)."""
    if delta > 0:
        return [" " * delta + line if line.strip() else line for line in lines]
    if delta < 0:
        return [line[-delta:] if line[:-delta].isspace() else line for line in lines]
    return lines


def _merge_keys(
    doc: _Doc, new: _Doc, index: int, changed: frozenset[str], delta: int
) -> list[str] | None:
    """The updated block: original lines for untouched keys, new renderings for changed ones.

    Re-rendering the whole block would rewrite flow-style lines nobody touched
    (``[ {name: a} ]`` becomes ``[{name: a}]``). None when the block itself is one
    flow mapping (then the whole block is taken from the new rendering).
    """
    if doc.data["providers"][index].fa.flow_style():
        return None
    old_ranges = {k: (a, b) for k, a, b in _key_ranges(doc, index, _ranges(doc)[index])}
    new_ranges = _key_ranges(new, index, _ranges(new)[index])
    column = doc.data["providers"].lc.item(index)[1] - 2  # where the "- " marker stands
    out: list[str] = []
    for position, (key, a, b) in enumerate(new_ranges):
        if key in old_ranges and key not in changed:
            lines = doc.lines[slice(*old_ranges[key])]
        else:
            lines = _shift(new.lines[a:b], delta)
        if not lines:
            continue
        first = next(i for i, line in enumerate(lines) if not _is_filler(line))
        lines = list(lines)
        lines[first] = _dash(lines[first], column, position == 0)
        out += lines
    return out


def _splice(
    text: str, edit: Callable[[_Doc], tuple[str, int]], changed: frozenset[str] = frozenset()
) -> str:
    doc = _load(text)
    restyled = _block_style(doc)
    before = _ranges(doc) if not restyled else []
    section = doc.data.lc.key("providers")[0] + 1 if not restyled else 0
    column = doc.data["providers"].lc.item(0)[1] if not restyled else 0
    action, index = edit(doc)
    dumped = _dump(doc)
    try:
        new = _load(dumped)
    except YAMLError as exc:  # a value ruamel writes but cannot read back
        raise RequestInvalid(f"The provider cannot be written as YAML: {exc}") from exc
    if restyled:  # the providers section itself changed shape: take ruamel's rendering of it
        return dumped
    after = _ranges(new)
    lines = doc.lines
    # ruamel may guess the file's indentation wrong (comments confuse it): new lines are
    # shifted to stand where the file's own provider blocks stand.
    delta = column - new.data["providers"].lc.item(index)[1] if action != "remove" else 0
    if action == "update":
        start, end = before[index]
        b_start, b_end = after[index]
        merged = _merge_keys(_load(text), new, index, changed, delta)
        block = _shift(new.lines[b_start:b_end], delta) if merged is None else merged
        result = lines[:start] + block + lines[end:]
    elif action == "add":
        _, end = before[-1]
        b_start, b_end = after[index]
        block = _shift(new.lines[b_start:b_end], delta)
        last_start = before[-1][0]
        if last_start > 0 and not lines[last_start - 1].strip():
            block = ["\n", *block]  # the file separates provider blocks with a blank line
        if not lines[end - 1].endswith("\n"):
            block = ["\n", *block]
        result = lines[:end] + block + lines[end:]
    else:  # remove, with the comment lines that introduce the block
        start, end = before[index]
        start = _leading_comments(lines, start, section)
        if start == section or not lines[start - 1].strip():
            while end < len(lines) and not lines[end].strip():
                end += 1  # drop the blank separator too, so two blank runs do not merge
        result = lines[:start] + lines[end:]
    spliced = "".join(result)
    if yaml.safe_load(spliced) != yaml.safe_load(dumped):  # pragma: no cover - a guard, not a path
        return dumped
    return spliced


def _plain(value: Any, key: str | None = None) -> Any:
    """Convert API values into round-trip YAML nodes; tiers are written ``{reasoning: 7}``."""
    if isinstance(value, Mapping):
        node = CommentedMap((k, _plain(v, k)) for k, v in value.items())
        # Flow style only for plain keys: ruamel writes {:latest: 1}, which it cannot read.
        if key == "tiers" and all(isinstance(k, str) and _PLAIN_KEY.match(k) for k in value):
            node.fa.set_flow_style()
        return node
    if isinstance(value, list):
        return CommentedSeq(_plain(v) for v in value)
    return value


def add_provider(text: str, provider: Mapping[str, Any]) -> str:
    """Append a provider block after the last one."""

    def edit(doc: _Doc) -> tuple[str, int]:
        seq = doc.data["providers"]
        seq.append(_plain(provider))
        return "add", len(seq) - 1

    return _splice(text, edit)


def update_provider(
    text: str, index: int, changes: Mapping[str, Any], removals: frozenset[str] = frozenset()
) -> str:
    """Set `changes` and delete `removals` in provider `index`; other keys stay as written."""

    def edit(doc: _Doc) -> tuple[str, int]:
        block = doc.data["providers"][index]
        for key in removals:
            block.pop(key, None)
        for key, value in changes.items():
            if key in block:
                if block[key] != value:
                    block[key] = _plain(value, key)
            else:
                # New keys go before `models` (usually the last, long sub-block), so they do
                # not land after the blank line or comments that trail the block.
                keys = list(block)
                position = keys.index("models") if "models" in keys else len(keys)
                if key == "id":
                    position = 0
                block.insert(position, key, _plain(value, key))
        return "update", index

    return _splice(text, edit, frozenset(changes) | removals)


def remove_provider(text: str, index: int) -> str:
    def edit(doc: _Doc) -> tuple[str, int]:
        del doc.data["providers"][index]
        return "remove", index

    return _splice(text, edit)
