"""Inbound authentication: API keys, roles, per-key model allow-lists."""
