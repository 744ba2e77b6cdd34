"""What a discovering provider's backend says it serves, and how that meets the file.

Pure values and one pure merge: probes (the shell) produce a `Discovery` per
provider; `compile_config` merges it with the provider's declared models and its
``model_defaults``. Precedence, field by field: what the file declares for that
model, then what the backend says, then ``model_defaults``, then the built-in default.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

import attrs

from router.config.model import ModelConfig, ModelDefaults, ProviderConfig, Tiers
from router.routing.table import ModelSpec

__all__ = ["DiscoveredModel", "Discovery", "discovered_specs", "exposed"]


@attrs.frozen
class DiscoveredModel:
    """One model as the backend describes it; None means "the backend does not say"."""

    name: str
    context_window: int | None = None
    vision: bool | None = None
    tools: bool | None = None
    embeddings: bool | None = None
    reasoning: bool | None = None
    #: The backend's version of the model (Ollama's digest), when it says.
    revision: str | None = None


@attrs.frozen
class Discovery:
    """A provider's model list as of one successful probe of `base_url`.

    `base_url` ties it to the backend that answered: after an edit points the
    provider elsewhere, a list from the old address is not served.
    """

    base_url: str
    models: tuple[DiscoveredModel, ...]


def exposed(name: str, include: Iterable[str] | None, exclude: Iterable[str]) -> bool:
    """Whether a discovered model passes the provider's include/exclude globs."""
    if include is not None and not any(fnmatch.fnmatchcase(name, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(name, p) for p in exclude)


_FLAGS = ("vision", "tools", "embeddings", "reasoning")


def _spec(
    found: DiscoveredModel, declared: ModelConfig | None, defaults: ModelDefaults
) -> ModelSpec:
    given = declared.given if declared is not None else frozenset()

    def pick(field: str, fallback: object) -> object:
        if field in given:
            return getattr(declared, field)
        said = getattr(found, field, None)
        if said is not None:
            return said
        default = getattr(defaults, field)
        return fallback if default is None else default

    flags = {field: bool(pick(field, False)) for field in _FLAGS}
    tiers = pick("tiers", Tiers())
    window = pick("context_window", None)
    description = pick("description", None)
    return ModelSpec(
        found.name,
        tiers if isinstance(tiers, Tiers) else Tiers(),
        window if isinstance(window, int) else None,
        flags["vision"],
        flags["tools"],
        flags["embeddings"],
        description if isinstance(description, str) else None,
        bool(pick("images", False)),
        bool(pick("documents", False)),
        reasoning=flags["reasoning"],
        discovered=declared is None,
    )


def discovered_specs(p: ProviderConfig, discovery: Discovery) -> dict[str, ModelSpec]:
    """The specs of the models `discovery` found that `p` serves, declared values winning.

    A found model that is also declared (by the same name, or without Ollama's
    implicit ``:latest``) keeps the declared name and is served whatever the
    globs say; the others are served when the globs expose them.
    """
    declared = {m.name: m for m in p.models}
    defaults = p.model_defaults or ModelDefaults()
    out: dict[str, ModelSpec] = {}
    for found in discovery.models:
        name = found.name
        if name not in declared and name.removesuffix(":latest") in declared:
            name = name.removesuffix(":latest")
        if name in declared:
            out[name] = _spec(attrs.evolve(found, name=name), declared[name], defaults)
        elif exposed(name, p.include, p.exclude):
            out[name] = _spec(found, None, defaults)
    return out
