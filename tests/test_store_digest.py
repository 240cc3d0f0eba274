"""The owner's digest on each backend (the `concerns` fixture): when the store began, kept;
whether a digest was queued; the facts of a period and of the one before it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from test_store import email
from test_store_answers import answer
from test_store_concerns import AT, customer_id
from test_store_referrals import referral

from daemon.store.rows import NewReward, ReferralMove

DAY = timedelta(days=1)


async def test_when_the_store_began_and_what_was_queued(concerns: Any) -> None:
    store = concerns
    assert await store.store_created(AT) == AT
    assert await store.store_created(AT + DAY) == AT  # the same ever after
    assert not await store.outbox_has("digest:2026-03-02T00:00Z")
    await store.enqueue(email("digest:2026-03-02T00:00Z"), AT)
    assert await store.outbox_has("digest:2026-03-02T00:00Z")


async def test_the_facts_of_a_period(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    bo = await customer_id(store, "bo@example.com", name="Bo")
    before = replace(answer(ann, 10), answered_at=AT - DAY)  # the period before
    await store.save_answer(before, AT - DAY)
    await store.save_answer(answer(bo, 2, comment="late"), AT)
    advocate = await store.ensure_advocate(ann, AT)
    made = await referral(store, advocate.id)
    await store.move_referral(made.id, ReferralMove("won", 80.0), AT + DAY)
    gift = NewReward("a donation", "gift", "", approval=False)
    await store.create_reward(made, gift, AT + DAY)
    facts = await store.digest_facts(AT, AT + 2 * DAY, AT - 2 * DAY)
    assert (facts.segments, facts.previous_segments) == ((0, 0, 1), (1, 0, 0))
    assert [(c.email, c.score, c.opened_at) for c in facts.open_complaints] == [
        ("bo@example.com", 2, AT)
    ]
    assert [(r.public_id, r.created_at) for r in facts.new_referrals] == [(made.public_id, AT)]
    [won] = facts.won
    assert (won.status, won.value, won.closed_at, won.public_thanks_ok) == (
        "won", 80.0, AT + DAY, False,
    )  # fmt: skip
    assert [(r.referral, r.state) for r in facts.pending_rewards] == [(made.public_id, "to_give")]
    later = await store.digest_facts(AT + 2 * DAY, AT + 3 * DAY, AT)
    assert (later.new_referrals, later.won, later.pending_rewards) == ([], [], [])
