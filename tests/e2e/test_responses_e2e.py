"""The Responses API end to end with the openai SDK, over every provider kind."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.anthropic_upstream import FakeAnthropic
from tests.fakes.ollama_upstream import FakeOllama
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

KEY = "sk-ant-test-key-0123456789"
CONFIG = """\
version: 1
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - {{name: oa, kind: openai, base_url: "{oa}/v1", zone: cloud, models: [{{name: gpt-x, tools: true}}]}}
  - {{name: ol, kind: ollama, base_url: "{ol}", zone: home, models: [{{name: llama3}}]}}
  - name: an
    kind: anthropic
    base_url: "{an}"
    api_key: ${{ANTHROPIC_KEY}}
    zone: cloud
    models: [{{name: claude-x, tools: true, documents: true}}]
routes:
  - {{model: private, targets: [ol/llama3, oa/gpt-x], zone: home, overflow: fresh-only}}
"""

WEATHER = [
    {
        "type": "function",
        "name": "weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
]


@contextlib.contextmanager
def stack(
    tmp_path: Path,
    oa: FakeOpenAI | None = None,
    ol: FakeOllama | None = None,
    an: FakeAnthropic | None = None,
    *,
    ollama_down: bool = False,
) -> Iterator[tuple[RouterHandle, openai.OpenAI, FakeOpenAI]]:
    oa = oa or FakeOpenAI(reply="openai says hi", models=("gpt-x",))
    with (
        serve(oa) as oa_url,
        serve(ol or FakeOllama()) as ol_url,
        serve(an or FakeAnthropic(api_key=KEY)) as an_url,
    ):
        path = tmp_path / "nexus.yaml"
        ollama = "http://127.0.0.1:9" if ollama_down else ol_url
        path.write_text(
            CONFIG.format(oa=oa_url, ol=ollama, an=an_url)
            + "routing: {health: {interval_s: 0.05, failure_threshold: 1}}\n"
        )
        with run_router(path, env={"ANTHROPIC_KEY": KEY}, health_probes=ollama_down) as router:
            yield router, openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0), oa


@pytest.mark.parametrize(
    ("model", "text"),
    [
        ("gpt-x", "openai says hi"),
        ("llama3", "Hello from Ollama"),
        ("claude-x", "Hello from Claude"),
    ],
)
def test_create_retrieve_delete_on_every_provider_kind(
    tmp_path: Path, model: str, text: str
) -> None:
    with stack(tmp_path) as (_, client, _):
        raw = client.responses.with_raw_response.create(
            model=model, input="hi", instructions="be brief", max_output_tokens=64
        )
        response = raw.parse()
        assert response.status == "completed"
        assert response.output_text == text
        assert response.id.startswith("resp_")
        assert response.usage is not None
        assert (
            response.usage.total_tokens
            == response.usage.input_tokens + response.usage.output_tokens
        )
        assert raw.headers["x-nexus-model"].endswith(f"/{model}")
        again = client.responses.retrieve(response.id)
        assert again.output_text == text
        assert again.instructions == "be brief"
        client.responses.delete(response.id)
        with pytest.raises(openai.NotFoundError):
            client.responses.retrieve(response.id)


def test_request_translation_to_chat_completions(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, oa):
        client.responses.create(
            model="gpt-x",
            instructions="rules",
            max_output_tokens=10,
            temperature=0.5,
            input=[
                {"role": "developer", "content": "dev note"},
                {"role": "user", "content": [{"type": "input_text", "text": "question"}]},
            ],
            tools=WEATHER,
            tool_choice={"type": "function", "name": "weather"},  # type: ignore[arg-type]
            text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
        )
        sent = oa.requests[-1]
        assert sent["messages"] == [
            {"role": "system", "content": "rules"},
            {"role": "system", "content": "dev note"},
            {"role": "user", "content": "question"},
        ]
        assert sent["max_tokens"] == 10
        assert sent["temperature"] == 0.5
        assert sent["tools"][0] == {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather for a city",
                "parameters": WEATHER[0]["parameters"],
            },
        }
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "weather"}}
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "out", "schema": {"type": "object"}},
        }


def test_stream_helper_and_final_response(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, client, _):
        with client.responses.stream(model="llama3", input="hi") as stream:
            deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
            final = stream.get_final_response()
        assert "".join(deltas) == "Hello from Ollama "
        assert final.output_text == "Hello from Ollama "
        assert final.status == "completed"
        stored = client.responses.retrieve(final.id)
        assert stored.output_text == final.output_text
        with router.http.stream(
            "POST", "/v1/responses", json={"model": "claude-x", "input": "hi", "stream": True}
        ) as r:
            assert r.headers["x-nexus-backend"] == "an"
            lines = [line for line in r.iter_lines() if line.startswith("event: ")]
        assert lines[:5] == [
            "event: response.created",
            "event: response.in_progress",
            "event: response.output_item.added",
            "event: response.content_part.added",
            "event: response.output_text.delta",
        ]
        assert lines[-4:] == [
            "event: response.output_text.done",
            "event: response.content_part.done",
            "event: response.output_item.done",
            "event: response.completed",
        ]


def test_function_calls_round_trip(tmp_path: Path) -> None:
    an = FakeAnthropic(api_key=KEY, tool_use={"name": "weather", "input": {"city": "Oslo"}})
    with stack(tmp_path, an=an) as (_, client, _):
        with client.responses.stream(
            model="claude-x", input="weather in Oslo?", tools=WEATHER
        ) as stream:  # type: ignore[arg-type]
            arg_deltas = [
                e.delta for e in stream if e.type == "response.function_call_arguments.delta"
            ]
            final = stream.get_final_response()
        call = next(item for item in final.output if item.type == "function_call")
        assert json.loads("".join(arg_deltas)) == {"city": "Oslo"}
        assert json.loads(call.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
        assert call.call_id == "toolu_1"  # type: ignore[union-attr]
        followup = client.responses.create(
            model="claude-x",
            previous_response_id=final.id,
            tools=WEATHER,  # type: ignore[arg-type]
            input=[
                {
                    "type": "function_call_output",
                    "call_id": call.call_id,  # type: ignore[union-attr]
                    "output": "sunny",
                }
            ],
        )
        assert followup.previous_response_id == final.id
        sent = an.requests[-1]["messages"]
        assert sent[0]["content"] == [{"type": "text", "text": "weather in Oslo?"}]
        assert sent[1]["role"] == "assistant"
        assert sent[1]["content"][-1] == {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "weather",
            "input": {"city": "Oslo"},
        }
        assert sent[2] == {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
        }


def test_previous_response_id_chains_context_without_instructions(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, oa):
        first = client.responses.create(model="gpt-x", input="one", instructions="only once")
        second = client.responses.create(model="gpt-x", input="two", previous_response_id=first.id)
        client.responses.create(model="gpt-x", input="three", previous_response_id=second.id)
        assert oa.requests[-1]["messages"] == [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "openai says hi"},
            {"role": "user", "content": "two"},
            {"role": "assistant", "content": "openai says hi"},
            {"role": "user", "content": "three"},
        ]
        with pytest.raises(openai.BadRequestError, match="not found"):
            client.responses.create(model="gpt-x", input="x", previous_response_id="resp_missing")


def test_history_through_previous_response_id_blocks_fresh_only_overflow(tmp_path: Path) -> None:
    """The home provider is down: a fresh request may overflow, its follow-up may not."""
    with stack(tmp_path, ollama_down=True) as (router, client, oa):
        wait_for(
            lambda: (
                {
                    p["name"]: p["status"]
                    for p in router.http.get("/admin/providers").json()["providers"]
                }.get("ol")
                == "unhealthy"
            ),
            what="ollama down",
        )
        raw = client.responses.with_raw_response.create(model="private", input="hi")
        assert raw.headers["x-nexus-route-reason"] == "overflow"
        first = raw.parse()
        response = router.http.post(
            "/v1/responses",
            json={"model": "private", "input": "again", "previous_response_id": first.id},
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "30"
        assert response.json()["error"]["context"] == {
            "rejection_reason": "overflow_blocked_with_history",
            "required_zone": "home",
            "available_zone": "cloud",
            "overflow_mode": "fresh-only",
            "conversation_messages": 3,
            "retry_after_seconds": 30,
        }
        assert len(oa.requests) == 1


def test_input_items_pagination(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, _):
        items = [{"role": "user", "content": f"message {i}"} for i in range(5)]
        response = client.responses.create(model="gpt-x", input=items)  # type: ignore[arg-type]
        page = client.responses.input_items.list(response.id, limit=2)
        assert [i.content[0].text for i in page.data] == ["message 4", "message 3"]  # type: ignore[union-attr]
        assert page.has_more is True
        every = [
            i.content[0].text
            for i in client.responses.input_items.list(  # type: ignore[union-attr]
                response.id, limit=2, order="asc"
            )
        ]
        assert every == [f"message {i}" for i in range(5)]  # the SDK follows the cursor
        assert all(i.id.startswith("msg_") for i in page.data)


def test_background_response_can_be_cancelled(tmp_path: Path) -> None:
    slow = FakeOpenAI(reply="late", models=("gpt-x",), gate=threading.Event())
    with stack(tmp_path, oa=slow) as (_, client, _):
        queued = client.responses.create(model="gpt-x", input="hi", background=True)
        assert queued.status == "queued"
        wait_for(lambda: slow.requests, what="upstream call")
        assert client.responses.retrieve(queued.id).status == "in_progress"
        cancelled = client.responses.cancel(queued.id)
        assert cancelled.status == "cancelled"
        wait_for(lambda: slow.disconnects == 1, what="the upstream call to be dropped")
        assert slow.gate is not None
        slow.gate.set()
        assert client.responses.cancel(queued.id).status == "cancelled"  # idempotent
        done = client.responses.create(model="gpt-x", input="hi", background=True)
        finished = wait_for(
            lambda: (r := client.responses.retrieve(done.id)).status == "completed" and r,
            what="background completion",
        )
        assert finished.output_text == "late"
        with pytest.raises(openai.ConflictError, match="already completed"):
            client.responses.cancel(done.id)
        foreground = client.responses.create(model="gpt-x", input="hi")
        with pytest.raises(openai.BadRequestError, match="Only background"):
            client.responses.cancel(foreground.id)


def test_a_background_stream_survives_its_client_and_is_resumed(tmp_path: Path) -> None:
    """background + stream: the events are kept; a client that lost its stream resumes
    after the last sequence number it saw, and a finished one replays whole."""
    paced = FakeOpenAI(reply="alpha beta gamma delta epsilon", models=("gpt-x",), chunk_delay_s=0.1)
    with stack(tmp_path, oa=paced) as (router, client, _):
        first = client.responses.create(model="gpt-x", input="go", background=True, stream=True)
        seen = []
        for event in first:
            seen.append(event)
            if event.type == "response.output_text.delta":
                break
        first.close()
        assert seen[0].type == "response.created"
        response_id = seen[0].response.id  # type: ignore[union-attr]
        assert seen[0].response.background is True  # type: ignore[union-attr]
        rest = list(
            client.responses.retrieve(
                response_id, stream=True, starting_after=seen[-1].sequence_number
            )
        )
        events = [*seen, *rest]
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert rest[-1].type == "response.completed"
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")  # type: ignore[union-attr]
        assert text == "alpha beta gamma delta epsilon"
        # finished: replayed from the store, whole, from any point
        again = list(client.responses.retrieve(response_id, stream=True))
        assert [e.type for e in again] == [e.type for e in events]
        tail = list(client.responses.retrieve(response_id, stream=True, starting_after=3))
        assert tail[0].sequence_number == 4
        # a response that was not created in the background has no events to stream
        plain = client.responses.create(model="gpt-x", input="go")
        with pytest.raises(openai.BadRequestError, match="Only background responses"):
            list(client.responses.retrieve(plain.id, stream=True))
        bad = router.http.get(f"/v1/responses/{response_id}?stream=true&starting_after=x")
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "starting_after"


def test_a_failed_background_response_carries_a_code_clients_decode(tmp_path: Path) -> None:
    failing = FakeOpenAI(models=("gpt-x",), status=500)
    with stack(tmp_path, oa=failing) as (_, client, _):
        queued = client.responses.create(model="gpt-x", input="hi", background=True)
        failed = wait_for(
            lambda: (r := client.responses.retrieve(queued.id)).status == "failed" and r,
            what="background failure",
        )
        assert failed.error is not None
        assert failed.error.code == "server_error"  # OpenAI's enum, not ours
        assert (failed.error.model_extra or {})["nexus_code"] == "provider_api_error"
        assert "answered HTTP 500" in failed.error.message


def test_rejections_and_bad_requests(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, client, _):
        with pytest.raises(openai.NotFoundError, match="Available models"):
            client.responses.create(model="nope", input="hi")
        bad = router.http.post(
            "/v1/responses", json={"model": "gpt-x", "input": [{"role": "robot"}]}
        )
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "input[0].role"
        raw = router.http.post(
            "/v1/responses",
            content=b'{"model": "gpt-x", "input": ',
            headers={"content-type": "application/json"},
        )
        assert raw.status_code == 400
        assert raw.json()["error"]["message"].startswith("Malformed JSON body")
        assert router.http.get("/v1/responses/resp_nope/input_items?limit=0").status_code == 400


def test_stored_responses_survive_a_restart_and_shutdown_fails_unfinished_ones(
    tmp_path: Path,
) -> None:
    slow = FakeOpenAI(reply="never", models=("gpt-x",), gate=threading.Event())
    with stack(tmp_path, oa=slow) as (_, client, _):
        done = client.responses.create(model="llama3", input="remember me")
        pending = client.responses.create(model="gpt-x", input="hi", background=True)
        wait_for(lambda: slow.requests, what="upstream call")
    # the router above has shut down; start a new one on the same file and database
    with serve(FakeOpenAI(models=("gpt-x",))) as url:
        path = tmp_path / "nexus.yaml"
        path.write_text(path.read_text().replace(path.read_text().split('"')[1], f"{url}/v1", 1))
        with run_router(path, env={"ANTHROPIC_KEY": KEY}, health_probes=False) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            assert client.responses.retrieve(done.id).output_text == "Hello from Ollama"
            failed = client.responses.retrieve(pending.id)
            assert failed.status == "failed"
            assert failed.error is not None
            assert "shut down" in failed.error.message
    assert (tmp_path / "nexus.db").exists()


def test_item_references_are_resolved_from_the_store(tmp_path: Path) -> None:
    """The Vercel AI SDK's turn two names turn one's answer by id; it broke with a 400."""
    oa = FakeOpenAI(reply="openai says hi", models=("gpt-x",))
    with stack(tmp_path, oa=oa) as (_, client, _oa):
        first = client.responses.create(model="gpt-x", input="my name is Ada")
        answer = first.output[0]
        second = client.responses.create(
            model="gpt-x",
            input=[
                {"role": "user", "content": "my name is Ada"},
                {"type": "item_reference", "id": answer.id},
                {"role": "user", "content": "what is my name?"},
            ],
        )
        assert second.status == "completed"
        sent = oa.requests[-1]["messages"]
        assert sent[1] == {"role": "assistant", "content": "openai says hi"}
        stored = client.responses.input_items.list(second.id).data
        assert [item.id for item in stored][1] == answer.id  # the referenced item, resolved
        with pytest.raises(openai.BadRequestError) as missing:
            client.responses.create(
                model="gpt-x", input=[{"type": "item_reference", "id": "msg_nope"}]
            )
        assert "msg_nope" in str(missing.value)
        assert len(oa.requests) == 2  # nothing sent upstream for the bad one


PATCH_TOOL = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}
AGENTS_TOOL = {
    "type": "namespace",
    "name": "agents",
    "description": "Sub-agents",
    "tools": [{"type": "function", "name": "spawn", "parameters": {"type": "object"}}],
}


@pytest.mark.parametrize("stream", [False, True])
def test_custom_namespaced_and_hosted_tools_as_codex_sends_them(
    tmp_path: Path, stream: bool
) -> None:
    """Custom tools come back as custom_tool_call; namespaces are restored; offered hosted
    tools are left out upstream and named in a header, never silently."""
    an = FakeAnthropic(api_key=KEY, tool_use={"name": "apply_patch", "input": {"input": "*** P"}})
    tools = [PATCH_TOOL, AGENTS_TOOL, {"type": "web_search"}]
    with stack(tmp_path, an=an) as (_, client, _):
        raw = client.responses.with_raw_response.create(
            model="claude-x",
            input="patch it",
            tools=tools,
            stream=stream,  # type: ignore[arg-type]
        )
        assert raw.headers["x-nexus-tools-dropped"] == "web_search"
        if stream:
            events = list(raw.parse())  # type: ignore[call-overload]
            deltas = [e.delta for e in events if e.type == "response.custom_tool_call_input.delta"]
            assert "".join(deltas) == "*** P"
            response = events[-1].response
        else:
            response = raw.parse()
        [call] = [item for item in response.output if item.type != "message"]
        assert call.type == "custom_tool_call"
        assert (call.name, call.input) == ("apply_patch", "*** P")
        sent = an.requests[-1]
        assert [t["name"] for t in sent["tools"]] == ["apply_patch", "agents__spawn"]
        # the next turn sends the call and its output back; the provider sees its own tool_use
        client.responses.create(
            model="claude-x",
            tools=tools,  # type: ignore[arg-type]
            input=[
                {"role": "user", "content": "patch it"},
                {
                    "type": "custom_tool_call",
                    "call_id": call.call_id,
                    "name": "apply_patch",
                    "input": "*** P",
                },
                {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "applied"},
            ],  # type: ignore[list-item]
        )
        turn = an.requests[-1]["messages"]
        assert turn[1]["content"][-1]["input"] == {"input": "*** P"}
        assert turn[2]["content"][0]["content"] == "applied"
        # a hosted tool the client requires cannot be honoured by any target: a clear 400
        with pytest.raises(openai.BadRequestError, match="no target can run"):
            client.responses.create(
                model="claude-x",
                input="search",
                tools=tools,  # type: ignore[arg-type]
                tool_choice={"type": "web_search"},  # type: ignore[arg-type]
            )
