"""Check plain config data against the JSON Schema with messages people can act on.

``router/config/nexus.schema.json`` (package data, so every install has it) is the
source of truth; ``schemas/nexus.schema.json`` is the published copy editors point
at, and tests/config/test_schema_copy.py fails when the two differ.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

import jsonschema
import jsonschema_rs
from jsonschema import Draft202012Validator

from router.config.diagnostics import Diagnostic, JsonPath, did_you_mean

__all__ = ["load_schema", "schema_diagnostics"]

_JSON_TYPES = {
    dict: "a mapping",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "an integer",
    float: "a number",
    type(None): "null (an empty value)",
}


_SCHEMA_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "an empty value",
}


@functools.cache
def load_schema() -> Mapping[str, Any]:
    """Return the JSON Schema shipped inside the package."""
    text = resources.files("router.config").joinpath("nexus.schema.json").read_text("utf-8")
    schema: Mapping[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Draft202012Validator:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


@functools.cache
def _fast_validator() -> Any:
    return jsonschema_rs.Draft202012Validator(dict(load_schema()), validate_formats=True)


def _describe(value: object) -> str:
    kind = _JSON_TYPES.get(type(value), type(value).__name__)
    if isinstance(value, dict | list):
        return kind
    return f"{kind} ({value!r})"


def _messages(error: jsonschema.ValidationError) -> Iterator[tuple[JsonPath, str, bool]]:
    """Yield (path, message, at_key) triples for one schema error, phrased for a config author."""
    path: JsonPath = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    value: Any = error.instance
    expected: Any = error.validator_value
    match error.validator:
        case "additionalProperties":
            allowed = sorted(schema.get("properties", {}))
            for key in sorted(set(value) - set(allowed)):
                hint = did_you_mean(key, allowed) or f" (allowed keys: {', '.join(allowed)})"
                yield (*path, key), f"unknown key {key!r}{hint}", True
        case "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            yield path, f"missing required key {missing!r}", False
        case "type":
            names = expected if isinstance(expected, list) else [expected]
            wanted = " or ".join(_SCHEMA_TYPES.get(str(n), str(n)) for n in names)
            yield path, f"expected {wanted}, got {_describe(value)}", False
        case "enum":
            choices = [str(c) for c in expected]
            hint = did_you_mean(str(value), choices)
            yield path, f"{value!r} is not one of {', '.join(choices)}{hint}", False
        case "const":
            yield path, f"expected {error.validator_value!r}, got {value!r}", False
        case "pattern" | "format":
            what = schema.get("x-expected") or f"a value matching {error.validator_value!r}"
            yield path, f"invalid value {value!r}: expected {what}", False
        case "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum":
            bound = {
                "minimum": "at least",
                "maximum": "at most",
                "exclusiveMinimum": "greater than",
                "exclusiveMaximum": "less than",
            }[str(error.validator)]
            yield path, f"{value!r} is out of range: must be {bound} {error.validator_value}", False
        case "minItems":
            yield (
                path,
                f"expected at least {expected} item(s), got {len(value)}",
                False,
            )
        case "oneOf" | "anyOf":
            what = schema.get("x-expected") or "a value matching exactly one of the allowed forms"
            yield path, f"expected {what}", False
        case "minLength":
            yield path, "must not be empty", False
        case _:
            yield path, error.message, False


def schema_diagnostics(data: object) -> list[Diagnostic]:
    """Validate `data` and return every violation (not only the first), in document order.

    jsonschema-rs decides validity (~70x faster on a 1,000-provider file); only an
    invalid file pays for the Python validator, whose errors we phrase for people.
    """
    if data is None:
        return [Diagnostic("error", "the file is empty: expected a mapping with 'version: 1'")]
    fast = _fast_validator()
    if fast.is_valid(data):
        return []
    out: list[Diagnostic] = []
    for error in _validator().iter_errors(data):
        for path, message, at_key in _messages(error):
            out.append(Diagnostic("error", message, path, at_key=at_key))
    if not out:  # only the stricter format checks of jsonschema-rs object
        out = [
            Diagnostic("error", e.message, tuple(e.instance_path)) for e in fast.iter_errors(data)
        ]
    return out
