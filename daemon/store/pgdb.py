"""The PostgreSQL store's database layer: a pool of connections, each call one transaction.

The counterpart of daemon/store/db.py for a store that several processes share: migrations run
under an advisory lock (two processes starting at once never both migrate), and a fault of the
server itself (it is down, restarting, out of disk) comes out as `StoreUnavailable`, so the web
answers 503 and the scheduler tries the sweep again, as with SQLite.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from daemon.errors import StoreUnavailable
from daemon.store import pg_schema

try:  # the `postgres` extra: only an owner who chose PostgreSQL installs it
    import asyncpg
except ImportError:  # pragma: no cover - tested by tests/test_install.py's blocked imports
    asyncpg = None

#: The advisory lock a process holds while it migrates (any number: the same in every process).
MIGRATION_LOCK = 0x766F756368  # "vouch"


@contextmanager
def _server_faults() -> Iterator[None]:
    """A fault of the server, told apart from one of the statement."""
    try:
        yield
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError) as exc:
        raise StoreUnavailable(f"PostgreSQL: {exc}") from exc
    except (asyncpg.DiskFullError, asyncpg.InsufficientResourcesError) as exc:
        raise StoreUnavailable(f"PostgreSQL: {exc}") from exc


class PGDB:
    """The one way to a PostgreSQL store: its pool, and the helpers each concern's
    PostgreSQL half writes its SQL with."""

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self.url = url
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
        await self._pool.close()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[Any]:
        """A connection inside one transaction, committed when the block ends."""
        with _server_faults():
            async with self._pool.acquire() as connection, connection.transaction():
                yield connection

    async def _read(self, sql: str, *args: Any) -> list[Any]:
        with _server_faults():
            async with self._pool.acquire() as connection:
                return list(await connection.fetch(sql, *args))

    async def _write_many(self, statements: Sequence[tuple[str, Sequence[Sequence[Any]]]]) -> None:
        """Each statement run for each of its parameter rows, all in one transaction."""
        async with self._write() as connection:
            for sql, rows in statements:
                if rows:
                    await connection.executemany(sql, rows)

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
        rows = await self._read("SELECT max(version) FROM schema_migrations")
        return int(rows[0][0])


_NAME = re.compile(r"(?<!:):([a-z_]+)")


def numbered(sql: str, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`sql` with its `:name` parameters as PostgreSQL's `$n`, and their values in that order,
    so one statement written with names serves both dialects' habits (`::type` casts are kept)."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match[1] not in order:
            order.append(match[1])
        return f"${order.index(match[1]) + 1}"

    return _NAME.sub(number, sql), [params[name] for name in order]
