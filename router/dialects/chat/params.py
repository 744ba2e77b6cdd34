"""Chat request parameters a provider dialect cannot honour: a 400 naming them, never a silent loss.

Sampling knobs a provider lacks (``seed`` on Anthropic, ``service_tier`` off OpenAI)
change nothing a client can check and are dropped; these change what the answer
*is* — several choices, token log-probabilities, spoken audio — so a provider that
cannot give them is refused before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import RequestInvalid

__all__ = ["refuse_audio", "refuse_beyond_one_text_choice"]


def refuse_audio(body: Mapping[str, Any]) -> None:
    """Audio output: no dialect here carries it yet (text in, text out)."""
    modalities = body.get("modalities")
    if body.get("audio") is not None or (
        isinstance(modalities, list) and any(m != "text" for m in modalities)
    ):
        raise RequestInvalid(
            "Audio output is not supported by this router: use modalities ['text'] "
            "and leave 'audio' out",
            param="modalities",
        )


def refuse_beyond_one_text_choice(body: Mapping[str, Any], dialect: str) -> None:
    """``n`` > 1 and log-probabilities, which only OpenAI-compatible providers return."""
    refuse_audio(body)
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise RequestInvalid(
            f"n > 1 is not supported by {dialect} providers; send n separate requests",
            param="n",
        )
    for key in ("logprobs", "top_logprobs"):
        if body.get(key):
            raise RequestInvalid(
                f"'{key}' is not supported by {dialect} providers "
                "(only OpenAI-compatible ones return log-probabilities)",
                param=key,
            )
