"""The one dependency handlers declare: the request's context, injected without re-validation.

One dependency, not four: Litestar resolves several dependencies of a handler
concurrently in an anyio task group, which cost ~20% of the throughput of a
chat completion (bench/, side by side); a single one is resolved inline.
"""

from __future__ import annotations

import attrs
from litestar.params import SkipValidation

from router.auth.keys import Identity
from router.routing.table import RoutingTable
from router.services.registry import Services
from router.snapshot.holder import ConfigHolder

__all__ = ["ContextDep", "RequestContext"]


@attrs.frozen
class RequestContext:
    """What a handler works with; `table` is read once, when the request starts."""

    #: The table this request uses, kept to its end even if a reload happens meanwhile.
    table: RoutingTable
    #: Run-time services: health, dispatcher, the shared httpx client, the stores.
    services: Services
    #: The caller (None when auth is off), resolved by authorize().
    identity: Identity | None
    #: The config store (the one mutable holder): admin handlers only.
    holder: ConfigHolder


ContextDep = SkipValidation[RequestContext]
