"""The report's tallies and the exports on each backend (the `concerns` fixture): scores and
sends by survey and by tag, by month, and the exports' rows in the business's time zone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from test_store_answers import answer
from test_store_concerns import AT, event
from test_store_invitations import planned

DAY = timedelta(days=1)


async def tagged(store: Any, email: str, *tags: str) -> int:
    await store.record_event(event(f"ev-{email}", email, name="N", tags=list(tags)), AT)
    return int((await store.customer_by_email(email)).id)


async def test_scores_and_sends_by_survey_and_tag(concerns: Any) -> None:
    store = concerns
    ann, (nps, _) = await planned(store)
    await store.invitation_sent(nps, AT, None)
    await store.save_answer(answer(ann, 9, invitation_id=nps), AT)
    bo = await tagged(store, "bo@example.com", "vip", "north")
    await store.save_answer(answer(bo, 3), AT + DAY)  # no invitation: by webhook
    assert sorted(await store.score_tallies()) == [
        ("survey", "nps", 3, 1, 1),
        ("survey", "nps", 9, 1, 0),
        ("tag", "north", 3, 1, 1),
        ("tag", "vip", 3, 1, 1),
    ]
    assert sorted(await store.sent_tallies()) == [("survey", "nps", 1, 1)]
    starts = [AT.replace(day=1, hour=0, minute=0, month=m) for m in (3, 4)]
    assert sorted(await store.monthly_tallies(starts)) == [
        ("survey", "nps", 0, 3, 1),
        ("survey", "nps", 0, 9, 1),
        ("tag", "north", 0, 3, 1),
        ("tag", "vip", 0, 3, 1),
    ]
    assert await store.monthly_tallies(starts[:1]) == []


async def test_exports_in_pages_in_the_business_zone(concerns: Any) -> None:
    store = concerns
    bo = await tagged(store, "bo@example.com", "vip")
    await store.save_answer(answer(bo, 10, comment="great"), AT)
    zone = ZoneInfo("Europe/Berlin")
    rows = [row async for row in store.export_rows("responses", zone)]
    assert rows == [
        ["2026-03-02T10:30:00+01:00", "bo@example.com", "N", "nps", 10, "promoter", "great", "page"]
    ]
    customers = [row async for row in store.export_rows("customers")]
    assert customers == [
        ["bo@example.com", "N", None, "vip", None, None, "2026-03-02T09:30:00+00:00"]
    ]
    assert [row async for row in store.export_rows("referrals")] == []
