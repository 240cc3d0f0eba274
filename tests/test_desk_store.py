"""The dashboard's own store concerns on each backend (the `concerns` fixture: SQLite, and the
PostgreSQL halves on a real server): the owner's private notes, the customer list and the
reward queue, and reopening a referral closed by mistake."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store_concerns import AT, customer_id, event, execute, fetch

from daemon.store.rows import Holder, Person

MIKE = Holder(None, "Mike", "owner")
SUE = Holder(7, "Sue", "staff")


async def referral(
    store: Any, advocate: int, rid: int, status: str, friend: int | None = None
) -> None:
    """Plant advocate `advocate` (once) and its referral `rid` (public id r_<rid>)."""
    if not await fetch(store, "SELECT id FROM advocates WHERE id = ?", advocate):
        await execute(
            store,
            "INSERT INTO advocates (id, customer_id, code, created_at) VALUES (?, ?, ?, ?)",
            advocate, advocate, f"code-{advocate}", AT,
        )  # fmt: skip
    await execute(
        store,
        "INSERT INTO referrals (id, public_id, advocate_id, friend_customer_id, friend_name, "
        "expects_contact, advocate_introduces, grade, channel, status, created_at, updated_at, "
        "closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rid, f"r_{rid}", advocate, friend, "Bo", False, False, "A", "form", status, AT, AT,
        AT if status in ("won", "lost") else None,
    )  # fmt: skip


async def test_notes_kept_with_who_and_when_and_forgotten_with_the_person(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    bo = await customer_id(store, "bo@example.com", "Bo")
    await referral(store, ann, 1, "new", friend=bo)
    await store.add_note(MIKE, "Called her back.", AT, customer_id=ann)
    await store.add_note(SUE, "Wants a quote in May.", AT + timedelta(hours=1), customer_id=ann)
    await store.add_note(SUE, "Bo's kitchen, not the deck.", AT, referral_id=1)
    await store.add_note(MIKE, "Bo himself.", AT, customer_id=bo)
    notes = await store.notes_on_customer(ann)
    assert [(n.by, n.text, n.at) for n in notes] == [
        ("Sue", "Wants a quote in May.", AT + timedelta(hours=1)),
        ("Mike", "Called her back.", AT),
    ]
    assert [n.text for n in await store.notes_on_referral(1)] == ["Bo's kitchen, not the deck."]
    assert await fetch(store, "SELECT user_id FROM owner_notes WHERE by = ?", "Sue") == [
        (7,),
        (7,),
    ]
    # forgetting Bo, the friend: his own note and the note on the referral he is in go
    assert await store.forget_notes(bo) == 2
    assert await store.notes_on_referral(1) == []
    assert len(await store.notes_on_customer(ann)) == 2
    assert await store.forget_notes(ann) == 2
    assert await fetch(store, "SELECT count(*) FROM owner_notes") == [(0,)]


async def test_a_note_is_on_exactly_one_thing(concerns: Any) -> None:
    ann = await customer_id(concerns, "ann@example.com")
    for where in ({}, {"customer_id": ann, "referral_id": 1}):
        try:
            await concerns.add_note(MIKE, "x", AT, **where)
        except ValueError as exc:
            assert "exactly one" in str(exc)
        else:
            raise AssertionError(f"a note on {where} was kept")


async def test_customer_page_searches_name_email_tag_and_external_id(concerns: Any) -> None:
    store = concerns
    await store.record_event(
        event("e1", "ann@example.com", name="Ann Zed", tags=["Deck"], external_id="CRM-17"), AT
    )
    await store.record_event(event("e2", "bo@example.com", name="Bo"), AT)
    await store.record_event(event("e3", "cy_100%@example.com"), AT)
    total, page = await store.customer_page("", 2, 0)
    assert total == 3 and [c.email for c in page] == ["ann@example.com", "bo@example.com"]
    total, page = await store.customer_page("", 2, 2)
    assert total == 3 and [c.email for c in page] == ["cy_100%@example.com"]
    for text in ("zed", "ANN@", "deck", "crm-1", "Ann"):
        total, page = await store.customer_page(text, 50, 0)
        assert (total, [c.email for c in page]) == (1, ["ann@example.com"]), text
    assert (await store.customer_page("_100%", 50, 0))[0] == 1  # taken literally
    assert (await store.customer_page("0%@", 50, 0))[0] == 1
    assert [c.email for c in (await store.customer_page("%", 50, 0))[1]] == ["cy_100%@example.com"]
    assert await store.customer_page("nobody", 50, 0) == (0, [])
    assert page[0].tags == ("Deck",) and page[0].external_id == "CRM-17"


async def test_reward_queue_lists_what_waits_for_the_owner(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com", "Ann")
    for rid, state in ((1, "awaiting_approval"), (2, "awaiting_code"), (3, "issued")):
        await referral(store, ann, rid, "won")
        await execute(
            store,
            "INSERT INTO rewards (id, referral_id, advocate_id, description, state, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            rid, rid, ann, f"£{rid}0 voucher", state, AT + timedelta(minutes=rid),
        )  # fmt: skip
    await execute(store, "INSERT INTO reward_codes (code, loaded_at) VALUES (?, ?)", "C-1", AT)
    free, waiting = await store.waiting_rewards(10)
    assert free == 1
    assert [(w.referral, w.state, w.description) for w in waiting] == [
        ("r_1", "awaiting_approval", "£10 voucher"),
        ("r_2", "awaiting_code", "£20 voucher"),
    ]
    assert waiting[0].advocate == Person(waiting[0].advocate.public_id, "ann@example.com", "Ann")
    assert waiting[0].friend_name == "Bo" and waiting[0].since == AT + timedelta(minutes=1)


async def test_reopening_withdraws_a_reward_not_given_and_its_ask(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await referral(store, ann, 1, "won")
    await execute(
        store,
        "INSERT INTO referral_steps (referral_id, status, shared, notified, at) "
        "VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?)",
        1, "contacted", True, True, AT, 1, "won", False, True, AT + timedelta(minutes=1),
    )  # fmt: skip
    await execute(
        store,
        "INSERT INTO rewards (id, referral_id, advocate_id, description, code, state, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        9, 1, ann, "£50 voucher", "C-1", "awaiting_approval", AT,
    )  # fmt: skip
    await execute(
        store,
        "INSERT INTO reward_codes (code, reward_id, loaded_at) VALUES (?, ?, ?)",
        "C-1",
        9,
        AT,
    )
    await execute(
        store,
        "INSERT INTO asks (customer_id, moment, source, state, due_at, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        ann, "referral_won", "referral:1", "scheduled", AT + timedelta(days=1), AT,
    )  # fmt: skip
    facts = await store.reopen_facts(1)
    assert (facts.closed_at, facts.before, facts.reward_state) == (
        AT,
        "contacted",
        "awaiting_approval",
    )
    assert await store.reopen_referral(1, "lost", "contacted", AT) is False  # it is won
    assert await store.reopen_referral(1, "won", "contacted", AT + timedelta(hours=1)) is True
    assert await fetch(store, "SELECT status, closed_at FROM referrals WHERE id = ?", 1) == [
        ("contacted", None)
    ]
    assert await fetch(store, "SELECT count(*) FROM rewards") == [(0,)]
    assert await fetch(store, "SELECT reward_id FROM reward_codes") == [(None,)]
    assert await fetch(store, "SELECT state, reason FROM asks") == [
        ("skipped", "the win was reopened")
    ]
    steps = await fetch(
        store, "SELECT status, note, shared, notified FROM referral_steps ORDER BY id DESC"
    )
    assert [tuple(bool(v) if i > 1 else v for i, v in enumerate(s)) for s in steps[:1]] == [
        ("contacted", "reopened by the owner", False, True)
    ]
    assert (await store.reopen_facts(1)).closed_at is None
    assert await store.reopen_referral(1, "won", "contacted", AT) is False  # not twice


async def test_a_win_whose_reward_was_given_is_not_reopened(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await referral(store, ann, 1, "won")
    await execute(
        store,
        "INSERT INTO rewards (referral_id, advocate_id, description, state, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        1, ann, "£50 voucher", "issued", AT,
    )  # fmt: skip
    assert (await store.reopen_facts(1)).before == "new"
    assert await store.reopen_referral(1, "won", "new", AT) is False
    assert await fetch(store, "SELECT status FROM referrals") == [("won",)]


async def test_a_partners_win_once_thanked_is_not_reopened(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await referral(store, ann, 1, "won")
    await execute(
        store,
        "INSERT INTO referral_steps (referral_id, status, shared, notified, at) "
        "VALUES (?, ?, ?, ?, ?)",
        1, "won", True, False, AT,
    )  # fmt: skip
    assert (await store.reopen_facts(1)).told is False  # the thank-you has not gone yet
    await execute(store, "UPDATE referral_steps SET notified = ?", True)
    assert (await store.reopen_facts(1)).told is True
    assert await store.reopen_referral(1, "won", "new", AT) is False
    assert await fetch(store, "SELECT status FROM referrals") == [("won",)]
