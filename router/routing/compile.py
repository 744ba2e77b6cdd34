"""Compile the config model into a `RoutingTable`: semantic checks plus prebuilt indexes.

Pure: the environment, version and load time are arguments, so the same inputs
always give the same table (or the same diagnostics).
"""

from __future__ import annotations

import base64
import re
import urllib.parse
import uuid
from collections import defaultdict
from collections.abc import Mapping
from types import MappingProxyType

import attrs

from router.auth.keys import compile_auth
from router.config.diagnostics import Diagnostic, JsonPath, did_you_mean
from router.config.envvars import expand
from router.config.model import NexusConfig, Overflow, ProviderConfig, RouteConfig, Tiers
from router.errors import ConfigInvalid
from router.redact import Redactor, redact_url
from router.routing.budgets import Budget
from router.routing.discovered import Discovery, discovered_specs
from router.routing.patterns import compile_pattern, is_pattern, overlap
from router.routing.table import ModelSpec, ProviderEntry, Route, RoutingTable, Target

__all__ = ["PROVIDER_ID_NAMESPACE", "compile_config", "provider_id"]

#: Namespace for provider ids derived from names; fixed forever so ids never move.
PROVIDER_ID_NAMESPACE = uuid.UUID("6f1c9a52-7d4e-4c0b-9a57-3c1f0e2b8d11")

_Pair = tuple[str, str]  # (provider name, model name)


def provider_id(name: str) -> str:
    """Return the stable id of a provider that does not set one."""
    return str(uuid.uuid5(PROVIDER_ID_NAMESPACE, name))


@attrs.define
class _Report:
    """Collects every finding so that one file's errors are reported together."""

    items: list[Diagnostic] = attrs.Factory(list)

    def error(self, message: str, path: JsonPath) -> None:
        self.items.append(Diagnostic("error", message, path))

    def warn(self, message: str, path: JsonPath) -> None:
        self.items.append(Diagnostic("warning", message, path))

    @property
    def failed(self) -> bool:
        return any(d.severity == "error" for d in self.items)


def _zones(config: NexusConfig, report: _Report) -> dict[str, int]:
    ranks: dict[str, int] = {}
    for i, zone in enumerate(config.zones):
        if zone.name in ranks:
            report.error(f"duplicate zone {zone.name!r}", ("zones", i, "name"))
        else:
            ranks[zone.name] = i
    return ranks


def _zone_of(
    name: str | None, ranks: Mapping[str, int], default: str, path: JsonPath, report: _Report
) -> str:
    if name is None:
        return default
    if name not in ranks:
        hint = did_you_mean(name, list(ranks)) or f" (declared zones: {', '.join(ranks)})"
        report.error(f"zone {name!r} is not declared under 'zones'{hint}", path)
        return default
    return name


def _provider(
    index: int,
    p: ProviderConfig,
    ranks: Mapping[str, int],
    least: str,
    env: Mapping[str, str],
    report: _Report,
    discovery: Discovery | None = None,
) -> ProviderEntry:
    path: JsonPath = ("providers", index)
    zone = _zone_of(p.zone, ranks, least, (*path, "zone"), report)
    reasons: list[str] = [] if p.enabled else ["disabled in the config (enabled: false)"]
    resolved: dict[str, str | None] = {}
    for field in ("base_url", "api_key"):
        raw: str | None = getattr(p, field)
        if raw is None:
            resolved[field] = None
            continue
        result = expand(raw, env)
        if result.missing:
            names = ", ".join(result.missing)
            reasons.append(f"environment variable {names} is not set ({field})")
        resolved[field] = result.value
    base_url, basic_auth = _credentials(resolved["base_url"] or "")
    if basic_auth and resolved["api_key"] and p.kind != "anthropic":
        report.error(
            "base_url carries credentials (user:password@) and api_key is set: both would be "
            "the Authorization header; keep one",
            (*path, "base_url"),
        )
    if base_url and not base_url.startswith(("http://", "https://")):
        # What a ${VAR} expands to may be a secret: name the reference, never the value.
        report.error(
            f"base_url {p.base_url!r} does not expand to an http:// or https:// URL",
            (*path, "base_url"),
        )
    models: dict[str, ModelSpec] = {}
    for j, m in enumerate(p.models):
        if m.name in models:
            report.error(
                f"provider {p.name!r} lists model {m.name!r} twice", (*path, "models", j, "name")
            )
            continue
        if m.images and p.kind != "openai":
            report.error(
                "only OpenAI-compatible providers serve image generation",
                (*path, "models", j, "images"),
            )
        if m.documents and p.kind == "ollama":
            report.error(
                "Ollama's API has no document input: a PDF cannot reach this model",
                (*path, "models", j, "documents"),
            )
        if m.embeddings and p.kind == "anthropic":
            report.error(
                "anthropic providers do not serve embeddings", (*path, "models", j, "embeddings")
            )
        models[m.name] = ModelSpec(
            m.name,
            m.tiers,
            m.context_window,
            m.vision,
            m.tools,
            m.embeddings,
            m.description,
            m.images,
            m.documents,
            reasoning=m.reasoning,
            price=m.price,
        )
    if p.prompt_cache != "off" and p.kind != "anthropic":
        report.error(
            "prompt_cache applies to anthropic providers (others cache prompts by themselves)",
            (*path, "prompt_cache"),
        )
    _check_discovery_keys(p, path, report)
    if p.discover and discovery is not None and discovery.base_url == base_url.rstrip("/"):
        models.update(discovered_specs(p, discovery))
    if not p.models and not p.discover:
        report.warn(f"provider {p.name!r} lists no models, so no request can reach it", path)
    reason = "; ".join(reasons) or None
    if reason and p.enabled:
        report.warn(f"provider {p.name!r} is disabled: {reason}", path)
    return ProviderEntry(
        id=p.id or provider_id(p.name),
        name=p.name,
        kind=p.kind,
        base_url=base_url.rstrip("/"),
        api_key=resolved["api_key"],
        zone=zone,
        zone_rank=ranks.get(zone, len(ranks)),
        enabled=reason is None,
        disabled_reason=reason,
        max_concurrency=p.max_concurrency,
        timeout_s=p.timeout_s,
        models=MappingProxyType(models),
        description=p.description,
        rpm=p.rpm,
        first_byte_timeout_s=p.first_byte_timeout_s,
        secrets=Redactor.of((resolved["api_key"], _password(resolved["base_url"] or ""))),
        display_url=redact_url(p.base_url),
        basic_auth=basic_auth,
        discover=p.discover,
        prompt_cache=p.prompt_cache,
    )


def _check_discovery_keys(p: ProviderConfig, path: JsonPath, report: _Report) -> None:
    """``model_defaults`` obeys the rules of a model entry; the discovery keys need discovery."""
    defaults = p.model_defaults
    if defaults is not None and defaults.images and p.kind != "openai":
        report.error(
            "only OpenAI-compatible providers serve image generation",
            (*path, "model_defaults", "images"),
        )
    if defaults is not None and defaults.documents and p.kind == "ollama":
        report.error(
            "Ollama's API has no document input: a PDF cannot reach this model",
            (*path, "model_defaults", "documents"),
        )
    if defaults is not None and defaults.embeddings and p.kind == "anthropic":
        report.error(
            "anthropic providers do not serve embeddings",
            (*path, "model_defaults", "embeddings"),
        )
    if not p.discover:
        for key in ("model_defaults", "include", "exclude"):
            if getattr(p, key):
                report.warn(
                    f"{key!r} applies to discovered models, and provider {p.name!r} does not "
                    "discover (add 'discover: true')",
                    (*path, key),
                )


def _password(url: str) -> str | None:
    """The password of a ``https://user:password@host`` URL, if it has one."""
    try:
        return urllib.parse.urlsplit(url).password
    except ValueError:
        return None


def _credentials(url: str) -> tuple[str, str | None]:
    """Take ``user:password@`` out of a URL: (the URL without it, a Basic header or None).

    Both HTTP stacks would otherwise combine them with our own Authorization header
    and refuse the request (a 500 when listing a provider's models).
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url, None
    if parts.username is None and parts.password is None:
        return url, None
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), f"Basic {token}"


@attrs.define
class _RouteExpander:
    """Resolve route targets, following aliases to other routes and detecting cycles."""

    providers: Mapping[str, ProviderEntry]
    direct: Mapping[str, list[_Pair]]
    configs: Mapping[str, tuple[int, RouteConfig]]
    report: _Report
    done: dict[str, list[list[_Pair]]] = attrs.Factory(dict)

    def groups(self, name: str, stack: tuple[str, ...] = ()) -> list[list[_Pair]]:
        """Return the route's targets as groups of equally preferred pairs, best first."""
        if name in self.done:
            return self.done[name]
        index, route = self.configs[name]
        out: list[list[_Pair]] = []
        for j, text in enumerate(route.targets):
            path: JsonPath = ("routes", index, "targets", j)
            # A route may name itself only to mean the model providers serve directly.
            if text in self.configs and not (text == name and text in self.direct):
                if text in (*stack, name):
                    cycle = " -> ".join((*stack, name, text))
                    self.report.error(f"alias cycle: {cycle}", path)
                    continue
                out.extend(self.groups(text, (*stack, name)))
                continue
            group = self._resolve(text, path)
            if group:
                out.append(group)
        self.done[name] = out
        return out

    def _resolve(self, text: str, path: JsonPath) -> list[_Pair]:
        head, sep, rest = text.partition("/")
        if sep and head in self.providers:
            provider = self.providers[head]
            if rest not in provider.models and provider.discover:
                self.report.warn(
                    f"provider {head!r} does not serve model {rest!r} now; it discovers its "
                    "models, so the target is used once the backend lists it",
                    path,
                )
                return []
            if rest not in provider.models:
                hint = did_you_mean(rest, list(provider.models))
                self.report.error(f"provider {head!r} does not serve model {rest!r}{hint}", path)
                return []
            return [(head, rest)]
        if text in self.direct:
            return list(self.direct[text])
        known = [
            *(f"{p}/{m}" for p, e in self.providers.items() for m in e.models),
            *self.configs,
            *self.direct,
        ]
        discovering = any(p.discover for p in self.providers.values())
        typo = did_you_mean(head, list(self.providers)) if sep else ""
        if sep and (typo or not discovering):
            hint = typo or did_you_mean(text, known)
            self.report.error(f"target {text!r} names unknown provider {head!r}{hint}", path)
        elif discovering:
            hint = did_you_mean(text, known)
            self.report.warn(
                f"no provider serves model {text!r} now; the target is used once a "
                f"discovering provider lists it{hint}",
                path,
            )
        else:
            hint = did_you_mean(text, known)
            self.report.error(
                f"unknown target {text!r}: expected 'provider/model', a model a provider "
                f"serves, or another route's name{hint}",
                path,
            )
        return []


def _check_route(route: Route, index: int, report: _Report) -> None:
    path: JsonPath = ("routes", index)
    in_zone = [t for t in route.targets if t.zone_rank <= route.zone_rank]
    if route.targets and not in_zone:
        zones = ", ".join(sorted({t.zone for t in route.targets}))
        report.error(
            f"no target of route {route.name!r} is in zone {route.zone!r} or a more private "
            f"zone (its targets are in: {zones})",
            (*path, "zone"),
        )
    for target in route.targets:
        if target.zone_rank > route.zone_rank and route.overflow is Overflow.NEVER:
            report.warn(
                f"target {target.key!r} is in zone {target.zone!r}, outside the route's zone "
                f"{route.zone!r}, and overflow is 'never': it can never serve this route",
                (*path, "targets"),
            )
        need = route.min_tiers
        if need is not None and not target.spec.tiers.meets(need):
            have = target.spec.tiers
            report.warn(
                f"target {target.key!r} (reasoning {have.reasoning}, coding {have.coding}) is "
                f"below min_tiers (reasoning {need.reasoning}, coding {need.coding}): it can "
                f"never serve this route",
                (*path, "targets"),
            )


def _patterns(
    configs: Mapping[str, tuple[int, RouteConfig]], report: _Report
) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """Pattern routes, longest first; two of equal length that can match one name are errors."""
    names = sorted((n for n in configs if is_pattern(n)), key=lambda n: (-len(n), n))
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if len(b) < len(a):
                break
            if overlap(a, b):
                first, second = sorted((a, b), key=lambda n: configs[n][0])
                report.error(
                    f"route patterns {first!r} and {second!r} have the same length and can "
                    "match the same model name, so neither wins: make one more specific",
                    ("routes", configs[second][0], "model"),
                )
    return tuple((n, compile_pattern(n)) for n in names)


def _tier_groups(
    providers: Mapping[str, ProviderEntry],
) -> tuple[tuple[Tiers, tuple[Target, ...]], ...]:
    groups: dict[Tiers, list[Target]] = defaultdict(list)
    for entry in providers.values():
        for spec in entry.models.values():
            target = Target(entry.name, spec.name, 0, entry.zone, entry.zone_rank, spec)
            groups[spec.tiers].append(target)
    ordered = sorted(
        groups.items(), key=lambda kv: (kv[0].reasoning + kv[0].coding, kv[0].reasoning)
    )
    return tuple((tiers, tuple(targets)) for tiers, targets in ordered)


_SCOPES = ("zone", "provider", "route", "key")


def _budgets(
    config: NexusConfig,
    providers: Mapping[str, ProviderEntry],
    routes: Mapping[str, Route],
    report: _Report,
) -> tuple[Budget, ...]:
    """Resolve each budget's one scope; unknown names get a did-you-mean."""
    keys = [k.name for k in config.auth.keys] if config.auth is not None else []
    known: dict[str, list[str]] = {
        "zone": [z.name for z in config.zones],
        "provider": list(providers),
        "route": list(routes),
        "key": keys,
    }
    out: list[Budget] = []
    seen: set[str] = set()
    for i, b in enumerate(config.budgets):
        path: JsonPath = ("budgets", i)
        if b.name in seen:
            report.error(f"duplicate budget {b.name!r}", (*path, "name"))
            continue
        seen.add(b.name)
        scopes = [(s, getattr(b, s)) for s in _SCOPES if getattr(b, s) is not None]
        if len(scopes) != 1:
            given = " and ".join(s for s, _ in scopes) if scopes else "none"
            report.error(
                f"budget {b.name!r} needs exactly one scope (zone, provider, route or key); "
                f"it has {given}",
                path,
            )
            continue
        scope, value = scopes[0]
        if value not in known[scope]:
            names = known[scope]
            hint = did_you_mean(value, names) or (
                f" (declared: {', '.join(names)})" if names else f" (no {scope}s are declared)"
            )
            report.error(f"budget {b.name!r}: unknown {scope} {value!r}{hint}", (*path, scope))
            continue
        covered: frozenset[str] = frozenset()
        if scope == "zone":
            covered = frozenset(p.name for p in providers.values() if p.zone == value)
        elif scope == "provider":
            covered = frozenset({value})
        out.append(Budget(b.name, b.limit_usd, b.period, scope, value, covered))
    return tuple(out)


def compile_config(
    config: NexusConfig,
    *,
    env: Mapping[str, str],
    digest: str,
    loaded_at: float,
    source: str,
    discovered: Mapping[str, Discovery] = MappingProxyType({}),
) -> RoutingTable:
    """Check `config` for semantic errors and build the frozen `RoutingTable`.

    `discovered` holds what discovering providers' backends listed (by provider
    name); it adds models, never errors. Raises `ConfigInvalid` with every error
    (and the warnings) when anything is wrong.
    """
    report = _Report()
    ranks = _zones(config, report)
    least = config.zones[-1].name

    providers: dict[str, ProviderEntry] = {}
    by_id: dict[str, ProviderEntry] = {}
    for i, p in enumerate(config.providers):
        entry = _provider(i, p, ranks, least, env, report, discovered.get(p.name))
        if p.name in providers:
            report.error(f"duplicate provider name {p.name!r}", ("providers", i, "name"))
            continue
        if entry.id in by_id:
            other = by_id[entry.id].name
            report.error(
                f"provider id {entry.id} is also used by {other!r}", ("providers", i, "id")
            )
            continue
        providers[p.name] = entry
        by_id[entry.id] = entry

    direct: dict[str, list[_Pair]] = defaultdict(list)
    for entry in providers.values():
        for model in entry.models:
            direct[model].append((entry.name, model))

    configs: dict[str, tuple[int, RouteConfig]] = {}
    for i, r in enumerate(config.routes):
        if r.model in configs:
            report.error(f"duplicate route {r.model!r}", ("routes", i, "model"))
        else:
            configs[r.model] = (i, r)

    def target(pair: _Pair, rank: int) -> Target:
        entry = providers[pair[0]]
        return Target(pair[0], pair[1], rank, entry.zone, entry.zone_rank, entry.models[pair[1]])

    routes: dict[str, Route] = {}
    expander = _RouteExpander(providers, direct, configs, report)
    for name, (i, r) in configs.items():
        zone = _zone_of(r.zone, ranks, least, ("routes", i, "zone"), report)
        seen: set[_Pair] = set()
        targets: list[Target] = []
        for rank, group in enumerate(expander.groups(name)):
            for pair in group:
                if pair in seen:
                    continue
                seen.add(pair)
                targets.append(target(pair, rank))
        route = Route(
            name=name,
            targets=tuple(targets),
            zone=zone,
            zone_rank=ranks.get(zone, len(ranks)),
            min_tiers=r.min_tiers,
            overflow=r.overflow or config.routing.overflow,
            direct=False,
            description=r.description,
            cache=r.cache,
        )
        _check_route(route, i, report)
        routes[name] = route

    for model, pairs in direct.items():
        if model not in routes:
            routes[model] = Route(
                name=model,
                targets=tuple(target(pair, 0) for pair in pairs),
                zone=least,
                zone_rank=ranks.get(least, 0),
                min_tiers=None,
                overflow=Overflow.NEVER,
                direct=True,
            )

    patterns = _patterns(configs, report)
    auth = compile_auth(config.auth, env, report.error, report.warn)
    budgets = _budgets(config, providers, routes, report)
    if report.failed:
        raise ConfigInvalid(report.items)
    return RoutingTable(
        version=digest[:12],
        digest=digest,
        loaded_at=loaded_at,
        source=source,
        zones=tuple(ranks),
        providers=MappingProxyType(providers),
        providers_by_id=MappingProxyType(by_id),
        routes=MappingProxyType(routes),
        by_tiers=_tier_groups(providers),
        public_models=tuple(sorted(routes)),
        settings=config.routing,
        config=config,
        warnings=tuple(report.items),
        auth=auth,
        patterns=patterns,
        budgets=budgets,
    )
