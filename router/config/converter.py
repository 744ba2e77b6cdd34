"""The one cattrs converter between plain config data and the attrs model."""

from __future__ import annotations

from typing import Any

import cattrs
from cattrs.strategies import configure_tagged_union

from router.config.diagnostics import Diagnostic, parse_path
from router.config.model import NexusConfig, ProviderConfig

__all__ = ["StructureError", "structure_config", "unstructure_config", "unstructure_provider"]

_converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
configure_tagged_union(
    ProviderConfig,
    _converter,
    tag_generator=lambda cl: str(getattr(cl, "kind")),  # noqa: B009 (a ClassVar on each member)
    tag_name="kind",
)


class StructureError(Exception):
    """The data passed the schema but not the model; carries path-qualified diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics))
        self.diagnostics = diagnostics


def structure_config(data: Any) -> NexusConfig:
    """Build the model from schema-valid data; raise `StructureError` with located messages."""
    try:
        return _converter.structure(data, NexusConfig)
    except (cattrs.ClassValidationError, cattrs.IterableValidationError) as exc:
        diagnostics = []
        for line in cattrs.transform_error(exc):
            message, _, where = line.rpartition(" @ ")
            diagnostics.append(Diagnostic("error", message or line, parse_path(where)))
        raise StructureError(diagnostics) from exc


def unstructure_config(config: NexusConfig) -> dict[str, Any]:
    """Turn the model back into plain data (the shape the file has)."""
    data: dict[str, Any] = _converter.unstructure(config)
    return data


def unstructure_provider(provider: ProviderConfig) -> dict[str, Any]:
    """One provider as plain data, with its ``kind``."""
    data: dict[str, Any] = _converter.unstructure(provider, ProviderConfig)
    return data
