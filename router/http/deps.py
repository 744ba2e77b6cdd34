"""Dependency types handlers declare; Litestar injects them without re-validating them."""

from __future__ import annotations

from litestar.params import SkipValidation

from router.auth.keys import Identity
from router.config.store import ConfigStore
from router.routing.table import RoutingTable
from router.runtime.services import Services

__all__ = ["IdentityDep", "ServicesDep", "StoreDep", "TableDep"]

#: The config store (the one mutable holder): admin handlers only.
StoreDep = SkipValidation[ConfigStore]
#: The table this request uses, read once from the store when the request starts.
TableDep = SkipValidation[RoutingTable]
#: Run-time services: health, dispatcher, the shared httpx client.
ServicesDep = SkipValidation[Services]
#: The caller (None when auth is off), resolved by the guard.
IdentityDep = SkipValidation[Identity | None]
