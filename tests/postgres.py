"""A real PostgreSQL server for the tests, when one is given: $VOUCH_TEST_POSTGRES_URL (a role
that may create databases). `.ci/run` starts Debian's PostgreSQL and sets it; without it the
PostgreSQL half is skipped, and the summary says so and how to run it.

Each test gets a database of its own, dropped after it: an empty one, or one at this Vouch's
schema (`fresh_database(migrated=True)`), cloned from a template database migrated once per
schema (CREATE DATABASE … TEMPLATE), so a test pays no migration."""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from daemon.store import pg_schema

URL = os.environ.get("VOUCH_TEST_POSTGRES_URL", "")
SKIPPED = (
    "the PostgreSQL half: set VOUCH_TEST_POSTGRES_URL to a server's URL (a role that may "
    "create databases), or run .ci/run, which starts Debian's PostgreSQL"
)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


#: The template's name says the schema it holds (its last version and a hash of every
#: migration's SQL), so runs of different branches on one server never share a wrong one.
_SCHEMA_HASH = hashlib.sha256(repr(pg_schema.MIGRATIONS).encode()).hexdigest()[:12]
TEMPLATE = f"vouch_template_{pg_schema.MIGRATIONS[-1][0]}_{_SCHEMA_HASH}"
#: The advisory lock a process holds while it looks for the template, or builds it (xdist's
#: workers and other runs on the same server wait for one another: it is built once).
_TEMPLATE_LOCK = 0x76746D706C  # "vtmpl"
_template_ready = False


async def _ensure_template(admin: Any) -> None:
    """Build the migrated template once per schema on this server: under the lock, into a
    scratch name renamed when complete, so a build cut short is never taken for one."""
    global _template_ready
    if _template_ready:
        return
    from daemon.store.pgdb import PGDB

    await admin.execute("SELECT pg_advisory_lock($1)", _TEMPLATE_LOCK)
    try:
        found = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", TEMPLATE)
        if not found:
            scratch = f"{TEMPLATE}_build"
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{scratch}"')
            db = PGDB(await PGDB.connect(with_database(URL, scratch)), scratch)
            try:
                await db.migrate()
            finally:
                await db.close()
            await admin.execute(f'ALTER DATABASE "{scratch}" RENAME TO "{TEMPLATE}"')
    finally:
        await admin.execute("SELECT pg_advisory_unlock($1)", _TEMPLATE_LOCK)
    _template_ready = True


def _strategy(admin: Any) -> str:
    """PostgreSQL 15's file copy: on the tests' server (no fsync) a clone takes about 10 ms, the
    default (its pages written through the WAL) 70-150 ms, which was half a test's set-up."""
    return " STRATEGY FILE_COPY" if admin.get_server_version().major >= 15 else ""


@asynccontextmanager
async def fresh_database(*, migrated: bool = False) -> AsyncIterator[str]:
    """The URL of a new database on the test server, dropped afterwards: empty, or `migrated`
    (a clone of the template, at this Vouch's schema); the test is skipped when there is no
    server."""
    if not URL:
        pytest.skip(SKIPPED)
    import asyncpg

    name = f"vouch_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(URL)
    try:
        if migrated:
            await _ensure_template(admin)
            await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"{_strategy(admin)}')
        else:
            await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(URL, name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@contextmanager
def fresh_database_sync() -> Iterator[str]:
    """`fresh_database` for a test outside an event loop (one that runs real processes)."""
    if not URL:
        pytest.skip(SKIPPED)
    import asyncpg

    name = f"vouch_test_{secrets.token_hex(6)}"

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(URL, name)
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The [store] table of a business several processes share: its SQLite file, or a fresh
    PostgreSQL database (skipped without a server: see above)."""
    if request.param == "sqlite":
        yield {}
        return
    with fresh_database_sync() as url:
        yield {"store": {"url": url}}
