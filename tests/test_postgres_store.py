"""The PostgreSQL store as a whole: opened and migrated in one call, and its faults told apart
from the data's. A lost connection (the server restarted, the backend terminated) and a
transaction undone by a deadlock come out as StoreUnavailable (the web answers 503, the
scheduler tries again), as SQLite's busy lock does; the pool then serves again."""

from __future__ import annotations

import asyncio

import pytest
from test_store_concerns import AT

from daemon.errors import StoreUnavailable
from daemon.intake.events import CustomerIn
from daemon.store.migrations import MIGRATIONS
from daemon.store.postgres import PostgresStore


async def test_opened_migrated_and_whole(postgres_url: str) -> None:
    store = await PostgresStore.open(postgres_url)
    try:
        assert await store.schema_version() == MIGRATIONS[-1][0]
        again = await PostgresStore.open(postgres_url)  # a second process: nothing to do
        await again.close()
        await store.write_probe()
    finally:
        await store.close()


async def test_a_lost_connection_is_store_unavailable_then_served_again(
    postgres_url: str,
) -> None:
    """The store's connection is terminated while its statement waits on a lock another
    session holds: that call fails as StoreUnavailable, and the next is served."""
    import asyncpg

    store = await PostgresStore.open(postgres_url)
    await store.ensure_customer("ann@example.com", AT)
    other = await asyncpg.connect(postgres_url)
    try:
        transaction = other.transaction()
        await transaction.start()
        await other.execute("UPDATE customers SET name = 'A' WHERE email = 'ann@example.com'")
        rows = [CustomerIn(email="ann@example.com", name="Ann")]
        importing = asyncio.ensure_future(store.import_customers(rows, AT))
        while not await other.fetchval(waiting()):
            continue  # each look is a round trip to the server
        await other.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid != pg_backend_pid()"
        )
        with pytest.raises(StoreUnavailable, match="PostgreSQL"):
            await importing
        await transaction.rollback()
        assert (await store.customer_by_email("ann@example.com")) is not None
    finally:
        await other.close()
        await store.close()


def waiting() -> str:
    """How many sessions wait on another's row lock (its transaction id)."""
    return "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"


async def test_a_deadlock_is_store_unavailable(postgres_url: str) -> None:
    """Another session holds bo@'s row and then waits for ann@'s, which an import (in email
    order: ann@, then bo@) holds while it waits for bo@'s: PostgreSQL undoes one of the two;
    the other session waits long enough before looking that it is the import."""
    import asyncpg

    store = await PostgresStore.open(postgres_url)
    await store.import_customers([CustomerIn(email=e) for e in ("ann@x.org", "bo@x.org")], AT)
    other = await asyncpg.connect(postgres_url)
    try:
        await other.execute("SET deadlock_timeout = '60s'")
        transaction = other.transaction()
        await transaction.start()
        await other.execute("UPDATE customers SET name = 'B' WHERE email = 'bo@x.org'")
        rows = [CustomerIn(email="ann@x.org", name="A"), CustomerIn(email="bo@x.org", name="B2")]
        importing = asyncio.ensure_future(store.import_customers(rows, AT))
        while not await other.fetchval(waiting()):  # the import holds ann@, waits on bo@
            continue  # each look is a round trip to the server
        blocked = asyncio.ensure_future(
            other.execute("UPDATE customers SET name = 'A2' WHERE email = 'ann@x.org'")
        )
        with pytest.raises(StoreUnavailable, match="deadlock"):
            await importing
        await blocked
        await transaction.rollback()
    finally:
        await other.close()
        await store.close()
