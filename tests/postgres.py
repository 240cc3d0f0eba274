"""A real PostgreSQL server for the tests, when one is given: $VOUCH_TEST_POSTGRES_URL (a role
that may create databases). `.ci/run` starts Debian's PostgreSQL and sets it; without it the
PostgreSQL half is skipped, and the summary says so and how to run it.

Each test gets a database of its own, dropped after it."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

URL = os.environ.get("VOUCH_TEST_POSTGRES_URL", "")
SKIPPED = (
    "the PostgreSQL half: set VOUCH_TEST_POSTGRES_URL to a server's URL (a role that may "
    "create databases), or run .ci/run, which starts Debian's PostgreSQL"
)


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """The URL of a new, empty database on the test server, dropped afterwards; the test is
    skipped when there is no server."""
    if not URL:
        pytest.skip(SKIPPED)
    import asyncpg

    name = f"vouch_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(URL)
    try:
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
