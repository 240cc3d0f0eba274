"""The connection every SQLite query module shares: one transaction at a time, under a lock.

Write transactions start with BEGIN IMMEDIATE so two processes on the same file (the daemon and
a CLI command) queue on SQLite's lock instead of failing half-way through.

A fault of the store itself (disk full, I/O error, locked too long) comes out as
`StoreUnavailable`, so callers can tell it from a fault of the data: the web answers 503, the
scheduler retries the sweep rather than set an innocent item aside.
SQLite finding the file itself damaged, wherever it is found, is raised as StoreDamaged (which
file, and how to restore it), not as the error of the query that happened to read the bad page.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from daemon.clock import to_ms
from daemon.errors import StoreDamaged, StoreUnavailable
from daemon.requests_first import Turns

T = TypeVar("T")

#: SQLite's primary result codes that say the store, not the statement, is at fault.
_UNAVAILABLE = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}


@contextmanager
def _store_faults(path: Path) -> Iterator[None]:
    """A fault of the store itself, told apart from one of the statement: StoreDamaged (the
    file) or StoreUnavailable (for now)."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        said_if_damaged(exc, path)
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.OperationalError) and (code or 0) & 0xFF in _UNAVAILABLE:
            raise StoreUnavailable(str(exc)) from exc
        raise


class SQL:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = Turns()  # an asyncio.Lock whose waiters serving a request go first
        self.path = path
        #: the daemon's secrets (current first) that a forgotten person's keys are hashed with
        self.erasure_keys: tuple[str, ...] = ()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            with _store_faults(self.path):
                await self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    await self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # SQLite rolls back itself on a full disk
                        await self._db.execute("ROLLBACK")
                    raise

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` between BEGIN IMMEDIATE and COMMIT in the connection's own thread, in one
        trip there. Each trip costs a thread wake-up and, on a busy event loop, a wait for the
        GIL; a transaction of awaited statements pays that per statement, while holding the
        write lock. The hot writes are written this way.

        aiosqlite has no public call for this: `_execute` is how its own methods reach the
        thread (pinned to aiosqlite 0.22 in pyproject.toml)."""
        async with self._lock:
            run: Callable[..., Awaitable[T]] = self._db._execute
            with _store_faults(self.path):
                return await run(_atomically, self._db._conn, work)

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
            with _store_faults(self.path):
                return list(await self._db.execute_fetchall(sql, params))  # one trip

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
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite rolls back itself on a full disk (or a failed COMMIT)
            db.execute("ROLLBACK")
        raise
    return result


def month_values(starts: Sequence[datetime]) -> tuple[str, list[int]]:
    """A `VALUES` list of (month, start, stop) rows, month i being [starts[i], starts[i + 1])
    in epoch ms, and its parameters: the months a monthly report joins its facts to."""
    params: list[int] = []
    for i, (start, stop) in enumerate(pairwise(to_ms(s) for s in starts)):
        params += [i, start, stop]
    return ", ".join("(?, ?, ?)" for _ in starts[1:]), params
