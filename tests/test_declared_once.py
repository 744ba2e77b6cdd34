"""What is listed in several places is derived from one registry, and the lists agree."""

from __future__ import annotations

import inspect
import typing

from router import errors
from router.config.model import PROVIDER_KINDS, ProviderConfig
from router.config.schema import load_schema
from router.dialects import ADAPTERS
from router.http.errors import ERROR_MAP, spec_for
from router.http.openapi import document
from router.http.providers import KINDS


def test_provider_kinds_agree_everywhere() -> None:
    """Forgetting one list made the admin API answer 404 for a new kind, silently."""
    schema = load_schema()["$defs"]["provider"]["properties"]["kind"]["enum"]
    union = {cls.kind for cls in typing.get_args(ProviderConfig)}
    openapi_kinds = document()["components"]["schemas"]["Provider"]["properties"]["kind"]["enum"]
    assert set(PROVIDER_KINDS) == set(schema) == union == set(ADAPTERS) == KINDS
    assert set(openapi_kinds) == set(PROVIDER_KINDS)


def test_every_error_class_has_a_mapping_and_a_code() -> None:
    classes = [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.NexusError)
    ]
    assert len(classes) > 30
    for cls in classes:
        assert cls in ERROR_MAP, f"{cls.__name__} has no HTTP mapping of its own"
        assert cls.kind == cls.kind.lower(), cls
        if cls is not errors.NexusError and cls is not errors.AdminError:
            assert cls.__dict__.get("kind"), f"{cls.__name__} names no code of its own"
    assert spec_for(errors.UpstreamNotFound("x", provider="p", status=404)).status == 404
