"""Every run-time service a request may use, built once per app by `router.app.assemble`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs

from router.services.conversations import ConversationsService
from router.services.metrics import Metrics
from router.services.responses import ResponsesService
from router.services.spend import SpendLedger
from router.snapshot.holder import ConfigHolder
from router.store import Store
from router.upstream.batching import EmbeddingBatcher
from router.upstream.cache import ResponseCache
from router.upstream.dispatch import Dispatcher
from router.upstream.health import HealthMonitor
from router.upstream.queue import CapacityQueues
from router.upstream.runner import RouteRunner
from router.upstream.shared import SharedState
from router.upstream.transport import Pool

__all__ = ["Ping", "Services"]

#: A readiness check registered with the service it checks: True when it answers.
Ping = Callable[[], Awaitable[bool]]


@attrs.frozen
class Services:
    """Typed collaborators, all present: the app's lifespan builds them before any request."""

    holder: ConfigHolder
    store: Store
    pool: Pool
    shared: SharedState
    health: HealthMonitor
    queues: CapacityQueues
    runner: RouteRunner
    dispatcher: Dispatcher
    cache: ResponseCache
    embeddings: EmbeddingBatcher
    responses: ResponsesService
    conversations: ConversationsService
    metrics: Metrics
    #: Spend and budgets (the ledger; `report` is what /admin/spend shows).
    spend: SpendLedger
    #: What /ready asks, by name (declared where each service is registered).
    pings: tuple[tuple[str, Ping], ...] = ()
