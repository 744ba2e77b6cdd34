"""Provider admin API logic: pure functions from requests and the table to views and file edits."""

from __future__ import annotations

import fnmatch
import hashlib
import time
import urllib.parse
import uuid
from collections.abc import Mapping
from typing import Any

import msgspec

from router.config.converter import unstructure_provider
from router.config.envvars import REFERENCE, references
from router.config.writeback import add_provider, remove_provider, update_provider
from router.errors import (
    EnvNotAllowed,
    InvalidUrl,
    MissingField,
    PreconditionFailed,
    ProviderInUse,
    ProviderNameExists,
    ProviderNotFound,
    RequestInvalid,
)
from router.routing.table import ProviderEntry, RoutingTable

__all__ = [
    "check_if_match",
    "create_edit",
    "delete_edit",
    "etag",
    "find",
    "mask",
    "update_edit",
    "view",
]

_encode = msgspec.json.Encoder(order="sorted").encode
#: Fields a client may set; id and timestamps are the server's.
WRITABLE = (
    "name",
    "base_url",
    "api_key",
    "description",
    "zone",
    "enabled",
    "max_concurrency",
    "timeout_s",
    "models",
)
_ORDER = (
    "id",
    "name",
    "kind",
    "base_url",
    "api_key",
    "description",
    "zone",
    "max_concurrency",
    "timeout_s",
    "enabled",
    "models",
    "created_at",
    "updated_at",
)


def now_iso(clock: float | None = None) -> str:
    return time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock if clock is not None else time.time())
    )


def _mask_key(key: str) -> str:
    return f"{key[:3]}…{key[-4:]}" if len(key) >= 12 else "…"


def mask(api_key: str | None) -> str | None:
    """Never the key itself: ``sk-…abcd``, or the ``${VAR}`` reference (its default masked too)."""
    if api_key is None:
        return None
    if "${" in api_key:
        return REFERENCE.sub(
            lambda m: (
                f"${{{m.group(1)}:-{_mask_key(m.group(2))}}}"
                if m.group(2) is not None
                else m.group(0)
            ),
            api_key,
        )
    return _mask_key(api_key)


def _check_references(fields: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    """Only variables `admin.env_allow` names may be referenced through the API.

    Otherwise an admin key could point ``base_url`` at its own server and send it
    any variable of the router's environment as the "api_key".
    """
    for field in ("base_url", "api_key"):
        value = fields.get(field)
        if not isinstance(value, str):
            continue
        for name in references(value):
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in allowed):
                raise EnvNotAllowed(
                    f"{field} references ${{{name}}}, which admin.env_allow does not allow "
                    "(the provider API may only reference the environment variables listed "
                    "there; edit the file itself to use others)",
                    field=field,
                    variable=name,
                    env_allow=list(allowed),
                )


def _raw(table: RoutingTable, entry: ProviderEntry) -> dict[str, Any]:
    """The provider as the file says it (references unexpanded), defaults filled in."""
    provider = next(p for p in table.config.providers if p.name == entry.name)
    return unstructure_provider(provider)


def view(table: RoutingTable, entry: ProviderEntry) -> dict[str, Any]:
    raw = _raw(table, entry)
    return {
        "id": entry.id,
        "name": entry.name,
        "kind": entry.kind,
        "base_url": entry.display_url,
        "api_key": mask(raw.get("api_key")),
        "description": raw.get("description"),
        "zone": entry.zone,
        "enabled": raw.get("enabled", True),
        "disabled_reason": entry.disabled_reason,
        "max_concurrency": raw.get("max_concurrency"),
        "timeout_s": raw.get("timeout_s"),
        "models": [{k: v for k, v in m.items() if v is not None} for m in raw.get("models") or ()],
        "created_at": raw.get("created_at"),
        "updated_at": raw.get("updated_at"),
    }


def etag(table: RoutingTable, entry: ProviderEntry) -> str:
    """Changes whenever the provider's block does (its key included, without revealing it)."""
    return '"' + hashlib.sha256(_encode(_raw(table, entry))).hexdigest()[:20] + '"'


def list_etag(table: RoutingTable, entries: list[ProviderEntry]) -> str:
    joined = "".join(etag(table, e) for e in entries)
    return '"' + hashlib.sha256(joined.encode()).hexdigest()[:20] + '"'


def check_if_match(header: str | None, current: str) -> None:
    if header is None:
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" not in wanted and current not in wanted:
        raise PreconditionFailed(
            "The provider changed since you read it (If-Match does not match)", etag=current
        )


def find(table: RoutingTable, kind: str, provider_id: str) -> ProviderEntry:
    entry = table.providers_by_id.get(provider_id)
    if entry is None or entry.kind != kind:
        raise ProviderNotFound(
            f"Provider with ID '{provider_id}' not found", provider_id=provider_id
        )
    return entry


def _check_url(value: Any) -> None:
    if isinstance(value, str) and value.startswith("${"):
        return  # an environment reference; the loader checks what it expands to
    try:
        url = urllib.parse.urlsplit(value) if isinstance(value, str) else None
    except ValueError:
        url = None
    if url is None or url.scheme not in {"http", "https"} or not url.hostname:
        raise InvalidUrl("Invalid base_url format", field="base_url", value=value)


def _fields(body: Mapping[str, Any], kind: str, provider_id: str | None) -> dict[str, Any]:
    """The writable fields of a request body; server-owned fields must agree or are ignored."""
    if "kind" in body and body["kind"] != kind:
        raise RequestInvalid(
            f"'kind' is {body['kind']!r} but this endpoint manages {kind} providers", param="kind"
        )
    if "id" in body and provider_id is not None and body["id"] != provider_id:
        raise RequestInvalid("'id' cannot be changed", param="id")
    ignored = {"kind", "id", "created_at", "updated_at", "disabled_reason"}
    fields = {k: v for k, v in body.items() if k not in ignored}
    if "base_url" in fields:
        _check_url(fields["base_url"])
    return fields


def _name_free(table: RoutingTable, name: Any, allowed_id: str | None = None) -> None:
    if not isinstance(name, str) or not name.strip():
        raise MissingField("Missing required field: name", field="name")
    other = table.providers.get(name)
    if other is not None and other.id != allowed_id:
        raise ProviderNameExists(
            "Provider with this name already exists", existing_provider_id=other.id, name=name
        )


_MODEL_DEFAULTS: dict[str, Any] = {
    "vision": False,
    "tools": False,
    "embeddings": False,
    "reasoning": False,
}
_PROVIDER_DEFAULTS: dict[str, Any] = {"enabled": True, "timeout_s": 60.0, "models": []}


def _normal(key: str, value: Any) -> Any:
    """A value with defaults dropped, for comparing what a client sent with what is in effect."""
    if key == "models" and isinstance(value, list):
        out = []
        for model in value:
            if not isinstance(model, Mapping):
                return value
            kept = {}
            for k, given in model.items():
                v = given
                if k == "tiers" and isinstance(v, Mapping):
                    v = {dim: tier for dim, tier in v.items() if tier}
                if v is None or v == {} or _MODEL_DEFAULTS.get(k, object()) == v:
                    continue
                kept[k] = v
            out.append(kept)
        return out
    if value is None and key in _PROVIDER_DEFAULTS:
        return _PROVIDER_DEFAULTS[key]
    return value


def _ordered(block: Mapping[str, Any]) -> dict[str, Any]:
    known = {k: block[k] for k in _ORDER if k in block}
    return {**known, **{k: v for k, v in block.items() if k not in known}}


def create_edit(body: Mapping[str, Any], kind: str, clock: float) -> tuple[str, Any]:
    """Validate a create body; return the new id and the edit the config store applies."""
    for required in ("name", "base_url"):
        if body.get(required) in (None, ""):
            raise MissingField(f"Missing required field: {required}", field=required)
    fields = _fields(body, kind, None)
    new_id = str(uuid.uuid4())
    stamp = now_iso(clock)

    def edit(text: str, table: RoutingTable) -> str:
        _name_free(table, fields["name"])
        _check_references(fields, table.config.admin.env_allow)
        block = _ordered(
            {"id": new_id, "kind": kind, **fields, "created_at": stamp, "updated_at": stamp}
        )
        return add_provider(text, block)

    return new_id, edit


def update_edit(
    body: Mapping[str, Any], kind: str, provider_id: str, clock: float, if_match: str | None
) -> Any:
    fields = _fields(body, kind, provider_id)
    if "name" in fields and fields["name"] in (None, ""):
        raise MissingField("Missing required field: name", field="name")
    if "base_url" in fields and fields["base_url"] in (None, ""):
        raise MissingField("Missing required field: base_url", field="base_url")

    def edit(text: str, table: RoutingTable) -> str:
        entry = find(table, kind, provider_id)
        check_if_match(if_match, etag(table, entry))
        if "name" in fields:
            _name_free(table, fields["name"], allowed_id=provider_id)
        raw = _raw(table, entry)
        removals = frozenset(k for k, v in fields.items() if v is None and raw.get(k) is not None)
        # Only what really differs from the effective value is written, so a client that
        # GETs, edits one field and PUTs everything back changes one line, not the block.
        changes = {
            k: v
            for k, v in fields.items()
            if v is not None and _normal(k, v) != _normal(k, raw.get(k))
        }
        if "api_key" in changes and changes["api_key"] == mask(raw.get("api_key")):
            del changes["api_key"]  # the client sent back the masked value: keep the real key
        if "base_url" in changes and changes["base_url"] == entry.display_url:
            del changes["base_url"]  # the same, for a URL shown without its credentials
        _check_references(changes, table.config.admin.env_allow)
        if raw.get("id") is None:
            changes["id"] = provider_id  # pin the derived id so a rename does not change it
        changes["updated_at"] = now_iso(clock)
        index = list(table.providers).index(entry.name)
        return update_provider(text, index, changes, removals)

    return edit


def delete_edit(kind: str, provider_id: str, if_match: str | None) -> Any:
    def edit(text: str, table: RoutingTable) -> str:
        entry = find(table, kind, provider_id)
        check_if_match(if_match, etag(table, entry))
        users = sorted(
            {
                r.name
                for r in table.routes.values()
                if not r.direct and any(t.provider == entry.name for t in r.targets)
            }
        )
        if users:
            raise ProviderInUse(
                f"Cannot delete provider: still used by route(s) {', '.join(users)}",
                provider_id=provider_id,
                routes=users,
            )
        return remove_provider(text, list(table.providers).index(entry.name))

    return edit
