"""Replies to Vouch emails, however they arrive (POST /v1/inbound or the SMTP listener).

A reply is matched to the email it answers (In-Reply-To / References → the outbox's Message-ID)
and so to its customer; the quoted part is dropped; then, in order:
- "unsubscribe" as the subject (the List-Unsubscribe mailto) suppresses the address;
- a reply to a survey that starts with a score ("9 - great crew") is that answer;
- strong, unprompted praise is a testimonial, and a moment to ask for a referral;
- anything else is kept for the owner. Each reply is stored with the verdict and why.

Before all that, a bounce or complaint that comes back as mail (an RFC 3464 DSN or an RFC 5965
ARF report, read from the raw message) is taken out: see `_bounce`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from daemon.engine.asks import Moment
from daemon.engine.bounces import Failure, parse_report
from daemon.engine.replies import InboundMail, judge_praise, leading_score, strip_quoted
from daemon.referrals import follow_up
from daemon.run.services import Services
from daemon.store.bounces import Bounces
from daemon.store.customers import Customers
from daemon.store.invitations import Invitations
from daemon.store.outbox import Outbox
from daemon.store.replies import Replies
from daemon.store.rows import Bounce, Customer, NewReply, NewTestimonial
from daemon.surveys.answers import Closed, answer_invitation


class BounceStore(Bounces, Customers, Outbox, Replies, Protocol):
    """The store as `_bounce` uses it."""


class CustomersAndReplies(Customers, Replies, Protocol):
    """The store as `handle` uses it."""


class InvitationsAndOutboxAndReplies(Invitations, Outbox, Replies, Protocol):
    """The store as `_judge` uses it."""


@dataclass(frozen=True)
class Verdict:
    verdict: str  # unsubscribe, score, praise, other, unmatched, duplicate, bounce, complaint
    explanation: str


async def handle(services: Services, mail: InboundMail) -> Verdict:
    if mail.raw and (bounced := await _bounce(services, mail)) is not None:
        return bounced
    store: CustomersAndReplies = services.store
    now = services.clock.now()
    dedupe = (
        mail.message_id
        or hashlib.sha256(f"{mail.from_addr}\0{mail.subject}\0{mail.text}".encode()).hexdigest()
    )
    answered = None
    for message_id in [mail.in_reply_to, *reversed(mail.references)]:
        if message_id and (answered := await store.sent_email(message_id)):
            break
    customer: Customer | None = None
    if answered and answered[1] is not None:
        customer = await store.customer(answered[1])
    if customer is None:
        customer = await store.customer_by_email(mail.from_addr)
    text = strip_quoted(mail.text)
    verdict = await _judge(services, mail, customer, answered, text, dedupe)
    added = await store.add_reply(
        NewReply(
            customer_id=customer.id if customer else None,
            outbox_id=answered[0] if answered else None,
            from_addr=mail.from_addr.lower(),
            subject=mail.subject,
            text=text,
            verdict=verdict.verdict,
            explanation=verdict.explanation,
            dedupe=dedupe,
            at=now,
            invitation_id=_survey_invitation(answered),
        )
    )
    return verdict if added is not None else Verdict("duplicate", "this reply was received before")


async def _judge(
    services: Services,
    mail: InboundMail,
    customer: Customer | None,
    answered: tuple[int, int | None, str, str] | None,
    text: str,
    dedupe: str,
) -> Verdict:
    store: InvitationsAndOutboxAndReplies = services.store
    now = services.clock.now()
    if mail.subject.strip().lower() == "unsubscribe":
        await store.suppress(mail.from_addr, "unsubscribed (by email)", now)
        return Verdict("unsubscribe", "the subject asks to unsubscribe: the address is suppressed")
    if customer is None:
        return Verdict("unmatched", "no customer has this address and it answers no Vouch email")
    if (invitation_id := _survey_invitation(answered)) is not None:
        scored = leading_score(text)
        invitation = await store.invitation(invitation_id)
        if scored is not None and invitation is not None:
            score, comment = scored
            outcome = await answer_invitation(
                services, invitation, score, comment or None, source="reply"
            )
            if isinstance(outcome, Closed):
                return Verdict("other", f"a score of {score}, but the survey has closed")
            return Verdict("score", f"starts with a score: recorded {score} as the answer")
    praise = judge_praise(text)
    if not praise.is_praise:
        return Verdict("other", praise.explanation)
    await store.add_testimonial(
        NewTestimonial(customer.id, text, "reply", False, f"reply:{dedupe}", now)
    )
    decided = await follow_up.consider(services, customer, Moment.TESTIMONIAL, f"reply:{dedupe}")
    return Verdict("praise", f"{praise.explanation}; {decided}")


def _survey_invitation(answered: tuple[int, int | None, str, str] | None) -> int | None:
    """The invitation whose survey or reminder email this reply answers, if it answers one."""
    if answered and answered[2] in ("survey", "reminder"):
        return int(answered[3].split(":", 1)[1])
    return None


async def _bounce(services: Services, mail: InboundMail) -> Verdict | None:
    """A DSN or ARF report: record each failed recipient; suppress a hard bounce or a complaint
    at once, a soft bounce when the address has `[bounces] soft_limit` of them (one undelivered
    email counts once, however many delay warnings it caused). None when `mail` is no report."""
    report = parse_report(mail.raw)
    if report is None:
        return None
    store: BounceStore = services.store
    now = services.clock.now()
    limit = services.config.settings.bounces.soft_limit
    dedupe = mail.message_id or hashlib.sha256(mail.raw).hexdigest()
    failures = list(report.failures)
    if not failures and report.original_message_id:  # a complaint with the recipient redacted
        sent = await store.sent_email(report.original_message_id)
        customer = await store.customer(sent[1]) if sent and sent[1] is not None else None
        if customer is not None:
            failures = [Failure(customer.email, "complaint", None, report.feedback_type)]
    if not failures:
        return Verdict(
            "complaint",
            f"a spam complaint (ARF {report.feedback_type}) about {report.original_message_id}, "
            "which is no email Vouch sent: nothing suppressed",
        )
    said: list[str] = []
    for failure in failures:
        failed = Bounce(
            failure.address,
            failure.kind,
            failure.status,
            failure.diagnostic,
            report.original_message_id,
            now,
        )
        soft = await store.record_bounce(failed, dedupe)
        if failure.kind == "complaint":
            await store.suppress(failure.address, f"complaint (ARF {failure.diagnostic})", now)
            said.append(f"{failure.address} reported a Vouch email as spam: suppressed")
            continue
        why = " ".join(filter(None, [failure.status, failure.diagnostic]))
        if failure.kind == "hard_bounce":
            await store.suppress(failure.address, f"hard bounce: {why}", now)
            said.append(f"{failure.address} bounced for good ({why}): suppressed")
        elif soft >= limit:
            await store.suppress(failure.address, f"{soft} soft bounces, the last: {why}", now)
            said.append(f"{failure.address} soft bounce {soft} of {limit} ({why}): suppressed")
        else:
            said.append(
                f"{failure.address} soft bounce {soft} of {limit} ({why}): not suppressed yet"
            )
    verdict = "complaint" if report.kind == "complaint" else "bounce"
    return Verdict(verdict, "; ".join(said))
