"""The one cattrs converter between plain config data and the attrs model."""

from __future__ import annotations

from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.strategies import configure_tagged_union

from router.config.diagnostics import Diagnostic, parse_path
from router.config.model import ModelConfig, NexusConfig, ProviderConfig

__all__ = ["StructureError", "structure_config", "unstructure_config", "unstructure_provider"]

_converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
# A model entry remembers which keys the file wrote (`ModelConfig.given`), so that a
# declared value wins over a discovered one field by field; the set is never a key.
_structure_model = make_dict_structure_fn(
    ModelConfig, _converter, _cattrs_forbid_extra_keys=True, given=override(omit=True)
)


def _model(data: Any, cls: type[ModelConfig]) -> ModelConfig:
    model = _structure_model(data, cls)
    return attrs.evolve(model, given=frozenset(data))


_converter.register_structure_hook(ModelConfig, _model)
_converter.register_unstructure_hook(
    ModelConfig, make_dict_unstructure_fn(ModelConfig, _converter, given=override(omit=True))
)

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
