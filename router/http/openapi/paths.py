"""The operations of the OpenAPI document, one entry per route the app serves.

Every ``/v1`` path is also served without the prefix (the seed's bare paths);
`with_aliases` adds those as copies, so the document lists exactly what the app
routes (a test compares the two).
"""

from __future__ import annotations

from typing import Any

from router.config.model import PROVIDER_KINDS
from router.http.openapi.schemas import ref

__all__ = ["PATHS", "with_aliases"]

Operation = dict[str, Any]

_REASONS = {
    "400": "The request is malformed or a field is invalid",
    "401": "No key, or an unknown key",
    "403": "The key may not do this (role, or a model it may not use)",
    "404": "The model or the object named does not exist (or belongs to another key)",
    "408": "The client did not send the whole body in time (`server.body_timeout_s`)",
    "409": "The object's state, or the file on disk, forbids the operation",
    "412": "`If-Match` does not match the provider's current ETag",
    "413": "The body exceeds the endpoint's limit",
    "415": "The body is not JSON",
    "422": "The edited config would not compile; nothing was written",
    "429": "A key's or every candidate provider's rate limit is spent (`Retry-After`)",
    "502": "The provider answered with an error or an unreadable answer",
    "503": "No provider may serve the request (the routing contract), or the store is down",
    "504": "The provider did not answer in time",
}
_BODY_ERRORS = ("400", "408", "413", "415")
#: One server-sent event; `data` is a JSON object, or `[DONE]` at the end of a chat stream.
_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}},
}
_INFERENCE_ERRORS = ("401", "403", "404", "429", "502", "503", "504")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _errors(envelope: str, codes: tuple[str, ...]) -> dict[str, Any]:
    schema = _json(ref(envelope))
    out: dict[str, Any] = {
        code: {"description": _REASONS[code], "content": schema} for code in codes
    }
    out["default"] = {"description": "Any other error, in the same envelope", "content": schema}
    return out


def _op(
    operation_id: str,
    summary: str,
    tag: str,
    ok: tuple[str, str, dict[str, Any] | None],
    errors: tuple[str, ...] = (),
    *,
    body: str | None = None,
    params: tuple[dict[str, Any], ...] = (),
    sse: bool = False,
    public: bool = False,
) -> Operation:
    status, description, schema = ok
    success: dict[str, Any] = {"description": description}
    if schema is not None:
        success["content"] = _json(schema)
        if sse:
            success["content"]["text/event-stream"] = {"schema": _EVENT}
    envelope = {
        "providers": "SeedError",
        "admin": "SeedError",
        "dashboard": "SeedError",
        "messages": "AnthropicError",
    }.get(tag, "OpenAIError")
    codes = (*_BODY_ERRORS, *errors) if body else errors
    operation: Operation = {
        "operationId": operation_id,
        "summary": summary,
        "tags": [tag],
        "responses": {status: success, **({} if public else _errors(envelope, codes))},
    }
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = {"required": True, "content": _json(ref(body))}
    if public:
        operation["security"] = []
    return operation


def _path(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", **schema},
    }


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def _header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


_ROUTING = (
    _header("X-Nexus-Strict", "Any value: only the route's own targets"),
    _header("X-Nexus-Flexible", "`true`: equally capable alternatives may serve"),
)
_PAGE = (
    _query("after", {"type": "string"}, "An item id: list the items after it"),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}, "Page size"),
    _query(
        "order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}, "Order by creation"
    ),
)
_INCLUDE = _query("include", {"type": "array", "items": {"type": "string"}}, "Accepted, ignored")
_RESPONSE_ID = _path("response_id", "A stored response's id (`resp_…`)")
_CONVERSATION_ID = _path("conversation_id", "A conversation's id (`conv_…`)")
_ITEM_ID = _path("item_id", "An item's id (`msg_…`, `fc_…`)")
_KIND = _path("kind", "The provider kind", enum=list(PROVIDER_KINDS))
_PROVIDER_ID = _path("provider_id", "The provider's id (a UUID)")
_IF_MATCH = _header("If-Match", "An ETag from a previous answer: refuse (412) if it changed")
_STORE_ERRORS = ("401", "404", "429", "503")
_ADMIN_ERRORS = ("401", "403", "429")
_PROVIDER_ERRORS = (*_ADMIN_ERRORS, "404", "409")
_LIST = ref("List")
_READY = {"type": "object", "required": ["status", "checks"]}

PATHS: dict[str, dict[str, Operation]] = {
    "/v1/chat/completions": {
        "post": _op(
            "createChatCompletion",
            "OpenAI Chat Completions, JSON or SSE (`stream`), routed and failed over",
            "inference",
            (
                "200",
                "The completion (or an SSE stream when `stream` is true)",
                ref("ChatCompletion"),
            ),
            _INFERENCE_ERRORS,
            body="ChatCompletionRequest",
            params=_ROUTING,
            sse=True,
        )
    },
    "/v1/responses": {
        "post": _op(
            "createResponse",
            "OpenAI Responses: JSON, an SSE event stream (`stream`) or queued (`background`)",
            "responses",
            ("200", "The response (or its SSE events when `stream` is true)", ref("Response")),
            (*_INFERENCE_ERRORS, "409"),
            body="ResponseRequest",
            params=_ROUTING,
            sse=True,
        )
    },
    "/v1/responses/{response_id}": {
        "get": _op(
            "getResponse",
            "A stored response; with `stream=true` a background response's SSE events, "
            "replayed after `starting_after` and then followed live",
            "responses",
            ("200", "The response (or its SSE events when `stream` is true)", ref("Response")),
            ("400", *_STORE_ERRORS),
            params=(
                _RESPONSE_ID,
                _query("stream", {"type": "boolean"}, "Stream a background response's events"),
                _query(
                    "starting_after",
                    {"type": "integer", "minimum": 0},
                    "Replay the events after this sequence number",
                ),
            ),
            sse=True,
        ),
        "delete": _op(
            "deleteResponse",
            "Delete a stored response",
            "responses",
            ("204", "Deleted", None),
            _STORE_ERRORS,
            params=(_RESPONSE_ID,),
        ),
    },
    "/v1/responses/{response_id}/cancel": {
        "post": _op(
            "cancelResponse",
            "Cancel a background response (400 for others, 409 once finished)",
            "responses",
            ("200", "The cancelled response", ref("Response")),
            ("400", "409", *_STORE_ERRORS),
            params=(_RESPONSE_ID,),
        )
    },
    "/v1/responses/{response_id}/input_items": {
        "get": _op(
            "listInputItems",
            "A stored response's input items, cursor-paginated",
            "responses",
            ("200", "One page", _LIST),
            ("400", *_STORE_ERRORS),
            params=(_RESPONSE_ID, *_PAGE),
        )
    },
    "/v1/conversations": {
        "post": _op(
            "createConversation",
            "Create a conversation",
            "conversations",
            ("201", "The conversation", ref("Conversation")),
            _STORE_ERRORS,
            body="ConversationCreate",
        )
    },
    "/v1/conversations/{conversation_id}": {
        "get": _op(
            "getConversation",
            "A conversation",
            "conversations",
            ("200", "The conversation", ref("Conversation")),
            _STORE_ERRORS,
            params=(_CONVERSATION_ID,),
        ),
        "post": _op(
            "updateConversation",
            "Replace a conversation's metadata",
            "conversations",
            ("200", "The conversation", ref("Conversation")),
            _STORE_ERRORS,
            body="ConversationUpdate",
            params=(_CONVERSATION_ID,),
        ),
        "delete": _op(
            "deleteConversation",
            "Delete a conversation and its items",
            "conversations",
            ("200", "`{id, object: conversation.deleted, deleted: true}`", {"type": "object"}),
            _STORE_ERRORS,
            params=(_CONVERSATION_ID,),
        ),
    },
    "/v1/conversations/{conversation_id}/items": {
        "post": _op(
            "createConversationItems",
            "Append items (`{items}`: answers the list) or one item (the seed's: answers it, 201)",
            "conversations",
            ("200", "The items appended (`{items}`)", _LIST),
            _STORE_ERRORS,
            body="ItemsCreate",
            params=(_CONVERSATION_ID, _INCLUDE),
        ),
        "get": _op(
            "listConversationItems",
            "A conversation's items, cursor-paginated",
            "conversations",
            ("200", "One page", _LIST),
            ("400", *_STORE_ERRORS),
            params=(_CONVERSATION_ID, *_PAGE, _INCLUDE),
        ),
    },
    "/v1/conversations/{conversation_id}/items/{item_id}": {
        "get": _op(
            "getConversationItem",
            "One item",
            "conversations",
            ("200", "The item", {"type": "object", "required": ["id"]}),
            _STORE_ERRORS,
            params=(_CONVERSATION_ID, _ITEM_ID),
        ),
        "delete": _op(
            "deleteConversationItem",
            "Delete one item; answers the conversation",
            "conversations",
            ("200", "The conversation", ref("Conversation")),
            _STORE_ERRORS,
            params=(_CONVERSATION_ID, _ITEM_ID),
        ),
    },
    "/v1/models": {
        "get": _op(
            "listModels",
            "Routes and directly served models that are routable now (and this key may use)",
            "models",
            ("200", "The models", ref("ModelList")),
            ("401", "429"),
        )
    },
    "/v1/models/{model_id}": {
        "get": _op(
            "getModel",
            "One model (its id may contain `/`)",
            "models",
            ("200", "The model", ref("Model")),
            ("401", "404", "429"),
            params=(_path("model_id", "A route's or a served model's name"),),
        )
    },
    "/v1/messages": {
        "post": _op(
            "createMessage",
            "Anthropic Messages, JSON or SSE (`stream`), routed like chat completions; "
            "passed through to Anthropic-kind providers",
            "messages",
            ("200", "The message (or its SSE events when `stream` is true)", ref("Message")),
            _INFERENCE_ERRORS,
            body="MessageRequest",
            params=_ROUTING,
            sse=True,
        )
    },
    "/v1/messages/count_tokens": {
        "post": _op(
            "countMessageTokens",
            "The prompt's tokens: an Anthropic-kind provider's count, else the routing estimate",
            "messages",
            ("200", "The count", ref("MessageTokens")),
            _INFERENCE_ERRORS,
            body="MessageTokensRequest",
            params=_ROUTING,
        )
    },
    "/v1/embeddings": {
        "post": _op(
            "createEmbeddings",
            "Embeddings, routed to models with `embeddings: true` (float or base64)",
            "inference",
            ("200", "The vectors", ref("Embeddings")),
            _INFERENCE_ERRORS,
            body="EmbeddingRequest",
            params=_ROUTING,
        )
    },
    "/v1/images/generations": {
        "post": _op(
            "createImages",
            "Image generation, routed to models with `images: true` (passed through)",
            "inference",
            ("200", "The images", ref("Images")),
            _INFERENCE_ERRORS,
            body="ImageRequest",
            params=_ROUTING,
        )
    },
    "/v1/route/explain": {
        "post": _op(
            "explainRoute",
            "The routing decision for a request, without calling any provider",
            "inference",
            (
                "200",
                "The decision and why each candidate was or was not chosen",
                ref("Explanation"),
            ),
            ("401", "403", "429"),
            body="ExplainRequest",
            params=_ROUTING,
        )
    },
    "/api/v1/llm-provider/{kind}": {
        "get": _op(
            "listProviders",
            "The providers of one kind (`ETag` over all of them)",
            "providers",
            ("200", "The providers", ref("ProviderList")),
            (*_ADMIN_ERRORS, "404"),
            params=(_KIND,),
        ),
        "post": _op(
            "createProvider",
            "Add a provider to the config file (same transaction as a reload)",
            "providers",
            ("201", "The provider as written (`Location`, `ETag`)", ref("Provider")),
            (*_PROVIDER_ERRORS, "422", "503"),
            body="ProviderCreate",
            params=(_KIND,),
        ),
    },
    "/api/v1/llm-provider/{kind}/{provider_id}": {
        "get": _op(
            "getProvider",
            "One provider (`ETag`)",
            "providers",
            ("200", "The provider, its key masked", ref("Provider")),
            (*_ADMIN_ERRORS, "404"),
            params=(_KIND, _PROVIDER_ID),
        ),
        "put": _op(
            "updateProvider",
            "Change a provider's fields in the config file",
            "providers",
            ("200", "The provider as written", ref("Provider")),
            (*_PROVIDER_ERRORS, "412", "422", "503"),
            body="ProviderUpdate",
            params=(_KIND, _PROVIDER_ID, _IF_MATCH),
        ),
        "delete": _op(
            "deleteProvider",
            "Remove a provider no route names from the config file",
            "providers",
            ("204", "Deleted", None),
            (*_PROVIDER_ERRORS, "412", "422", "503"),
            params=(_KIND, _PROVIDER_ID, _IF_MATCH),
        ),
    },
    "/api/v1/llm-provider/{kind}/{provider_id}/models": {
        "get": _op(
            "listProviderModels",
            "Ask the provider for its models, merged with what the config says about them",
            "providers",
            ("200", "The models", ref("ProviderModels")),
            (*_ADMIN_ERRORS, "404", "408", "422", "502", "503", "504"),
            params=(_KIND, _PROVIDER_ID),
        )
    },
    "/admin/config": {
        "get": _op(
            "getConfigStatus",
            "The loaded version, where it came from and how the last reload went",
            "admin",
            ("200", "The status", ref("ConfigStatus")),
            _ADMIN_ERRORS,
        )
    },
    "/admin/config/reload": {
        "post": _op(
            "reloadConfig",
            "Re-read the file now (422 with every error when it is invalid; still serving)",
            "admin",
            ("200", "`{result, ...status}`", ref("ConfigStatus")),
            (*_ADMIN_ERRORS, "422"),
        )
    },
    "/admin/providers": {
        "get": _op(
            "getProviderStates",
            "Each provider's configuration (never its key) and run-time state",
            "admin",
            (
                "200",
                "The providers",
                {"type": "object", "required": ["config_version", "providers"]},
            ),
            _ADMIN_ERRORS,
        )
    },
    "/admin/spend": {
        "get": _op(
            "getSpend",
            "Spend in the current UTC day, week or month by provider, zone, route, key and "
            "model, and each budget's state",
            "admin",
            (
                "200",
                "The report",
                {
                    "type": "object",
                    "required": [
                        "total_usd",
                        "by_provider",
                        "by_zone",
                        "by_route",
                        "by_key",
                        "budgets",
                    ],
                },
            ),
            (*_ADMIN_ERRORS, "400", "503"),
            params=(
                _query(
                    "period",
                    {"type": "string", "enum": ["day", "week", "month"], "default": "day"},
                    "The UTC calendar period (its current one)",
                ),
            ),
        )
    },
    "/health": {
        "get": _op(
            "health",
            "Liveness: the process answers",
            "operations",
            ("200", "`{status: ok}`", {"type": "object"}),
            public=True,
        )
    },
    "/ready": {
        "get": _op(
            "ready",
            "Readiness: config loaded, store reachable, a provider routable",
            "operations",
            ("200", "Ready (or degraded: shared state lost)", _READY),
            public=True,
        )
    },
    "/metrics": {
        "get": _op(
            "metrics",
            "Prometheus metrics",
            "operations",
            ("200", "Text exposition", None),
            public=True,
        )
    },
    "/schema/openapi.json": {
        "get": _op(
            "openapi",
            "This document",
            "operations",
            ("200", "OpenAPI 3.1", {"type": "object", "required": ["openapi", "paths"]}),
            public=True,
        )
    },
}
PATHS["/ready"]["get"]["responses"]["503"] = {
    "description": "Not ready: which check failed",
    "content": _json(_READY),
}
PATHS["/v1/conversations/{conversation_id}/items"]["post"]["responses"]["201"] = {
    "description": "The one item appended (the seed's single-item body)",
    "content": _json({"type": "object", "required": ["id", "type", "object"]}),
}
PATHS["/metrics"]["get"]["responses"]["200"]["content"] = {
    "text/plain": {"schema": {"type": "string"}}
}


def with_aliases(paths: dict[str, dict[str, Operation]]) -> dict[str, dict[str, Operation]]:
    """`paths` plus each ``/v1/...`` inference path at its bare alias (``/v1`` dropped)."""
    out = dict(paths)
    for path, operations in paths.items():
        if not path.startswith("/v1/"):
            continue
        out[path.removeprefix("/v1")] = {
            method: {
                **operation,
                "operationId": operation["operationId"] + "Bare",
                "description": f"The same as `{method.upper()} {path}` (the seed's bare path).",
            }
            for method, operation in operations.items()
        }
    return out
