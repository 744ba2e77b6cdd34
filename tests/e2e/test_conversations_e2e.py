"""The Conversations API end to end, and conversations driving Responses."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import wait_for
from tests.fakes.openai_upstream import FakeOpenAI
from tests.fakes.router import RouterHandle, run_router
from tests.fakes.servers import serve

CONFIG = """\
version: 1
zones: [{{name: home}}, {{name: cloud}}]
providers:
  - {{name: local, kind: openai, base_url: "{local}", zone: home, models: [{{name: small}}]}}
  - {{name: cloud, kind: openai, base_url: "{cloud}", zone: cloud, models: [{{name: big}}]}}
routes:
  - {{model: chat, targets: [local/small, cloud/big], zone: home, overflow: fresh-only}}
routing:
  health: {{interval_s: 0.05, failure_threshold: 1}}
"""


@contextlib.contextmanager
def stack(
    tmp_path: Path,
    *,
    local: FakeOpenAI | None = None,
    local_down: bool = False,
) -> Iterator[tuple[RouterHandle, openai.OpenAI, FakeOpenAI, FakeOpenAI]]:
    local = local or FakeOpenAI(reply="local answer", models=("small",))
    cloud = FakeOpenAI(reply="cloud answer", models=("big",))
    with serve(local) as local_url, serve(cloud) as cloud_url:
        path = tmp_path / "nexus.yaml"
        path.write_text(
            CONFIG.format(
                local="http://127.0.0.1:9/v1" if local_down else f"{local_url}/v1",
                cloud=f"{cloud_url}/v1",
            )
        )
        with run_router(path, health_probes=local_down) as router:
            client = openai.OpenAI(base_url=f"{router.url}/v1", api_key="x", max_retries=0)
            yield router, client, local, cloud


def texts(items: Any) -> list[str]:
    return [part.text for item in items for part in item.content]


def test_conversation_crud_and_items_with_the_sdk(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, _, _):
        conv = client.conversations.create(
            items=[{"role": "user", "content": "first"}], metadata={"topic": "demo"}
        )
        assert conv.id.startswith("conv_")
        assert conv.metadata == {"topic": "demo"}
        assert client.conversations.retrieve(conv.id).created_at == conv.created_at
        assert client.conversations.update(conv.id, metadata={"topic": "changed"}).metadata == {
            "topic": "changed"
        }
        added = client.conversations.items.create(
            conv.id,
            items=[
                {"type": "message", "role": "assistant", "content": f"reply {i}"} for i in range(24)
            ][:20],
        )
        assert len(added.data) == 20
        assert added.data[0].id.startswith("msg_")
        page = client.conversations.items.list(conv.id, limit=5)
        assert texts(page.data) == ["reply 19", "reply 18", "reply 17", "reply 16", "reply 15"]
        assert page.has_more is True
        every = texts(client.conversations.items.list(conv.id, limit=7, order="asc"))
        assert every == ["first", *(f"reply {i}" for i in range(20))]  # followed across 3 pages
        item = client.conversations.items.retrieve(added.data[3].id, conversation_id=conv.id)
        assert texts([item]) == ["reply 3"]
        after = client.conversations.items.delete(added.data[3].id, conversation_id=conv.id)
        assert after.id == conv.id
        with pytest.raises(openai.NotFoundError):
            client.conversations.items.retrieve(added.data[3].id, conversation_id=conv.id)
        deleted = client.conversations.delete(conv.id)
        assert deleted.deleted is True
        with pytest.raises(openai.NotFoundError):
            client.conversations.retrieve(conv.id)
        with pytest.raises(openai.NotFoundError):
            client.conversations.items.list(conv.id)


def test_the_seeds_request_shapes(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, _, _, _):
        created = router.http.post(
            "/conversations",
            json={"model": "chat", "messages": [{"role": "user", "content": "Hello!"}]},
        )
        assert created.status_code == 201
        body = created.json()
        assert body["object"] == "conversation"
        assert body["model"] == "chat"
        [message] = body["messages"]
        assert (message["role"], message["content"]) == ("user", "Hello!")
        assert message["id"].startswith("msg_")
        item = router.http.post(
            f"/conversations/{body['id']}/items",
            json={
                "type": "message",
                "role": "user",
                "content": [{"type": "text", "text": "Tell me a joke."}],
            },
        )
        assert item.status_code == 201
        assert item.json()["object"] == "conversation.item"
        assert item.json()["content"] == [{"type": "input_text", "text": "Tell me a joke."}]
        listed = router.http.get(f"/conversations/{body['id']}/items").json()
        assert listed["object"] == "list"
        assert [i["id"] for i in listed["data"]] == [item.json()["id"], message["id"]]
        again = router.http.get(f"/conversations/{body['id']}").json()
        assert [m["content"] for m in again["messages"]] == ["Hello!", "Tell me a joke."]
        bad = router.http.post(f"/conversations/{body['id']}/items", json={"role": "robot"})
        assert bad.status_code == 400
        assert bad.json()["error"]["param"] == "item[0].role"
        assert router.http.get("/conversations/conv_nope").status_code == 404


def test_multi_turn_chat_through_conversation(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, local, _):
        conv = client.conversations.create()
        first = client.responses.create(model="chat", input="hello", conversation=conv.id)
        assert first.conversation is not None
        assert first.conversation.id == conv.id
        client.responses.create(model="chat", input="and then?", conversation={"id": conv.id})
        assert local.requests[-1]["messages"] == [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "local answer"},
            {"role": "user", "content": "and then?"},
        ]
        assert texts(client.conversations.items.list(conv.id, order="asc")) == [
            "hello",
            "local answer",
            "and then?",
            "local answer",
        ]
        with pytest.raises(openai.BadRequestError, match="cannot be used together"):
            client.responses.create(
                model="chat", input="x", conversation=conv.id, previous_response_id=first.id
            )
        with pytest.raises(openai.NotFoundError):
            client.responses.create(model="chat", input="x", conversation="conv_missing")


def test_streamed_turns_are_appended_and_failed_turns_are_not(tmp_path: Path) -> None:
    with stack(tmp_path) as (router, client, local, _):
        conv = client.conversations.create()
        with client.responses.stream(model="chat", input="hi", conversation=conv.id) as stream:
            final = stream.get_final_response()
        assert final.output_text == "local answer"
        assert len(client.conversations.items.list(conv.id).data) == 2
        local.status = 500
        response = router.http.post(
            "/v1/responses",
            headers={"x-nexus-strict": "1"},
            json={"model": "small", "input": "doomed", "conversation": conv.id},
        )
        assert response.status_code == 502
        assert len(client.conversations.items.list(conv.id).data) == 2


def test_racing_turns_are_serialized_and_never_interleave(tmp_path: Path) -> None:
    gate = threading.Event()
    local = FakeOpenAI(reply="answer", models=("small",), gate=gate)
    with stack(tmp_path, local=local) as (_, client, _, _):
        conv = client.conversations.create()
        with ThreadPoolExecutor(2) as pool:
            a = pool.submit(client.responses.create, model="small", input="A", conversation=conv.id)
            wait_for(lambda: len(local.requests) == 1, what="first turn upstream")
            b = pool.submit(client.responses.create, model="small", input="B", conversation=conv.id)
            gate.set()
            a.result(timeout=10)
            b.result(timeout=10)
        items = texts(client.conversations.items.list(conv.id, order="asc"))
        assert items == ["A", "answer", "B", "answer"]
        # the second turn waited and saw the first one
        assert [m["content"] for m in local.requests[1]["messages"]] == ["A", "answer", "B"]


def test_fresh_only_overflow_is_blocked_for_a_conversation_with_items(tmp_path: Path) -> None:
    with stack(tmp_path, local_down=True) as (router, client, _, cloud):
        wait_for(
            lambda: (
                router.http.get("/admin/providers").json()["providers"][0]["status"] == "unhealthy"
            ),
            what="local down",
        )
        empty = client.conversations.create()
        fresh = client.responses.with_raw_response.create(
            model="chat", input="hi", conversation=empty.id
        )
        assert fresh.headers["x-nexus-route-reason"] == "overflow"  # no history yet
        response = router.http.post(
            "/v1/responses", json={"model": "chat", "input": "more", "conversation": empty.id}
        )
        assert response.status_code == 503
        context = response.json()["error"]["context"]
        assert context["rejection_reason"] == "overflow_blocked_with_history"
        assert context["conversation_messages"] == 3  # two stored items + the new input
        assert len(cloud.requests) == 1


def test_conversations_survive_a_restart(tmp_path: Path) -> None:
    with stack(tmp_path) as (_, client, _, _):
        conv = client.conversations.create(items=[{"role": "user", "content": "persist me"}])
        client.responses.create(model="chat", input="and me", conversation=conv.id)
    with stack(tmp_path) as (_, client, _, _):
        assert texts(client.conversations.items.list(conv.id, order="asc")) == [
            "persist me",
            "and me",
            "local answer",
        ]
