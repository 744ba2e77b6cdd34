"""The Ollama API's operations and schemas in the OpenAPI document (Ollama's error envelope)."""

from __future__ import annotations

from typing import Any

__all__ = ["OLLAMA_PATHS", "OLLAMA_SCHEMAS"]

Schema = dict[str, Any]

_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_BOOL: Schema = {"type": "boolean"}
_STRS: Schema = {"type": "array", "items": _STR}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...] = (), /, **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


_OPTIONS = _obj(
    temperature={"type": "number"},
    top_p={"type": "number"},
    top_k=_INT,
    seed=_INT,
    num_predict=_INT,
    num_ctx=_INT,
    stop={"anyOf": [_STR, _STRS]},
)
_FORMAT: Schema = {"anyOf": [{"enum": ["", "json"]}, {"type": "object"}]}
_THINK: Schema = {"anyOf": [_BOOL, {"enum": ["low", "medium", "high"]}]}
_KEEP_ALIVE: Schema = {"anyOf": [_STR, {"type": "number"}]}
_TOOL_CALL = _obj(
    ("function",),
    function=_obj(("name",), name=_STR, arguments={"type": "object"}),
)
_MESSAGE = _obj(
    ("role",),
    role={"enum": ["system", "user", "assistant", "tool"]},
    content=_STR,
    thinking=_STR,
    images={**_STRS, "description": "Base64 images"},
    tool_calls={"type": "array", "items": _TOOL_CALL},
    tool_name=_STR,
)
_COUNTS: dict[str, Schema] = {
    "model": _STR,
    "created_at": _STR,
    "done": _BOOL,
    "done_reason": _STR,
    "total_duration": _INT,
    "load_duration": _INT,
    "prompt_eval_count": _INT,
    "prompt_eval_duration": _INT,
    "eval_count": _INT,
    "eval_duration": _INT,
}
_MODEL_DETAILS = _obj(
    parent_model=_STR,
    format=_STR,
    family=_STR,
    families={"type": ["array", "null"], "items": _STR},
    parameter_size=_STR,
    quantization_level=_STR,
)
_LISTED = _obj(
    ("name", "model", "digest", "details"),
    name=_STR,
    model=_STR,
    modified_at=_STR,
    size=_INT,
    size_vram=_INT,
    digest=_STR,
    details=_MODEL_DETAILS,
    context_length=_INT,
)

OLLAMA_SCHEMAS: dict[str, Schema] = {
    "OllamaChatRequest": _obj(
        ("model",),
        model=_STR,
        messages={"type": "array", "items": _MESSAGE},
        tools={"type": "array", "items": {"type": "object"}},
        format=_FORMAT,
        options=_OPTIONS,
        stream={**_BOOL, "default": True},
        think=_THINK,
        keep_alive=_KEEP_ALIVE,
    ),
    "OllamaChatResponse": _obj(("model", "done"), message=_MESSAGE, **_COUNTS),
    "OllamaGenerateRequest": _obj(
        ("model",),
        model=_STR,
        prompt=_STR,
        suffix=_STR,
        system=_STR,
        images=_STRS,
        format=_FORMAT,
        options=_OPTIONS,
        stream={**_BOOL, "default": True},
        think=_THINK,
        raw=_BOOL,
        keep_alive=_KEEP_ALIVE,
    ),
    "OllamaGenerateResponse": _obj(("model", "done"), response=_STR, thinking=_STR, **_COUNTS),
    "OllamaEmbedRequest": _obj(
        ("model", "input"),
        model=_STR,
        input={"anyOf": [_STR, _STRS]},
        dimensions=_INT,
        truncate=_BOOL,
        keep_alive=_KEEP_ALIVE,
    ),
    "OllamaEmbedResponse": _obj(
        ("model", "embeddings"),
        model=_STR,
        embeddings={"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
        total_duration=_INT,
        prompt_eval_count=_INT,
    ),
    "OllamaEmbeddingsRequest": _obj(("model", "prompt"), model=_STR, prompt=_STR),
    "OllamaEmbeddingsResponse": _obj(
        ("embedding",), embedding={"type": "array", "items": {"type": "number"}}
    ),
    "OllamaModelRequest": _obj(model=_STR, name={**_STR, "description": "An older name of model"}),
    "OllamaModels": _obj(("models",), models={"type": "array", "items": _LISTED}),
    "OllamaShow": _obj(
        ("details", "model_info", "capabilities"),
        license=_STR,
        modelfile=_STR,
        parameters=_STR,
        template=_STR,
        details=_MODEL_DETAILS,
        model_info={"type": "object"},
        capabilities={
            "type": "array",
            "items": {"enum": ["completion", "tools", "vision", "embedding", "thinking"]},
        },
        modified_at=_STR,
    ),
    "OllamaVersion": _obj(("version",), version=_STR),
    "OllamaError": _obj(
        ("error",),
        error=_STR,
        context={"type": "object", "description": "The 503 routing contract's details."},
    ),
}

_REASONS = {
    "400": "The request is malformed or a field is invalid",
    "401": "No key, or an unknown key",
    "403": "The key may not use this model",
    "404": "No route or provider serves the model",
    "408": "The client did not send the whole body in time (`server.body_timeout_s`)",
    "413": "The body exceeds the endpoint's limit",
    "429": "A key's or every candidate provider's rate limit is spent (`Retry-After`)",
    "501": "Models are managed on the backends, not through the router",
    "502": "The provider answered with an error or an unreadable answer",
    "503": "No provider may serve the request (the routing contract, under `context`)",
    "504": "The provider did not answer in time",
}
_INFERENCE = ("400", "401", "403", "404", "408", "413", "429", "502", "503", "504")


def _errors(codes: tuple[str, ...]) -> dict[str, Any]:
    content = {"application/json": {"schema": _ref("OllamaError")}}
    out: dict[str, Any] = {c: {"description": _REASONS[c], "content": content} for c in codes}
    out["default"] = {"description": "Any other error, in the same envelope", "content": content}
    return out


def _op(
    operation_id: str,
    summary: str,
    answer: str | None,
    errors: tuple[str, ...],
    *,
    body: str | None = None,
    ndjson: bool = False,
    public: bool = False,
    status: str = "200",
) -> dict[str, Any]:
    success: dict[str, Any] = {"description": summary}
    if answer is not None:
        success["content"] = {"application/json": {"schema": _ref(answer)}}
        if ndjson:  # one JSON object per line, the last with "done": true
            success["content"]["application/x-ndjson"] = {"schema": _STR}
    responses = {status: success} if public else {status: success, **_errors(errors)}
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": ["ollama"],
        "responses": responses,
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if public:
        operation["security"] = []
    return operation


def _manage(verb: str) -> dict[str, Any]:
    return _op(
        f"ollama{verb.capitalize()}",
        f"Ollama's model {verb}: answered 501 (models are managed on the backends)",
        None,
        ("401", "501"),
        status="501",
    )


OLLAMA_PATHS: dict[str, dict[str, Any]] = {
    "/api/chat": {
        "post": _op(
            "ollamaChat",
            "Ollama chat: NDJSON lines (the default) or one object (`stream: false`)",
            "OllamaChatResponse",
            _INFERENCE,
            body="OllamaChatRequest",
            ndjson=True,
        )
    },
    "/api/generate": {
        "post": _op(
            "ollamaGenerate",
            "Ollama generate from a prompt; an empty prompt only loads the model",
            "OllamaGenerateResponse",
            _INFERENCE,
            body="OllamaGenerateRequest",
            ndjson=True,
        )
    },
    "/api/embed": {
        "post": _op(
            "ollamaEmbed",
            "Ollama embeddings, one vector per input",
            "OllamaEmbedResponse",
            _INFERENCE,
            body="OllamaEmbedRequest",
        )
    },
    "/api/embeddings": {
        "post": _op(
            "ollamaEmbeddings",
            "Ollama's legacy embeddings: one prompt, one vector",
            "OllamaEmbeddingsResponse",
            _INFERENCE,
            body="OllamaEmbeddingsRequest",
        )
    },
    "/api/tags": {
        "get": _op("ollamaTags", "The models that can be routed now", "OllamaModels", ("401",))
    },
    "/api/ps": {"get": _op("ollamaPs", "The models that can serve now", "OllamaModels", ("401",))},
    "/api/show": {
        "post": _op(
            "ollamaShow",
            "A model's capabilities and context length",
            "OllamaShow",
            ("400", "401", "404", "413"),
            body="OllamaModelRequest",
        )
    },
    "/api/version": {
        "get": _op(
            "ollamaVersion",
            "The Ollama API version served",
            "OllamaVersion",
            (),
            public=True,
        )
    },
    "/": {
        "get": {
            "operationId": "ollamaRoot",
            "summary": "Ollama's root: `Ollama is running`",
            "tags": ["ollama"],
            "security": [],
            "responses": {
                "200": {"description": "Running", "content": {"text/plain": {"schema": _STR}}}
            },
        },
        "head": {
            "operationId": "ollamaRootHead",
            "summary": "Whether the server is there",
            "tags": ["ollama"],
            "security": [],
            "responses": {"200": {"description": "Running"}},
        },
    },
    "/api/pull": {"post": _manage("pull")},
    "/api/push": {"post": _manage("push")},
    "/api/create": {"post": _manage("create")},
    "/api/copy": {"post": _manage("copy")},
    "/api/delete": {"delete": _manage("delete")},
    "/api/blobs/{digest}": {
        "post": {
            **_manage("blob"),
            "parameters": [{"name": "digest", "in": "path", "required": True, "schema": _STR}],
        }
    },
}
