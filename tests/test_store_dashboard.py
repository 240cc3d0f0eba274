"""The dashboard's lists on each backend (the `concerns` fixture): open complaints paged,
latest answers, the referral pipeline by status, failed emails retried, skipped asks, the
customer search (its wildcards taken literally), a stored email, one customer's timeline."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_store import email
from test_store_answers import answer
from test_store_concerns import AT, customer_id
from test_store_referrals import referral

from daemon.mail.outbox import Outcome, Settlement
from daemon.store.rows import NewAsk, ReferralMove

HOUR = timedelta(hours=1)


async def test_complaints_answers_and_the_pipeline(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    bo = await customer_id(store, "bo@example.com", name="Bo")
    await store.save_answer(answer(ann, 2, comment="slow"), AT)
    await store.save_answer(answer(bo, 3), AT + HOUR)
    assert await store.open_complaint_count() == 2
    first, second = await store.open_complaint_list(1), await store.open_complaint_list(1, 1)
    assert [c.customer.email for c in first + second] == ["bo@example.com", "ann@example.com"]
    assert [(r.score, r.customer.name) for r in await store.latest_responses(5)] == [
        (3, "Bo"),
        (2, "Ann"),
    ]
    advocate = await store.ensure_advocate(ann, AT)
    made = [await referral(store, advocate.id, name=f"F{n}") for n in range(3)]
    await store.move_referral(made[0].id, ReferralMove("won", 10.0), AT + HOUR)
    counts, latest = await store.referral_pipeline(1)
    assert counts == {"new": 2, "won": 1}
    assert [(r.status, r.friend_name, r.advocate.email) for r in latest] == [
        ("won", "F0", "ann@example.com"),
        ("new", "F2", "ann@example.com"),
    ]


async def test_one_status_a_page_at_a_time(concerns: Any) -> None:
    """The list behind a pipeline column's "All N" link: latest change first, ties by id."""
    store = concerns
    advocate = await store.ensure_advocate(await customer_id(store, "ann@example.com"), AT)
    made = [await referral(store, advocate.id, name=f"F{n}") for n in range(5)]  # all at AT
    await store.move_referral(made[1].id, ReferralMove("contacted"), AT + HOUR)

    async def names(status: str, limit: int, offset: int) -> tuple[int, list[str]]:
        total, page = await store.referrals_in_status(status, limit, offset)
        assert {r.status for r in page} <= {status}
        return total, [r.friend_name for r in page]

    assert await names("new", 2, 0) == (4, ["F4", "F3"])
    assert await names("new", 2, 2) == (4, ["F2", "F0"])
    assert await names("new", 2, 4) == (4, [])
    assert await names("contacted", 2, 0) == (1, ["F1"])
    assert await names("won", 2, 0) == (0, [])


async def test_failed_emails_retried_and_stored_bytes(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    row = await store.enqueue(email("k1", "ann@example.com"), AT)
    [claimed] = await store.claim("w", AT, 60, 10)
    await store.settle([Settlement(claimed.id, Outcome.FAILED, error="550 no")], AT + HOUR)
    [failed] = await store.failed_emails(5)
    assert (failed.id, failed.attempts, failed.last_error, failed.updated_at) == (
        row, 1, "550 no", AT + HOUR,
    )  # fmt: skip
    assert await store.retry_email(row, AT + 2 * HOUR)
    assert not await store.retry_email(row, AT + 2 * HOUR)  # queued now, not failed
    assert await store.failed_emails(5) == []
    stored = await store.stored_email(row)
    assert (stored.state, stored.message, stored.customer) == (
        "queued", b"Subject: hi\r\n\r\nbody\r\n", None,
    )  # fmt: skip
    assert await store.stored_email(999) is None
    assert ann


async def test_skipped_asks_and_the_customer_search(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await customer_id(store, "a_n@example.com")
    await customer_id(store, "joann@example.com")
    await store.add_ask(NewAsk(ann, "promoter", "r1", "skipped", reason="cap"), AT)
    [skipped] = await store.skipped_asks(5)
    assert (skipped.customer.email, skipped.moment, skipped.reason) == (
        "ann@example.com",
        "promoter",
        "cap",
    )
    found = await store.find_customers(" ANN@example.com ", 5)
    assert [p.email for p in found] == ["ann@example.com", "joann@example.com"]  # exact first
    assert [p.email for p in await store.find_customers("a_n", 5)] == ["a_n@example.com"]
    assert await store.find_customers("%", 5) == []
    assert await store.find_customers("  ", 5) == []


async def test_one_customers_timeline(concerns: Any) -> None:
    store = concerns
    ann = await customer_id(store, "ann@example.com")
    await store.save_answer(answer(ann, 2, comment="slow"), AT)
    advocate = await store.ensure_advocate(ann, AT)
    made = await referral(store, advocate.id)
    await store.move_referral(made.id, ReferralMove("won", 10.0), AT + HOUR)
    await store.resolve_complaints(
        customer_id=ann, complaint_id=None, note="called", now=AT + 2 * HOUR
    )
    timeline = await store.customer_timeline(ann)
    assert [(e.kind, e.text) for e in timeline][:3] == [
        ("complaint", "complaint 1 resolved"),
        ("referral", f"referral {made.public_id} of Cy is won, value 10"),
        ("response", "answered 2 (detractor) to nps, by page"),
    ]
    assert {e.kind for e in timeline} == {"event", "response", "complaint", "referral"}
    assert len(await store.customer_timeline(ann, 1)) == 6  # one row of each kind (a
    # complaint and a referral show two lines each)
