"""File parts (Chat ``file``, Responses ``input_file``) as parts every adapter can carry.

Text files are inlined as text, images become image parts, PDFs stay ``file`` parts
(OpenAI's Chat shape, which OpenAI-compatible providers take as is and the Anthropic
adapter turns into a document block); routing keeps them from targets without
``documents``. Nothing is dropped: what no provider can read is a 400 naming it.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from router.errors import RequestInvalid
from router.routing.files import FileKind, file_kind, file_media_type, split_data_url

__all__ = ["chat_file_part", "inline_files"]


def _decoded(data: str, where: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise RequestInvalid(
            f"{where}.file_data is not valid base64 (or a base64 data: URL)",
            param=f"{where}.file_data",
        ) from None


def chat_file_part(file: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The chat part standing for one file (`file` holds filename/file_data/file_id/file_url)."""
    if file.get("file_id") is not None:
        raise RequestInvalid(
            f"{where}.file_id: Nexus has no Files API to resolve it; send the file's content "
            "as file_data (a base64 data: URL)",
            param=f"{where}.file_id",
        )
    if file.get("file_url") is not None:
        raise RequestInvalid(
            f"{where}.file_url: Nexus does not fetch files on a client's behalf; send the "
            "file's content as file_data (a base64 data: URL)",
            param=f"{where}.file_url",
        )
    data = file.get("file_data")
    if not isinstance(data, str) or not data:
        raise RequestInvalid(f"{where}.file_data is required", param=f"{where}.file_data")
    media_type = file_media_type(file)
    _, payload = split_data_url(data)
    name = file.get("filename") if isinstance(file.get("filename"), str) else None
    kind = file_kind(media_type)
    if kind is FileKind.TEXT:
        try:
            text = _decoded(payload, where).decode("utf-8")
        except UnicodeDecodeError:
            raise RequestInvalid(
                f"{where}: the file {name or ''!s} says it is {media_type} but is not UTF-8 text",
                param=f"{where}.file_data",
            ) from None
        label = f' name="{name}"' if name else ""
        return {"type": "text", "text": f"<file{label}>\n{text}\n</file>"}
    _decoded(payload, where)  # a broken upload is the client's to fix, not the provider's
    url = f"data:{media_type};base64,{payload}"
    if kind is FileKind.IMAGE:
        return {"type": "image_url", "image_url": {"url": url}}
    if kind is FileKind.DOCUMENT:
        return {"type": "file", "file": {"filename": name or "document.pdf", "file_data": url}}
    raise RequestInvalid(
        f"{where}: no provider can read files of type {media_type}"
        f"{f' ({name})' if name else ''}; send text, an image or a PDF",
        param=f"{where}.file_data",
    )


def inline_files(messages: Any) -> list[Any] | None:
    """Chat messages with their ``file`` parts normalized, or None when there are none."""
    if not isinstance(messages, list):
        return None
    out: list[Any] | None = None
    for i, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        if not any(isinstance(p, Mapping) and p.get("type") == "file" for p in content):
            continue
        parts = []
        for j, part in enumerate(content):
            if isinstance(part, Mapping) and part.get("type") == "file":
                file = part.get("file")
                where = f"messages[{i}].content[{j}].file"
                if not isinstance(file, Mapping):
                    raise RequestInvalid(f"{where} must be an object", param=where)
                parts.append(chat_file_part(file, where))
            else:
                parts.append(part)
        out = out if out is not None else list(messages)
        out[i] = {**message, "content": parts}
    return out
