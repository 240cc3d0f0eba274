"""Store concerns on each backend (the `concerns` fixture: SQLite, and their PostgreSQL halves
on a real server): the same calls give the same answers, idempotent writes stay idempotent, and
on PostgreSQL two processes (two pools) writing the same thing at once write it once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from daemon.intake.events import EventIn
from daemon.store.migrations import MIGRATIONS
from daemon.store.pgdb import PGDB

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def event(event_id: str, email: str = "ann@example.com", **customer: Any) -> EventIn:
    return EventIn.model_validate(
        {
            "id": event_id,
            "type": "purchase.completed",
            "occurred_at": "2026-03-01T10:00:00Z",
            "customer": {"email": email, **customer},
        }
    )


async def customer_id(store: Any, email: str, name: str = "Ann") -> int:
    await store.record_event(event(f"ev-{email}", email, name=name), AT)
    found = await store.customer_by_email(email)
    assert found is not None
    return int(found.id)


async def execute(store: Any, sql: str, *args: Any) -> None:
    """A row the concern under test needs but does not write itself (`?` parameters; times
    as datetimes, given to SQLite as epoch ms)."""
    if isinstance(store, PGDB):
        for n in range(1, len(args) + 1):
            sql = sql.replace("?", f"${n}", 1)
        async with store._write() as db:
            await db.execute(sql, *args)
        return
    values = [int(a.timestamp() * 1000) if isinstance(a, datetime) else a for a in args]
    async with store._write() as db:
        await db.execute(sql, values)


async def test_upkeep_probe_and_schema_version(concerns: Any) -> None:
    await concerns.write_probe()
    assert await concerns.schema_version() == MIGRATIONS[-1][0]
