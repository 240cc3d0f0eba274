"""Replies and testimonials on each backend (the `concerns` fixture): each kept once, a reply
to a survey stops its reminder, the email a reply answers found by its Message-ID."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, customer_id, event
from test_store_invitations import planned

from daemon.store.rows import NewReply, NewTestimonial


def reply(dedupe: str, **more: Any) -> NewReply:
    return NewReply(
        None, None, "ann@example.com", "Re: hi", "Thanks!", "testimonial", "kind", dedupe, AT,
        **more,
    )  # fmt: skip


async def test_a_testimonial_is_kept_once(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    new = NewTestimonial(ann, "Lovely work", "reply", True, "reply:1", AT)
    first = await store.add_testimonial(new)
    assert first is not None
    assert await store.add_testimonial(new) is None


async def test_a_reply_is_kept_once_and_stops_the_reminder(concerns: Any) -> None:
    store = concerns
    _, (nps, _) = await planned(store)
    await store.invitation_sent(nps, AT, AT + timedelta(days=3))
    first = await store.add_reply(reply("r1", invitation_id=nps))
    assert first is not None
    assert await store.add_reply(reply("r1", invitation_id=nps)) is None
    replied = await store.invitation(nps)
    assert (replied.replied_at, replied.reminder_at) == (AT, None)
    later = NewReply(
        None, None, "a@example.com", None, "x", "other", "", "r2", AT + timedelta(days=1), nps
    )
    await store.add_reply(later)
    assert (await store.invitation(nps)).replied_at == AT  # the first reply's time stays
    assert await store.add_reply(reply("r3")) is not None  # a reply to no email of ours


async def test_the_email_a_reply_answers_and_who_has_history(concerns: Any) -> None:
    store = concerns
    assert await store.sent_email("<nope@example.com>") is None
    assert not await store.has_history("ann@example.com")
    await store.record_event(event("ev-1"), AT)
    assert await store.has_history("Ann@Example.com")
    await store.ensure_customer("bo@example.com", AT)  # named by someone: no history
    assert not await store.has_history("bo@example.com")
