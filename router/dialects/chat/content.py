"""Read OpenAI chat message content: text, images, tool-call arguments."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from router.errors import RequestInvalid

__all__ = ["arguments_object", "data_url", "document_urls", "image_urls", "text_of"]

_TEXT_PARTS = frozenset({"text", "input_text", "output_text"})


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(p.get("text", ""))
            for p in content
            if isinstance(p, Mapping) and p.get("type") in _TEXT_PARTS
        )
    return ""


def image_urls(content: Any) -> list[str]:
    """The URLs (http or data:) of a message's image parts."""
    urls: list[str] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") not in {
                "image_url",
                "input_image",
            }:
                continue
            url = part.get("image_url")
            if isinstance(url, Mapping):
                url = url.get("url")
            if isinstance(url, str):
                urls.append(url)
    return urls


def document_urls(content: Any) -> list[tuple[str, str]]:
    """(filename, data: URL) of a message's document (``file``) parts."""
    found: list[tuple[str, str]] = []
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "file":
                continue
            file = part.get("file")
            if isinstance(file, Mapping):
                data = file.get("file_data")
                if isinstance(data, str):
                    found.append((str(file.get("filename") or "document"), data))
    return found


def data_url(url: str) -> tuple[str, str] | None:
    """Split ``data:image/png;base64,AAAA`` into (media type, base64 data)."""
    if not url.startswith("data:"):
        return None
    header, _, data = url[5:].partition(",")
    media_type, _, encoding = header.partition(";")
    if encoding != "base64":
        return None
    return media_type or "application/octet-stream", data


def arguments_object(arguments: Any, where: str) -> dict[str, Any]:
    """Tool-call arguments are a JSON string in OpenAI's format and an object elsewhere."""
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError) as exc:
        raise RequestInvalid(
            f"{where}: function arguments are not valid JSON", param=where
        ) from exc
    if not isinstance(value, dict):
        raise RequestInvalid(f"{where}: function arguments must be a JSON object", param=where)
    return value
