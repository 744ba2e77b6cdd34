"""JSON Schemas of the OpenAPI document's components: request bodies, answers, error envelopes.

Request bodies follow OpenAI's own API reference (required fields, types, the enums
of ``role``, content part ``type``, ``encoding_format``, ``text.format.type``...)
so that a generator such as schemathesis produces requests the router must
accept, and, by breaking them, requests it must refuse with a 4xx. Unknown fields
stay allowed where OpenAI allows them: the router passes them through.
"""

from __future__ import annotations

from typing import Any

from router.config.model import PROVIDER_KINDS

__all__ = ["SCHEMAS", "ref"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...] = (), /, **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_NULL_STR: Schema = {"type": ["string", "null"]}
_NULL_INT: Schema = {"type": ["integer", "null"]}
_NAME: Schema = {"type": "string", "minLength": 1}
_METADATA: Schema = {
    "description": "Up to 16 string pairs; keys of at most 64 characters, values of at most 512.",
    "type": "object",
    "maxProperties": 16,
    "propertyNames": {"maxLength": 64},
    "additionalProperties": {"type": "string", "maxLength": 512},
}
_LIST: Schema = _obj(
    ("object", "data", "first_id", "last_id", "has_more"),
    object=_enum("list"),
    data={"type": "array", "items": {"type": "object"}},
    first_id=_NULL_STR,
    last_id=_NULL_STR,
    has_more=_BOOL,
)

# -- Chat Completions ----------------------------------------------------------------------

_TEXT_PART = _obj(("type", "text"), type=_enum("text"), text=_STR)
_IMAGE_PART = _obj(
    ("type", "image_url"),
    type=_enum("image_url"),
    image_url=_obj(("url",), url=_STR, detail=_enum("auto", "low", "high")),
)
_AUDIO_PART = _obj(
    ("type", "input_audio"),
    type=_enum("input_audio"),
    input_audio=_obj(("data", "format"), data=_STR, format=_enum("wav", "mp3")),
)
_REFUSAL_PART = _obj(("type", "refusal"), type=_enum("refusal"), refusal=_STR)


def _content(*parts: Schema, nullable: bool = False) -> Schema:
    alternatives: list[Schema] = [_STR, {"type": "array", "items": {"anyOf": list(parts)}}]
    if nullable:
        alternatives.append({"type": "null"})
    return {"anyOf": alternatives}


_TOOL_CALL = _obj(
    ("id", "type", "function"),
    id=_STR,
    type=_enum("function"),
    function=_obj(
        ("name", "arguments"),
        name=_STR,
        arguments={"type": "string", "description": "A JSON object, encoded."},
    ),
)
_FUNCTION = _obj(
    ("name",),
    name={"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$"},
    description=_STR,
    parameters={"type": "object", "description": "A JSON Schema object."},
    strict={"type": ["boolean", "null"]},
)
_CHAT_MESSAGE: Schema = {
    "oneOf": [
        _obj(
            ("role", "content"),
            role=_enum("system", "developer"),
            content=_content(_TEXT_PART),
            name=_STR,
        ),
        _obj(
            ("role", "content"),
            role=_enum("user"),
            content=_content(_TEXT_PART, _IMAGE_PART, _AUDIO_PART),
            name=_STR,
        ),
        _obj(
            ("role",),
            role=_enum("assistant"),
            content=_content(_TEXT_PART, _REFUSAL_PART, nullable=True),
            refusal=_NULL_STR,
            name=_STR,
            tool_calls={"type": "array", "items": _TOOL_CALL},
        ),
        _obj(
            ("role", "content", "tool_call_id"),
            role=_enum("tool"),
            content=_content(_TEXT_PART),
            tool_call_id=_STR,
        ),
    ]
}
#: A reasoning effort (`router.dialects.chat.reasoning.EFFORTS`).
_EFFORT = _enum("none", "minimal", "low", "medium", "high", "xhigh")
_SAMPLING: dict[str, Schema] = {
    "temperature": {"type": ["number", "null"], "minimum": 0, "maximum": 2},
    "top_p": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
}
_CHAT_REQUEST = _obj(
    ("model", "messages"),
    model=_NAME,
    messages={"type": "array", "minItems": 1, "items": ref("ChatMessage")},
    stream={"type": ["boolean", "null"]},
    stream_options={"type": ["object", "null"], "properties": {"include_usage": _BOOL}},
    max_tokens={"type": ["integer", "null"], "minimum": 1},
    max_completion_tokens={"type": ["integer", "null"], "minimum": 1},
    n={"type": ["integer", "null"], "minimum": 1, "maximum": 128},
    stop={"anyOf": [_STR, {"type": "array", "items": _STR, "maxItems": 4}, {"type": "null"}]},
    presence_penalty={"type": ["number", "null"], "minimum": -2, "maximum": 2},
    frequency_penalty={"type": ["number", "null"], "minimum": -2, "maximum": 2},
    seed=_NULL_INT,
    user=_STR,
    tools={
        "type": "array",
        "items": _obj(("type", "function"), type=_enum("function"), function=_FUNCTION),
    },
    tool_choice={
        "anyOf": [
            _enum("none", "auto", "required"),
            _obj(("type", "function"), type=_enum("function"), function=_obj(("name",), name=_STR)),
        ]
    },
    parallel_tool_calls=_BOOL,
    reasoning_effort={"anyOf": [_EFFORT, {"type": "null"}]},
    response_format={
        "anyOf": [
            _obj(("type",), type=_enum("text", "json_object")),
            _obj(
                ("type", "json_schema"),
                type=_enum("json_schema"),
                json_schema=_obj(("name",), name=_STR, schema={"type": "object"}, strict=_BOOL),
            ),
        ]
    },
    **_SAMPLING,
)
_CHAT_COMPLETION = _obj(
    ("id", "object", "created", "model", "choices"),
    id=_STR,
    object=_enum("chat.completion"),
    created=_INT,
    model=_STR,
    choices={
        "type": "array",
        "items": _obj(
            ("index", "message"),
            index=_INT,
            message=_obj(("role",), role=_enum("assistant"), content=_NULL_STR),
            finish_reason=_NULL_STR,
        ),
    },
    usage={"type": ["object", "null"]},
)

# -- Responses -----------------------------------------------------------------------------

_INPUT_PART: Schema = {
    "oneOf": [
        _obj(("type", "text"), type=_enum("input_text"), text=_STR),
        _obj(("type", "text"), type=_enum("output_text"), text=_STR, annotations={"type": "array"}),
        _obj(
            ("type",),
            type=_enum("input_image"),
            image_url=_STR,
            file_id=_STR,
            detail=_enum("auto", "low", "high"),
        ),
        _obj(("type", "refusal"), type=_enum("refusal"), refusal=_STR),
    ]
}
_INPUT_ITEM: Schema = {
    "oneOf": [
        _obj(
            ("role", "content"),
            type=_enum("message"),
            id=_STR,
            role=_enum("user", "assistant", "system", "developer"),
            content={"anyOf": [_STR, {"type": "array", "items": _INPUT_PART}]},
            status=_enum("in_progress", "completed", "incomplete"),
        ),
        _obj(
            ("type", "call_id", "name", "arguments"),
            type=_enum("function_call"),
            id=_STR,
            call_id=_STR,
            name=_STR,
            arguments={"type": "string", "description": "A JSON object, encoded."},
        ),
        _obj(
            ("type", "call_id", "output"),
            type=_enum("function_call_output"),
            id=_STR,
            call_id=_STR,
            output=_STR,
        ),
    ]
}
_FORMAT: Schema = {
    "oneOf": [
        _obj(("type",), type=_enum("text")),
        _obj(("type",), type=_enum("json_object")),
        _obj(
            ("type", "name", "schema"),
            type=_enum("json_schema"),
            name=_STR,
            schema={"type": "object"},
            description=_STR,
            strict={"type": ["boolean", "null"]},
        ),
    ]
}
_RESPONSE_TOOL = _obj(
    ("type", "name"),
    type=_enum("function"),
    name=_FUNCTION["properties"]["name"],
    description=_STR,
    parameters={"type": "object"},
    strict={"type": ["boolean", "null"]},
)
_RESPONSE_REQUEST = _obj(
    ("model", "input"),
    model=_NAME,
    input={"anyOf": [_STR, {"type": "array", "items": ref("InputItem")}]},
    instructions=_NULL_STR,
    tools={"type": "array", "items": _RESPONSE_TOOL},
    tool_choice={
        "anyOf": [
            _enum("none", "auto", "required"),
            _obj(("type", "name"), type=_enum("function"), name=_STR),
        ]
    },
    parallel_tool_calls={"type": ["boolean", "null"]},
    text=_obj(format=_FORMAT),
    max_output_tokens={"type": ["integer", "null"], "minimum": 16},
    metadata={"anyOf": [_METADATA, {"type": "null"}]},
    store={"type": ["boolean", "null"]},
    previous_response_id=_NULL_STR,
    conversation={"anyOf": [_STR, _obj(("id",), id=_STR), {"type": "null"}]},
    background={"type": ["boolean", "null"]},
    stream={"type": ["boolean", "null"]},
    reasoning={
        "anyOf": [
            _obj(effort=_EFFORT, summary=_enum("auto", "concise", "detailed")),
            {"type": "null"},
        ]
    },
    include={"type": ["array", "null"], "items": _STR},
    **_SAMPLING,
)
_RESPONSE = _obj(
    ("id", "object", "created_at", "status", "model", "output"),
    id=_STR,
    object=_enum("response"),
    created_at=_INT,
    status=_enum("completed", "failed", "in_progress", "cancelled", "queued", "incomplete"),
    model=_STR,
    output={"type": "array", "items": {"type": "object"}},
    error={"type": ["object", "null"]},
    metadata={"type": "object"},
    usage={"type": ["object", "null"]},
)

# -- Conversations -------------------------------------------------------------------------

_CONVERSATION_CREATE: Schema = {
    "description": "OpenAI's `{items?, metadata?}`, or the seed's `{model, messages}`.",
    "anyOf": [
        _obj(
            items={"type": "array", "maxItems": 20, "items": ref("InputItem")},
            metadata={"anyOf": [_METADATA, {"type": "null"}]},
        ),
        _obj(
            ("model",),
            model=_NAME,
            messages={"type": "array", "items": ref("InputItem")},
            metadata={"anyOf": [_METADATA, {"type": "null"}]},
        ),
    ],
}
_CONVERSATION = _obj(
    ("id", "object", "created_at", "metadata"),
    id=_STR,
    object=_enum("conversation"),
    created_at=_INT,
    metadata={"type": "object", "additionalProperties": _STR},
    model=_STR,
    messages={"type": "array", "items": {"type": "object"}},
)
_ITEMS_CREATE: Schema = {
    "description": "OpenAI's `{items: [...]}` (answers a list), or one item (the seed's; answers it, 201).",
    "anyOf": [
        _obj(
            ("items",),
            items={"type": "array", "minItems": 1, "maxItems": 20, "items": ref("InputItem")},
        ),
        ref("InputItem"),
    ],
}

# -- Models, embeddings, images, explain ---------------------------------------------------

_MODEL = _obj(
    ("id", "object", "created", "owned_by"),
    id=_STR,
    object=_enum("model"),
    created=_INT,
    owned_by=_STR,
)
_EMBEDDING_REQUEST = _obj(
    ("model", "input"),
    model=_NAME,
    input={
        "anyOf": [
            _STR,
            {"type": "array", "minItems": 1, "maxItems": 2048, "items": _STR},
            {"type": "array", "minItems": 1, "items": _INT},
            {
                "type": "array",
                "minItems": 1,
                "items": {"type": "array", "minItems": 1, "items": _INT},
            },
        ]
    },
    encoding_format=_enum("float", "base64"),
    dimensions={"type": "integer", "minimum": 1},
    user=_STR,
)
_EMBEDDINGS = _obj(
    ("object", "data", "model"),
    object=_enum("list"),
    data={
        "type": "array",
        "items": _obj(
            ("object", "index", "embedding"),
            object=_enum("embedding"),
            index=_INT,
            embedding={"anyOf": [{"type": "array", "items": {"type": "number"}}, _STR]},
        ),
    },
    model=_STR,
    usage={"type": "object"},
)
_IMAGE_REQUEST = _obj(
    ("model", "prompt"),
    model=_NAME,
    prompt={"type": "string", "minLength": 1},
    n={"type": ["integer", "null"], "minimum": 1, "maximum": 10},
    size=_NULL_STR,
    quality=_NULL_STR,
    style=_NULL_STR,
    response_format={"anyOf": [_enum("url", "b64_json"), {"type": "null"}]},
    user=_STR,
)
_IMAGES = _obj(
    ("data",),
    created=_INT,
    data={"type": "array", "items": _obj(url=_STR, b64_json=_STR, revised_prompt=_STR)},
)
_EXPLAIN_REQUEST: Schema = {
    **_obj(
        ("model",),
        model=_NAME,
        messages={"type": "array", "items": ref("ChatMessage")},
        history={"type": "integer", "minimum": 0, "description": "Earlier messages to assume."},
        strict=_BOOL,
        flexible=_BOOL,
        down={"type": "array", "items": _STR, "description": "Providers to treat as unhealthy."},
        tools=_CHAT_REQUEST["properties"]["tools"],
        max_tokens=_CHAT_REQUEST["properties"]["max_tokens"],
    ),
    "description": "A Chat Completions body, or just `model` plus what to assume.",
}
_EXPLANATION = _obj(
    ("model", "config_version", "outcome"),
    model=_STR,
    config_version=_STR,
    outcome=_enum("routed", "rejected", "unknown_model"),
    request={"type": "object"},
    candidates={"type": "array", "items": {"type": "object"}},
    considered={"type": "array", "items": {"type": "object"}},
)

# -- The provider API and the admin API ----------------------------------------------------

_TIER: Schema = {"type": "integer", "minimum": 0, "maximum": 10}
_PROVIDER_MODEL = _obj(
    ("name",),
    name=_NAME,
    tiers=_obj(reasoning=_TIER, coding=_TIER),
    context_window={"type": "integer", "minimum": 1},
    vision=_BOOL,
    tools=_BOOL,
    embeddings=_BOOL,
    reasoning=_BOOL,
    images=_BOOL,
    description=_STR,
)
_PROVIDER_FIELDS: dict[str, Schema] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 100},
    "base_url": {"type": "string", "format": "uri", "pattern": "^https?://"},
    "api_key": {"type": ["string", "null"], "description": "Write only; answers show it masked."},
    "description": _NULL_STR,
    "zone": _NULL_STR,
    "enabled": _BOOL,
    "max_concurrency": {"type": ["integer", "null"], "minimum": 1},
    "timeout_s": {"type": "number", "exclusiveMinimum": 0},
    "models": {"type": "array", "items": _PROVIDER_MODEL},
}
_PROVIDER_CREATE = {
    **_obj(("name", "base_url"), **_PROVIDER_FIELDS),
    "description": "A new provider block for the config file.",
}
_PROVIDER_UPDATE = {
    **_obj(**_PROVIDER_FIELDS),
    "description": "Fields to change; `null` removes an optional field.",
}
_PROVIDER = _obj(
    ("id", "name", "kind", "base_url", "enabled", "models"),
    id=_STR,
    name=_STR,
    kind=_enum(*PROVIDER_KINDS),
    base_url=_STR,
    api_key=_NULL_STR,
    description=_NULL_STR,
    zone=_NULL_STR,
    enabled=_BOOL,
    disabled_reason=_NULL_STR,
    max_concurrency=_NULL_INT,
    timeout_s={"type": ["number", "null"]},
    models={"type": "array", "items": {"type": "object"}},
    created_at=_NULL_STR,
    updated_at=_NULL_STR,
)
_CONFIG_STATUS = _obj(
    ("version", "digest", "loaded_at", "path", "last_error", "reloads"),
    version=_STR,
    digest=_STR,
    loaded_at={"type": "string", "format": "date-time"},
    path=_STR,
    last_error={"type": ["object", "null"]},
    reloads=_obj(("succeeded", "failed", "unchanged"), succeeded=_INT, failed=_INT, unchanged=_INT),
    warnings={"type": "array"},
)

# -- Anthropic Messages --------------------------------------------------------------------

_SOURCE = _obj(
    ("type",),
    type=_enum("base64", "url"),
    media_type=_STR,
    data=_STR,
    url=_STR,
)
_BLOCK = _obj(
    ("type",),
    type=_enum("text", "image", "tool_use", "tool_result", "thinking", "redacted_thinking"),
    text=_STR,
    source=_SOURCE,
    id=_STR,
    name=_STR,
    input={"type": "object"},
    tool_use_id=_STR,
    content={"type": ["string", "array"]},
    is_error=_BOOL,
    thinking=_STR,
    signature=_STR,
)
_ANTHROPIC_MESSAGE = _obj(
    ("role", "content"),
    role=_enum("user", "assistant"),
    content={"anyOf": [_STR, {"type": "array", "items": _BLOCK}]},
)
_MESSAGES_FIELDS: dict[str, Schema] = {
    "model": _NAME,
    "messages": {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
    "system": {"anyOf": [_STR, {"type": "array", "items": _obj(("type",), type=_STR, text=_STR)}]},
    "tools": {
        "type": "array",
        "items": _obj(("name",), name=_STR, description=_STR, input_schema={"type": "object"}),
    },
    "tool_choice": _obj(("type",), type=_enum("auto", "any", "tool", "none"), name=_STR),
    "thinking": _obj(("type",), type=_STR, budget_tokens=_INT),
}
_MESSAGE_REQUEST = _obj(
    ("model", "messages", "max_tokens"),
    **_MESSAGES_FIELDS,
    max_tokens=_INT,
    temperature={"type": "number"},
    top_p={"type": "number"},
    top_k=_INT,
    stop_sequences={"type": "array", "items": _STR},
    stream=_BOOL,
    metadata=_obj(user_id=_NULL_STR),
)
_MESSAGE = _obj(
    ("id", "type", "role", "content", "model", "stop_reason", "usage"),
    id=_STR,
    type=_enum("message"),
    role=_enum("assistant"),
    content={"type": "array", "items": {"type": "object"}},
    model=_STR,
    stop_reason=_NULL_STR,
    stop_sequence=_NULL_STR,
    usage=_obj(("input_tokens", "output_tokens"), input_tokens=_INT, output_tokens=_INT),
)

# -- Errors --------------------------------------------------------------------------------

_OPENAI_ERROR = _obj(
    ("error",),
    error=_obj(
        ("message", "type"),
        message=_STR,
        type=_STR,
        param=_NULL_STR,
        code={"type": ["string", "integer", "null"]},
        context={"type": "object", "description": "The 503 routing contract's details."},
    ),
)
_ANTHROPIC_ERROR = _obj(
    ("type", "error"),
    type=_enum("error"),
    error=_obj(
        ("type", "message"),
        type=_STR,
        message=_STR,
        context={"type": "object", "description": "The 503 routing contract's details."},
    ),
)
_SEED_ERROR = _obj(
    ("message", "error_code"),
    message=_STR,
    error_code={"type": "string", "pattern": "^[A-Z_]+$"},
    details={"type": "object"},
)

SCHEMAS: dict[str, Schema] = {
    "ChatMessage": _CHAT_MESSAGE,
    "ChatCompletionRequest": _CHAT_REQUEST,
    "ChatCompletion": _CHAT_COMPLETION,
    "InputItem": _INPUT_ITEM,
    "ResponseRequest": _RESPONSE_REQUEST,
    "Response": _RESPONSE,
    "ConversationCreate": _CONVERSATION_CREATE,
    "ConversationUpdate": _obj(("metadata",), metadata={"anyOf": [_METADATA, {"type": "null"}]}),
    "Conversation": _CONVERSATION,
    "ItemsCreate": _ITEMS_CREATE,
    "List": _LIST,
    "Model": _MODEL,
    "ModelList": _obj(
        ("object", "data"), object=_enum("list"), data={"type": "array", "items": ref("Model")}
    ),
    "EmbeddingRequest": _EMBEDDING_REQUEST,
    "Embeddings": _EMBEDDINGS,
    "ImageRequest": _IMAGE_REQUEST,
    "Images": _IMAGES,
    "ExplainRequest": _EXPLAIN_REQUEST,
    "Explanation": _EXPLANATION,
    "ProviderCreate": _PROVIDER_CREATE,
    "ProviderUpdate": _PROVIDER_UPDATE,
    "Provider": _PROVIDER,
    "ProviderList": _obj(("providers",), providers={"type": "array", "items": ref("Provider")}),
    "ProviderModels": _obj(
        ("provider_id", "models"),
        provider_id=_STR,
        models={"type": "array", "items": {"type": "object"}},
    ),
    "ConfigStatus": _CONFIG_STATUS,
    "MessageRequest": _MESSAGE_REQUEST,
    "Message": _MESSAGE,
    "MessageTokensRequest": _obj(("model", "messages"), **_MESSAGES_FIELDS),
    "MessageTokens": _obj(("input_tokens",), input_tokens=_INT),
    "OpenAIError": _OPENAI_ERROR,
    "AnthropicError": _ANTHROPIC_ERROR,
    "SeedError": _SEED_ERROR,
}
