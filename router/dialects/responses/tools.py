"""Responses tools as Chat Completions function tools, and calls back as Responses items (pure).

Chat Completions (our internal dialect) knows one kind of tool, the function. The
Responses API has more, and clients such as Codex CLI offer all of them:

- ``function`` tools map one to one;
- ``custom`` (freeform) tools become functions with one string argument, ``input``
  (a grammar, if given, goes into the description), and their calls come back as
  ``custom_tool_call`` items;
- ``namespace`` tools are flattened to ``<namespace>__<name>`` functions and their
  calls restored to the name and ``namespace`` the client declared;
- tools that run on OpenAI's side or need a model trained for them (``web_search``,
  ``file_search``, ``code_interpreter``, ``image_generation``, ``mcp``, computer use,
  ``local_shell``, ``shell``, ``apply_patch``, ``tool_search`` …) have no Chat
  equivalent. Offered, they are left out of the upstream request and listed in
  ``Toolset.dropped`` (the client sees them in a response header); required by
  ``tool_choice``, the request is refused, because no target could honour it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import msgspec

from router.errors import RequestInvalid
from router.ids import new_id

__all__ = ["SEPARATOR", "ToolNames", "Toolset", "toolset"]

#: Between a namespace and a tool name in the flattened function name.
SEPARATOR = "__"

_decode = msgspec.json.decode
_encode = msgspec.json.encode

#: Tool types Chat Completions cannot carry (hosted, or native to OpenAI's own models).
_NOT_CARRIED = frozenset(
    {
        "web_search",
        "web_search_2025_08_26",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "file_search",
        "code_interpreter",
        "image_generation",
        "mcp",
        "computer",
        "computer_use_preview",
        "local_shell",
        "shell",
        "apply_patch",
        "tool_search",
        "programmatic_tool_calling",
    }
)

_INPUT_SCHEMA = {
    "type": "object",
    "properties": {"input": {"type": "string", "description": "The tool's whole input."}},
    "required": ["input"],
    "additionalProperties": False,
}


@attrs.frozen
class ToolNames:
    """How a chat function name maps back to the Responses tool the client declared."""

    custom: frozenset[str] = frozenset()
    namespaced: Mapping[str, tuple[str, str]] = attrs.field(factory=dict)

    def chat_name(self, name: str, namespace: str | None) -> str:
        return f"{namespace}{SEPARATOR}{name}" if namespace else name

    def call_item(self, chat_name: str, call_id: str, arguments: str) -> dict[str, Any]:
        """The Responses output item for a chat tool call (``function_call`` or ``custom_tool_call``)."""
        namespace, name = self.namespaced.get(chat_name, (None, chat_name))
        if chat_name in self.custom:
            item: dict[str, Any] = {
                "id": new_id("ctc"),
                "type": "custom_tool_call",
                "status": "completed",
                "call_id": call_id,
                "name": name,
                "input": custom_input(arguments),
            }
        else:
            item = {
                "id": new_id("fc"),
                "type": "function_call",
                "status": "completed",
                "call_id": call_id,
                "name": name,
                "arguments": arguments,
            }
        if namespace is not None:
            item["namespace"] = namespace
        return item


def custom_input(arguments: str) -> str:
    """A custom tool's input from the function arguments the model wrote (``{"input": …}``)."""
    try:
        value = _decode(arguments) if arguments else {}
    except msgspec.DecodeError:
        return arguments  # the model wrote the input bare: that is the input
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


def custom_arguments(text: str) -> str:
    """The function arguments standing for a custom tool call's input."""
    return _encode({"input": text}).decode()


@attrs.frozen
class Toolset:
    chat: list[dict[str, Any]]
    names: ToolNames
    dropped: tuple[str, ...] = ()


def _function(tool: Mapping[str, Any], name: str) -> dict[str, Any]:
    if "function" in tool:  # Chat Completions' nested shape, accepted too
        return dict(tool)
    function = {k: tool[k] for k in ("description", "parameters", "strict") if k in tool}
    converted: dict[str, Any] = {"type": "function", "function": {"name": name, **function}}
    if "cache_control" in tool:  # a prompt-cache mark (see router.dialects.anthropic.caching)
        converted["cache_control"] = tool["cache_control"]
    return converted


def _custom(tool: Mapping[str, Any], name: str) -> dict[str, Any]:
    description = str(tool.get("description") or "")
    fmt = tool.get("format")
    if isinstance(fmt, Mapping) and fmt.get("type") == "grammar":
        syntax = fmt.get("syntax", "lark")
        description += (
            f"\n\nThe input must follow this {syntax} grammar:\n{fmt.get('definition', '')}"
        )
    description += "\n\nPass the whole input as the string argument `input`."
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description.strip(),
            "parameters": _INPUT_SCHEMA,
        },
    }


def _name(tool: Mapping[str, Any], where: str) -> str:
    name = tool.get("name") if "function" not in tool else (tool["function"] or {}).get("name")
    if not isinstance(name, str) or not name:
        raise RequestInvalid(f"{where}.name is required", param=f"{where}.name")
    return name


def toolset(tools: Any, tool_choice: Any = None) -> Toolset:
    """The chat tools for a Responses request's ``tools`` (validated)."""
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise RequestInvalid("'tools' must be a list", param="tools")
    chat: list[dict[str, Any]] = []
    custom: set[str] = set()
    namespaced: dict[str, tuple[str, str]] = {}
    dropped: list[str] = []
    seen: dict[str, str] = {}

    def add(tool: Mapping[str, Any], where: str, namespace: str | None) -> None:
        kind = tool.get("type")
        name = _name(tool, where)
        flat = f"{namespace}{SEPARATOR}{name}" if namespace else name
        if flat in seen:
            raise RequestInvalid(
                f"{where}: the tool name {flat!r} is also used by {seen[flat]}",
                param=f"{where}.name",
            )
        seen[flat] = where
        if namespace:
            namespaced[flat] = (namespace, name)
        if kind == "custom":
            custom.add(flat)
            chat.append(_custom(tool, flat))
        else:
            chat.append(_function(tool, flat))

    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or not isinstance(kind, str):
            raise RequestInvalid(f"{where} must be an object with a type", param=where)
        if kind in {"function", "custom"}:
            add(tool, where, None)
        elif kind == "namespace":
            namespace = tool.get("name")
            inner = tool.get("tools")
            if not isinstance(namespace, str) or not namespace or not isinstance(inner, list):
                raise RequestInvalid(
                    f"{where}: a namespace needs a name and a list of tools", param=where
                )
            for j, member in enumerate(inner):
                member_where = f"{where}.tools[{j}]"
                if not isinstance(member, Mapping) or member.get("type") not in {
                    "function",
                    "custom",
                }:
                    raise RequestInvalid(
                        f"{member_where}: a namespace holds function and custom tools only",
                        param=f"{member_where}.type",
                    )
                add(member, member_where, namespace)
        elif kind in _NOT_CARRIED:
            dropped.append(kind)
        else:
            raise RequestInvalid(f"{where}: tool type {kind!r} is not supported", param=where)
    _check_choice(tool_choice)
    return Toolset(chat, ToolNames(frozenset(custom), namespaced), tuple(dropped))


def _check_choice(choice: Any) -> None:
    if not isinstance(choice, Mapping):
        return
    kind = choice.get("type")
    if kind in _NOT_CARRIED:
        raise RequestInvalid(
            f"tool_choice requires the {kind!r} tool, which no target can run: it needs "
            "OpenAI's Responses API upstream, and Nexus speaks Chat Completions to providers",
            param="tool_choice",
        )


def chat_tool_choice(choice: Any, names: ToolNames) -> Any:
    """A Responses ``tool_choice`` in Chat Completions' shape."""
    if isinstance(choice, Mapping) and choice.get("type") in {"function", "custom"}:
        if "function" in choice:  # already Chat's shape
            return dict(choice)
        if isinstance(choice.get("name"), str):
            name = names.chat_name(choice["name"], choice.get("namespace"))
            return {"type": "function", "function": {"name": name}}
    return choice
