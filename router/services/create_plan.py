"""What a Responses create call asks for, decided from its body alone (no I/O).

`ResponsesService.create` reads the store, routes and dispatches; everything that
can be known from the request first — how to answer, whether to store, which
conversation or chain it continues, its input items — is settled here, so a
malformed request is refused before any of that happens.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import attrs

from router.auth.keys import Identity
from router.dialects.responses.translate import input_items
from router.errors import RequestInvalid

__all__ = ["CreatePlan", "Mode", "plan_create"]


class Mode(enum.Enum):
    JSON = "json"  # answer with the response object
    STREAM = "stream"  # answer with the event stream
    BACKGROUND = "background"  # the work goes on in a task; answer 'queued' or its events


@attrs.frozen
class CreatePlan:
    mode: Mode
    #: Answer with the event stream (a background response's too).
    stream: bool
    store: bool
    #: The conversation the turn belongs to, or None.
    conversation: str | None
    #: The input items, validated and with ids, as they will be stored.
    items: tuple[dict[str, Any], ...]
    #: The key that creates it (None without auth).
    owner: str | None


def _conversation_id(body: Mapping[str, Any]) -> str | None:
    ref = body.get("conversation")
    if ref is None:
        return None
    if isinstance(ref, Mapping):
        ref = ref.get("id")
    if not isinstance(ref, str) or not ref:
        raise RequestInvalid(
            "'conversation' must be a conversation id or {\"id\": ...}", param="conversation"
        )
    return ref


def plan_create(body: Mapping[str, Any], who: Identity | None) -> CreatePlan:
    """Check the body's choices against each other; raise `RequestInvalid` naming the field."""
    if "input" not in body:
        raise RequestInvalid(
            "Missing required parameter: 'input'", param="input", code="missing_required_parameter"
        )
    stream = body.get("stream") is True
    store = body.get("store", True) is not False
    background = body.get("background") is True
    if background and not store:
        raise RequestInvalid(
            "background responses must be stored (store: true)", param="background"
        )
    conversation = _conversation_id(body)
    if conversation is not None and body.get("previous_response_id") is not None:
        raise RequestInvalid(
            "'conversation' and 'previous_response_id' cannot be used together",
            param="conversation",
        )
    mode = Mode.BACKGROUND if background else Mode.STREAM if stream else Mode.JSON
    return CreatePlan(
        mode=mode,
        stream=stream,
        store=store,
        conversation=conversation,
        items=tuple(input_items(body["input"])),
        owner=who.name if who is not None else None,
    )
