"""Copying a whole store to another, SQLite or PostgreSQL, to move a business between them.

The target is opened by its own store (so migrated to this Vouch's schema) and must be empty.
Every table the source's schema holds is copied, parents before children, ids kept; values are
converted to the target's column types (SQLite keeps times as epoch ms, booleans as 0/1 and
JSON as text; PostgreSQL has timestamptz, boolean, jsonb and bytea). Rows are read in pages
and written in batches, so memory stays flat; the target is written in one transaction, so a
copy that fails leaves it empty. Then each table's row count and checksum (over a canonical
form of every row, the same on either store) are computed on both sides and compared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiosqlite

from daemon.errors import VouchError
from daemon.store.pgdb import PGDB, pg_stored_version
from daemon.store.sqlite import LATEST, stored_version

#: Rows read (and written) at a time.
PAGE = 1000
#: Each store keeps its own record of the migrations it ran.
NOT_COPIED = frozenset({"schema_migrations"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MS = timedelta(milliseconds=1)

#: A PostgreSQL column type's kind, which says how its values are converted and compared.
KINDS = {
    "timestamp with time zone": "time",
    "boolean": "bool",
    "jsonb": "json",
    "json": "json",
    "bytea": "bytes",
    "double precision": "float",
    "real": "float",
    "bigint": "int",
    "integer": "int",
    "smallint": "int",
}


class CopyRefused(VouchError):
    """The copy cannot start (the source's schema, or a target that is not empty)."""


@dataclass(frozen=True)
class Tally:
    """One table's row count and checksum on each side."""

    table: str
    source_rows: int
    source_sum: str
    target_rows: int
    target_sum: str

    @property
    def matches(self) -> bool:
        return (self.source_rows, self.source_sum) == (self.target_rows, self.target_sum)


class Side(Protocol):
    """One store's tables, read and written without its concerns (SQL only here)."""

    name: str
    #: each table's column kinds, when this side knows them (PostgreSQL's types)
    typed: bool

    async def tables(self) -> list[str]: ...
    async def columns(self, table: str) -> dict[str, str]: ...
    async def parents(self) -> dict[str, set[str]]: ...
    def pages(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Any]]: ...
    async def count(self, table: str) -> int: ...
    async def begin(self) -> None: ...
    async def insert(
        self, table: str, columns: Sequence[str], kinds: dict[str, str], rows: list[Any]
    ) -> None: ...
    async def commit(self) -> None: ...
    async def close(self) -> None: ...


def _name(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


class SQLiteSide:
    typed = False

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.name = str(path)

    @classmethod
    async def open(cls, path: Path, *, readonly: bool) -> SQLiteSide:
        uri = f"file:{quote(str(path))}?mode={'ro' if readonly else 'rw'}"
        db = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        return cls(db, path)

    async def _rows(self, sql: str) -> list[Any]:
        async with self._db.execute(sql) as cursor:
            return list(await cursor.fetchall())

    async def tables(self) -> list[str]:
        rows = await self._rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
        return [str(row[0]) for row in rows]

    async def columns(self, table: str) -> dict[str, str]:
        return {str(row[1]): "" for row in await self._rows(f"PRAGMA table_info({_name(table)})")}

    async def parents(self) -> dict[str, set[str]]:
        return {
            table: {
                str(row[2]) for row in await self._rows(f"PRAGMA foreign_key_list({_name(table)})")
            }
            for table in await self.tables()
        }

    async def pages(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Any]]:
        names = ", ".join(map(_name, columns))
        async with self._db.execute(f"SELECT {names} FROM {_name(table)}") as cursor:
            while page := list(await cursor.fetchmany(PAGE)):
                yield page

    async def count(self, table: str) -> int:
        return int((await self._rows(f"SELECT count(*) FROM {_name(table)}"))[0][0])

    async def begin(self) -> None:
        await self._db.execute("BEGIN IMMEDIATE")

    async def insert(
        self, table: str, columns: Sequence[str], kinds: dict[str, str], rows: list[Any]
    ) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {_name(table)} ({', '.join(map(_name, columns))}) VALUES ({marks})"
        await self._db.executemany(sql, [[_to_sqlite(value) for value in row] for row in rows])

    async def commit(self) -> None:
        await self._db.execute("COMMIT")

    async def close(self) -> None:
        await self._db.close()


class PostgresSide:
    typed = True

    def __init__(self, pool: Any, connection: Any, url: str) -> None:
        self._pool = pool
        self._connection = connection
        self.name = url
        self._transaction: Any = None

    @classmethod
    async def open(cls, url: str, password: str | None) -> PostgresSide:
        pool = await PGDB.connect(url, password=password, size=1)  # connected: min_size 1
        return cls(pool, await pool.acquire(), url)

    async def tables(self) -> list[str]:
        rows = await self._connection.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name"
        )
        return [str(row[0]) for row in rows]

    async def columns(self, table: str) -> dict[str, str]:
        rows = await self._connection.fetch(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = $1 ORDER BY ordinal_position",
            table,
        )
        return {str(row[0]): KINDS.get(str(row[1]), "") for row in rows}

    async def parents(self) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {table: set() for table in await self.tables()}
        for child, parent in await self._connection.fetch(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        ):
            found.setdefault(child.strip('"'), set()).add(parent.strip('"'))
        return found

    async def pages(self, table: str, columns: Sequence[str]) -> AsyncIterator[list[Any]]:
        names = ", ".join(map(_name, columns))
        async with self._connection.transaction(isolation="repeatable_read", readonly=True):
            cursor = await self._connection.cursor(f"SELECT {names} FROM {_name(table)}")
            while page := list(await cursor.fetch(PAGE)):
                yield [tuple(row) for row in page]

    async def count(self, table: str) -> int:
        return int(await self._connection.fetchval(f"SELECT count(*) FROM {_name(table)}"))

    async def begin(self) -> None:
        self._transaction = self._connection.transaction()
        await self._transaction.start()

    async def insert(
        self, table: str, columns: Sequence[str], kinds: dict[str, str], rows: list[Any]
    ) -> None:
        order = [kinds[column] for column in columns]
        await self._connection.copy_records_to_table(
            table,
            records=[
                tuple(_to_postgres(v, k) for v, k in zip(row, order, strict=True)) for row in rows
            ],
            columns=list(columns),
        )

    async def commit(self) -> None:
        """Each identity's sequence moved past the ids copied, then the whole copy committed."""
        for table, column in await self._connection.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        ):
            await self._connection.execute(
                f"SELECT setval(pg_get_serial_sequence($1, $2), "
                f"coalesce((SELECT max({_name(column)}) FROM {_name(table)}), 0) + 1, false)",
                _name(table),
                column,
            )
        await self._transaction.commit()

    async def close(self) -> None:
        await self._pool.release(self._connection)
        await self._pool.close()


def _to_sqlite(value: Any) -> Any:
    """A value as SQLite keeps it: times as epoch ms, booleans as 0/1, JSON as its text."""
    if isinstance(value, datetime):
        return _epoch_ms(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _to_postgres(value: Any, kind: str) -> Any:
    """A SQLite value in the PostgreSQL column's own type."""
    if value is None:
        return None
    if kind == "time":
        return EPOCH + int(value) * MS
    if kind == "bool":
        return bool(value)
    if kind == "float":
        return float(value)
    if kind == "bytes" and isinstance(value, str):
        return value.encode()
    return value


def _epoch_ms(value: datetime) -> int:
    return (value - EPOCH) // MS


def canonical(value: Any, kind: str) -> Any:
    """A value as both stores would say it: times as epoch ms, booleans as 0/1, JSON with its
    keys sorted, bytes as hex."""
    if value is None:
        return None
    if kind == "time":
        return _epoch_ms(value) if isinstance(value, datetime) else int(value)
    if kind in ("bool", "int"):
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "json":
        return json.dumps(json.loads(value), sort_keys=True, separators=(",", ":"))
    if isinstance(value, str) and kind == "bytes":
        value = value.encode()
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    return value


async def tally(
    side: Side, table: str, columns: Sequence[str], kinds: dict[str, str]
) -> tuple[int, str]:
    """A table's row count and checksum: the sum of every row's SHA-256 over its canonical
    form (columns by name), so the order rows are read in does not matter."""
    order = sorted(range(len(columns)), key=lambda i: columns[i])
    count, total = 0, 0
    async for page in side.pages(table, columns):
        for row in page:
            form = [[columns[i], canonical(row[i], kinds.get(columns[i], ""))] for i in order]
            digest = hashlib.sha256(json.dumps(form, ensure_ascii=False).encode()).digest()
            total = (total + int.from_bytes(digest)) % 2**256
            count += 1
    return count, f"{total:064x}"


def in_order(parents: dict[str, set[str]]) -> list[str]:
    """The tables with every table after those its foreign keys name (a table naming itself
    aside); a cycle of references is a fault of the schema."""
    done: list[str] = []
    placed: set[str] = set()
    waiting = dict(parents)
    while waiting:
        ready = sorted(t for t, p in waiting.items() if p - {t} <= placed)
        if not ready:
            raise CopyRefused(f"the tables' foreign keys go round in a circle: {sorted(waiting)}")
        for table in ready:
            done.append(table)
            placed.add(table)
            del waiting[table]
    return done


@dataclass(frozen=True)
class Plan:
    """What is copied: the tables in order, each with its columns and their kinds."""

    tables: list[str]
    columns: dict[str, list[str]]
    kinds: dict[str, dict[str, str]]


async def plan(source: Side, target: Side) -> Plan:
    """The tables the source's schema holds, in an order foreign keys accept, each held to the
    target's columns (both are at this Vouch's version, so they match)."""
    tables = [t for t in await source.tables() if t not in NOT_COPIED]
    missing = set(tables) ^ {t for t in await target.tables() if t not in NOT_COPIED}
    if missing:
        raise CopyRefused(f"the two stores' tables differ: {sorted(missing)}")
    parents = await target.parents()
    order = in_order({table: parents.get(table, set()) & set(tables) for table in tables})
    columns: dict[str, list[str]] = {}
    kinds: dict[str, dict[str, str]] = {}
    for table in order:
        theirs, ours = await source.columns(table), await target.columns(table)
        if set(theirs) != set(ours):
            raise CopyRefused(f"table {table}'s columns differ: {sorted(set(theirs) ^ set(ours))}")
        columns[table] = list(theirs)
        kinds[table] = ours if target.typed else theirs
    return Plan(order, columns, kinds)


async def refuse_unless_empty(target: Side, tables: Sequence[str]) -> None:
    full = [table for table in tables if await target.count(table)]
    if full:
        raise CopyRefused(
            f"{target.name} is not empty (rows in {', '.join(full)}): a copy goes only into a "
            "new, empty store"
        )


async def copy(source: Side, target: Side, say: Callable[[str], None]) -> Plan:
    """Every table's rows from source to target, in one transaction on the target."""
    found = await plan(source, target)
    await refuse_unless_empty(target, found.tables)
    await target.begin()
    for table in found.tables:
        columns, rows = found.columns[table], 0
        async for page in source.pages(table, columns):
            await target.insert(table, columns, found.kinds[table], page)
            rows += len(page)
        say(f"copied {table}: {rows} rows")
    await target.commit()
    return found


async def verify(source: Side, target: Side, found: Plan) -> list[Tally]:
    """Each table's count and checksum on both sides."""
    tallies = []
    for table in found.tables:
        columns, kinds = found.columns[table], found.kinds[table]
        source_rows, source_sum = await tally(source, table, columns, kinds)
        target_rows, target_sum = await tally(target, table, columns, kinds)
        tallies.append(Tally(table, source_rows, source_sum, target_rows, target_sum))
    return tallies


def table_of(tallies: Sequence[Tally]) -> str:
    """The tallies as the command prints them (a checksum's first 16 hex digits)."""
    width = max([len("table"), *(len(t.table) for t in tallies)])
    lines = [f"{'table':<{width}}  {'rows':>8}  {'checksum':<16}  {'copy':>8}  {'checksum':<16}"]
    for t in tallies:
        lines.append(
            f"{t.table:<{width}}  {t.source_rows:>8}  {t.source_sum[:16]}  "
            f"{t.target_rows:>8}  {t.target_sum[:16]}" + ("" if t.matches else "  MISMATCH")
        )
    return "\n".join(lines)


async def open_side(where: str | Path, password: str | None, *, readonly: bool) -> Side:
    """A side read as it is: a source's schema must be this Vouch's (not migrated here)."""
    if isinstance(where, Path):
        version = stored_version(where)
        if version is None:
            raise CopyRefused(f"{where}: there is no store there")
        side: Side = await SQLiteSide.open(where, readonly=readonly)
    else:
        version = await pg_stored_version(where, password)
        side = await PostgresSide.open(where, password)
    if version != LATEST:
        await side.close()
        raise CopyRefused(
            f"{side.name} is at schema {version or 0}, this Vouch's is {LATEST}: "
            + (
                "run `vouch run` (or `vouch check`) with this Vouch once, then copy"
                if (version or 0) < LATEST
                else "upgrade Vouch first"
            )
        )
    return side


async def prepare_target(where: str | Path, password: str | None) -> None:
    """The target created if need be and migrated to this Vouch's schema by its own store."""
    from daemon.store.postgres import PostgresStore
    from daemon.store.sqlite import SQLiteStore

    try:
        if isinstance(where, Path):
            await (await SQLiteStore.open(where)).close()
        else:
            await (await PostgresStore.open(where, password=password)).close()
    except RuntimeError as exc:  # a store newer than this Vouch
        raise CopyRefused(str(exc)) from None


async def copy_store(
    source: str | Path,
    target: str | Path,
    passwords: tuple[str | None, str | None],
    say: Callable[[str], None],
    *,
    verify_only: bool = False,
) -> list[Tally]:
    """`vouch store copy`: the source copied to the target (unless `verify_only`), then both
    tallied. CopyRefused before anything is written when the copy cannot be made."""
    if source == target:
        raise CopyRefused("the target is the store itself")
    reading = await open_side(source, passwords[0], readonly=True)
    try:
        if not verify_only:
            await prepare_target(target, passwords[1])
        writing = await open_side(target, passwords[1], readonly=verify_only)
        try:
            found = (
                await plan(reading, writing) if verify_only else await copy(reading, writing, say)
            )
            return await verify(reading, writing, found)
        finally:
            await writing.close()
    finally:
        await reading.close()
