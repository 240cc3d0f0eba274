"""Invitations on each backend (the `concerns` fixture): events planned once, invitations due,
sent, reminded, moved and skipped, found by id, public id and customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, event, execute

from daemon.intake.events import EventIn
from daemon.store.rows import Job, NewInvitation


async def planned(store: Any) -> tuple[int, list[int]]:
    """Ann's event, settled with a plan for two surveys: (her id, the invitations' ids)."""
    await store.record_event(event("ev-1"), AT)
    [stored] = await store.unprocessed_events(10)
    plans = [
        NewInvitation("nps", AT + timedelta(days=1), AT + timedelta(days=30)),
        NewInvitation("csat", None, None, reason="quiet hours"),
    ]
    ids = await store.settle_event(stored.seq, stored.customer_id, plans, AT)
    assert stored.customer_id is not None
    return stored.customer_id, ids


async def test_events_are_planned_once(concerns: Any) -> None:
    store = concerns
    await store.record_event(event("ev-1"), AT)
    await store.record_event(event("ev-2", "bo@example.com"), AT)
    stored = await store.unprocessed_events(10)
    assert [(e.id, e.type, e.occurred_at) for e in stored] == [
        ("ev-1", "purchase.completed", AT.replace(day=1, hour=10, minute=0)),
        ("ev-2", "purchase.completed", AT.replace(day=1, hour=10, minute=0)),
    ]
    assert stored[0].data == {}
    assert len(await store.unprocessed_events(1)) == 1
    plan = [NewInvitation("nps", AT, AT + timedelta(days=30))]
    decided = [(e.seq, e.customer_id, plan) for e in stored]
    first = await store.settle_events(decided, AT)
    assert [len(ids) for ids in first] == [1, 1]
    assert await store.settle_events(decided, AT) == [[], []]  # processed: nothing again
    assert await store.unprocessed_events(10) == []
    assert await store.settle_events([], AT) == []


async def test_an_invitation_from_due_to_reminded(concerns: Any) -> None:
    store = concerns
    ann, (nps, csat) = await planned(store)
    skipped = await store.invitation(csat)
    assert (skipped.state, skipped.reason, skipped.due_at) == ("skipped", "quiet hours", None)
    assert await store.due_invitations(AT, 10) == []
    due = await store.due_invitations(AT + timedelta(days=1), 10)
    assert [i.id for i in due] == [nps] and due[0].due_at == AT + timedelta(days=1)
    assert await store.last_surveyed([ann, 999]) == {ann: AT + timedelta(days=1)}
    assert await store.last_surveyed([]) == {}

    sent_at, remind = AT + timedelta(days=1), AT + timedelta(days=4)
    await store.invitation_sent(nps, sent_at, remind)
    await store.invitation_sent(nps, AT, None)  # sent already: stays as it was
    sent = await store.invitation(nps)
    assert (sent.state, sent.sent_at, sent.reminder_at) == ("sent", sent_at, remind)
    assert await store.last_surveyed([ann]) == {ann: sent_at}
    assert await store.due_reminders(remind - timedelta(seconds=1), 10) == []
    assert [i.id for i in await store.due_reminders(remind, 10)] == [nps]
    await store.move_invitation(nps, remind + timedelta(hours=2), reminder=True)
    assert await store.due_reminders(remind, 10) == []
    await store.invitation_reminded(nps, remind + timedelta(hours=2))
    assert await store.due_reminders(AT + timedelta(days=9), 10) == []

    assert await store.invitation_by_public_id(sent.public_id) == sent.__class__(
        **{**sent.__dict__, "reminder_at": None}
    )
    assert await store.invitations([nps, csat, nps, 999]) == {
        nps: await store.invitation(nps),
        csat: skipped,
    }
    assert await store.invitations([]) == {}
    assert await store.invitation(999) is None


async def test_open_invitations_moves_and_skips(concerns: Any) -> None:
    store = concerns
    ann, (nps, _) = await planned(store)
    assert (await store.open_invitation(ann, "nps", AT)).id == nps
    assert await store.open_invitation(ann, "nps", AT + timedelta(days=30)) is None  # expired
    assert await store.open_invitation(ann, "csat", AT) is None  # skipped
    await store.move_invitation(nps, AT + timedelta(days=2), reminder=False)
    assert await store.due_invitations(AT + timedelta(days=1), 10) == []
    await store.invitations_sent([(nps, AT + timedelta(days=2), None)])
    await store.invitations_reminded([nps], AT + timedelta(days=3))
    await store.skip_invitation(nps, "bounced")
    skipped = await store.invitation(nps)
    assert (skipped.state, skipped.reason, skipped.reminder_at) == ("skipped", "bounced", None)
    await store.skip_invitation(nps, "again")  # skipped already: the first reason stays
    assert (await store.invitation(nps)).reason == "bounced"


async def test_an_answer_counts_as_surveyed(concerns: Any) -> None:
    store = concerns
    ann, _ = await planned(store)
    answered = AT + timedelta(days=5)
    await execute(
        store,
        "INSERT INTO responses (customer_id, survey, score, segment, source, answered_at, "
        "updated_at) "
        "VALUES (?, 'nps', 9, 'promoter', 'webhook', ?, ?)",
        ann,
        answered,
        answered,
    )
    assert await store.last_surveyed([ann]) == {ann: answered}


async def test_what_an_invitations_event_said_of_the_job(concerns: Any) -> None:
    store = concerns
    job = {"title": "Deck build", "product": "Cedar", "amount": 12500}
    said = EventIn.model_validate(event("ev-job").model_dump() | {"data": job})
    await store.record_event(said, AT)
    await store.record_event(event("ev-none", "bo@example.com"), AT)
    plan = [NewInvitation("nps", AT, AT + timedelta(days=30))]
    settled = await store.settle_events(
        [(e.seq, e.customer_id, plan) for e in await store.unprocessed_events(10)], AT
    )
    (deck,), (bare,) = settled
    jobs = await store.invitation_jobs([deck, bare, 999])
    assert jobs == {deck: Job("Deck build", "Cedar", 12500.0), bare: Job()}
    assert await store.invitation_jobs([]) == {}
