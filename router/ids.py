"""Opaque, typed ids: ``resp_…``, ``msg_…``, ``fc_…``, ``conv_…``."""

from __future__ import annotations

import secrets

__all__ = ["new_id"]


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(16)}"
