"""The seam under the one SQL store: how a database spells things, and how it runs a transaction.

`router.store.sql.SqlStore` writes each store method once, as a *program*: a
generator that yields statements (`Op`) and is sent each one's result. A
`Backend` runs a whole program as one transaction. SQLite runs it on its
database thread in a single hop from the event loop; PostgreSQL drives it on a
pooled connection, awaiting each statement. Statements are written once, as
templates: ``$1``-style placeholders and ``{names}`` a `Dialect` fills in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, TypeVar

import attrs

__all__ = [
    "Backend",
    "Dialect",
    "Op",
    "Program",
    "execute",
    "executemany",
    "fetch",
    "fetchrow",
    "fetchval",
]

T = TypeVar("T")


class Op(NamedTuple):
    """One statement of a program, and what the program wants back from it."""

    kind: Literal["execute", "executemany", "fetch", "fetchrow", "fetchval"]
    sql: str
    args: Sequence[Any]


#: Yields statements, is sent each one's result, returns the method's result.
Program: TypeAlias = Generator[Op, Any, T]


def execute(sql: str, *args: Any) -> Op:
    """Run a statement; its result is the number of rows it changed."""
    return Op("execute", sql, args)


def executemany(sql: str, rows: Sequence[Sequence[Any]]) -> Op:
    """Run a statement once per row of arguments; its result is None."""
    return Op("executemany", sql, rows)


def fetch(sql: str, *args: Any) -> Op:
    """Run a query; its result is the list of rows (each indexable by column)."""
    return Op("fetch", sql, args)


def fetchrow(sql: str, *args: Any) -> Op:
    """Run a query; its result is the first row, or None."""
    return Op("fetchrow", sql, args)


def fetchval(sql: str, *args: Any) -> Op:
    """Run a query; its result is the first column of the first row, or None."""
    return Op("fetchval", sql, args)


_PLACEHOLDER = re.compile(r"\$(\d+)")

#: The tables every dialect has; templates name them in braces: ``{responses}``.
TABLES = (
    "responses",
    "response_items",
    "output_items",
    "response_events",
    "conversations",
    "conversation_items",
    "replicas",
    "spend",
)


@attrs.frozen
class Dialect:
    """What differs between the databases, for statement templates.

    Templates use ``$1``-style placeholders and these names in braces:
    ``{responses}`` and the other `TABLES`; ``{now}``, the current time as
    ``replicas.seen_at`` stores it, and ``{seconds}``, which turns the number
    before it into an amount of that time (``{now} - $2{seconds}``);
    ``{for_update}`` and ``{for_update_skip_locked}``, row locks where the
    transaction does not already hold the whole database's write lock.
    """

    table_prefix: str
    placeholder: str  # format of the n-th placeholder: "?{}" or "${}"
    now: str
    seconds: str
    for_update: str
    for_update_skip_locked: str
    #: A value for a JSON column from any JSON-able value.
    json: Callable[[Any], Any]
    _names: Mapping[str, str] = attrs.field(init=False)
    _cache: dict[str, str] = attrs.field(init=False, factory=dict, eq=False, repr=False)

    @_names.default
    def _default_names(self) -> Mapping[str, str]:
        names = {table: f"{self.table_prefix}{table}" for table in TABLES}
        return {
            **names,
            "now": self.now,
            "seconds": self.seconds,
            "for_update": self.for_update,
            "for_update_skip_locked": self.for_update_skip_locked,
        }

    def sql(self, template: str) -> str:
        """The statement `template` in this dialect (memoized: templates are few)."""
        native = self._cache.get(template)
        if native is None:
            native = _PLACEHOLDER.sub(
                lambda m: self.placeholder.format(m[1]), template.format_map(self._names)
            )
            self._cache[template] = native
        return native


class Backend(Protocol):
    """A database the SQL store runs on."""

    dialect: Dialect

    async def open(self) -> None:
        """Connect, and create or migrate the schema."""
        ...

    async def close(self) -> None: ...

    async def run(self, program: Program[T], *, single: bool = False) -> T:
        """Run `program` as one transaction: every statement or none.

        `single`: the program runs exactly one statement, which is atomic by itself,
        so the backend may leave out BEGIN and COMMIT.
        """
        ...

    def outage(self, exc: BaseException) -> str | None:
        """If `exc` means the database is out of reach for now, a name for it fit for clients.

        The store then raises `StoreUnavailable` (503): retrying later may work,
        unlike after an error in a statement itself.
        """
        ...
