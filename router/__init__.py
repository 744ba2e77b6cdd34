"""Nexus: a declarative, config-driven LLM router."""

from __future__ import annotations

__all__ = ["__version__"]

#: The one version string: the package metadata (setuptools reads it from here),
#: ``nexus --version``, ``GET /health`` and the User-Agent sent to providers.
__version__ = "0.1.0"
