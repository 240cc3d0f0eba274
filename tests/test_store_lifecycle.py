"""The life cycle on each backend (the `concerns` fixture): a customer's road worked out from
their events and referrals, kept, counted and counted by month; refreshing again writes
nothing new; the backfill's pending customers placed a batch at a time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, customer_id, event, execute
from test_store_referrals import referral

from daemon.engine.lifecycle import EVENT_STAGES, road
from daemon.engine.lifecycle_types import Stage

KINDS = tuple(sorted(EVENT_STAGES))
BOUGHT = AT.replace(day=1, hour=10, minute=0)  # test_store_concerns' events occurred then


async def test_a_road_worked_out_kept_and_counted(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")  # a purchase
    bo = await customer_id(store, "bo@example.com")
    assert await store.stored_stage(ann) == (None, True)
    assert await store.refresh_stages([ann, bo, ann], KINDS, road) == 2
    assert await store.stored_stage(ann) == (Stage.BUY, True)
    advocate = await store.ensure_advocate(ann, AT)
    await referral(store, advocate.id)
    await store.refresh_stages([ann], KINDS, road)
    assert await store.refresh_stages([], KINDS, road) == 0
    assert [(m.stage, m.at, m.fact.kind) for m in await store.customer_road(ann)] == [
        (Stage.BUY, BOUGHT, "purchase.completed"),
        (Stage.REFER, AT, "referral"),
    ]
    counts = await store.stage_counts()
    assert (counts.at["refer"], counts.at["buy"], counts.unstaged, counts.pending) == (1, 1, 0, 0)
    months = [AT.replace(day=1, hour=0, minute=0) + timedelta(days=31 * n) for n in (-1, 0, 1)]
    months = [m.replace(day=1) for m in months]
    assert sorted(await store.stage_moves_by_month(months)) == [(1, "buy", 2), (1, "refer", 1)]
    assert await store.stage_moves_by_month(months[:1]) == []


async def test_the_backfill_places_pending_customers(concerns: Any) -> None:
    store = concerns
    ids = [await customer_id(store, f"c{n}@example.com") for n in range(3)]
    for i in ids:
        await execute(store, "INSERT INTO stage_pending (customer_id) VALUES (?)", i)
    assert (await store.stage_counts()).pending == 3
    assert await store.stored_stage(ids[0]) == (None, False)
    assert await store.refresh_pending_stages(2, KINDS, road) == 2
    assert await store.refresh_pending_stages(2, KINDS, road) == 1
    assert await store.refresh_pending_stages(2, KINDS, road) == 0
    assert await store.stored_stage(ids[2]) == (Stage.BUY, True)
    await store.record_event(event("ev-again", "c0@example.com"), AT)  # a second purchase
    await store.refresh_stages([ids[0]], KINDS, road)
    assert (await store.stored_stage(ids[0]))[0] == Stage.REPEAT
