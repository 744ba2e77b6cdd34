"""Pure helpers both stores share: ids for appended items, and the item-page query."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from router.ids import new_id
from router.store.base import ItemPage, Order

__all__ = ["assign_ids", "page_query", "to_page"]


def assign_ids(items: Sequence[Mapping[str, Any]], taken: set[str]) -> list[dict[str, Any]]:
    """Copies of `items` in order, each id unique: a taken id gets a fresh one of its type."""
    out = []
    for item in items:
        body = dict(item)
        if body["id"] in taken:
            body["id"] = new_id(body["id"].split("_", 1)[0])
        taken.add(body["id"])
        out.append(body)
    return out


def page_query(
    table: str,
    owner_column: str,
    *,
    after: bool,
    limit: int | None,
    order: Order,
    param: Callable[[int], str],
) -> tuple[str, list[int]]:
    """SQL for one page of items by seq; `param(i)` spells the i-th placeholder (from 1).

    Returns the SQL and which argument each placeholder takes: 0 the owner, 1 the
    `after` id, 2 the row limit (limit + 1, to learn whether there are more).
    """
    direction, compare = ("ASC", ">") if order == "asc" else ("DESC", "<")
    uses = [0]
    sql = f"SELECT body FROM {table} WHERE {owner_column} = {param(1)}"
    if after:
        sql += (
            f" AND seq {compare} (SELECT seq FROM {table}"
            f" WHERE {owner_column} = {param(len(uses) + 1)} AND id = {param(len(uses) + 2)})"
        )
        uses += [0, 1]
    sql += f" ORDER BY seq {direction}"
    if limit is not None:
        sql += f" LIMIT {param(len(uses) + 1)}"
        uses.append(2)
    return sql, uses


def to_page(bodies: Sequence[Any], limit: int | None, decode: Callable[[Any], Any]) -> ItemPage:
    """The page from rows fetched with LIMIT limit + 1."""
    more = limit is not None and len(bodies) > limit
    return ItemPage(tuple(decode(b) for b in bodies[:limit]), more)
