"""The PostgreSQL store's schema keeps step with SQLite's: the same versions, the same tables,
columns and indexes; migrating is safe when processes start together; a server that cannot be
reached is a StoreUnavailable, not a crash."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon.errors import StoreUnavailable
from daemon.store import SQLiteStore, pg_schema
from daemon.store.migrations import MIGRATIONS
from daemon.store.pgdb import PGDB


def test_both_stores_know_the_same_versions() -> None:
    """A PostgreSQL store starts at the baseline; every later version is SQLite's number."""
    sqlite_versions = [version for version, _, _ in MIGRATIONS]
    pg_versions = [version for version, _, _ in pg_schema.MIGRATIONS]
    assert pg_versions[0] == pg_schema.BASELINE
    assert pg_versions == [v for v in sqlite_versions if v >= pg_schema.BASELINE]


async def _sqlite_shape(path: Path) -> dict[str, set[str]]:
    store = await SQLiteStore.open(path)
    await store.close()
    db = sqlite3.connect(path)
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    shape = {t: {r[1] for r in db.execute(f"PRAGMA table_info({t})")} for t in tables}
    shape["(indexes)"] = {
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    return shape


async def _pg_shape(url: str) -> dict[str, set[str]]:
    db = PGDB(await PGDB.connect(url), url)
    assert await db.migrate() == pg_schema.MIGRATIONS[-1][0]
    await db.close()
    plain = await asyncpg.connect(url)  # the server's own catalogue, read beside the store
    try:
        rows = await plain.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        )
        shape: dict[str, set[str]] = {}
        for table, column in rows:
            shape.setdefault(table, set()).add(column)
        indexes = await plain.fetch(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'"
        )
        shape["(indexes)"] = {r[0] for r in indexes}
        return shape
    finally:
        await plain.close()


async def test_the_postgresql_schema_has_sqlites_tables_columns_and_indexes(
    postgres_url: str, tmp_path: Path
) -> None:
    assert await _pg_shape(postgres_url) == await _sqlite_shape(tmp_path / "vouch.db")


async def test_processes_starting_together_migrate_once(postgres_url: str) -> None:
    pools = [PGDB(await PGDB.connect(postgres_url), postgres_url) for _ in range(3)]
    try:
        versions = await asyncio.gather(*(db.migrate() for db in pools))
        assert set(versions) == {pg_schema.MIGRATIONS[-1][0]}
        rows = await _fetch(postgres_url, "SELECT version FROM schema_migrations")
        assert [r[0] for r in rows] == [v for v, _, _ in pg_schema.MIGRATIONS]
        assert await pools[0].migrate() == pg_schema.MIGRATIONS[-1][0]  # again: nothing to do
    finally:
        for db in pools:
            await db.close()


async def test_a_store_newer_than_this_vouch_is_refused(postgres_url: str) -> None:
    db = PGDB(await PGDB.connect(postgres_url), postgres_url)
    try:
        await db.migrate()
        await _fetch(postgres_url, "INSERT INTO schema_migrations VALUES (999, 'the future')")
        with pytest.raises(RuntimeError, match="999 is newer than this Vouch"):
            await db.migrate()
    finally:
        await db.close()


async def test_emails_are_compressed_with_lz4_where_the_server_has_it(postgres_url: str) -> None:
    """Migration 27: lz4 on a server built with it (Debian's), else PostgreSQL's default; an
    email's bytes come back as written either way."""
    db = PGDB(await PGDB.connect(postgres_url), postgres_url)
    try:
        await db.migrate()
    finally:
        await db.close()
    [(method,)] = await _fetch(
        postgres_url,
        "SELECT attcompression FROM pg_attribute "
        "WHERE attrelid = 'outbox'::regclass AND attname = 'message'",
    )
    [(lz4,)] = await _fetch(
        postgres_url,
        "SELECT count(*) FROM pg_settings WHERE name = 'default_toast_compression' "
        "AND 'lz4' = ANY(enumvals)",
    )
    assert (method == b"l") == bool(lz4)  # PostgreSQL's "char": b"l" is lz4


async def _fetch(url: str, sql: str) -> list[Any]:
    """A statement on a plain connection of the test's own, beside the store."""
    plain = await asyncpg.connect(url)
    try:
        return list(await plain.fetch(sql))
    finally:
        await plain.close()


async def test_a_server_that_cannot_be_reached_is_unavailable() -> None:
    """A port nobody listens on (the connection is refused at once): 503, not a crash."""
    with pytest.raises(StoreUnavailable, match="PostgreSQL"):
        await PGDB.connect("postgresql://vouch@127.0.0.1:9/vouch")
