"""Recording an answer, however it arrived (survey page, email click, webhook, reply).

Every path ends in `record`, so an answer has the same consequences wherever it came from:
the segment is stored, the invitation stops its reminder, a detractor opens a complaint (and the
scheduler alerts the owner at once), a promoter becomes an advocate with a referral code of their
own (the thank-you page's share link; no ask is sent because of it), and, when the owner
asks promoters for reviews, a review ask is planned (daemon/referrals/review_asks.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.engine.segments import segment
from daemon.referrals import review_asks
from daemon.run.services import Services
from daemon.store.answers import Answers
from daemon.store.rows import Answer, Invitation, Saved


@dataclass(frozen=True)
class Closed:
    """The invitation's survey has expired; nothing was recorded."""

    expired_at: datetime


def is_open(invitation: Invitation, now: datetime) -> bool:
    return invitation.state != "skipped" and (
        invitation.expires_at is None or now < invitation.expires_at
    )


async def answer_invitation(
    services: Services,
    invitation: Invitation,
    score: int,
    comment: str | None,
    *,
    source: str,
    answered_at: datetime | None = None,
    external_id: str | None = None,
) -> Saved | Closed:
    now = services.clock.now()
    if not is_open(invitation, now):
        return Closed(invitation.expires_at or now)
    return await record(
        services,
        Answer(
            customer_id=invitation.customer_id,
            survey=invitation.survey,
            score=score,
            segment=segment(score).value,
            comment=_clean(comment),
            source=source,
            answered_at=answered_at or now,
            invitation_id=invitation.id,
            external_id=external_id,
        ),
    )


async def record(services: Services, answer: Answer) -> Saved:
    store: Answers = services.store
    saved = await store.save_answer(answer, services.clock.now())
    await review_asks.plan(services, answer, saved.response_id)  # a promoter's: maybe a review ask
    if saved.complaint_id is not None:
        services.nudge()  # the owner hears about an unhappy customer now, not at the next poll
    return saved


def _clean(comment: str | None) -> str | None:
    if comment is None:
        return None
    text = comment.replace("\r\n", "\n").strip()
    return text[:5000] or None
