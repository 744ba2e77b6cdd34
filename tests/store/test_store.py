"""Both stores, SQLite on real files and a real PostgreSQL: the same behaviour, one suite."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from router.store import Store, open_store
from router.store.base import SpendRow, StoredConversation, StoredResponse
from router.store.processes import this_process
from router.store.sqlite import SqliteStore

#: Opens a store on one database; calling it twice opens two processes' views of it.
Opener = Callable[..., Store]


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``storage:`` URL of a fresh database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/db/nexus.db"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def opener(storage: str, tmp_path: Path) -> Opener:
    return lambda instance="a": open_store(storage, base_dir=tmp_path, instance=instance)


def response(rid: str, status: str = "completed", previous: str | None = None) -> StoredResponse:
    return StoredResponse(
        id=rid,
        created_at=1.0,
        status=status,
        background=status != "completed",
        body={"id": rid, "status": status, "output": []},
        previous_response_id=previous,
    )


ITEMS = [
    {"id": f"msg_{i}", "type": "message", "role": "user", "content": f"m{i}"} for i in range(5)
]


@pytest.mark.anyio
async def test_round_trip_and_delete(opener: Opener) -> None:
    store = opener()
    await store.open()
    await store.put_response(response("resp_1", previous="resp_0"), ITEMS)
    got = await store.get_response("resp_1")
    assert got == response("resp_1", previous="resp_0")
    await store.put_response(response("resp_1", status="failed"))  # update keeps the items
    assert (await store.get_response("resp_1")).status == "failed"  # type: ignore[union-attr]
    assert len((await store.input_items("resp_1")).items) == 5
    assert await store.delete_response("resp_1") is True
    assert await store.delete_response("resp_1") is False
    assert (await store.input_items("resp_1")).items == ()
    await store.close()


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("after", "limit", "order", "ids", "more"),
    [
        (None, 2, "desc", ["msg_4", "msg_3"], True),
        ("msg_3", 2, "desc", ["msg_2", "msg_1"], True),
        ("msg_1", 2, "desc", ["msg_0"], False),
        (None, 5, "asc", ["msg_0", "msg_1", "msg_2", "msg_3", "msg_4"], False),
        ("msg_2", 10, "asc", ["msg_3", "msg_4"], False),
    ],
)
async def test_cursor_pagination(
    opener: Opener, after: str | None, limit: int, order: str, ids: list[str], more: bool
) -> None:
    store = opener()
    await store.open()
    await store.put_response(response("resp_1"), ITEMS)
    page = await store.input_items("resp_1", after=after, limit=limit, order=order)  # type: ignore[arg-type]
    assert [i["id"] for i in page.items] == ids
    assert page.has_more is more
    await store.close()


@pytest.mark.anyio
async def test_reopening_keeps_data_and_migrations_are_idempotent(opener: Opener) -> None:
    first = opener("a")
    await first.open()
    await first.put_response(response("resp_q", status="in_progress"))
    await first.close()
    second = opener("b")
    await second.open()
    assert await second.fail_unfinished("restarted") == 1  # "a" never sent a heartbeat
    stored = await second.get_response("resp_q")
    assert stored is not None
    assert stored.status == "failed"
    assert stored.body["error"] == {"code": "server_error", "message": "restarted"}
    assert await second.fail_unfinished("again") == 0
    await second.close()


def test_storage_urls_resolve_next_to_the_config(tmp_path: Path) -> None:
    relative = open_store("sqlite:///data/nexus.db", base_dir=tmp_path)
    absolute = open_store(f"sqlite:///{tmp_path}/abs.db", base_dir=Path("/elsewhere"))
    assert isinstance(relative, SqliteStore)
    assert isinstance(absolute, SqliteStore)
    assert relative.path == str(tmp_path / "data" / "nexus.db")
    assert absolute.path == f"{tmp_path}/abs.db"
    with pytest.raises(ValueError, match="unsupported storage"):
        open_store("mysql://x", base_dir=tmp_path)


@pytest.mark.anyio
async def test_start_up_fails_only_work_of_processes_that_stopped(opener: Opener) -> None:
    """Two processes share a database: b starting must not fail a's running response."""
    a, b = opener("a"), opener("b")
    await a.open()
    await a.heartbeat()
    await a.put_response(response("resp_a", status="in_progress"))
    await b.open()
    assert await b.fail_unfinished("restarted", stale_after_s=30) == 0
    assert (await b.get_response("resp_a")).status == "in_progress"  # type: ignore[union-attr]
    # a stops beating (crashed): after stale_after_s its unfinished work is failed
    assert await b.fail_unfinished("a stopped", stale_after_s=0) == 1
    assert (await b.get_response("resp_a")).status == "failed"  # type: ignore[union-attr]
    await a.close()
    await b.close()


@pytest.mark.anyio
async def test_finish_response_writes_only_over_unfinished_work(opener: Opener) -> None:
    """A cancel recorded by one process is never overwritten by the runner's final write."""
    store = opener()
    await store.open()
    await store.put_response(response("resp_r", status="in_progress"))
    assert await store.finish_response(response("resp_r", status="cancelled")) is True
    assert await store.finish_response(response("resp_r", status="completed")) is False
    assert (await store.get_response("resp_r")).status == "cancelled"  # type: ignore[union-attr]
    assert await store.finish_response(response("resp_missing", status="completed")) is False
    await store.close()


@pytest.mark.anyio
async def test_concurrent_appends_from_two_processes_stay_contiguous(opener: Opener) -> None:
    """Batches appended at once through two connections never interleave or collide."""
    a, b = opener("a"), opener("b")
    await a.open()
    await b.open()
    conv = StoredConversation(id="conv_1", created_at=1.0, metadata={"k": "v"})
    await a.create_conversation(conv, [])

    def batch(tag: str) -> list[dict[str, object]]:
        return [{"id": "msg_same", "type": "message", "tag": tag, "n": n} for n in range(3)]

    await asyncio.gather(
        *((a if i % 2 else b).append_items("conv_1", batch(f"t{i}")) for i in range(10))
    )
    items = (await a.conversation_items("conv_1")).items
    assert len(items) == 30
    assert len({i["id"] for i in items}) == 30  # the reused id got fresh ones
    for start in range(0, 30, 3):  # each batch of three is contiguous and in order
        tags = {i["tag"] for i in items[start : start + 3]}
        assert len(tags) == 1
        assert [i["n"] for i in items[start : start + 3]] == [0, 1, 2]
    assert (await b.get_conversation("conv_1")) == conv
    assert await b.append_items("conv_missing", batch("x")) is None
    await a.close()
    await b.close()


@pytest.mark.anyio
async def test_conversation_crud(opener: Opener) -> None:
    store = opener()
    await store.open()
    conv = StoredConversation(id="conv_c", created_at=2.0, metadata={}, owner="k", model="m")
    await store.create_conversation(conv, [{"id": "msg_1", "type": "message"}])
    updated = await store.update_conversation("conv_c", {"topic": "x"})
    assert updated is not None
    assert updated.metadata == {"topic": "x"}
    assert await store.get_item("conv_c", "msg_1") == {"id": "msg_1", "type": "message"}
    assert await store.delete_item("conv_c", "msg_1") is True
    assert await store.delete_item("conv_c", "msg_1") is False
    assert await store.delete_conversation("conv_c") is True
    assert await store.get_conversation("conv_c") is None
    assert await store.update_conversation("conv_c", {}) is None
    await store.close()


def test_postgres_urls_open_the_postgres_store_and_never_show_the_password(
    tmp_path: Path,
) -> None:
    store = open_store("postgresql://nexus:s3cret@db.example/nexus", base_dir=tmp_path)
    assert "s3cret" not in repr(store)
    assert "postgresql://nexus:***@db.example/nexus" in repr(store)


@pytest.mark.anyio
async def test_processes_starting_together_migrate_once(opener: Opener) -> None:
    stores = [opener(f"p{i}") for i in range(4)]
    await asyncio.gather(*(s.open() for s in stores))
    await stores[0].put_response(response("resp_m"))
    assert await stores[3].get_response("resp_m") == response("resp_m")
    for store in stores:
        await store.close()


def turn(tag: str) -> list[dict[str, object]]:
    return [
        {"id": f"msg_{tag}_in", "type": "message", "role": "user", "content": tag},
        {"id": f"msg_{tag}_out", "type": "message", "role": "assistant", "content": tag},
    ]


@pytest.mark.anyio
async def test_finish_turn_writes_the_response_and_appends_its_turn_together(
    opener: Opener,
) -> None:
    store = opener()
    await store.open()
    await store.create_conversation(
        StoredConversation(id="conv_t", created_at=1.0, metadata={}), []
    )
    # a new response (answered at once): inserted with its input items, turn appended
    assert await store.finish_turn(response("resp_1"), "conv_t", turn("one"), input_items=ITEMS)
    assert await store.get_response("resp_1") == response("resp_1")
    assert len((await store.input_items("resp_1")).items) == 5
    # a background response finishing: replaces the in-progress record
    await store.put_response(response("resp_2", status="in_progress"))
    assert await store.finish_turn(response("resp_2"), "conv_t", turn("two"))
    assert (await store.get_response("resp_2")).status == "completed"  # type: ignore[union-attr]
    items = (await store.conversation_items("conv_t")).items
    assert [i["content"] for i in items] == ["one", "one", "two", "two"]
    # without a conversation, or with one that is gone: only the response
    assert await store.finish_turn(response("resp_3"), None, turn("three"))
    assert await store.finish_turn(response("resp_4"), "conv_gone", turn("four"))
    assert await store.get_response("resp_4") == response("resp_4")
    await store.close()


@pytest.mark.anyio
async def test_a_turn_whose_response_was_already_finished_appends_nothing(opener: Opener) -> None:
    """A cancel that won the race: the runner's final write and its turn are both void."""
    store = opener()
    await store.open()
    await store.create_conversation(
        StoredConversation(id="conv_t", created_at=1.0, metadata={}), []
    )
    await store.put_response(response("resp_c", status="in_progress"))
    assert await store.finish_response(response("resp_c", status="cancelled"))
    assert not await store.finish_turn(response("resp_c"), "conv_t", turn("late"))
    assert (await store.get_response("resp_c")).status == "cancelled"  # type: ignore[union-attr]
    assert (await store.conversation_items("conv_t")).items == ()
    await store.close()


@pytest.mark.anyio
async def test_finish_turn_is_one_transaction(opener: Opener) -> None:
    """When the append fails, the response keeps its previous state."""
    store = opener()
    await store.open()
    await store.create_conversation(
        StoredConversation(id="conv_t", created_at=1.0, metadata={}), []
    )
    await store.put_response(response("resp_a", status="in_progress"))
    with pytest.raises(KeyError):  # an item without an id cannot be stored
        await store.finish_turn(response("resp_a"), "conv_t", [{"type": "message"}])
    assert (await store.get_response("resp_a")).status == "in_progress"  # type: ignore[union-attr]
    assert (await store.conversation_items("conv_t")).items == ()
    await store.close()


#: A router process as far as the store knows: it beats once, starts a background
#: response and keeps running it until it is killed.
RUNNER = """
import asyncio, sys
from pathlib import Path
from router.store import open_store
from router.store.base import StoredResponse

async def main(url, base_dir, name):
    store = open_store(url, base_dir=Path(base_dir), instance=name)
    await store.open()
    await store.heartbeat()
    body = {"id": f"resp_{name}", "status": "in_progress", "output": []}
    await store.put_response(StoredResponse(f"resp_{name}", 1.0, "in_progress", True, body))
    print("running", flush=True)
    await asyncio.sleep(60)

asyncio.run(main(*sys.argv[1:]))
"""


@contextlib.contextmanager
def runner(storage: str, tmp_path: Path, name: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, storage, str(tmp_path), name],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "running\n"
        yield process
    finally:
        process.kill()
        process.wait()


@pytest.mark.anyio
async def test_work_of_a_process_killed_on_this_machine_is_failed_without_waiting(
    storage: str, opener: Opener, tmp_path: Path
) -> None:
    """kill -9 leaves a fresh heartbeat behind; that its pid is gone says enough."""
    if this_process() is None:
        pytest.skip("no /proc here: only heartbeats can tell")
    with runner(storage, tmp_path, "alive"), runner(storage, tmp_path, "killed") as killed:
        killed.kill()
        killed.wait()
        store = opener("restarted")
        await store.open()
        await store.heartbeat()
        assert await store.fail_unfinished("gone", stale_after_s=30) == 1
        failed = await store.get_response("resp_killed")
        assert failed is not None
        assert failed.body["error"] == {"code": "server_error", "message": "gone"}
        assert (await store.get_response("resp_alive")).status == "in_progress"  # type: ignore[union-attr]
        await store.close()


@pytest.mark.anyio
async def test_items_are_found_by_id_with_their_owner(opener: Opener) -> None:
    """What an item_reference names: an answer's output, a request's input, a conversation's."""
    store = opener()
    await store.open()
    answer = {"id": "msg_out", "type": "message", "role": "assistant", "content": "hi"}
    finished = attrs.evolve(
        response("resp_1"),
        owner="alice",
        body={"id": "resp_1", "status": "completed", "output": [answer]},
    )
    await store.put_response(finished, ITEMS[:1])
    background = attrs.evolve(response("resp_2", status="in_progress"), owner="bob")
    await store.put_response(background)
    later = {"id": "msg_bg", "type": "message", "role": "assistant", "content": "done"}
    await store.finish_response(
        attrs.evolve(
            background, status="completed", body={"status": "completed", "output": [later]}
        )
    )
    await store.create_conversation(
        StoredConversation(id="conv_1", created_at=1.0, metadata={}, owner="carol"), [ITEMS[3]]
    )
    found = await store.find_items(["msg_out", "msg_0", "msg_bg", "msg_3", "msg_missing"])
    assert found == {
        "msg_out": ("alice", answer),
        "msg_0": ("alice", ITEMS[0]),
        "msg_bg": ("bob", later),
        "msg_3": ("carol", ITEMS[3]),
    }
    await store.delete_response("resp_1")
    assert "msg_out" not in await store.find_items(["msg_out"])
    await store.close()


@pytest.mark.anyio
async def test_spend_adds_up_per_day_and_dimension_across_processes(opener: Opener) -> None:
    """Two processes writing the same day and dimensions add up; other rows stay apart."""
    a, b = opener("a"), opener("b")
    await a.open()
    await b.open()
    try:
        day = 86400.0 * 20000
        row = SpendRow(day, "chat", "openai", "cloud", "gpt", "alice", 2, 100, 50, 10, 0.25)
        await a.add_spend([row])
        await b.add_spend([row, attrs.evolve(row, key=None, cost_usd=1.0, requests=1)])
        await a.add_spend([attrs.evolve(row, day=day - 86400.0, cost_usd=9.0)])
        got = sorted(await b.spend_since(day), key=lambda r: r.cost_usd)
        assert got == [
            attrs.evolve(row, requests=4, prompt_tokens=200, completion_tokens=100,
                         cached_tokens=20, cost_usd=0.5),
            attrs.evolve(row, key=None, cost_usd=1.0, requests=1),
        ]  # fmt: skip
        assert len(await a.spend_since(day - 86400.0)) == 3
    finally:
        await a.close()
        await b.close()
