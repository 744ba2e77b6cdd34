"""Who may see and use what: ownership of stored objects, and a key's model list."""

from __future__ import annotations

from router.auth.keys import Identity
from router.errors import PermissionDenied

__all__ = ["require_model_access", "visible"]


def visible(owner: str | None, who: Identity | None) -> bool:
    """Without auth everything is visible; admins see all; a user key sees what it created."""
    return who is None or who.admin or owner == who.name


def require_model_access(identity: Identity | None, model: str) -> None:
    if identity is not None and not identity.may_use(model):
        raise PermissionDenied(f"This key may not use model '{model}'", code="model_not_allowed")
