"""Answers on each backend (the `concerns` fixture): clicks pending and settled, an answer saved
once with its consequences (the invitation answered, a detractor's complaint, a promoter's
code), found again by invitation or by the caller's id, complaints alerted and resolved."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, fetch
from test_store_invitations import planned

from daemon.engine.clicks import Click
from daemon.store.privacy import erased_key
from daemon.store.rows import Answer, Response, Saved


def answer(customer: int, score: int, **more: Any) -> Answer:
    segment = "promoter" if score >= 9 else "detractor" if score <= 6 else "passive"
    return Answer(customer, "nps", score, segment, more.pop("comment", None), "page", AT, **more)


async def test_clicks_pending_then_settled(concerns: Any) -> None:
    store = concerns
    _, (nps, csat) = await planned(store)
    await store.add_click(nps, 9, AT + timedelta(seconds=2))
    await store.add_click(nps, 3, AT)
    await store.add_click(csat, 7, AT + timedelta(seconds=1))
    pending = await store.pending_clicks(10)
    assert pending == {
        nps: [Click(2, 3, AT), Click(1, 9, AT + timedelta(seconds=2))],
        csat: [Click(3, 7, AT + timedelta(seconds=1))],
    }
    assert list(await store.pending_clicks(1)) == [nps]  # the invitation clicked first
    await store.settle_clicks([2], [1, 2])
    assert await store.pending_clicks(10) == {csat: [Click(3, 7, AT + timedelta(seconds=1))]}
    states = await fetch(store, "SELECT id, state FROM clicks ORDER BY id")
    assert states == [(1, "confirmed"), (2, "scanner"), (3, "pending")]


async def test_an_answer_is_saved_once_with_its_consequences(concerns: Any) -> None:
    store = concerns
    ann, (nps, _) = await planned(store)
    first = await store.save_answer(answer(ann, 3, invitation_id=nps), AT)
    assert first.new and first.complaint_id is not None
    assert (await store.invitation(nps)).state == "answered"
    again = await store.save_answer(answer(ann, 9, invitation_id=nps, comment="better"), AT)
    assert again == Saved(first.response_id, False, None)  # the same answer, updated
    assert await store.invitation_response(nps) == Response(
        first.response_id, 9, "promoter", "better", "page"
    )
    assert await store.invitation_response(999) is None
    advocates = await fetch(store, "SELECT customer_id FROM advocates")
    assert advocates == [(ann,)]  # the promoter's code, minted with the answer


async def test_an_answer_by_the_callers_id(concerns: Any) -> None:
    store = concerns
    ann, _ = await planned(store)
    saved = await store.save_answer(answer(ann, 8, external_id="hook-1"), AT)
    assert saved.new and saved.complaint_id is None
    assert (await store.save_answer(answer(ann, 7, external_id="hook-1"), AT)).new is False
    assert await store.response_by_external_id("hook-1") == saved.response_id
    assert await store.response_by_external_id("hook-2") is None
    retired = store.erasure_keys[-1]  # forgotten: the id is kept as its keyed hash only
    await fetch(
        store,
        "UPDATE responses SET external_id = ? WHERE id = ? RETURNING id",
        erased_key(retired, "hook-1"),
        saved.response_id,
    )
    assert await store.response_by_external_id("hook-1") == saved.response_id


async def test_complaints_alerted_and_resolved(concerns: Any) -> None:
    store = concerns
    ann, (nps, csat) = await planned(store)
    one = (await store.save_answer(answer(ann, 2, invitation_id=nps), AT)).complaint_id
    two = (await store.save_answer(answer(ann, 4, invitation_id=csat), AT)).complaint_id
    assert await store.open_complaints(ann) == 2
    alerts = await store.unalerted_complaints(10)
    assert [(a.complaint_id, a.score, a.answered_at) for a in alerts] == [
        (one, 2, AT),
        (two, 4, AT),
    ]
    assert alerts[0].customer.email == "ann@example.com"
    await store.complaint_alerted(one)
    assert [a.complaint_id for a in await store.unalerted_complaints(10)] == [two]
    assert (
        await store.resolve_complaints(customer_id=None, complaint_id=one, note="called", now=AT)
        == 1
    )
    assert (
        await store.resolve_complaints(customer_id=ann, complaint_id=None, note="ok", now=AT) == 1
    )
    assert await store.resolve_complaints(customer_id=ann, complaint_id=None, note="", now=AT) == 0
    assert await store.open_complaints(ann) == 0
