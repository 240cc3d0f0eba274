"""The query surface both database layers give (DB for SQLite, PGDB for PostgreSQL), so a
concern's SQL is written once where the dialects agree.

A statement is written with `?` parameters (PGDB numbers them `$1, $2, ...`) and takes times as
datetimes (DB turns them into SQLite's epoch ms); rows come back through rows.read, which takes
either form. A concern whose SQL is the same on both puts it in a class on `Queries` (say
`BouncesQueries`), used by its SQLite half (`BouncesSQL(BouncesQueries, DB)`) and its PostgreSQL
half (`BouncesPG(BouncesQueries, PGDB)`); only what truly differs stays in the halves.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from daemon.store.rows import read

R = TypeVar("R")


@dataclass(frozen=True)
class Statement:
    """One statement of a script: run once with `params` (its rows are sent back), or, with
    `many`, once for each of those parameter rows (no rows sent back)."""

    sql: str
    params: tuple[Any, ...] = ()
    many: Sequence[Sequence[Any]] | None = None


def run(sql: str, *params: Any) -> Statement:
    return Statement(sql, params)


def each(sql: str, rows: Sequence[Sequence[Any]]) -> Statement:
    return Statement(sql, many=rows)


#: A transaction written once as a generator: it yields each Statement and is sent its rows, and
#: returns the result. SQLite runs it in one trip to its thread (the hot transactions),
#: PostgreSQL statement by statement in one transaction.
Script = Generator[Statement, list[Any], R]


class Tx(Protocol):
    """A write transaction's handle, the same on both: `?` parameters, times as datetimes."""

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; the number of rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...
    async def fetch(self, sql: str, *params: Any) -> list[Any]: ...
    async def fetchrow(self, sql: str, *params: Any) -> Any | None: ...
    async def fetchval(self, sql: str, *params: Any) -> Any: ...
    async def records(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts by column (db.jsonable: times as ISO 8601, no bytes)."""


class Queries:
    """What a shared concern's methods write their SQL with. The first four are each layer's
    own (DB, PGDB); the rest are written once on them."""

    erasure_keys: tuple[str, ...]
    #: what a SELECT of rows to take adds so two takers never take the same one (PGDB)
    _SKIP_LOCKED: str
    #: what a SELECT adds whose rows the transaction goes on to change, so a second one at
    #: once waits, then reads them as the first left them (PGDB; SQLite has one writer)
    _FOR_UPDATE: str

    def _tx(self) -> AbstractAsyncContextManager[Tx]:
        """One write transaction: committed when the block ends, rolled back on an error."""
        raise NotImplementedError

    def _snapshot(self) -> AbstractAsyncContextManager[Tx]:
        """Several reads that see one state of the store (an export, an overview)."""
        raise NotImplementedError

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        """The rows of one read."""
        raise NotImplementedError

    async def _apply(self, sql: str, *params: Any) -> int:
        """One write statement in a transaction of its own; the rows it changed."""
        raise NotImplementedError

    async def _script(self, script: Script[R]) -> R:
        """Run `script` in one write transaction; its result."""
        raise NotImplementedError

    async def _write_rows(self, sql: str, *params: Any) -> list[Any]:
        """One write statement in a transaction of its own; the rows it returns (RETURNING)."""
        raise NotImplementedError

    async def _write_many(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction."""
        raise NotImplementedError

    @staticmethod
    def _in(values: Collection[Any]) -> tuple[str, tuple[Any, ...]]:
        """`column` + the first item, and its parameters: a test of membership in `values`
        (SQLite: `IN (?, ?, ...)`, PostgreSQL: `= ANY(?)` with one array, one plan for any
        number)."""
        raise NotImplementedError

    async def _by_month(self, starts: Sequence[datetime], sql: str) -> list[Any]:
        """The rows of `sql`, which follows a `months(m, start, stop)` table: month i is
        [starts[i], starts[i + 1]) (`sql` goes on `WITH months AS (...)`, with a comma for
        another table of its own). No rows for fewer than two starts."""
        raise NotImplementedError

    @staticmethod
    def _not(flag: str) -> str:
        """SQL that a boolean column `flag` is unset (SQLite keeps 0/1 and its partial indexes
        say `= 0`, which only that form uses; PostgreSQL's are booleans)."""
        raise NotImplementedError

    @staticmethod
    def _json_items(expression: str, alias: str) -> str:
        """A table `alias` whose column `value` is each item of a JSON array, as text."""
        raise NotImplementedError

    @staticmethod
    def _json_text(expression: str, path: str) -> str:
        """SQL for the text at a dotted `path` ("data.email") in a JSON document."""
        raise NotImplementedError

    @staticmethod
    def _sha256(expression: str) -> str:
        """SQL for the hex SHA-256 of a text `expression` (a forgotten address's key)."""
        raise NotImplementedError

    async def _list(self, cls: type[R], sql: str, *params: Any) -> list[R]:
        """The rows of `sql` as `cls` (rows.read): its SELECT lists them in the type's order."""
        return [read(cls, r) for r in await self._fetch(sql, *params)]

    async def _one(self, cls: type[R], sql: str, *params: Any) -> R | None:
        """The first row of `sql` as `cls`, or None when there is none."""
        rows = await self._fetch(sql, *params)
        return read(cls, rows[0]) if rows else None

    async def _value(self, sql: str, *params: Any) -> Any:
        """The first column of the first row, or None when there is no row."""
        rows = await self._fetch(sql, *params)
        return rows[0][0] if rows else None
