"""Dependency types handlers declare; Litestar injects them without re-validating them."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Dependency

from router.config.store import ConfigStore
from router.routing.table import RoutingTable

__all__ = ["StoreDep", "TableDep"]

#: The config store (the one mutable holder): admin handlers only.
StoreDep = Annotated[ConfigStore, Dependency(skip_validation=True)]
#: The table this request uses, read once from the store when the request starts.
TableDep = Annotated[RoutingTable, Dependency(skip_validation=True)]
