"""Malformed requests: a precise 400, nothing sent upstream, nothing stored — never a 500.

The attack run found about ten root causes of 500s, two of them after the
upstream had already been paid for (and, with a conversation, after the turn was
appended). All but two of these cases (kept as guards) failed before the fix: a
500, or a malformed request sent upstream.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

MSG = {"role": "user", "content": "hi"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[tuple[str, FakeOpenAI]]:
    fake = FakeOpenAI(models=("m", "e"))
    with serve(fake) as url:
        yield url, fake


@pytest.fixture
def router(tmp_path: Path, upstream: tuple[str, FakeOpenAI]) -> Iterator[RouterHandle]:
    path = tmp_path / "nexus.yaml"
    path.write_text(
        "version: 1\nproviders:\n"
        f"  - {{name: p, kind: openai, base_url: '{upstream[0]}/v1',"
        " models: [{name: m}, {name: e, embeddings: true}]}\n"
    )
    upstream[1].requests.clear()
    with run_router(path, health_probes=False) as handle:
        yield handle


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


CASES: dict[str, tuple[str, Any]] = {
    "role is an object": ("/v1/chat/completions", {"model": "m", "messages": [{"role": {}}]}),
    "content part type is an object": (
        "/v1/chat/completions",
        {"model": "m", "messages": [{"role": "user", "content": [{"type": {"a": 1}}]}]},
    ),
    "unknown role": ("/v1/chat/completions", {"model": "m", "messages": [{"role": "robot"}]}),
    "stream is a string": (
        "/v1/chat/completions",
        {"model": "m", "messages": [MSG], "stream": "yes"},
    ),
    "encoding_format is an object": (
        "/v1/embeddings",
        {"model": "e", "input": "x", "encoding_format": {"a": 1}},
    ),
    "text.format.type is an object": (
        "/v1/responses",
        {"model": "m", "input": "hi", "text": {"format": {"type": {"a": 1}}}},
    ),
    "item role is an object": ("/v1/responses", {"model": "m", "input": [{"role": {"a": 1}}]}),
    "item type is a list": ("/v1/responses", {"model": "m", "input": [{"type": [1]}]}),
    "metadata is not an object": ("/v1/responses", {"model": "m", "input": "hi", "metadata": [1]}),
    "metadata value is a number": (
        "/v1/responses",
        {"model": "m", "input": "hi", "metadata": {"a": 1}},
    ),
    "duplicate item ids": (
        "/v1/responses",
        {
            "model": "m",
            "input": [
                {"id": "msg_1", "role": "user", "content": "a"},
                {"id": "msg_1", "role": "user", "content": "b"},
            ],
        },
    ),
    "explain down holds objects": ("/v1/route/explain", {"model": "m", "down": [{}]}),
    "explain role is an object": (
        "/v1/route/explain",
        {"model": "m", "messages": [{"role": {"x": 1}}]},
    ),
    "conversation item role is an object": (
        "/v1/conversations",
        {"items": [{"type": "message", "role": {"x": 1}, "content": "hi"}]},
    ),
}


@pytest.mark.parametrize(("path", "body"), CASES.values(), ids=CASES.keys())
def test_a_malformed_field_is_a_400_and_nothing_goes_upstream(
    router: RouterHandle, upstream: tuple[str, FakeOpenAI], path: str, body: Any
) -> None:
    answer = router.http.post(path, json=body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert upstream[1].requests == []


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/v1/responses", "/v1/embeddings", "/v1/route/explain"]
)
def test_json_nested_a_thousand_deep_is_a_400(router: RouterHandle, path: str) -> None:
    body = '{"model": "m", "messages": ' + deep(1000) + "}"
    answer = router.http.post(path, content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert "nested" in answer.json()["error"]["message"]


def test_a_bad_turn_on_a_conversation_appends_nothing(
    router: RouterHandle, upstream: tuple[str, FakeOpenAI]
) -> None:
    conversation = router.http.post("/v1/conversations", json={}).json()["id"]
    bad = {"model": "m", "input": "hi", "conversation": conversation, "metadata": "x"}
    assert router.http.post("/v1/responses", json=bad).status_code == 400
    items = router.http.get(f"/v1/conversations/{conversation}/items").json()["data"]
    assert items == []
    assert upstream[1].requests == []
