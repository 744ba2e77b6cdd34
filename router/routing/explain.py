"""Explain a routing decision: every candidate considered and why it was (not) chosen."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.routing.budgets import Budget, Spent, window
from router.routing.decision import (
    Health,
    ProviderState,
    Rejection,
    RequestFacts,
    RouteDecision,
    UnknownModel,
    Verdict,
    route,
)
from router.routing.table import RoutingTable, Target

__all__ = ["explain", "format_explanation"]

_WHY = {
    Verdict.TIER_REASONING: "reasoning tier below the route's min_tiers",
    Verdict.TIER_CODING: "coding tier below the route's min_tiers",
    Verdict.NO_VISION: "does not accept images",
    Verdict.NO_DOCUMENTS: "does not read documents (PDF)",
    Verdict.NO_TOOLS: "does not accept tools",
    Verdict.NO_EMBEDDINGS: "does not serve embeddings",
    Verdict.NO_IMAGES: "does not generate images",
    Verdict.CONTEXT_TOO_SMALL: "context window too small for this request",
    Verdict.HISTORY_BLOCKED: "less private zone, and overflow is fresh-only while the request has history",
    Verdict.OUT_OF_ZONE: "less private zone than the route requires, and overflow is never",
    Verdict.DISABLED: "provider disabled",
    Verdict.UNHEALTHY: "provider unhealthy",
    Verdict.NOT_PULLED: "the provider does not list this model (not pulled?)",
    Verdict.FULL: "provider at max_concurrency",
    Verdict.BUDGET: "behind a spent budget",
    Verdict.USABLE: "usable",
}


def _budgets(
    budgets: tuple[Budget, ...], route: str, t: Target, spent: Mapping[str, float], now: float
) -> list[dict[str, Any]]:
    """The state of every budget that covers `t` when it serves `route`."""
    out = []
    for b in budgets:
        if b.scope == "key" or not (t.provider in b.providers or b.value == route):
            continue
        usd = spent.get(b.name, 0.0)
        out.append(
            {
                "name": b.name,
                "limit_usd": b.limit_usd,
                "spent_usd": round(usd, 10),
                "exhausted": usd >= b.limit_usd,
                "resets_in_s": round(window(b.period, now)[1] - now),
            }
        )
    return out


def _considered(
    table: RoutingTable,
    rows: tuple[tuple[Target, Verdict, bool], ...],
    chosen: dict[str, str],
    model: str,
    spent: Mapping[str, float],
    now: float,
) -> list[dict[str, Any]]:
    out = []
    for t, verdict, alternative in rows:
        entry = table.providers[t.provider]
        why = _WHY[verdict]
        if verdict is Verdict.DISABLED and entry.disabled_reason:
            why = f"provider disabled: {entry.disabled_reason}"
        if verdict is Verdict.USABLE and t.key not in chosen:
            why = "usable, but not tried: strict routing uses only the route's own targets"
        row: dict[str, Any] = {
            "target": t.key,
            "zone": t.zone,
            "tiers": {"reasoning": t.spec.tiers.reasoning, "coding": t.spec.tiers.coding},
            "discovered": t.spec.discovered,
            "alternative": alternative,
            "verdict": verdict.value,
            "chosen_as": chosen.get(t.key),
            "why": why,
        }
        if table.budgets:
            states = _budgets(table.budgets, model, t, spent, now)
            row["budgets"] = states
            if verdict is Verdict.BUDGET:
                gone = [b["name"] for b in states if b["exhausted"]]
                row["why"] = f"behind spent budget {', '.join(gone)}"
        out.append(row)
    return out


def explain(
    table: RoutingTable,
    facts: RequestFacts,
    live: Mapping[str, ProviderState],
    *,
    down: tuple[str, ...] = (),
    spent: Mapping[str, float] | None = None,
    now: float = 0.0,
) -> dict[str, Any]:
    """Run `route()` (with `down` providers forced unhealthy) and describe the outcome.

    `spent`: USD spent per budget name in its current period (`now`, Unix seconds).
    """
    if down:
        live = {**live, **{name: ProviderState(Health.UNHEALTHY) for name in down}}
    spent = spent or {}
    result = route(table, facts, live, Spent.of(table.budgets, spent, now))
    base: dict[str, Any] = {
        "model": facts.model,
        "config_version": table.version,
        "request": {
            "has_history": facts.has_history,
            "conversation_messages": facts.conversation_messages,
            "needs_vision": facts.needs_vision,
            "needs_documents": facts.needs_documents,
            "needs_tools": facts.needs_tools,
            "context_tokens": facts.context_tokens,
        },
    }
    if isinstance(result, UnknownModel):
        return {**base, "outcome": "unknown_model", "available_models": list(result.available)}
    if isinstance(result, Rejection):
        return {
            **base,
            "outcome": "rejected",
            "rejection": result.context(),
            "message": result.message,
            "considered": _considered(table, result.considered, {}, facts.model, spent, now),
        }
    assert isinstance(result, RouteDecision)
    chosen = {c.target.key: c.reason.value for c in result.candidates}
    r = result.route
    return {
        **base,
        "outcome": "routed",
        "route": {
            "name": r.name,
            "pattern": r.name != facts.model,
            "zone": r.zone,
            "overflow": r.overflow.value,
            "direct": r.direct,
            "min_tiers": None
            if r.min_tiers is None
            else {"reasoning": r.min_tiers.reasoning, "coding": r.min_tiers.coding},
        },
        "preference": result.preference.value,
        "candidates": [
            {"target": c.target.key, "zone": c.target.zone, "reason": c.reason.value}
            for c in result.candidates
        ],
        "considered": _considered(table, result.considered, chosen, r.name, spent, now),
    }


def format_explanation(report: Mapping[str, Any]) -> str:
    """Render `explain`'s report for a terminal."""
    lines = [f"model {report['model']!r} (config version {report['config_version']})"]
    outcome = report["outcome"]
    if outcome == "unknown_model":
        lines.append("-> 404 model_not_found; available: " + ", ".join(report["available_models"]))
        return "\n".join(lines)
    if outcome == "rejected":
        lines.append(f"-> 503 {report['rejection']['rejection_reason']}: {report['message']}")
    else:
        route_ = report["route"]
        name = route_.get("name")
        matched = f"{name!r} (a pattern), " if route_.get("pattern") else ""
        lines.append(
            f"route: {matched}zone {route_['zone']}, overflow {route_['overflow']}, "
            f"preference {report['preference']}"
        )
        lines.append("-> candidates, in the order they would be tried:")
        for i, c in enumerate(report["candidates"], 1):
            lines.append(f"   {i}. {c['target']} (zone {c['zone']}, {c['reason']})")
    lines.append("considered:")
    for row in report["considered"]:
        mark = "+" if row["chosen_as"] else "-"
        kind = " [alternative]" if row["alternative"] else ""
        kind += " [discovered]" if row.get("discovered") else ""
        budgets = "".join(
            f" [budget {b['name']}: ${b['spent_usd']:g} of ${b['limit_usd']:g}"
            + (", spent]" if b["exhausted"] else "]")
            for b in row.get("budgets", ())
        )
        lines.append(f"   {mark} {row['target']}{kind} (zone {row['zone']}): {row['why']}{budgets}")
    return "\n".join(lines)
