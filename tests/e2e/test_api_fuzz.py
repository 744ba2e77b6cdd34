"""Fuzz every operation of the served OpenAPI document with schemathesis: no server errors.

Each operation gets a fresh router (its own copy of the config file, so provider
write-back edits a temp file, and its own SQLite file) in front of fake OpenAI,
Ollama and Anthropic upstreams. schemathesis generates valid and invalid requests
from the document; a `model` in a body is often swapped for one the config
serves and path ids for ones that exist, so requests reach routing, translation
and the store instead of stopping at 404.

What counts as a server error: any 500; any other 5xx than the documented
upstream and routing answers (502, 503, 504); a 502/503/504 that is not in the
documented error envelope; no answer at all. Answers must also match the
document's schemas and content types.

``NEXUS_FUZZ_EXAMPLES`` sets the examples per operation (default 25: about 4,400
requests, 50 s on two cores; ``NEXUS_FUZZ_EXAMPLES=300`` is the full run, about
five minutes). Examples are the same on every run unless
``NEXUS_FUZZ_RANDOM=1`` draws new ones;
``NEXUS_FUZZ_COLLECT=1`` records each distinct server error (operation, where it
was raised, a curl command) and prints the list at the end instead of failing
at the first one of each operation.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import CheckContext
from schemathesis.core.transport import Response
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from router.dialects.ollama.wire import MANAGEMENT_PATHS
from router.dialects.ollama.wire import is_api_path as is_ollama_path
from router.http.openapi import OPENAPI_PATH, document
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

EXAMPLES = int(os.environ.get("NEXUS_FUZZ_EXAMPLES", "25"))
COLLECT = bool(os.environ.get("NEXUS_FUZZ_COLLECT"))
ADMIN = "nx-fuzz-admin-key-5f0c2a9e7d31b864"
AUTH = {"Authorization": f"Bearer {ADMIN}"}

CONFIG = """\
version: 1
auth:
  keys:
    - {{name: ops, role: admin, key: "${{ADMIN_KEY}}"}}
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - name: lab
    kind: openai
    base_url: "{openai}/v1"
    zone: home
    timeout_s: 5
    models:
      - {{name: gpt-x, tools: true, vision: true, context_window: 128000}}
      - {{name: embed-x, embeddings: true}}
      - {{name: image-x, images: true}}
  - name: gpu-box
    kind: ollama
    base_url: "{ollama}"
    zone: home
    timeout_s: 5
    models:
      - {{name: llama3, tools: true, context_window: 8192}}
      - {{name: nomic-embed-text, embeddings: true}}
  - name: claude
    kind: anthropic
    base_url: "{anthropic}"
    api_key: sk-ant-test
    zone: cloud
    timeout_s: 5
    models:
      - {{name: claude-x, tools: true, vision: true}}
  - name: spare
    kind: openai
    base_url: "{openai}/v1"
    zone: cloud
    models: [{{name: spare-x}}]
routes:
  - {{model: chat, targets: [gpu-box/llama3, claude/claude-x], zone: home, overflow: fresh-only}}
  - {{model: cached, targets: [lab/gpt-x], cache: {{ttl_s: 60}}}}
"""
MODELS = ("chat", "cached", "gpt-x", "llama3", "claude-x", "embed-x", "nomic-embed-text", "image-x")
#: The documented answers of a failed upstream or an impossible route (README, Providers).
#: The error types of documented 502/503/504 answers: OpenAI's envelope, then Anthropic's
#: (the Messages API's).
UPSTREAM_TYPES = frozenset(
    {"upstream_error", "insufficient_capacity", "server_error", "api_error", "overloaded_error"}
)
UPSTREAM_CODES = frozenset(
    {"STORE_UNAVAILABLE", "PROVIDER_UNAVAILABLE", "GATEWAY_TIMEOUT", "INVALID_PROVIDER_RESPONSE"}
)

#: The first run (December 2026) found ten distinct 500s: JSON nested 1,000 deep, objects
#: where strings belong (roles, part types, encoding_format, text.format.type, item ids),
#: metadata that is not an object, duplicate item ids, and a tier name the write-back could
#: not write in flow style. tests/faults/test_bad_input.py keeps each as a targeted case.

schema = schemathesis.openapi.from_dict(document())
schema.config.output.sanitization.update(enabled=False)  # the keys here are test keys
#: Ids that exist in the router under test, filled in by the `router` fixture.
known: dict[str, list[str]] = collections.defaultdict(list)
#: Status codes seen, per operation (printed at the end: what the run covered).
seen: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
#: The documented 502/503/504 answers seen, by status, type and code.
upstream: collections.Counter[str] = collections.Counter()
#: The unhandled exceptions the router logged since the last request (what a 500 was).
errors: list[str] = []
#: NEXUS_FUZZ_COLLECT: (operation, exception, where) -> the shortest curl command seen.
found: dict[tuple[str, str, str], str] = {}


class _Errors(logging.Handler):
    """Keep each unhandled exception as 'Type: message @ router/file.py:line in function'."""

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None:
            return
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/router/" in f.filename]
        where = "?"
        if frames:
            last = frames[-1]
            where = f"router/{last.filename.rpartition('/router/')[2]}:{last.lineno} in {last.name}"
        errors.append(f"{type(exc).__name__}: {str(exc)[:120]} @ {where}")


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, str]]:
    with (
        serve(FakeOpenAI(models=("gpt-x", "embed-x", "image-x", "spare-x"))) as openai,
        serve(FakeOllama(models=("llama3:latest", "nomic-embed-text:latest"))) as ollama,
        serve(FakeAnthropic()) as anthropic,
    ):
        yield {"openai": openai, "ollama": ollama, "anthropic": anthropic}


def _remember(http: httpx.Client) -> None:
    """Create a response, a background one, a conversation with items; note their ids."""
    known.clear()
    made = http.post("/v1/responses", json={"model": "gpt-x", "input": "hello"}).json()
    known["response_id"].append(made["id"])
    conversation = http.post(
        "/v1/conversations",
        json={"items": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
    ).json()
    known["conversation_id"].append(conversation["id"])
    items = http.get(f"/v1/conversations/{conversation['id']}/items").json()["data"]
    known["item_id"] += [item["id"] for item in items]
    for kind in ("openai", "ollama", "anthropic"):
        listed = http.get(f"/api/v1/llm-provider/{kind}").json()["providers"]
        known["provider_id"] += [p["id"] for p in listed]


@pytest.fixture
def router(tmp_path: Path, upstreams: dict[str, str]) -> Iterator[RouterHandle]:
    """A fresh router per operation: deletes and provider edits cannot leak into the next."""
    path = tmp_path / "nexus.yaml"
    path.write_text(CONFIG.format(**upstreams))
    handler = _Errors(level=logging.ERROR)
    logger = logging.getLogger("nexus")
    logger.addHandler(handler)
    try:
        with run_router(path, env={"ADMIN_KEY": ADMIN}, health_probes=False) as handle:
            handle.http.headers.update(AUTH)
            served = handle.http.get(OPENAPI_PATH)
            assert served.json() == schema.raw_schema, "the fuzzed document is the served one"
            _remember(handle.http)
            errors.clear()
            yield handle
    finally:
        logger.removeHandler(handler)


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    """Often name an object that exists, so handlers get past their 404."""
    swaps = [name for name in path_parameters or () if known.get(name)]
    if not swaps:
        return st.just(path_parameters)
    real = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in swaps})
    return st.one_of(real.map(lambda ids: {**path_parameters, **ids}), st.just(path_parameters))


@schema.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    """Often ask for a model the config serves, so requests reach routing and the upstreams."""
    if not isinstance(body, dict) or not isinstance(body.get("model"), str):
        return st.just(body)
    served = st.sampled_from(MODELS).map(lambda model: {**body, "model": model})
    return st.one_of(served, st.just(body))


def no_server_error(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Fail on a 500, an undocumented 5xx, or a 502/503/504 outside the error envelopes."""
    status = response.status_code
    if status < 500:
        return None
    body: Any = None
    with contextlib.suppress(ValueError):
        body = response.json()
    if status in {502, 503, 504} and isinstance(body, dict):
        error = body.get("error")
        if (
            isinstance(error, dict)
            and error.get("type") in UPSTREAM_TYPES
            and error.get("code") != "internal_error"
        ):
            upstream[f"{status} {error['type']} {error.get('code')}"] += 1
            return None
        if body.get("error_code") in UPSTREAM_CODES:
            upstream[f"{status} {body['error_code']}"] += 1
            return None
    if _ollama_answer(status, body, case.path):
        upstream[f"{status} ollama"] += 1
        return None
    cause = errors[-1] if errors else "(nothing logged)"
    if COLLECT:
        kind, _, where = cause.partition(": ")
        key = (case.operation.label, kind, where.rpartition(" @ ")[2])
        curl = case.as_curl_command(headers=AUTH)
        if key not in found or len(curl) < len(found[key]):
            found[key] = curl
        return None
    raise AssertionError(f"server error {status}: {response.text[:300]!r}; router logged {cause}")


def _ollama_answer(status: int, body: Any, path: str) -> bool:
    """Ollama's envelope: a documented upstream or routing failure, or model management's 501."""
    if not (is_ollama_path(path) and isinstance(body, dict) and isinstance(body.get("error"), str)):
        return False
    if body["error"] == "Internal server error":
        return False
    if status == 501:
        return path in MANAGEMENT_PATHS or path.startswith("/api/blobs/")
    return status in {502, 503, 504}


@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("NEXUS_FUZZ_RANDOM") is None,
    suppress_health_check=list(hypothesis.HealthCheck),
    database=None,
)
def test_no_operation_answers_a_server_error(case: Case, router: RouterHandle) -> None:
    errors.clear()
    response = case.call(base_url=router.url, headers=AUTH, timeout=30)
    seen[case.operation.label][response.status_code] += 1
    case.validate_response(
        response, checks=[no_server_error, response_schema_conformance, content_type_conformance]
    )


@pytest.fixture(scope="module", autouse=True)
def _summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print what the run covered (and, collecting, every distinct server error)."""
    started = time.monotonic()
    yield
    total = sum(sum(c.values()) for c in seen.values())
    statuses = sum(seen.values(), collections.Counter[int]())
    lines = [
        f"schemathesis: {len(seen)} operations, {total} requests ({EXAMPLES} examples per "
        f"operation) in {time.monotonic() - started:.0f} s; statuses "
        f"{dict(sorted(statuses.items()))}; documented 5xx {dict(upstream)}"
    ]
    lines += [
        f"{op}: {kind} @ {where}\n  {curl}" for (op, kind, where), curl in sorted(found.items())
    ]
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        print("\n" + "\n\n".join(lines), file=sys.stderr)
