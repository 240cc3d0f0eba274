"""The database layer: the connections every store concern shares, one transaction at a time
in turn, group commit, and how SQLite's faults are told apart.

Write transactions start with BEGIN IMMEDIATE so two processes on the same file (the daemon and
a CLI command) queue on SQLite's lock instead of failing half-way through.

A fault of the store itself (disk full, I/O error, locked too long) comes out as
`StoreUnavailable`, so callers can tell it from a fault of the data: the web answers 503, the
scheduler retries the sweep rather than set an innocent item aside.
SQLite finding the file itself damaged, wherever it is found, is raised as StoreDamaged (which
file, and how to restore it), not as the error of the query that happened to read the bad page.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

import aiosqlite

from daemon.clock import from_ms, to_ms
from daemon.errors import StoreDamaged, StoreUnavailable
from daemon.requests_first import Turns
from daemon.store.queries import Queries, Script, Tx
from daemon.store.rows import read

T = TypeVar("T")
U = TypeVar("U")
Item = TypeVar("Item")
Outcome = TypeVar("Outcome")
R = TypeVar("R")

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


class DB(Queries):
    """The one way to the database: its connection, one transaction at a time in turn (a
    request's work first), and the helpers each store concern writes its SQL with.

    One SQLite connection, reached two ways and never both at once (only under the turn):
    aiosqlite's, for every call written as awaited statements, and, for the hot transactions
    (`_transaction`), a thread of the layer's own that runs each whole in one trip. A
    transaction of awaited statements pays a trip to aiosqlite's thread per statement while it
    holds the turn: for the events' group commit that cost 5-7% of the event rate, more on a
    busy machine (README, Benchmarks), and aiosqlite has no public call that runs a function in
    its thread."""

    _SKIP_LOCKED = ""  # one writer at a time (the file's lock): no row is taken twice
    _FOR_UPDATE = ""  # nor read by two writers at once

    def __init__(self, db: aiosqlite.Connection, path: Path, hot: Hot) -> None:
        self._db = db
        self._hot = hot
        self._lock = Turns()  # an asyncio.Lock whose waiters serving a request go first
        self.path = path
        #: the daemon's secrets (current first) that a forgotten person's keys are hashed with
        self.erasure_keys: tuple[str, ...] = ()

    @staticmethod
    async def connect(path: Path) -> tuple[aiosqlite.Connection, Hot]:
        """The store's connection: WAL, foreign keys, a writer from another process waited for
        rather than failed. StoreDamaged if SQLite finds the file corrupt."""
        path.parent.mkdir(parents=True, exist_ok=True)
        made: list[sqlite3.Connection] = []

        def connector() -> sqlite3.Connection:  # run by aiosqlite, in its thread
            made.append(sqlite3.connect(path, isolation_level=None, check_same_thread=False))
            return made[0]

        db = await aiosqlite.Connection(connector, iter_chunk_size=64)
        try:
            await db.execute("PRAGMA busy_timeout = 10000")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
        except BaseException as exc:
            await db.close()
            if isinstance(exc, sqlite3.DatabaseError):
                said_if_damaged(exc, path)
            raise
        return db, Hot(made[0])

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()
            self._hot.close()

    async def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run `work` between BEGIN IMMEDIATE and COMMIT on the layer's own thread, in one trip
        there: the hot writes (event batches, claims, settlements, rendered bytes, planned
        events, answers, the life cycle's refreshes) are written this way."""
        async with self._lock:
            with _store_faults(self.path):
                return await self._hot.run(_atomically, work)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction, BEGIN IMMEDIATE to COMMIT (ROLLBACK on any error)."""
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

    @asynccontextmanager
    async def _reading(self) -> AsyncIterator[aiosqlite.Connection]:
        """Several statements in one turn, outside a transaction (a checkpoint)."""
        async with self._lock:
            with _store_faults(self.path):
                yield self._db

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """The shared write transaction (queries.Tx): `_write` with times as epoch ms."""
        async with self._write() as db:
            yield SQLiteTx(db)

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Tx]:
        """Reads under the turn: the one connection sees no other writer meanwhile."""
        async with self._reading() as db:
            yield SQLiteTx(db)

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        return await self._read(sql, ms(params))

    async def _apply(self, sql: str, *params: Any) -> int:
        """One statement in a write transaction of its own, in one trip."""
        values = ms(params)
        return await self._transaction(lambda db: int(db.execute(sql, values).rowcount))

    async def _script(self, script: Script[R]) -> R:
        """In one trip to the layer's thread."""
        return await self._transaction(lambda db: _run_script(db, script))

    async def _write_rows(self, sql: str, *params: Any) -> list[Any]:
        """One statement in a write transaction of its own, in one trip; its rows."""
        values = ms(params)
        return await self._transaction(lambda db: db.execute(sql, values).fetchall())

    @staticmethod
    def _not(flag: str) -> str:
        return f"{flag} = 0"

    @staticmethod
    def _json_items(expression: str, alias: str) -> str:
        return f"json_each({expression}) AS {alias}"

    @staticmethod
    def _json_text(expression: str, path: str) -> str:
        return f"json_extract({expression}, '$.{path}')"

    @staticmethod
    def _sha256(expression: str) -> str:
        return f"vouch_sha256({expression})"  # registered on the connection: SQLiteStore.open

    @staticmethod
    def _in(values: Collection[Any]) -> tuple[str, tuple[Any, ...]]:
        return f"IN ({', '.join('?' * len(values))})", ms(values)

    async def _write_many(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction and one
        trip (statements with no rows are skipped)."""

        def work(db: sqlite3.Connection) -> None:
            for sql, rows in statements:
                if rows:
                    db.executemany(sql, [ms(row) for row in rows])

        await self._transaction(work)

    async def _read(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        async with self._lock:
            with _store_faults(self.path):
                return list(await self._db.execute_fetchall(sql, params))  # one trip

    async def _by_month(self, starts: Sequence[datetime], sql: str) -> list[Any]:
        """The months as a VALUES list, in epoch ms."""
        if len(starts) < 2:
            return []
        params: list[int] = []
        for i, (start, stop) in enumerate(pairwise(to_ms(s) for s in starts)):
            params += [i, start, stop]
        months = ", ".join("(?, ?, ?)" for _ in starts[1:])
        return await self._read(f"WITH months(m, start, stop) AS (VALUES {months}){sql}", params)

    # The SQLite-only helpers below take their parameters as one sequence (or mapping): for a
    # concern with no PostgreSQL half yet; the shared surface (queries.Queries) is `_list`,
    # `_one`, `_apply`, `_write_rows` with `?` and datetimes.

    async def _insert(self, sql: str, params: Sequence[Any]) -> int | None:
        """One `INSERT ... RETURNING id` in a transaction of its own: the new row's id, or None
        when its ON CONFLICT found the row there already."""
        rows = await self._write_rows(sql, *params)
        return int(rows[0][0]) if rows else None

    async def _rows(
        self, cls: type[R], sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[R]:
        """The rows of `sql` as `cls` (rows.read): its SELECT lists them in the type's order."""
        return [read(cls, r) for r in await self._read(sql, params)]

    async def _row(
        self, cls: type[R], sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> R | None:
        """The first row of `sql` as `cls`, or None when there is none."""
        rows = await self._read(sql, params)
        return read(cls, rows[0]) if rows else None

    async def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """EXPLAIN QUERY PLAN details, for tests that pin the hot queries to their indexes."""
        rows = await self._read(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[3]) for r in rows]


def _run_script(db: sqlite3.Connection, script: Script[R]) -> R:
    try:
        s = next(script)
        while True:
            if s.many is not None:
                db.executemany(s.sql, [ms(row) for row in s.many])
                s = script.send([])
            else:
                s = script.send(db.execute(s.sql, ms(s.params)).fetchall())
    except StopIteration as done:
        return cast(R, done.value)


def ms(params: Iterable[Any]) -> tuple[Any, ...]:
    """Parameters as SQLite keeps them: a datetime as epoch ms, the rest as they are."""
    return tuple(to_ms(p) if isinstance(p, datetime) else p for p in params)


class SQLiteTx:
    """queries.Tx on an aiosqlite connection inside `DB._write`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def execute(self, sql: str, *params: Any) -> int:
        cursor = await self._db.execute(sql, ms(params))
        return int(cursor.rowcount)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        await self._db.executemany(sql, [ms(row) for row in rows])

    async def fetch(self, sql: str, *params: Any) -> list[Any]:
        return list(await self._db.execute_fetchall(sql, ms(params)))

    async def fetchrow(self, sql: str, *params: Any) -> Any | None:
        rows = await self.fetch(sql, *params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *params: Any) -> Any:
        row = await self.fetchrow(sql, *params)
        return row[0] if row else None

    async def records(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return await records(self._db, sql, ms(params))


class Hot:
    """The store's one connection, as a thread of the layer's own uses it for the hot
    transactions: the standard library's public API, one trip a transaction
    (`loop.run_in_executor`)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vouch-store")

    async def run(self, fn: Callable[[sqlite3.Connection, U], T], arg: U) -> T:
        """`fn(connection, arg)` on the layer's thread. A caller cancelled meanwhile still
        waits for it to finish, so the turn is never handed on while it runs."""
        future = asyncio.get_running_loop().run_in_executor(self._thread, fn, self._db, arg)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with suppress(BaseException):
                await future
            raise

    def close(self) -> None:
        self._thread.shutdown(wait=True)


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


class GroupCommit(Generic[Item, Outcome]):
    """Group commit: every item that arrives while a batch is being written joins the next
    one, so a burst costs a few transactions rather than one each. Each caller still gets its
    answer only after its batch is committed; one who gives up does not undo the batch."""

    def __init__(self, write: Callable[[list[Item]], Awaitable[list[Outcome]]], most: int) -> None:
        self._write = write
        self._most = most
        self._pending: list[tuple[Item, asyncio.Future[Outcome]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: Item) -> Outcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Outcome] = loop.create_future()
        self._pending.append((item, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._drain())
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._most], self._pending[self._most :]
            try:
                outcomes = await self._write([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)


async def records(
    db: aiosqlite.Connection, sql: str, params: Sequence[Any] | Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The rows of `sql` as JSON-ready dicts keyed by column: times (`*_at`, `at`) as ISO 8601
    UTC, never the bytes of an email."""
    cursor = await db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [
        {name: jsonable(name, value) for name, value in zip(names, row, strict=True)}
        for row in await cursor.fetchall()
    ]


def jsonable(column: str, value: Any) -> Any:
    """A column's value for JSON: a time (epoch ms, or a datetime from PostgreSQL) as ISO 8601
    UTC, an email's bytes as nothing."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if value is not None and (column.endswith("_at") or column == "at"):
        return from_ms(int(value)).isoformat()
    if isinstance(value, bytes):
        return None
    return value


def damaged(exc: BaseException) -> bool:
    """Whether SQLite's error is about the file itself (corrupt, or not a database), not a busy
    lock, a missing file or a full disk."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def said_if_damaged(exc: BaseException, path: Path) -> None:
    """Raise StoreDamaged for `path` if `exc` says the file is damaged; otherwise return."""
    if damaged(exc):
        raise StoreDamaged(path, str(exc)) from exc
