"""Structured outputs on the Messages API: a JSON schema answered through one forced tool call.

A Chat ``response_format`` (``json_schema``, or ``json_object``) becomes a tool whose
input schema is the requested one, and a tool choice that makes the model call it;
the call's input is the answer, returned as the message's content (never as a tool
call), so a client gets the JSON it asked for from every Claude model. ``strict``
carries over to the tool (Anthropic then validates the input against the schema).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from router.errors import RequestInvalid

__all__ = ["ANSWER_TOOL", "answer_tool", "answer_tool_choice"]

#: The tool Nexus adds; a call to it is the answer, not a tool call.
ANSWER_TOOL = "json_answer"

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def answer_tool(response_format: Any) -> dict[str, Any] | None:
    """The tool that carries a structured answer, or None for a plain text answer."""
    if not isinstance(response_format, Mapping):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {
            "name": ANSWER_TOOL,
            "description": "Give your whole answer as one JSON object.",
            "input_schema": _ANY_OBJECT,
        }
    if kind != "json_schema":
        return None
    spec = response_format.get("json_schema")
    spec = spec if isinstance(spec, Mapping) else {}
    schema = spec.get("schema") or _ANY_OBJECT
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        raise RequestInvalid(
            "Anthropic providers answer with a JSON schema whose root is an object",
            param="response_format.json_schema.schema",
        )
    name = spec.get("name")
    description = spec.get("description") or (
        f"Give your whole answer as one {name} object." if name else "Give your whole answer."
    )
    tool: dict[str, Any] = {
        "name": ANSWER_TOOL,
        "description": description,
        "input_schema": dict(schema),
    }
    if spec.get("strict") is True:
        tool["strict"] = True
    return tool


def answer_tool_choice(
    client_choice: Mapping[str, Any] | None, *, client_tools: bool
) -> dict[str, Any]:
    """Force a tool call: ours alone, or any tool when the client offers its own too."""
    if not client_tools or (client_choice is not None and client_choice.get("type") == "none"):
        return {"type": "tool", "name": ANSWER_TOOL}
    if client_choice is not None and client_choice.get("type") == "tool":
        return dict(client_choice)  # the client forces one of its tools first
    return {"type": "any"}
