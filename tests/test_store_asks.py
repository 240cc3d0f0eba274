"""Referral asks on each backend (the `concerns` fixture): a moment decided once, due,
waiting, sent and counted, and the facts an ask is decided on."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_answers import answer
from test_store_concerns import AT, customer_id

from daemon.store.outbox import suppression_keys
from daemon.store.rows import AskRow, NewAsk

DAY = timedelta(days=1)


async def test_a_moment_is_decided_once_then_due_and_sent(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    first = await store.add_ask(NewAsk(ann, "promoter", "r1", "scheduled", due_at=AT + DAY), AT)
    assert first is not None
    assert await store.add_ask(NewAsk(ann, "promoter", "r1", "scheduled", due_at=AT), AT) is None
    later = await store.add_ask(NewAsk(ann, "won", "r2", "skipped", reason="cap"), AT)
    assert await store.asks_of(ann) == [
        AskRow(first, ann, "promoter", "r1", "scheduled", None, AT + DAY, AT),
        AskRow(later, ann, "won", "r2", "skipped", "cap", None, AT),
    ]
    assert await store.due_asks(AT, 10) == []
    assert [a.id for a in await store.due_asks(AT + DAY, 10)] == [first]
    assert [a.id for a in await store.asks_planned_before(AT + 2 * DAY, 10)] == [first]
    assert await store.asks_planned_before(AT + DAY, 10) == []
    await store.update_ask(first, state="scheduled", reason=None, due_at=AT + 2 * DAY)
    assert await store.due_asks(AT + DAY, 10) == []
    await store.ask_sent(first, AT + 2 * DAY)
    await store.ask_sent(first, AT + 3 * DAY)  # sent already: the first time stays
    assert await store.asks_sent_between(AT + 2 * DAY, AT + 3 * DAY) == 1
    assert await store.asks_sent_between(AT + 3 * DAY, AT + 4 * DAY) == 0


async def test_waiting_asks_end_by_an_answer_or_their_wait(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    bo = await customer_id(store, "bo@example.com")
    for who, source in ((ann, "a"), (bo, "b")):
        wait = NewAsk(who, "promoter", source, "waiting", expires_at=AT + DAY)
        await store.add_ask(wait, AT)
    assert await store.waiting_asks(AT, 10) == []
    await store.save_answer(answer(ann, 10), AT + timedelta(hours=1))
    assert [(a.customer_id, ran_out) for a, ran_out in await store.waiting_asks(AT, 10)] == [
        (ann, False)
    ]
    ended = [(a.customer_id, ran_out) for a, ran_out in await store.waiting_asks(AT + DAY, 10)]
    assert ended == [(ann, True), (bo, True)]
    assert len(await store.waiting_asks(AT + DAY, 1)) == 1


async def test_the_facts_an_ask_is_decided_on(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    assert await store.ask_facts(ann) == (None, 0, None, [])
    await store.save_answer(answer(ann, 3), AT)  # a detractor: a complaint opens
    await store.add_ask(NewAsk(ann, "promoter", "r1", "scheduled", due_at=AT + DAY), AT)
    await store.suppress("ann@example.com", "complaint", AT)
    assert await store.ask_facts(ann) == ("complaint", 1, (3, AT), [AT + DAY])


async def test_a_forgotten_address_is_still_suppressed_for_asks(concerns: Any) -> None:
    """The suppression list keeps a forgotten address as its hash only; the ask's facts find
    it by hashing the customer's address in SQL (each store's own SHA-256)."""
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    _, hashed = suppression_keys("ann@example.com")
    await store.suppress(hashed, "unsubscribed", AT)
    assert (await store.ask_facts(ann))[0] == "unsubscribed"
