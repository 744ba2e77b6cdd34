"""What a file a client sends needs from a target (pure).

A file part (Responses ``input_file``, Chat ``file``) is one of three things:

- text (``text/*``, JSON, Markdown, CSV, YAML, source code …): inlined as text, so
  every model can read it;
- an image: sent as an image, so it needs ``vision``;
- a document (PDF): sent natively, so it needs ``documents`` (OpenAI-compatible and
  Anthropic providers have a document input; Ollama's API has none).

Anything else no provider API can take.
"""

from __future__ import annotations

import enum
import mimetypes
from collections.abc import Mapping
from typing import Any

__all__ = ["FileKind", "file_kind", "file_media_type", "split_data_url"]


class FileKind(enum.StrEnum):
    TEXT = "text"
    IMAGE = "image"
    DOCUMENT = "document"
    UNSUPPORTED = "unsupported"


_TEXT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/yaml",
        "application/x-yaml",
        "application/toml",
        "application/x-ndjson",
        "application/javascript",
        "application/x-sh",
        "application/sql",
        "application/csv",
    }
)
#: Extensions mimetypes does not know as text on every system.
_TEXT_SUFFIXES = frozenset(
    {
        ".md",
        ".markdown",
        ".txt",
        ".csv",
        ".tsv",
        ".json",
        ".jsonl",
        ".yaml",
        ".yml",
        ".toml",
        ".ini",
        ".log",
        ".xml",
        ".html",
        ".py",
        ".js",
        ".ts",
        ".rs",
        ".go",
        ".java",
        ".c",
        ".h",
        ".cpp",
        ".sh",
        ".sql",
        ".rst",
    }
)
_DOCUMENT_TYPES = frozenset({"application/pdf"})


def split_data_url(value: str) -> tuple[str | None, str]:
    """(media type or None, base64 data) of ``data:<type>;base64,<data>`` or bare base64."""
    if not value.startswith("data:"):
        return None, value
    header, _, data = value[5:].partition(",")
    media_type = header.partition(";")[0]
    return (media_type or None), data


def file_media_type(part: Mapping[str, Any]) -> str:
    """The media type of a file part: the data URL's, else guessed from its filename."""
    data = part.get("file_data")
    declared, _ = split_data_url(data) if isinstance(data, str) else (None, "")
    if declared and declared != "application/octet-stream":
        return declared
    name = part.get("filename")
    if isinstance(name, str):
        lowered = name.lower()
        if any(lowered.endswith(suffix) for suffix in _TEXT_SUFFIXES):
            return "text/plain"
        guessed, _ = mimetypes.guess_type(lowered)
        if guessed:
            return guessed
    return declared or "application/octet-stream"


def file_kind(media_type: str) -> FileKind:
    if media_type.startswith("text/") or media_type in _TEXT_TYPES:
        return FileKind.TEXT
    if media_type.startswith("image/"):
        return FileKind.IMAGE
    if media_type in _DOCUMENT_TYPES:
        return FileKind.DOCUMENT
    return FileKind.UNSUPPORTED
