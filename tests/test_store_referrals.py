"""Advocates and referrals on each backend (the `concerns` fixture): a code minted once, a
referral made, moved step by step, told to its advocate once, credited to a purchase once,
and the facts the sources and tags reports are made of."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, customer_id, event

from daemon.engine.grades import Introduction
from daemon.store.rows import NewReferral, ReferralMove

DAY = timedelta(days=1)


def introduction(name: str = "Cy", email: str | None = "cy@example.com") -> Introduction:
    return Introduction(name, email, None, "a new roof", "soon", "neighbour", True, False)


async def referral(store: Any, advocate_id: int, **intro: Any) -> Any:
    new = NewReferral(advocate_id, introduction(**intro), "B", "form", None, None)
    return await store.add_referral(new, AT)


async def test_an_advocate_code_is_minted_once(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    first = await store.ensure_advocate(ann, AT)
    assert await store.ensure_advocate(ann, AT + DAY) == first
    assert await store.advocate_by_code(first.code) == first
    assert await store.advocate(first.id) == first
    assert await store.advocate_by_code("nope") is None


async def test_a_referral_made_moved_and_told(concerns: Any) -> None:
    store = concerns
    advocate = await store.ensure_advocate(await customer_id(store, "ann@example.com"), AT)
    made = await referral(store, advocate.id)
    assert (made.friend_name, made.expects_contact, made.advocate_introduces) == ("Cy", True, False)
    assert (made.status, made.value, made.grade) == ("new", None, "B")
    assert await store.referral(made.public_id) == made
    assert await store.referral_by_id(made.id) == made
    assert await store.referrals_since(advocate.id, AT) == 1
    assert await store.referrals_since(advocate.id, AT + DAY) == 0
    assert await store.unnotified_referrals(10) == [made]
    await store.referral_notified(made.id)
    assert await store.unnotified_referrals(10) == []

    await store.move_referral(made.id, ReferralMove("contacted", note="called"), AT + DAY)
    await store.move_referral(made.id, ReferralMove("won", 1200.0, "signed", True), AT + 2 * DAY)
    won = await store.referral_by_id(made.id)
    assert (won.status, won.value) == ("won", 1200.0)
    steps = await store.unnotified_steps(10)  # only the step shared with the advocate
    assert [(s.status, s.note, s.referral.status) for s in steps] == [("won", "signed", "won")]
    await store.step_notified(steps[0].id)
    assert await store.unnotified_steps(10) == []
    [facts] = await store.referral_facts()
    assert facts[0] == advocate.id and facts[3:7] == ("B", "won", 1200.0, None)
    assert facts[7:] == (AT, AT + DAY, AT + 2 * DAY, False)  # won by hand, not by a purchase


async def test_a_purchase_is_credited_once(concerns: Any) -> None:
    store = concerns
    advocate = await store.ensure_advocate(await customer_id(store, "ann@example.com"), AT)
    made = await referral(store, advocate.id, email="Cy@Example.com")
    found, earliest = await store.attribution_facts("cy@example.com", "ev-now")
    assert [(c.referral_id, c.advocate_email, c.code, c.created_at) for c in found] == [
        (made.id, "ann@example.com", advocate.code, AT)
    ]
    assert earliest is None and not found[0].attributed
    await store.record_event(event("ev-before", "cy@example.com"), AT)
    assert (await store.attribution_facts("cy@example.com", "ev-now"))[1] == AT.replace(
        day=1, hour=10, minute=0
    )
    assert await store.attribute(made.id, "code", 80.0)
    assert not await store.attribute(made.id, "email", 90.0)  # the first credit stands
    assert (await store.attribution_facts("cy@example.com", "ev-now"))[0][0].attributed


async def test_tags_by_kind(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await store.record_event(event("ev-bo", "bo@example.com", tags=["vip", "north"]), AT)
    await store.record_event(event("ev-ann", "ann@example.com", tags=["vip"]), AT)
    await referral(store, (await store.ensure_advocate(ann, AT)).id)
    assert sorted(await store.tags_by_kind()) == [("", 1, 1), ("north", 0, 1), ("vip", 1, 1)]
