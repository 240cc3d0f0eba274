"""Store concerns on each backend (the `concerns` fixture: SQLite, and their PostgreSQL halves
on a real server): the same calls give the same answers, idempotent writes stay idempotent, and
on PostgreSQL two processes (two pools) writing the same thing at once write it once."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from daemon.engine.offers import Terms
from daemon.intake.events import CustomerIn, EventIn
from daemon.store import Recorded
from daemon.store.migrations import MIGRATIONS
from daemon.store.pgdb import PGDB
from daemon.store.postgres import PostgresStore
from daemon.store.privacy import erased_key
from daemon.store.rows import Bounce, HistoryLine, Person, SetAside
from daemon.store.setaside import _OFF_QUEUE
from daemon.store.webhooks import FACT_QUERIES

from helpers import plant, query

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
    """Plant a row the concern under test needs but does not write itself, with a connection
    of the test's own (`?` parameters; times as datetimes, given to SQLite as epoch ms)."""
    await _on_the_side(store, sql, args, fetch=False)


async def fetch(store: Any, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows the store wrote, read with a connection of the test's own."""
    return await _on_the_side(store, sql, args, fetch=True)


async def _on_the_side(
    store: Any, sql: str, args: tuple[Any, ...], *, fetch: bool
) -> list[tuple[Any, ...]]:
    if isinstance(store, PGDB):
        import asyncpg

        for n in range(1, len(args) + 1):
            sql = sql.replace("?", f"${n}", 1)
        connection = await asyncpg.connect(store.url)
        try:
            return [tuple(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()
    values = [int(a.timestamp() * 1000) if isinstance(a, datetime) else a for a in args]
    if fetch:
        return query(store, sql, values)
    plant(store, sql, values)
    return []


async def test_upkeep_probe_and_schema_version(concerns: Any) -> None:
    await concerns.write_probe()
    assert await concerns.schema_version() == MIGRATIONS[-1][0]


async def test_customers_found_created_and_imported(concerns: Any) -> None:
    store = concerns
    made = await store.ensure_customer("Bo@Example.com", AT)
    assert made == await store.ensure_customer("bo@example.com", AT + timedelta(hours=1))
    assert made.email == "bo@example.com" and made.tags == ()
    assert await store.customer(made.id) == made
    assert await store.customer_by_public_id(made.public_id) == made
    assert await store.customers([made.id, made.id, 999]) == {made.id: made}
    assert await store.customers([]) == {}
    assert await store.customer_by_email("nobody@example.com") is None

    rows = [
        CustomerIn(email="Bo@example.com", name="Bo", tags=["vip"]),
        CustomerIn(email="cy@example.com", name="Cy"),
    ]
    assert await store.import_customers(rows, AT) == (1, 1)
    assert await store.import_customers(rows, AT) == (0, 0)  # the same file again: no change
    bo = await store.customer_by_email("bo@example.com")
    assert bo is not None and (bo.name, bo.tags, bo.id) == ("Bo", ("vip",), made.id)
    again = [CustomerIn(email="bo@example.com", name=None, tags=[])]  # empty keeps what is there
    assert await store.import_customers(again, AT) == (0, 0)
    assert await store.import_customers([], AT) == (0, 0)


async def test_customer_history_and_overview(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await store.record_event(event("ev-2", name="Ann"), AT)
    assert (
        await store.customer_history(ann, 10)
        == [HistoryLine(datetime(2026, 3, 1, 10, 0, tzinfo=UTC), "event purchase.completed")] * 2
    )
    assert await store.customer_history(ann, 1) == [
        HistoryLine(datetime(2026, 3, 1, 10, 0, tzinfo=UTC), "event purchase.completed")
    ]
    overview = await store.customer_overview(ann)
    assert sorted(e["id"] for e in overview["events"]) == ["ev-2", "ev-ann@example.com"]
    assert overview["events"][0]["occurred_at"] == "2026-03-01T10:00:00+00:00"
    assert {k: v for k, v in overview.items() if k != "events"} == {
        k: [] for k in ("surveys", "responses", "complaints", "asks", "referrals", "replies")
    } | {"emails": []}


async def test_events_from_two_processes_at_once_record_one(concerns: Any) -> None:
    """The same ids sent to two processes at once (on PostgreSQL, two pools): each id is
    recorded once, and both answers are those SQLite's one process gives."""
    store = concerns
    other = await PostgresStore.open(store.url) if isinstance(store, PGDB) else store
    try:
        events = [event(f"ev-{n}", f"c{n % 7}@example.com", name=f"N{n}") for n in range(40)]
        first, second = await asyncio.gather(
            asyncio.gather(*(store.record_event(e, AT) for e in events)),
            asyncio.gather(*(other.record_event(e, AT) for e in reversed(events))),
        )
        second = list(reversed(second))
        for one, two in zip(first, second, strict=True):
            assert {one.recorded, two.recorded} == {Recorded.NEW, Recorded.REPLAY}
            assert one.receipt == two.receipt
        assert await store.event_counts() == {"purchase.completed": 40}
        assert len(await store.customers(range(1, 100))) == 7
    finally:
        if other is not store:
            await other.close()


async def test_a_forgotten_persons_event_replays_by_its_keyed_hash(concerns: Any) -> None:
    """Forgetting a person keeps an event's id and body hash only as HMACs (under the current
    secret or a retired one): the same event sent again is still a replay, another body
    under that id a conflict, on both backends."""
    store = concerns
    first = await store.record_event(event("ev-9", name="Ann"), AT)
    retired = store.erasure_keys[-1]
    body = event("ev-9", name="Ann").body_hash()
    receipt = {**first.receipt, "id": erased_key(retired, "ev-9")}
    await execute(
        store, "UPDATE events SET id = ?, body_hash = ?, receipt = ? WHERE id = ?",
        erased_key(retired, "ev-9"), erased_key(retired, body), json.dumps(receipt), "ev-9",
    )  # fmt: skip
    replay = await store.record_event(event("ev-9", name="Ann"), AT)
    assert replay.recorded is Recorded.REPLAY and replay.receipt == first.receipt
    conflict = await store.record_event(event("ev-9", name="Bo"), AT)
    assert conflict.recorded is Recorded.CONFLICT
    assert await store.event_counts() == {"purchase.completed": 1}


async def test_set_aside_takes_the_item_off_its_queue(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    found = await store.customer(ann)
    person = Person(found.public_id, "ann@example.com", "Ann")
    await store.set_aside("event", "1", ann, "boom", AT)
    later = AT + timedelta(minutes=5)
    await store.set_aside("event", "1", ann, "boom again", later)  # the newer error wins
    await store.set_aside("webhook", "referral.created:7", None, "no such row", AT)
    await store.set_aside("digest", "digest:2026-03-02", None, "bad template", AT)
    assert await store.is_set_aside("event", "1")
    assert not await store.is_set_aside("event", "2")
    assert await store.set_aside_items(2) == (
        3,
        [
            SetAside("event", "1", person, "boom again", later),
            SetAside("digest", "digest:2026-03-02", None, "bad template", AT),
        ],
    )
    assert await store.set_aside_items(10, ann) == (
        1,
        [SetAside("event", "1", person, "boom again", later)],
    )
    unprocessed = await fetch(store, "SELECT count(*) FROM events WHERE processed_at IS NULL")
    assert unprocessed == [(0,)]  # the event is off the events queue


async def test_every_kind_can_be_set_aside(concerns: Any) -> None:
    """Each kind's statements that take it off its queue run (their SQL is checked by the
    server), whatever the item's row."""
    items = [(kind, "999") for kind in _OFF_QUEUE if kind not in ("webhook", "digest")]
    items += [("webhook", f"{fact}:999") for fact in FACT_QUERIES]
    for kind, item in items:
        await concerns.set_aside(kind, item, None, "boom", AT)
    assert (await concerns.set_aside_items(100))[0] == len(items)


async def test_bounces_counted_once_per_email(concerns: Any) -> None:
    store = concerns
    soft = Bounce("Ann@Example.com", "soft_bounce", "4.2.2", "mailbox full", "<m1@x>", AT)
    assert await store.record_bounce(soft, "report-1") == 1
    assert await store.record_bounce(soft, "report-1") == 1  # the same report again
    later = Bounce("ann@example.com", "soft_bounce", "5.2.2", "full", "<m1@x>", AT + timedelta(1))
    assert await store.record_bounce(later, "report-2") == 1  # the same email's final failure
    bare = Bounce("ann@example.com", "soft_bounce", None, None, None, AT + timedelta(2))
    assert await store.record_bounce(bare, "report-3") == 2
    assert await store.soft_bounces("ANN@example.com") == 2
    assert await store.soft_bounces("bo@example.com") == 0
    assert await store.bounces_of("ann@example.com") == [
        Bounce("ann@example.com", "soft_bounce", "4.2.2", "mailbox full", "<m1@x>", AT),
        Bounce("ann@example.com", "soft_bounce", "5.2.2", "full", "<m1@x>", AT + timedelta(1)),
        Bounce("ann@example.com", "soft_bounce", None, None, None, AT + timedelta(2)),
    ]


async def test_offer_first_promise_stands_and_facts(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await execute(
        store, "INSERT INTO advocates (id, customer_id, code, created_at) VALUES (?, ?, ?, ?)",
        5, ann, "code-5", AT,
    )  # fmt: skip
    assert await store.offer_terms(5) is None
    terms = Terms("spring", "Fünf Pfund", "£5 voucher", ("voucher", "donation"))
    assert await store.assign_offer(5, terms, AT) == terms
    assert await store.assign_offer(5, Terms("other", None, "£9"), AT) == terms
    assert await store.offer_terms(5) == terms
    facts = await store.offer_facts()
    assert facts == [("spring", 1, 0, 0, 0, 0, 0, 0, 0, 0, "Fünf Pfund", "£5 voucher", 0)]
    assert all(type(f) is int for f in (*facts[0][1:9], facts[0][12]))  # counts; value a sum


async def test_influence_marks_and_who_counts(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    bo = await customer_id(store, "bo@example.com", "Bo")
    await store.record_event(event("ev-bo-tags", "bo@example.com", tags=["press"]), AT)
    cy = await customer_id(store, "cy@example.com", "Cy")
    await store.set_influence_mark(ann, 8, source="owner", now=AT)
    await store.set_influence_mark(ann, 8, source="owner", now=AT + timedelta(1))  # unchanged
    facts = await store.influence_facts([ann, bo, cy])
    assert (facts[ann].mark, facts[ann].mark_source, facts[bo].tags) == (8, "owner", ("press",))
    assert facts[cy].mark is None and facts[cy].referrals == 0
    influential = await store.influential(["press", "none"])
    assert sorted((f.customer_id, email, name) for f, email, name in influential) == [
        (ann, "ann@example.com", "Ann"),
        (bo, "bo@example.com", "Bo"),
    ]
    await store.set_influence_mark(ann, None, source="owner", now=AT)
    assert (await store.influence_facts([ann]))[ann].mark is None
    assert await store.influential([]) == []
