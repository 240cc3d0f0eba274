"""The connection every SQLite query module shares: one transaction at a time, under a lock.

Write transactions start with BEGIN IMMEDIATE so two processes on the same file (the daemon and
a CLI command) queue on SQLite's lock instead of failing half-way through. SQLite finding the
file itself damaged, wherever it is found, is raised as StoreDamaged (which file, and how to
restore it), not as the error of the query that happened to read the bad page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from daemon.clock import to_ms
from daemon.errors import StoreDamaged
from daemon.store.turns import Turns

T = TypeVar("T")


class SQL:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = Turns()  # an asyncio.Lock whose waiters serving a request go first
        self.path = path

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException as exc:
                await self._db.execute("ROLLBACK")
                said_if_damaged(exc, self.path)
                raise
            await self._db.execute("COMMIT")

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` between BEGIN IMMEDIATE and COMMIT in the connection's own thread, in one
        trip there. Each trip costs a thread wake-up and, on a busy event loop, a wait for the
        GIL; a transaction of awaited statements pays that per statement, while holding the
        write lock. The hot writes are written this way.

        aiosqlite has no public call for this: `_execute` is how its own methods reach the
        thread (pinned to aiosqlite 0.22 in pyproject.toml)."""
        async with self._lock:
            run: Callable[..., Awaitable[T]] = self._db._execute
            try:
                return await run(_atomically, self._db._conn, work)
            except sqlite3.DatabaseError as exc:
                said_if_damaged(exc, self.path)
                raise

    async def _write_many(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction and one
        trip (statements with no rows are skipped)."""

        def work(db: sqlite3.Connection) -> None:
            for sql, rows in statements:
                if rows:
                    db.executemany(sql, rows)

        await self._transaction(work)

    async def _read(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        async with self._lock:
            try:
                return list(await self._db.execute_fetchall(sql, params))  # one trip
            except sqlite3.DatabaseError as exc:
                said_if_damaged(exc, self.path)
                raise

    async def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """EXPLAIN QUERY PLAN details, for tests that pin the hot queries to their indexes."""
        rows = await self._read(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[3]) for r in rows]


def damaged(exc: BaseException) -> bool:
    """Whether SQLite's error is about the file itself (corrupt, or not a database), not a busy
    lock, a missing file or a full disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def said_if_damaged(exc: BaseException, path: Path) -> None:
    """Raise StoreDamaged for `path` if `exc` says the file is damaged; otherwise return."""
    if damaged(exc):
        raise StoreDamaged(path, str(exc)) from exc


def _atomically(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return result


def month_values(starts: Sequence[datetime]) -> tuple[str, list[int]]:
    """A `VALUES` list of (month, start, stop) rows, month i being [starts[i], starts[i + 1])
    in epoch ms, and its parameters: the months a monthly report joins its facts to."""
    params: list[int] = []
    for i, (start, stop) in enumerate(pairwise(to_ms(s) for s in starts)):
        params += [i, start, stop]
    return ", ".join("(?, ?, ?)" for _ in starts[1:]), params
