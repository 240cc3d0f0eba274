"""Every row type the store reads with `rows.read`, one real row each, put in through the store's
public calls: each SELECT must list its columns in its dataclass's field order, so every field
here has a value of its own and the whole row is compared."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.clock import FakeClock
from daemon.engine.digest import OpenComplaint as DigestComplaint
from daemon.engine.digest import ReferralLine
from daemon.engine.grades import Introduction
from daemon.intake.events import EventIn
from daemon.mail.outbox import NewEmail, OutboxRow, Outcome, Pause, Settlement, State
from daemon.store import SQLiteStore
from daemon.store.rows import (
    Advocate,
    Answer,
    AskRow,
    Bounce,
    FailedEmail,
    GivenClient,
    GivenReferral,
    Invitation,
    NewAsk,
    NewInvitation,
    NewPartner,
    NewReferral,
    OpenComplaint,
    Partner,
    Person,
    PipelineReferral,
    Referral,
    ReferralMove,
    ResponseLine,
    SetAside,
    SkippedAsk,
    Step,
    StoredEmail,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
INTRO = Introduction(
    friend_name="Fay",
    friend_email="fay@example.net",
    friend_phone="+44 20 7946 0000",
    need="a loft",
    timing="spring",
    relationship="neighbour",
    expects_contact=True,
    advocate_introduces=False,
    public_thanks_ok=True,
    reward_choice="voucher",
)


async def customer(store: SQLiteStore, email: str, name: str) -> tuple[int, Person]:
    """A customer with a name, recorded by an event as the daemon records one."""
    event = {
        "id": f"ev-{email}",
        "type": "purchase.completed",
        "occurred_at": "2026-03-01T10:00:00Z",
        "customer": {"email": email, "name": name},
    }
    await store.record_event(EventIn.model_validate(event), AT)
    found = await store.customer_by_email(email)
    assert found is not None
    return found.id, Person(found.public_id, email, name)


async def test_outbox_rows_and_the_pause(store: SQLiteStore, clock: FakeClock) -> None:
    ann_id, ann = await customer(store, "ann@example.com", "Ann")
    new = NewEmail(
        dedupe_key="k1",
        kind="survey",
        recipient="ann@example.com",
        envelope_from="bounce@shop.example",
        message_id="<m1@shop.example>",
        message=b"Subject: hi\r\n\r\nbody\r\n",
        not_before=AT,
        customer_id=ann_id,
    )
    row_id = await store.enqueue(new, AT)
    assert row_id is not None
    queued = OutboxRow(
        "k1",
        "survey",
        "ann@example.com",
        "bounce@shop.example",
        "<m1@shop.example>",
        b"Subject: hi\r\n\r\nbody\r\n",
        id=row_id,
        state=State.QUEUED,
        attempts=0,
        last_error=None,
        invitation_id=None,
    )
    assert await store.outbox_row(row_id) == queued
    (claimed,) = await store.claim("me", AT, 60, 10)
    assert claimed == OutboxRow(**{**queued.__dict__, "state": State.SENDING})
    await store.settle([Settlement(row_id, Outcome.FAILED, error="550 no such user")], AT)
    (failed,) = await store.failed_emails(10)
    assert failed == FailedEmail(
        row_id, "survey", "ann@example.com", 1, "550 no such user", AT, ann
    )
    stored = await store.stored_email(row_id)
    assert stored == StoredEmail(
        id=row_id,
        kind="survey",
        recipient="ann@example.com",
        state="failed",
        attempts=1,
        last_error="550 no such user",
        created_at=AT,
        sent_at=None,
        message=b"Subject: hi\r\n\r\nbody\r\n",
        customer=ann,
    )
    pause = Pause("421 try later", AT, AT + timedelta(minutes=5), 300.0)
    await store.pause_sending(pause, [], AT)
    assert await store.sending_pause() == pause
    assert await store.resume_sending() == pause


async def test_invitations_answers_and_complaints(store: SQLiteStore) -> None:
    ann_id, ann = await customer(store, "ann@example.com", "Ann")
    (stored,) = await store.unprocessed_events(10)
    plan = NewInvitation("post_purchase", AT + timedelta(days=1), AT + timedelta(days=30))
    (invitation_id,) = await store.settle_event(stored.seq, ann_id, [plan], AT)
    await store.invitation_sent(invitation_id, AT + timedelta(days=1), AT + timedelta(days=4))
    invitation = await store.invitation(invitation_id)
    assert invitation is not None
    assert invitation == Invitation(
        id=invitation_id,
        public_id=invitation.public_id,
        customer_id=ann_id,
        survey="post_purchase",
        state="sent",
        reason=None,
        due_at=AT + timedelta(days=1),
        sent_at=AT + timedelta(days=1),
        reminder_at=AT + timedelta(days=4),
        expires_at=AT + timedelta(days=30),
        replied_at=None,
    )
    assert invitation.public_id not in ("", "post_purchase")
    answered = AT + timedelta(days=2)
    answer = Answer(ann_id, "post_purchase", 3, "detractor", "late", "page", answered)
    saved = await store.save_answer(answer, answered)
    assert saved.complaint_id is not None
    (line,) = await store.latest_responses(10)
    assert line == ResponseLine(answered, ann, "post_purchase", 3, "detractor", "late", "page")
    (complaint,) = await store.open_complaint_list(10)
    assert complaint == OpenComplaint(saved.complaint_id, answered, ann, "post_purchase", 3, "late")
    facts = await store.digest_facts(AT, AT + timedelta(days=7), AT - timedelta(days=7))
    found = await store.customer_by_email("ann@example.com")
    assert found is not None
    assert facts.open_complaints == [
        DigestComplaint(
            saved.complaint_id, "Ann", "ann@example.com", 3, "late", answered, found.public_id
        )
    ]


async def test_asks_bounces_and_set_aside(store: SQLiteStore) -> None:
    ann_id, ann = await customer(store, "ann@example.com", "Ann")
    due = AT + timedelta(hours=3)
    ask_id = await store.add_ask(NewAsk(ann_id, "project", "event:1", "scheduled", None, due), AT)
    skipped = NewAsk(ann_id, "praise", "event:2", "skipped", "asked lately")
    skipped_id = await store.add_ask(skipped, AT)
    assert ask_id is not None and skipped_id is not None
    assert await store.asks_of(ann_id) == [
        AskRow(ask_id, ann_id, "project", "event:1", "scheduled", None, due, AT),
        AskRow(skipped_id, ann_id, "praise", "event:2", "skipped", "asked lately", None, AT),
    ]
    assert await store.skipped_asks(10) == [SkippedAsk(AT, ann, "praise", "asked lately")]
    waiting = NewAsk(ann_id, "won", "referral:1", "waiting", "wait", None, AT + timedelta(days=1))
    waiting_id = await store.add_ask(waiting, AT)
    assert waiting_id is not None
    assert await store.waiting_asks(AT + timedelta(days=2), 10) == [
        (AskRow(waiting_id, ann_id, "won", "referral:1", "waiting", "wait", None, AT), True)
    ]
    bounce = Bounce("Ann@Example.com", "soft_bounce", "4.2.2", "mailbox full", "<m1@x>", AT)
    assert await store.record_bounce(bounce, "report-1") == 1
    assert await store.bounces_of("ann@example.com") == [
        Bounce("ann@example.com", "soft_bounce", "4.2.2", "mailbox full", "<m1@x>", AT)
    ]
    await store.set_aside("event", "1", ann_id, "boom", AT)
    assert await store.set_aside_items(10) == (1, [SetAside("event", "1", ann, "boom", AT)])
    assert await store.find_customers("ann@", 5) == [ann]


async def test_referrals_steps_and_partners(store: SQLiteStore) -> None:
    ann_id, ann = await customer(store, "ann@example.com", "Ann")
    advocate = await store.ensure_advocate(ann_id, AT)
    assert advocate == Advocate(advocate.id, ann_id, advocate.code)
    assert await store.advocate_by_code(advocate.code) == advocate
    new = NewReferral(advocate.id, INTRO, "A", "introduce", "a flag", None)
    referral = await store.add_referral(new, AT)
    assert referral == Referral(
        id=referral.id,
        public_id=referral.public_id,
        advocate_id=advocate.id,
        friend_name="Fay",
        friend_email="fay@example.net",
        friend_phone="+44 20 7946 0000",
        need="a loft",
        timing="spring",
        relationship="neighbour",
        expects_contact=True,
        advocate_introduces=False,
        reward_choice="voucher",
        grade="A",
        channel="introduce",
        flag="a flag",
        status="new",
        value=None,
    )
    assert referral.public_id.startswith("r_")
    won_at = AT + timedelta(days=3)
    await store.move_referral(referral.id, ReferralMove("won", 1200.0, "signed", True), won_at)
    moved = await store.referral(referral.public_id)
    assert moved is not None and (moved.status, moved.value) == ("won", 1200.0)
    (step,) = await store.unnotified_steps(10)
    assert step == Step(step.id, moved, "won", "signed")
    (pipeline,) = (await store.referral_pipeline(5))[1]
    assert pipeline == PipelineReferral(
        referral.public_id,
        "won",
        "A",
        "Fay",
        "fay@example.net",
        "+44 20 7946 0000",
        "a loft",
        "spring",
        "a flag",
        1200.0,
        ann,
        won_at,
    )
    facts = await store.digest_facts(AT, AT + timedelta(days=7), AT - timedelta(days=7))
    line = ReferralLine(
        referral.public_id,
        "Ann",
        "ann@example.com",
        "Fay",
        "a loft",
        "spring",
        "A",
        "won",
        "a flag",
        True,
        AT,
        won_at,
        1200.0,
    )
    assert (facts.new_referrals, facts.won) == ([line], [line])

    partner = await store.add_partner(
        NewPartner("bo@studio.example", "Bo's Studio", "design", "new homes", "Bo", True), AT
    )
    assert partner is not None
    assert partner == Partner(
        id=partner.id,
        public_id=partner.public_id,
        advocate_id=partner.advocate_id,
        customer_id=partner.customer_id,
        code=partner.code,
        name="Bo's Studio",
        contact="Bo",
        email="bo@studio.example",
        trade="design",
        wants="new homes",
        reward=True,
        created_at=AT,
    )
    assert len({partner.id, partner.advocate_id, partner.customer_id} - {ann_id}) >= 1
    assert partner.public_id.startswith("p_") and partner.code
    assert await store.partners() == [partner]
    given = await store.give_referral(partner.id, GivenClient("Cy", "cy@example.org", "a roof"), AT)
    closed = await store.close_given(given.id, "won", 300.0, won_at)
    assert await store.given_to(partner.id) == [closed]
    assert closed == GivenReferral(
        id=given.id,
        public_id=given.public_id,
        partner_id=partner.id,
        client_name="Cy",
        client_email="cy@example.org",
        note="a roof",
        status="won",
        value=300.0,
        created_at=AT,
        closed_at=won_at,
    )
