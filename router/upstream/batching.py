"""Coalesce concurrent embedding calls to one provider and model into one upstream call.

Callers that arrive within ``routing.embeddings_batch_ms`` of each other and were
routed the same way share one request; each gets exactly its own vectors
(re-indexed from 0) and a share of the usage proportional to its input size.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.dialects.chat.exchange import EmbeddingsExchange
from router.routing.decision import RouteDecision
from router.routing.pricing import cost_usd
from router.routing.table import RoutingTable
from router.upstream.dispatch import Dispatcher, Served

__all__ = ["EmbeddingBatcher"]

_decode = msgspec.json.decode
_encode = msgspec.json.Encoder().encode
MAX_INPUTS = 512  # a batch is sent at once when it reaches this many inputs


@attrs.define(eq=False)
class _Batch:
    table: RoutingTable
    decision: RouteDecision
    template: dict[str, Any]
    callers: list[tuple[list[str], asyncio.Future[Served]]] = attrs.Factory(list)
    timer: asyncio.TimerHandle | None = None

    @property
    def size(self) -> int:
        return sum(len(inputs) for inputs, _ in self.callers)


def _split_usage(total: int, weights: list[int]) -> list[int]:
    whole = sum(weights) or 1
    shares = [total * w // whole for w in weights]
    if shares:
        shares[-1] += total - sum(shares)  # the rounding remainder, so shares add up exactly
    return shares


@attrs.define
class EmbeddingBatcher:
    dispatcher: Dispatcher
    _pending: dict[tuple[Any, ...], _Batch] = attrs.Factory(dict)
    batches_sent: int = 0

    async def embed(
        self, table: RoutingTable, decision: RouteDecision, body: Mapping[str, Any]
    ) -> Served:
        window = table.settings.embeddings_batch_ms / 1000
        given = body.get("input")
        inputs = [given] if isinstance(given, str) else given
        if (
            window <= 0
            or not isinstance(inputs, list)
            or not inputs
            or not all(isinstance(x, str) for x in inputs)
        ):
            return await self.dispatcher.run(table, decision, EmbeddingsExchange(body))
        template = {k: v for k, v in body.items() if k != "input"}
        key = (
            table.version,
            decision.route.name,
            tuple(c.target.key for c in decision.candidates),
            _encode(template),
        )  # same model, encoding, dimensions, user
        loop = asyncio.get_running_loop()
        batch = self._pending.get(key)
        if batch is None:
            batch = self._pending[key] = _Batch(table, decision, template)
            batch.timer = loop.call_later(window, self._launch, key)
        future: asyncio.Future[Served] = loop.create_future()
        batch.callers.append((list(inputs), future))
        if batch.size >= MAX_INPUTS:
            self._launch(key)
        return await future

    def _launch(self, key: tuple[Any, ...]) -> None:
        batch = self._pending.pop(key, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        asyncio.get_running_loop().create_task(self._send(batch), name="nexus-embeddings-batch")

    async def _send(self, batch: _Batch) -> None:
        merged = {**batch.template, "input": [x for inputs, _ in batch.callers for x in inputs]}
        self.batches_sent += 1
        try:
            served = await self.dispatcher.run(
                batch.table, batch.decision, EmbeddingsExchange(merged)
            )
            assert served.body is not None
            answer = _decode(served.body)
            data = sorted(answer["data"], key=lambda item: item["index"])
            if len(data) != len(merged["input"]):
                raise ValueError("the provider returned a different number of vectors")
        except BaseException as exc:  # every caller gets the failure
            for _, future in batch.callers:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        usage = answer.get("usage") or {}
        weights = [sum(len(x) for x in inputs) for inputs, _ in batch.callers]
        prompt = _split_usage(int(usage.get("prompt_tokens") or 0), weights)
        total = _split_usage(int(usage.get("total_tokens") or 0), weights)
        offset = 0
        for i, (inputs, future) in enumerate(batch.callers):
            own = [
                {**item, "index": j} for j, item in enumerate(data[offset : offset + len(inputs)])
            ]
            offset += len(inputs)
            body = {
                **answer,
                "data": own,
                "usage": {"prompt_tokens": prompt[i], "total_tokens": total[i]},
            }
            if not future.done():
                cost = (
                    None
                    if served.cost_usd is None
                    else cost_usd(served.candidate.target.spec.price, prompt[i], 0)
                )
                future.set_result(
                    Served(
                        served.candidate,
                        served.entry,
                        served.attempts,
                        body=_encode(body),
                        cost_usd=cost,
                    )
                )
