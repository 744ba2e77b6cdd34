"""Discovery's shell: a discovering provider's probe answer becomes a `Discovery`.

The health probe already fetched the model list; this asks the backend for what
the list leaves out (Ollama's ``/api/show``) once per model and revision, and
hands the result to the config holder, which compiles and swaps a new table. It
runs in the probe task, never on a request's path. A probe that fails changes
nothing: an unreachable backend keeps its last known list (and is unhealthy).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import attrs

from router.dialects import adapter_for
from router.dialects.base import UpstreamRequest
from router.errors import UpstreamError
from router.routing.discovered import DiscoveredModel, Discovery
from router.routing.table import ProviderEntry, RoutingTable
from router.upstream.transport import Pool, Timeouts

__all__ = ["Discoverer", "Publish", "discover_once"]

log = logging.getLogger("nexus.discovery")

#: The most one model's details may be (Ollama's answer carries the template and license).
_DETAIL_LIMIT = 4 * 1024 * 1024

#: The most a model list may be.
_LIST = 8 * 1024 * 1024

#: Where a provider's discovered models go (`ConfigHolder.adiscovered`).
Publish = Callable[[str, Discovery], Awaitable[object]]

_Key = tuple[str, str | None]  # (model name, revision)


@attrs.define
class Discoverer:
    """Follow discovering providers' model lists; remember each model's details."""

    pool: Pool
    publish: Publish
    #: Per provider (name and base URL): details already asked, by model and revision.
    _details: dict[tuple[str, str], dict[_Key, DiscoveredModel]] = attrs.Factory(dict)
    #: What was last published per provider, so an unchanged list costs no compile.
    _last: dict[str, Discovery] = attrs.Factory(dict)

    async def listed(self, entry: ProviderEntry, body: bytes, timeouts: Timeouts) -> None:
        """A probe of `entry` answered `body` (a model list): publish what it serves now.

        Raises ValueError (or kin) when `body` is no model list.
        """
        adapter = adapter_for(entry.kind)
        found = adapter.discovered(body)
        known = self._details.setdefault((entry.name, entry.base_url), {})
        models = []
        for model in found:
            key = (model.name, model.revision)
            detailed = known.get(key)
            if detailed is None:
                detailed = await self._detail(entry, model, timeouts)
                if detailed is not None:
                    known[key] = detailed
            models.append(detailed or model)
        for key in set(known) - {(m.name, m.revision) for m in found}:
            del known[key]  # removed from the backend: ask again if it comes back
        discovery = Discovery(entry.base_url, tuple(models))
        if self._last.get(entry.name) != discovery:
            try:
                await self.publish(entry.name, discovery)
            except Exception:  # the probe loop must outlive any failure to serve a list
                log.exception("provider %s: the discovered models could not be served", entry.name)
                return
            self._last[entry.name] = discovery

    async def _detail(
        self, entry: ProviderEntry, model: DiscoveredModel, timeouts: Timeouts
    ) -> DiscoveredModel | None:
        """`model` with its details, or None when they could not be had (asked next probe)."""
        adapter = adapter_for(entry.kind)
        request = adapter.detail_request(entry, model.name)
        if request is None:
            return model
        try:
            answer = await self.pool.send(request, entry, timeouts, _DETAIL_LIMIT)
            if answer.status >= 400:
                raise ValueError(f"HTTP {answer.status}")
            return adapter.detailed(model, answer.body)
        except (UpstreamError, ValueError, TypeError, AttributeError) as exc:
            log.warning(
                "provider %s: no details for model %s yet: %s",
                entry.name,
                model.name,
                getattr(exc, "message", None) or str(exc)[:200],
            )
            return None

    def forget(self, name: str) -> None:
        """The provider went away or changed: its details may no longer hold."""
        for key in [k for k in self._details if k[0] == name]:
            del self._details[key]
        self._last.pop(name, None)


async def discover_once(table: RoutingTable, *, timeout_s: float) -> dict[str, Discovery]:
    """Ask every enabled discovering provider of `table` once (``nexus explain --discover``).

    A provider that does not answer with a model list is left out, as a failed probe is.
    """
    found: dict[str, Discovery] = {}

    async def publish(name: str, discovery: Discovery) -> None:
        found[name] = discovery

    pool = Pool.create()
    discoverer = Discoverer(pool, publish)
    timeouts = Timeouts(connect=timeout_s, idle=timeout_s)

    async def one(entry: ProviderEntry) -> None:
        url, headers = adapter_for(entry.kind).probe(entry)
        try:
            answer = await pool.send(UpstreamRequest("GET", url, headers), entry, timeouts, _LIST)
            if answer.status < 400:
                await discoverer.listed(entry, answer.body, timeouts)
        except (UpstreamError, ValueError, TypeError, AttributeError) as exc:
            log.warning("provider %s: no model list: %s", entry.name, exc)

    try:
        wanted = [e for e in table.providers.values() if e.discover and e.enabled]
        await asyncio.gather(*(one(e) for e in wanted))
    finally:
        await pool.close()
    return found
