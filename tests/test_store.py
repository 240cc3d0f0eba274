"""The store: migrations, idempotent events; outbox leases and suppressions on each backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.intake.events import EventIn
from daemon.mail.outbox import NewEmail, Outcome, Settlement, State
from daemon.store import Recorded, SQLiteStore
from daemon.store.migrations import MIGRATIONS
from daemon.store.outbox import Outbox, OutboxPG
from daemon.store.pgdb import PGDB


def email(key: str, to: str = "ann@example.com", due: datetime | None = None) -> NewEmail:
    return NewEmail(
        dedupe_key=key,
        kind="test",
        recipient=to,
        envelope_from="hello@harborlane.example",
        message_id=f"<{key}@harborlane.example>",
        message=b"Subject: hi\r\n\r\nbody\r\n",
        not_before=due or datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )


def event(event_id: str = "ev-1", name: str = "Ann") -> EventIn:
    return EventIn.model_validate(
        {
            "id": event_id,
            "type": "purchase.completed",
            "occurred_at": "2026-03-01T10:00:00+01:00",
            "customer": {"email": "Ann@Example.com", "name": name, "tags": ["vip"]},
            "data": {"order": 17},
        }
    )


async def test_migrations_apply_once_and_reopen(config: Config) -> None:
    first = await SQLiteStore.open(config.store_path)
    assert await first.schema_version() == MIGRATIONS[-1][0]
    await first.close()
    again = await SQLiteStore.open(config.store_path)  # applying again would fail on CREATE TABLE
    assert await again.schema_version() == MIGRATIONS[-1][0]
    await again.close()


@pytest.mark.sqlite_only("the SQLite file's write-ahead log")
async def test_wal_mode(store: SQLiteStore) -> None:
    assert (store.path.parent / (store.path.name + "-wal")).exists()


async def test_event_recorded_once_per_id(concerns: Any, clock: FakeClock) -> None:
    store = concerns
    first = await store.record_event(event(), clock.now())
    replay = await store.record_event(event(), clock.now())
    conflict = await store.record_event(event(name="Someone else"), clock.now())
    assert first.recorded is Recorded.NEW
    assert replay.recorded is Recorded.REPLAY and replay.receipt == first.receipt
    assert conflict.recorded is Recorded.CONFLICT
    assert await store.event_counts() == {"purchase.completed": 1}
    customer = await store.customer_by_email("ann@example.com")
    assert customer is not None and customer.name == "Ann" and customer.tags == ("vip",)


async def test_enqueue_is_deduplicated(outbox: Outbox, clock: FakeClock) -> None:
    assert await outbox.enqueue(email("a"), clock.now()) is not None
    assert await outbox.enqueue(email("a"), clock.now()) is None
    assert (await outbox.outbox_counts())[State.QUEUED] == 1


async def test_claim_leases_due_rows_only(outbox: Outbox, clock: FakeClock) -> None:
    await outbox.enqueue(email("now"), clock.now())
    await outbox.enqueue(email("later", due=clock.now() + timedelta(hours=1)), clock.now())
    rows = await outbox.claim("a", clock.now(), 60, 10)
    assert [r.dedupe_key for r in rows] == ["now"]
    assert await outbox.claim("b", clock.now(), 60, 10) == []  # leased to a
    clock.advance(61)  # the lease ran out: the row comes back, never dropped
    assert [r.dedupe_key for r in await outbox.claim("b", clock.now(), 60, 10)] == ["now"]


async def test_release_returns_only_my_leases(outbox: Outbox, clock: FakeClock) -> None:
    for key in "abc":
        await outbox.enqueue(email(key), clock.now())
    await outbox.claim("me", clock.now(), 300, 2)
    await outbox.claim("other", clock.now(), 300, 1)
    assert await outbox.release_leases("me", clock.now()) == 2
    assert len(await outbox.claim("me", clock.now(), 300, 10)) == 2


async def test_settle_records_each_outcome(outbox: Outbox, clock: FakeClock) -> None:
    ids = [await outbox.enqueue(email(k, to=f"{k}@example.com"), clock.now()) for k in "abcd"]
    await outbox.claim("me", clock.now(), 300, 10)
    a, b, c, d = (i for i in ids if i is not None)
    await outbox.settle(
        [
            Settlement(a, Outcome.SENT),
            Settlement(b, Outcome.RETRY, "451 busy", retry_at=clock.now() + timedelta(minutes=5)),
            Settlement(c, Outcome.FAILED, "550 no such user", suppress="c@example.com"),
            Settlement(d, Outcome.SUPPRESSED, "address is suppressed"),
        ],
        clock.now(),
    )
    states = {i: (await outbox.outbox_row(i)) for i in (a, b, c, d)}
    assert {i: (r.state, r.attempts) for i, r in states.items() if r} == {
        a: (State.SENT, 1),
        b: (State.QUEUED, 1),
        c: (State.FAILED, 1),
        d: (State.SUPPRESSED, 0),
    }
    assert await outbox.suppressed(["C@example.com", "a@example.com"]) == {"c@example.com"}
    assert await outbox.claim("me", clock.now(), 300, 10) == []  # b waits for its retry time
    clock.advance(300)
    assert [r.id for r in await outbox.claim("me", clock.now(), 300, 10)] == [b]


async def test_enqueue_to_suppressed_address_is_recorded_not_queued(
    outbox: Outbox, clock: FakeClock
) -> None:
    await outbox.suppress("ann@example.com", "unsubscribed", clock.now())
    row_id = await outbox.enqueue(email("x", to="ANN@example.com"), clock.now())
    assert row_id is not None
    row = await outbox.outbox_row(row_id)
    assert row is not None and row.state is State.SUPPRESSED
    assert await outbox.claim("me", clock.now(), 300, 10) == []


@pytest.mark.sqlite_only(
    "SQLite's EXPLAIN QUERY PLAN on SQLite's columns (epoch ms); PostgreSQL's indexes are "
    "held to SQLite's by tests/test_pg_schema.py, and its planner scans tables this small"
)
async def test_claim_query_uses_the_due_index(store: SQLiteStore) -> None:
    plan = await store.explain(
        "SELECT id FROM outbox WHERE state IN ('queued', 'sending') AND due_at <= ? "
        "ORDER BY due_at LIMIT 10",
        (0,),
    )
    assert any("USING INDEX outbox_due" in step for step in plan), plan
    assert not any(step.startswith("SCAN outbox") and "INDEX" not in step for step in plan), plan


async def test_concurrent_events_commit_together_with_exact_answers(
    concerns: Any, clock: FakeClock
) -> None:
    store = concerns
    events = [event(f"ev-{i}", name=f"N{i}") for i in range(60)]
    events += [event("ev-3", name="N3"), event("ev-4", name="someone else")]  # replay, conflict
    outcomes = await asyncio.gather(*(store.record_event(e, clock.now()) for e in events))
    assert [o.recorded for o in outcomes[:60]] == [Recorded.NEW] * 60
    assert outcomes[60].recorded is Recorded.REPLAY and outcomes[60].receipt == outcomes[3].receipt
    assert outcomes[61].recorded is Recorded.CONFLICT
    assert await store.event_counts() == {"purchase.completed": 60}
    customer = await store.customer_by_email("ann@example.com")
    assert customer is not None and customer.name == "N59"  # the last event's name wins


async def test_workers_claiming_at_once_never_take_the_same_row(
    outbox: Outbox, clock: FakeClock
) -> None:
    """Three workers claim ten at a time from one queue (on PostgreSQL, each on its own pool,
    as separate processes would): every row is leased to exactly one of them."""
    for n in range(60):
        await outbox.enqueue(email(f"k{n}", to=f"c{n}@example.com"), clock.now())
    workers = [outbox, *[await _another(outbox) for _ in range(2)]]
    try:
        taken: list[list[int]] = [[] for _ in workers]

        async def drain(i: int) -> None:
            while rows := await workers[i].claim(f"w{i}", clock.now(), 300, 10):
                taken[i] += [r.id for r in rows]

        await asyncio.gather(*(drain(i) for i in range(len(workers))))
        every = [row for rows in taken for row in rows]
        assert len(every) == len(set(every)) == 60
    finally:
        for worker in workers[1:]:
            if isinstance(worker, OutboxPG):
                await worker.close()


async def _another(outbox: Outbox) -> Outbox:
    """A second handle on the same store: another pool on PostgreSQL (as another process
    would have); SQLite's one connection is the same store again."""
    if isinstance(outbox, OutboxPG):
        return OutboxPG(await PGDB.connect(outbox.url), outbox.url)
    return outbox
