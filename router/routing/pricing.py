"""What a request cost: a model's price applied to the usage its provider reported. Pure."""

from __future__ import annotations

from router.config.model import Price

__all__ = ["cost_usd", "usd_text"]

_PER = 1_000_000


def cost_usd(
    price: Price | None, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
) -> float:
    """USD for one answer; ``prompt_tokens`` includes the cached ones (as OpenAI counts them).

    No price: a local model, free.
    """
    if price is None:
        return 0.0
    cached = min(max(cached_tokens, 0), prompt_tokens)
    cached_price = price.input if price.cached_input is None else price.cached_input
    return (
        (prompt_tokens - cached) * price.input
        + cached * cached_price
        + completion_tokens * price.output
    ) / _PER


def usd_text(usd: float) -> str:
    """A decimal string without exponent or float noise: ``0.000125``, ``0``."""
    if not usd:
        return "0"  # every answer of a free (local) model: no formatting on the hot path
    text = f"{usd:.10f}".rstrip("0").rstrip(".")
    return text or "0"
