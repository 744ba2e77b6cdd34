"""OpenAI embeddings bodies: validate the input, write the list object (floats or base64)."""

from __future__ import annotations

import base64
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from router.errors import RequestInvalid

__all__ = ["embedding_list", "text_inputs"]

_encode = msgspec.json.Encoder().encode


def text_inputs(body: Mapping[str, Any]) -> list[str]:
    """The texts to embed; token arrays are rejected where a provider cannot take them."""
    given = body.get("input")
    if isinstance(given, str):
        return [given]
    if isinstance(given, list) and given and all(isinstance(x, str) for x in given):
        return list(given)
    raise RequestInvalid(
        "'input' must be a string or a non-empty list of strings for this provider",
        param="input",
    )


def _vector(values: Sequence[float], encoding: str) -> list[float] | str:
    if encoding == "base64":  # little-endian float32, what the openai SDK decodes
        return base64.b64encode(struct.pack(f"<{len(values)}f", *values)).decode()
    return list(values)


def embedding_list(
    vectors: Sequence[Sequence[float]], *, model: str, prompt_tokens: int, encoding: str
) -> bytes:
    return _encode(
        {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": _vector(v, encoding)}
                for i, v in enumerate(vectors)
            ],
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
