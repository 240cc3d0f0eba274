"""Outbound webhooks' facts on each backend (the `concerns` fixture): every unreported fact of
each type found, with its data; reporting puts the deliveries in the outbox and marks the
facts in one transaction, so none is news twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store import email
from test_store_answers import answer
from test_store_concerns import AT, customer_id, fetch
from test_store_referrals import referral

from daemon.store.rows import NewReward, ReferralMove


async def test_each_fact_found_once_and_reported_with_its_deliveries(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await store.save_answer(answer(ann, 2, comment="late"), AT)  # a response and a complaint
    advocate = await store.ensure_advocate(ann, AT)
    made = await referral(store, advocate.id)
    await store.move_referral(made.id, ReferralMove("won", 50.0, "signed"), AT + timedelta(1))
    reward = NewReward("a voucher", "generated", "THX-", approval=False)
    await store.create_reward(made, reward, AT + timedelta(2))

    facts = await store.unreported_facts(10)
    assert [f.type for f in facts] == [
        "complaint.opened",
        "referral.created",
        "response.recorded",
        "referral.status_changed",
        "reward.issued",
    ]
    by_type = {f.type: f for f in facts}
    assert by_type["response.recorded"].data == {
        "customer": {"email": "ann@example.com", "name": "Ann"},
        "survey": "nps",
        "score": 2,
        "segment": "detractor",
        "comment": "late",
        "source": "page",
    }
    created = by_type["referral.created"].data
    assert (created["expects_contact"], created["advocate_introduces"]) == (True, False)
    changed = by_type["referral.status_changed"].data
    assert (changed["status"], changed["previous_status"], changed["value"]) == ("won", "new", 50.0)
    assert by_type["reward.issued"].occurred_at == AT + timedelta(2)
    assert len(await store.unreported_facts(1)) == 5  # up to the limit of each type

    await store.report_facts(facts, [email("hook-1", "https://example.com/hook")], AT)
    assert await store.unreported_facts(10) == []
    assert await fetch(store, "SELECT dedupe_key FROM outbox") == [("hook-1",)]
    await store.report_facts([], [email("hook-2", "https://example.com/hook")], AT)
    assert await fetch(store, "SELECT dedupe_key FROM outbox") == [("hook-1",)]  # no facts
