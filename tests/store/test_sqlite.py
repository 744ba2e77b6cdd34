"""The SQLite store on real files: round trips, pagination, migrations, unfinished work."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.store import open_store
from router.store.base import StoredResponse
from router.store.sqlite import SqliteStore


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
async def test_round_trip_and_delete(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "db" / "nexus.db"))
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
    tmp_path: Path, after: str | None, limit: int, order: str, ids: list[str], more: bool
) -> None:
    store = SqliteStore(str(tmp_path / "nexus.db"))
    await store.open()
    await store.put_response(response("resp_1"), ITEMS)
    page = await store.input_items("resp_1", after=after, limit=limit, order=order)  # type: ignore[arg-type]
    assert [i["id"] for i in page.items] == ids
    assert page.has_more is more
    await store.close()


@pytest.mark.anyio
async def test_reopening_keeps_data_and_migrations_are_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "nexus.db"
    first = SqliteStore(str(path))
    await first.open()
    await first.put_response(response("resp_q", status="in_progress"))
    await first.close()
    second = SqliteStore(str(path))
    await second.open()
    assert await second.fail_unfinished("restarted") == 1
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
