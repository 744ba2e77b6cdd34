"""The routing decision: a pure function of (table, request facts, live provider state).

No I/O and no clock. The result is an ordered list of candidates for the
dispatcher to walk (failover), a structured `Rejection` (the 503 contract), or
`UnknownModel` (404).

Rejection precedence, when several apply (the first that any target hits wins):
``tier_insufficient_reasoning`` / ``tier_insufficient_coding`` -> ``capability_missing``
-> ``capacity_exhausted`` -> ``budget_exhausted`` -> ``strict_routing_enabled``
-> ``overflow_blocked_with_history`` -> ``privacy_zone_mismatch`` -> ``no_healthy_backend``.
Capability problems come first because retrying elsewhere cannot fix them; a full
target comes next because it frees up (the request may queue for it); an outage
comes last because it is the only transient one that needs an operator.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from router.config.model import Overflow, Preference, Tiers
from router.routing.budgets import NOTHING_SPENT, Exhausted, Spent
from router.routing.table import ProviderEntry, Route, RoutingTable, Target

__all__ = [
    "TRANSIENT",
    "Candidate",
    "Health",
    "ProviderState",
    "Rejection",
    "RequestFacts",
    "RouteDecision",
    "RouteReason",
    "UnknownModel",
    "Verdict",
    "availability",
    "routable",
    "route",
]


class Health(enum.StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"  # not probed yet: routable


class RouteReason(enum.StrEnum):
    PRIMARY = "primary"
    FAILOVER = "failover"
    OVERFLOW = "overflow"
    ALTERNATIVE = "alternative"


class Verdict(enum.StrEnum):
    """Why one target was (not) chosen; the order is the rejection precedence."""

    TIER_REASONING = "tier_insufficient_reasoning"
    TIER_CODING = "tier_insufficient_coding"
    NO_VISION = "no_vision"
    NO_DOCUMENTS = "no_documents"
    NO_TOOLS = "no_tools"
    NO_EMBEDDINGS = "no_embeddings"
    NO_IMAGES = "no_images"
    CONTEXT_TOO_SMALL = "context_too_small"
    HISTORY_BLOCKED = "overflow_blocked_with_history"
    OUT_OF_ZONE = "privacy_zone_mismatch"
    DISABLED = "disabled"
    UNHEALTHY = "unhealthy"
    NOT_PULLED = "model_not_available"
    FULL = "at_capacity"
    #: Behind a spent budget (of its provider's zone, the provider, or the route).
    BUDGET = "budget_exhausted"
    USABLE = "usable"


_CAPABILITY = {
    Verdict.NO_VISION: "vision",
    Verdict.NO_DOCUMENTS: "documents",
    Verdict.NO_TOOLS: "tools",
    Verdict.NO_EMBEDDINGS: "embeddings",
    Verdict.NO_IMAGES: "images",
    Verdict.CONTEXT_TOO_SMALL: "context_window",
}


@attrs.frozen
class ProviderState:
    """What the router currently knows about a provider at run time."""

    status: Health = Health.UNKNOWN
    in_flight: int = 0
    #: Models the provider itself lists (Ollama's /api/tags); None when it does not say.
    models: frozenset[str] | None = None
    #: Models whose own circuit is open (their answers failed; the provider is fine).
    open_models: frozenset[str] = frozenset()


_UNKNOWN = ProviderState()


@attrs.frozen
class RequestFacts:
    """What routing needs to know about a request, derived once from its body and headers."""

    model: str
    has_history: bool = False
    conversation_messages: int = 0
    needs_vision: bool = False
    needs_tools: bool = False
    context_tokens: int = 0
    preference: Preference | None = None
    needs_embeddings: bool = False
    needs_images: bool = False
    needs_documents: bool = False


@attrs.frozen
class Candidate:
    target: Target
    reason: RouteReason

    @property
    def provider(self) -> str:
        return self.target.provider

    @property
    def model(self) -> str:
        return self.target.model


@attrs.frozen
class RouteDecision:
    """Candidates in the order the dispatcher should try them, with what was considered."""

    route: Route
    preference: Preference
    candidates: tuple[Candidate, ...]
    considered: tuple[tuple[Target, Verdict, bool], ...]  # (target, verdict, is_alternative)


@attrs.frozen
class Rejection:
    """No candidate may serve the request: the 503 contract's reason and context."""

    reason: str
    message: str
    retry_after_s: int
    fields: Mapping[str, Any]
    considered: tuple[tuple[Target, Verdict, bool], ...] = ()
    #: Unix seconds when the spent budget resets (``budget_exhausted`` only).
    resets_at: float | None = None

    @property
    def permanent(self) -> bool:
        """No retry can fix it (a capability, a tier, a zone, the history rule, strictness)."""
        return self.reason not in TRANSIENT

    def context(self) -> dict[str, Any]:
        return {
            "rejection_reason": self.reason,
            **self.fields,
            "retry_after_seconds": self.retry_after_s,
        }


#: The rejections that pass by themselves: an outage, or providers at capacity.
TRANSIENT = frozenset({"no_healthy_backend", "capacity_exhausted"})


@attrs.frozen
class UnknownModel:
    model: str
    available: tuple[str, ...]


def _status(entry: ProviderEntry, state: ProviderState) -> str:
    return "disabled" if not entry.enabled else state.status.value


def _verdict(
    t: Target,
    entry: ProviderEntry,
    state: ProviderState,
    facts: RequestFacts,
    need: Tiers | None,
    route_zone: int,
    overflow: Overflow,
) -> Verdict:
    spec = t.spec
    if need is not None:
        if spec.tiers.reasoning < need.reasoning:
            return Verdict.TIER_REASONING
        if spec.tiers.coding < need.coding:
            return Verdict.TIER_CODING
    if facts.needs_vision and not spec.vision:
        return Verdict.NO_VISION
    if facts.needs_documents and not spec.documents:
        return Verdict.NO_DOCUMENTS
    if facts.needs_tools and not spec.tools:
        return Verdict.NO_TOOLS
    if facts.needs_embeddings and not spec.embeddings:
        return Verdict.NO_EMBEDDINGS
    if facts.needs_images and not spec.images:
        return Verdict.NO_IMAGES
    if facts.context_tokens and spec.context_window and facts.context_tokens > spec.context_window:
        return Verdict.CONTEXT_TOO_SMALL
    if t.zone_rank > route_zone:
        if overflow is Overflow.NEVER:
            return Verdict.OUT_OF_ZONE
        if overflow is Overflow.FRESH_ONLY and facts.has_history:
            return Verdict.HISTORY_BLOCKED
    return availability(entry, state, t.model)


def availability(entry: ProviderEntry, state: ProviderState, model: str | None) -> Verdict:
    """Whether `entry` can serve `model` right now (any of its models, for None).

    The one rule: routing, /v1/models, /v1/models/{id}, the 404's list of available
    models and /ready all ask it.
    """
    if not entry.enabled:
        return Verdict.DISABLED
    if state.status is Health.UNHEALTHY or model in state.open_models:
        return Verdict.UNHEALTHY
    if model is not None and state.models is not None and model not in state.models:
        return Verdict.NOT_PULLED
    if entry.max_concurrency is not None and state.in_flight >= entry.max_concurrency:
        return Verdict.FULL
    return Verdict.USABLE


def routable(table: RoutingTable, name: str, live: Mapping[str, ProviderState]) -> bool:
    """At least one target of route `name` can serve now (a full one counts: it frees up)."""
    route_ = table.resolve(name)
    if route_ is None:
        return False
    return any(
        availability(table.providers[t.provider], live.get(t.provider, _UNKNOWN), t.model)
        in {Verdict.USABLE, Verdict.FULL}
        for t in route_.targets
    )


def _spent_on(t: Target, r: Route, spent: Spent) -> Exhausted | None:
    """The spent budget standing between route `r` and target `t`, if any."""
    return spent.routes.get(r.name) or spent.providers.get(t.provider)


def _alternatives(
    table: RoutingTable,
    r: Route,
    facts: RequestFacts,
    live: Mapping[str, ProviderState],
    limit: int,
    spent: Spent,
) -> list[tuple[Target, Verdict]]:
    """Other models at least as capable in every tier, closest tiers first."""
    need = r.min_tiers or (r.targets[0].spec.tiers if r.targets else Tiers())
    own = {(t.provider, t.model) for t in r.targets}
    found: list[tuple[Target, Verdict]] = []
    usable = 0
    for tiers, group in table.by_tiers:
        if not tiers.meets(need):
            continue
        for t in group:
            if (t.provider, t.model) in own:
                continue
            entry = table.providers[t.provider]
            verdict = _verdict(
                t, entry, live.get(t.provider, _UNKNOWN), facts, need, r.zone_rank, r.overflow
            )
            if spent and verdict in _AVAILABLE and _spent_on(t, r, spent) is not None:
                verdict = Verdict.BUDGET
            found.append((t, verdict))
            if verdict is Verdict.USABLE:
                usable += 1
                if usable >= limit:  # enough to fill every attempt the dispatcher may make
                    return found
    return found


#: Verdicts a spent budget overrides: the target could serve (now, or once it frees up).
_AVAILABLE = frozenset({Verdict.USABLE, Verdict.FULL})


def _reject(
    table: RoutingTable,
    r: Route,
    facts: RequestFacts,
    live: Mapping[str, ProviderState],
    preference: Preference,
    considered: list[tuple[Target, Verdict, bool]],
    alternatives_if_flexible: list[Target],
    spent: Spent,
) -> Rejection:
    retry = table.settings.retry_after_s
    own = [(t, v) for t, v, alt in considered if not alt]
    verdicts = {v for _, v in own}

    def backends(**extra: Any) -> list[dict[str, Any]]:
        out = []
        for t, _ in own:
            entry = table.providers[t.provider]
            state = live.get(t.provider, _UNKNOWN)
            item: dict[str, Any] = {"name": t.provider, "model": t.model}
            for key, attr in extra.items():
                item[key] = attr(t, entry, state)
            item["status"] = _status(entry, state)
            out.append(item)
        return out

    need = r.min_tiers or Tiers()
    if Verdict.TIER_REASONING in verdicts:
        return Rejection(
            "tier_insufficient_reasoning",
            f"No backends meet minimum reasoning tier {need.reasoning}",
            retry,
            {
                "required_tier": need.reasoning,
                "available_backends": backends(
                    reasoning_tier=lambda t, e, s: t.spec.tiers.reasoning
                ),
            },
            tuple(considered),
        )
    if Verdict.TIER_CODING in verdicts:
        return Rejection(
            "tier_insufficient_coding",
            f"No backends meet minimum coding tier {need.coding}",
            retry,
            {
                "required_tier": need.coding,
                "available_backends": backends(coding_tier=lambda t, e, s: t.spec.tiers.coding),
            },
            tuple(considered),
        )
    for verdict, capability in _CAPABILITY.items():
        if verdict in verdicts:
            fields: dict[str, Any] = {"required_capability": capability}
            if capability == "context_window":
                fields["required_context_tokens"] = facts.context_tokens
            fields["available_backends"] = backends(
                **{capability: lambda t, e, s, c=capability: getattr(t.spec, c)}
            )
            return Rejection(
                "capability_missing",
                f"No backends for model '{r.name}' support the required capability: {capability}",
                retry,
                fields,
                tuple(considered),
            )
    if Verdict.FULL in verdicts:  # it will free up: queueable, unlike everything below
        return Rejection(
            "capacity_exhausted",
            f"All backends for model '{r.name}' are at capacity",
            retry,
            {
                "requested_model": r.name,
                "available_backends": backends(
                    zone=lambda t, e, s: t.zone,
                    in_flight=lambda t, e, s: s.in_flight,
                    max_concurrency=lambda t, e, s: e.max_concurrency,
                ),
            },
            tuple(considered),
        )
    if Verdict.BUDGET in verdicts:
        blocked = next(t for t, v in own if v is Verdict.BUDGET)
        gone = _spent_on(blocked, r, spent)
        assert gone is not None
        return Rejection(
            "budget_exhausted",
            f"Budget '{gone.budget}' is spent (${gone.spent_usd:.2f} of ${gone.limit_usd:g}) "
            f"and no other backend may serve model '{r.name}'",
            retry,
            {"requested_model": r.name, **gone.fields()},
            tuple(considered),
            resets_at=gone.resets_at,
        )
    if preference is Preference.STRICT and alternatives_if_flexible:
        names = list(dict.fromkeys(t.model for t in alternatives_if_flexible))
        return Rejection(
            "strict_routing_enabled",
            f"Requested model '{r.name}' unavailable and strict routing enabled",
            retry,
            {"requested_model": r.name, "routing_preference": "strict", "available_models": names},
            tuple(considered),
        )
    if Verdict.HISTORY_BLOCKED in verdicts:
        blocked = next(t for t, v in own if v is Verdict.HISTORY_BLOCKED)
        return Rejection(
            "overflow_blocked_with_history",
            "Cross-zone overflow blocked: request contains conversation history",
            retry,
            {
                "required_zone": r.zone,
                "available_zone": blocked.zone,
                "overflow_mode": r.overflow.value,
                "conversation_messages": facts.conversation_messages,
            },
            tuple(considered),
        )
    if Verdict.OUT_OF_ZONE in verdicts:
        outside = [(t, v) for t, v in own if v is Verdict.OUT_OF_ZONE]
        return Rejection(
            "privacy_zone_mismatch",
            f"No backends available in required privacy zone '{r.zone}'",
            retry,
            {
                "required_zone": r.zone,
                "available_backends": [
                    {
                        "name": t.provider,
                        "zone": t.zone,
                        "status": _status(
                            table.providers[t.provider], live.get(t.provider, _UNKNOWN)
                        ),
                    }
                    for t, _ in outside
                ],
            },
            tuple(considered),
        )
    return Rejection(
        "no_healthy_backend",
        f"No healthy backend available for model '{r.name}'",
        retry,
        {
            "requested_model": r.name,
            "available_backends": backends(
                zone=lambda t, e, s: t.zone,
                in_flight=lambda t, e, s: s.in_flight,
                max_concurrency=lambda t, e, s: e.max_concurrency,
            ),
        },
        tuple(considered),
    )


def route(
    table: RoutingTable,
    facts: RequestFacts,
    live: Mapping[str, ProviderState],
    spent: Spent = NOTHING_SPENT,
) -> RouteDecision | Rejection | UnknownModel:
    """Decide which candidates may serve `facts`, best first, or why none may.

    `spent`: the budgets spent now; a target behind one is skipped (``budget_exhausted``).
    """
    r = table.resolve(facts.model)
    if r is None:
        names = tuple(name for name in table.public_models if routable(table, name, live))
        return UnknownModel(facts.model, names)
    preference = facts.preference or table.settings.preference
    need = r.min_tiers
    considered: list[tuple[Target, Verdict, bool]] = []
    in_zone: list[Target] = []
    out_zone: list[Target] = []
    providers = table.providers
    for t in r.targets:
        state = live.get(t.provider, _UNKNOWN)
        verdict = _verdict(t, providers[t.provider], state, facts, need, r.zone_rank, r.overflow)
        if spent and verdict in _AVAILABLE and _spent_on(t, r, spent) is not None:
            verdict = Verdict.BUDGET
        considered.append((t, verdict, False))
        if verdict is Verdict.USABLE:
            (in_zone if t.zone_rank <= r.zone_rank else out_zone).append(t)

    limit = table.settings.max_attempts
    alt_in: list[Target] = []
    alt_out: list[Target] = []
    alternatives: list[tuple[Target, Verdict]] = []
    if preference is Preference.FLEXIBLE or not (in_zone or out_zone):
        alternatives = _alternatives(table, r, facts, live, limit, spent)
        for t, verdict in alternatives:
            if verdict is Verdict.USABLE:
                (alt_in if t.zone_rank <= r.zone_rank else alt_out).append(t)
    if preference is Preference.FLEXIBLE:
        considered.extend((t, v, True) for t, v in alternatives)

    def spread(ts: list[Target]) -> list[Target]:
        # Equal rank means equally preferred: the least busy provider goes first.
        return sorted(ts, key=lambda t: (t.rank, live.get(t.provider, _UNKNOWN).in_flight))

    candidates: list[Candidate] = []
    first_rank = r.targets[0].rank if r.targets else 0
    for t in spread(in_zone):
        reason = RouteReason.PRIMARY if t.rank == first_rank else RouteReason.FAILOVER
        candidates.append(Candidate(t, reason))
    if preference is Preference.FLEXIBLE:
        candidates.extend(Candidate(t, RouteReason.ALTERNATIVE) for t in alt_in)
    candidates.extend(Candidate(t, RouteReason.OVERFLOW) for t in spread(out_zone))
    if preference is Preference.FLEXIBLE:
        candidates.extend(Candidate(t, RouteReason.ALTERNATIVE) for t in alt_out)
    if candidates:
        return RouteDecision(r, preference, tuple(candidates), tuple(considered))
    return _reject(table, r, facts, live, preference, considered, [*alt_in, *alt_out], spent)
