"""The X-Nexus-* headers every routed response carries."""

from __future__ import annotations

from router.routing.pricing import usd_text
from router.routing.table import RoutingTable
from router.upstream.dispatch import Served

__all__ = ["routing_headers"]


def routing_headers(table: RoutingTable, served: Served) -> dict[str, str]:
    """The X-Nexus-* headers every routed response carries."""
    target = served.candidate.target
    headers = {
        "x-nexus-backend": target.provider,
        "x-nexus-model": target.key,
        "x-nexus-route-reason": served.candidate.reason.value,
        "x-nexus-privacy-zone": target.zone,
        "x-nexus-config-version": table.version,
    }
    if served.cost_usd is not None:  # a whole answer whose usage is known (a stream's comes late)
        headers["x-nexus-cost-usd"] = usd_text(served.cost_usd)
        if served.cost_estimated:
            headers["x-nexus-cost-estimated"] = "true"
    return headers
