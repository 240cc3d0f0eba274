"""The PostgreSQL store's database layer: a pool of connections, each call one transaction.

The counterpart of daemon/store/db.py for a store that several processes share: migrations run
under an advisory lock (two processes starting at once never both migrate), and a fault of the
server itself (it is down, restarting, out of disk) comes out as `StoreUnavailable`, so the web
answers 503 and the scheduler tries the sweep again, as with SQLite.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar, cast

from daemon.errors import StoreUnavailable
from daemon.store import pg_schema
from daemon.store.db import jsonable
from daemon.store.queries import Queries, Script, Tx

try:  # the `postgres` extra: only an owner who chose PostgreSQL installs it
    import asyncpg
except ImportError:  # pragma: no cover - tested by tests/test_install.py's blocked imports
    asyncpg = None

R = TypeVar("R")

#: What says the server, not the statement, is at fault.
_FAULTS: tuple[type[BaseException], ...] = (
    (
        OSError,
        asyncpg.PostgresConnectionError,  # the connection lost, or never made
        asyncpg.InternalClientError,  # asyncpg's answer to a query sent as the server hung up
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,  # the server stopped, or our backend was terminated
        asyncpg.CrashShutdownError,
        asyncpg.TransactionRollbackError,  # a deadlock or a serialization failure: try again
        asyncpg.DiskFullError,
        asyncpg.InsufficientResourcesError,
    )
    if asyncpg is not None
    else (OSError,)
)

#: The advisory lock a process holds while it migrates (any number: the same in every process).
MIGRATION_LOCK = 0x766F756368  # "vouch"


@contextmanager
def _server_faults() -> Iterator[None]:
    """A fault of the server, told apart from one of the statement: as with SQLite's busy
    lock, the transaction undone by a deadlock or a serialization failure is one to try
    again, not a fault of the data. A transaction whose connection was lost cannot send its
    ROLLBACK, and asyncpg says so with an InterfaceError that hides the loss: the loss it is."""
    try:
        yield
    except _FAULTS as exc:
        raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
    except asyncpg.InterfaceError as exc:
        if not isinstance(exc.__context__, _FAULTS):
            raise
        raise StoreUnavailable(f"PostgreSQL: {exc.__context__}") from exc


class PGDB(Queries):
    """The one way to a PostgreSQL store: its pool, and the helpers each concern's
    PostgreSQL half writes its SQL with (queries.Queries: `?` parameters, numbered here)."""

    _SKIP_LOCKED = "FOR UPDATE SKIP LOCKED"  # rows another process is taking are passed over
    _FOR_UPDATE = "FOR UPDATE"  # rows another transaction is changing are waited for

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self.url = url
        #: connections kept out of the pool (a listener's), each with what undoes its use
        self._held: list[tuple[Any, Callable[[Any], Awaitable[None]]]] = []
        #: the daemon's secrets (current first) that a forgotten person's keys are hashed with
        self.erasure_keys: tuple[str, ...] = ()

    @staticmethod
    async def connect(url: str, *, password: str | None = None, size: int = 10) -> Any:
        """A pool on `url` (the password from the environment, never the file)."""
        if asyncpg is None:
            raise StoreUnavailable(
                "the PostgreSQL store needs the postgres extra: pip install 'vouch[postgres]'"
            )
        with _server_faults():
            return await asyncpg.create_pool(url, password=password, min_size=1, max_size=size)

    async def close(self) -> None:
        for connection, undo in self._held:
            await undo(connection)
            await self._pool.release(connection)
        self._held.clear()
        await self._pool.close()

    async def _hold_connection(
        self, use: Callable[[Any], Awaitable[None]], undo: Callable[[Any], Awaitable[None]]
    ) -> None:
        """Take a connection out of the pool for the store's life (a LISTEN needs its own);
        `undo` runs on it before it goes back, when the store closes."""
        with _server_faults():
            connection = await self._pool.acquire()
            self._held.append((connection, undo))
            await use(connection)

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Any]:
        """A connection inside one transaction, committed when the block ends."""
        with _server_faults():
            async with self._pool.acquire() as connection, connection.transaction():
                yield connection

    @asynccontextmanager
    async def _tx(self) -> AsyncIterator[Tx]:
        """The shared write transaction (queries.Tx): `_write` with `?` parameters."""
        async with self._write() as connection:
            yield PGTx(connection)

    @asynccontextmanager
    async def _snapshot(self) -> AsyncIterator[Tx]:
        """A read-only transaction at REPEATABLE READ: every read sees one snapshot."""
        with _server_faults():
            async with (
                self._pool.acquire() as connection,
                connection.transaction(isolation="repeatable_read", readonly=True),
            ):
                yield PGTx(connection)

    async def _fetch(self, sql: str, *params: Any) -> list[Any]:
        with _server_faults():
            async with self._pool.acquire() as connection:
                return list(await connection.fetch(marks(sql), *params))

    async def _apply(self, sql: str, *params: Any) -> int:
        async with self._tx() as tx:
            return await tx.execute(sql, *params)

    async def _script(self, script: Script[R]) -> R:
        async with self._tx() as tx:
            try:
                s = next(script)
                while True:
                    if s.many is not None:
                        await tx.executemany(s.sql, s.many)
                        s = script.send([])
                    else:
                        s = script.send(await tx.fetch(s.sql, *s.params))
            except StopIteration as done:
                return cast(R, done.value)

    async def _write_rows(self, sql: str, *params: Any) -> list[Any]:
        async with self._tx() as tx:
            return await tx.fetch(sql, *params)

    async def _by_month(self, starts: Sequence[datetime], sql: str) -> list[Any]:
        """The months unnested from arrays (typed: a VALUES list of parameters is text)."""
        if len(starts) < 2:
            return []
        return await self._fetch(
            "WITH months(m, start, stop) AS (SELECT * FROM unnest("
            "CAST(? AS integer[]), CAST(? AS timestamptz[]), CAST(? AS timestamptz[])))" + sql,
            list(range(len(starts) - 1)),
            list(starts[:-1]),
            list(starts[1:]),
        )

    @staticmethod
    def _not(flag: str) -> str:
        return f"NOT {flag}"

    @staticmethod
    def _json_items(expression: str, alias: str) -> str:
        return f"jsonb_array_elements_text({expression}) AS {alias}(value)"

    @staticmethod
    def _json_text(expression: str, path: str) -> str:
        *outer, last = path.split(".")
        return "".join([expression, *(f" -> '{key}'" for key in outer), f" ->> '{last}'"])

    @staticmethod
    def _sha256(expression: str) -> str:
        return f"encode(sha256(convert_to({expression}, 'UTF8')), 'hex')"

    @staticmethod
    def _in(values: Collection[Any]) -> tuple[str, tuple[Any, ...]]:
        return "= ANY(?)", (list(values),)

    async def _write_many(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction."""
        async with self._write() as connection:
            for sql, rows in statements:
                if rows:
                    await connection.executemany(marks(sql), rows)

    async def migrate(self) -> int:
        """Bring the schema to the newest version this Vouch knows, under the migration lock;
        returns the version. A store newer than this Vouch is refused."""
        async with self._write() as connection:
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await connection.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            current = await connection.fetchval(
                "SELECT coalesce(max(version), 0) FROM schema_migrations"
            )
            known = pg_schema.MIGRATIONS[-1][0]
            if current > known:
                raise RuntimeError(f"schema version {current} is newer than this Vouch ({known})")
            for version, name, sql in pg_schema.MIGRATIONS:
                if version > current:
                    await connection.execute(sql)
                    await connection.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                        version,
                        name,
                    )
            return int(await connection.fetchval("SELECT max(version) FROM schema_migrations"))

    async def write_probe(self) -> None:
        """A small write, undone at once: raises StoreUnavailable when the server cannot
        write (down, out of disk), for /healthz."""
        async with self._write() as connection:
            await connection.execute(
                "INSERT INTO write_probe (pad) VALUES (decode(repeat('00', 8192), 'hex'))"
            )
            await connection.execute("DELETE FROM write_probe")

    async def schema_version(self) -> int:
        return int(await self._value("SELECT max(version) FROM schema_migrations"))


class PGTx:
    """queries.Tx on an asyncpg connection inside `PGDB._write`."""

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    async def execute(self, sql: str, *params: Any) -> int:
        status = str(await self._connection.execute(marks(sql), *params))
        last = status.rsplit(" ", 1)[-1]  # "UPDATE 3", "INSERT 0 1", "DELETE 0"
        return int(last) if last.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._connection.executemany(marks(sql), rows)

    async def fetch(self, sql: str, *params: Any) -> list[Any]:
        return list(await self._connection.fetch(marks(sql), *params))

    async def fetchrow(self, sql: str, *params: Any) -> Any | None:
        return await self._connection.fetchrow(marks(sql), *params)

    async def fetchval(self, sql: str, *params: Any) -> Any:
        return await self._connection.fetchval(marks(sql), *params)

    async def records(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        return [
            {column: jsonable(column, value) for column, value in row.items()}
            for row in await self.fetch(sql, *params)
        ]


@lru_cache(maxsize=1024)
def marks(sql: str) -> str:
    """`sql` with its `?` parameters numbered as PostgreSQL's `$1, $2, ...`. A `?` inside a
    quoted literal or name, or a `--` comment, is text and left alone, as are jsonb's `?|` and
    `?&` operators (written without a space after them; a parameter never is)."""
    out: list[str] = []
    n, i, quote = 0, 0, ""
    while i < len(sql):
        c = sql[i]
        if quote:
            if c == quote:
                quote = ""  # a doubled quote closes and reopens: the same result
        elif c in "'\"":
            quote = c
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = len(sql) if end < 0 else end
            out.append(sql[i:end])
            i = end
            continue
        elif c == "?" and not _jsonb_operator(sql, i):
            n += 1
            out.append(f"${n}")
            i += 1
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _jsonb_operator(sql: str, i: int) -> bool:
    """Whether the `?` at `i` is jsonb's `?|` or `?&` (not a parameter before `||`)."""
    return sql[i + 1 : i + 2] in ("|", "&") and sql[i + 1 : i + 3] != "||"


async def pg_stored_version(url: str, password: str | None = None) -> int | None:
    """The schema version of the PostgreSQL store at `url`, read without changing it (for
    `vouch check`); None when it holds no Vouch tables yet. StoreUnavailable when the server
    cannot be reached (or the postgres extra is missing)."""
    db = PGDB(await PGDB.connect(url, password=password, size=1), url)
    try:
        rows = await db._fetch("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not rows[0][0]:
            return None
        return int(await db._value("SELECT coalesce(max(version), 0) FROM schema_migrations"))
    finally:
        await db.close()
