"""The loading pipeline: bytes -> YAML -> schema -> model -> compiled `RoutingTable`.

Everything here is pure except `read_config_bytes`; nothing changes until a whole
table has been built, so a failure anywhere leaves the caller's snapshot alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

import attrs

from router.config.converter import StructureError, structure_config
from router.config.diagnostics import Diagnostic
from router.config.schema import schema_diagnostics
from router.config.source import SourceMap, YamlSyntaxError, parse_yaml
from router.errors import ConfigInvalid, ConfigUnavailable
from router.routing.compile import compile_config
from router.routing.discovered import Discovery
from router.routing.table import RoutingTable

__all__ = [
    "MAX_CONFIG_BYTES",
    "FileSnapshot",
    "digest_of",
    "load_bytes",
    "read_config_bytes",
    "read_settled",
    "still_on_disk",
]

#: A config this large is a mistake (a log file saved over it, a runaway generator);
#: the benchmark's 1,000-provider file is about 0.3 MB.
MAX_CONFIG_BYTES = 16 * 1024 * 1024


def digest_of(data: bytes) -> str:
    """Return the content digest that identifies a config version."""
    return hashlib.sha256(data).hexdigest()


@attrs.frozen
class FileSnapshot:
    """A file's bytes and what identifies that version on disk (device, inode, size, mtime)."""

    data: bytes
    identity: tuple[int, int, int, int]


def read_config_bytes(path: Path) -> bytes:
    """Read a config file (following symlinks); raise `ConfigUnavailable` with the reason."""
    return _snapshot(path).data


def read_settled(
    path: Path,
    *,
    settle_s: float = 0.02,
    attempts: int = 50,
    sleep: Callable[[float], None] = time.sleep,
) -> FileSnapshot:
    """Read `path` until two reads `settle_s` apart agree, so a file being written is not taken.

    An editor or a ``cat > file`` may be between its truncate and its last write;
    the file must stay the same for `settle_s` before its bytes are parsed.
    """
    snapshot = _snapshot(path)
    for _ in range(attempts):
        sleep(settle_s)
        again = _snapshot(path)
        if again == snapshot:
            return snapshot
        snapshot = again
    raise ConfigUnavailable(
        f"{path}: the file kept changing for {settle_s * attempts:g}s; "
        "not loading a file that is still being written"
    )


def still_on_disk(path: Path, snapshot: FileSnapshot) -> bool:
    """Whether `path` still holds exactly `snapshot` (same inode, size, mtime and bytes)."""
    try:
        return _snapshot(path) == snapshot
    except ConfigUnavailable:
        return False


def _snapshot(path: Path) -> FileSnapshot:
    try:
        with path.open("rb") as f:
            st = os.fstat(f.fileno())
            data = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError as exc:
        raise ConfigUnavailable(f"{path}: config file not found") from exc
    except IsADirectoryError as exc:
        raise ConfigUnavailable(f"{path}: is a directory, expected a YAML file") from exc
    except OSError as exc:
        raise ConfigUnavailable(f"{path}: cannot read config file: {exc.strerror}") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigUnavailable(
            f"{path}: the file is larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB, "
            "the most a config may be"
        )
    return FileSnapshot(data, (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))


def _locate(
    diagnostics: Sequence[Diagnostic], source: SourceMap, filename: str
) -> list[Diagnostic]:
    out = []
    for d in diagnostics:
        mark = source.locate(d.path, key=d.at_key) if d.line is None else None
        if mark is None:
            out.append(attrs.evolve(d, file=filename))
        else:
            out.append(attrs.evolve(d, file=filename, line=mark.line, column=mark.column))
    return sorted(out, key=lambda d: (d.line or 0, d.column or 0, d.severity))


def load_bytes(
    data: bytes,
    *,
    source: str,
    env: Mapping[str, str],
    loaded_at: float,
    discovered: Mapping[str, Discovery] = MappingProxyType({}),
) -> RoutingTable:
    """Build a table from a config file's bytes, or raise `ConfigInvalid` with every error.

    `discovered`: what discovering providers' backends listed so far (by provider name).
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text: invalid byte 0x{data[exc.start]:02x}"
        raise ConfigInvalid([Diagnostic("error", message, file=source, line=line)]) from exc
    try:
        plain, source_map = parse_yaml(text, source)
    except YamlSyntaxError as exc:
        raise ConfigInvalid(exc.diagnostics) from exc
    problems = schema_diagnostics(plain)
    if problems:
        raise ConfigInvalid(_locate(problems, source_map, source))
    try:
        config = structure_config(plain)
        table = compile_config(
            config,
            env=env,
            digest=digest_of(data),
            loaded_at=loaded_at,
            source=source,
            discovered=discovered,
        )
    except StructureError as exc:
        raise ConfigInvalid(_locate(exc.diagnostics, source_map, source)) from exc
    except ConfigInvalid as exc:
        raise ConfigInvalid(_locate(exc.diagnostics, source_map, source)) from exc
    return attrs.evolve(table, warnings=tuple(_locate(table.warnings, source_map, source)))
