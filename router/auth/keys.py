"""Compile ``auth`` into lookup structures, and authenticate a presented key (pure)."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

import attrs

from router.config.envvars import expand
from router.config.model import AuthConfig, Role

__all__ = ["AuthTable", "Identity", "compile_auth", "presented_key"]

_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)


@attrs.frozen
class Identity:
    """Who is calling: a configured key's name and role (the key itself is never kept)."""

    name: str
    role: Role
    rpm: int | None = None
    models: tuple[str, ...] | None = None

    @property
    def admin(self) -> bool:
        return self.role is Role.ADMIN

    def may_use(self, model: str) -> bool:
        return self.models is None or any(fnmatch.fnmatchcase(model, p) for p in self.models)


@attrs.frozen
class _Key:
    digest: bytes = attrs.field(repr=False)
    identity: Identity


@attrs.frozen
class AuthTable:
    """``required`` is False for ``mode: none``; ``keys`` are compared by SHA-256 digest."""

    required: bool
    keys: tuple[_Key, ...] = ()

    def authenticate(self, key: str) -> Identity | None:
        """Find the key's identity, comparing against every configured key in constant time."""
        return self.identify(hashlib.sha256(key.encode()).digest())

    def identify(self, digest: bytes) -> Identity | None:
        """The identity of the key whose SHA-256 is `digest`, if it is still configured.

        The dashboard's sessions keep only this digest, so rotating the key ends them.
        """
        found = None
        for candidate in self.keys:  # no early exit: timing says nothing about which matched
            if hmac.compare_digest(candidate.digest, digest):
                found = candidate.identity
        return found


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The key from ``Authorization: Bearer ...`` or ``x-api-key``."""
    match = _BEARER.match(headers.get("authorization", ""))
    if match:
        return match.group(1)
    key = headers.get("x-api-key", "").strip()
    return key or None


def compile_auth(
    auth: AuthConfig | None,
    env: Mapping[str, str],
    error: Callable[[str, tuple[str | int, ...]], None],
    warn: Callable[[str, tuple[str | int, ...]], None],
) -> AuthTable | None:
    if auth is None:
        return None
    if auth.mode == "none":
        if auth.keys:
            warn("auth.mode is 'none': the keys listed are ignored", ("auth", "keys"))
        return AuthTable(required=False)
    compiled: list[_Key] = []
    names: set[str] = set()
    for i, key in enumerate(auth.keys):
        path: tuple[str | int, ...] = ("auth", "keys", i)
        if key.name in names:
            error(f"duplicate key name {key.name!r}", (*path, "name"))
        names.add(key.name)
        identity = Identity(key.name, key.role, key.rpm, key.models)
        if key.sha256 is not None:
            compiled.append(_Key(bytes.fromhex(key.sha256), identity))
            continue
        assert key.key is not None  # the schema requires key or sha256
        if "${" not in key.key:
            warn(
                f"key {key.name!r} is written in plain text: use ${{VAR}} or sha256 so it "
                "never lands in git",
                (*path, "key"),
            )
        result = expand(key.key, env)
        if result.value is None:
            warn(
                f"key {key.name!r} is disabled: environment variable "
                f"{', '.join(result.missing)} is not set",
                (*path, "key"),
            )
            continue
        compiled.append(_Key(hashlib.sha256(result.value.encode()).digest(), identity))
    if not compiled:
        warn("auth requires keys but none is usable: every request will get 401", ("auth",))
    return AuthTable(required=True, keys=tuple(compiled))
