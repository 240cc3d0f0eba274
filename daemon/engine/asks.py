"""Whether to ask a customer for a referral at a moment, and when.

Only promoters are asked, at moments when asking feels natural; never a detractor, never while
a complaint is open, never an address that said no; a cool-down between asks and a yearly cap
keep the touch light. Every "no" carries its reason, for the owner to read.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.engine.segments import Segment, segment


class Moment(enum.StrEnum):
    PROJECT_COMPLETED = "project_completed"
    TESTIMONIAL = "testimonial"  # praise the business did not ask for
    REFERRAL_WON = "referral_won"  # after thanking them for a referral that became business
    SURVEY_ANSWER = "survey_answer"  # the carried moment: a promoter answer after a project
    PARTNER_JOINED = "partner_joined"  # a partner joined an organization: ask to be introduced


@dataclass(frozen=True)
class Rules:
    cool_down: timedelta
    yearly_cap: int
    score_window: timedelta
    delay: timedelta


@dataclass(frozen=True)
class AskHistory:
    suppressed: str | None
    open_complaints: int
    latest_score: tuple[int, datetime] | None  # the most recent answer, any survey
    asks: Sequence[datetime]  # asks sent or scheduled (their time)


@dataclass(frozen=True)
class Ask:
    due_at: datetime  # before the send window is applied


@dataclass(frozen=True)
class Wait:
    """No recent score: the project survey goes first and the ask follows a promoter answer."""

    reason: str


@dataclass(frozen=True)
class NoAsk:
    reason: str


def decide(moment: Moment, history: AskHistory, rules: Rules, now: datetime) -> Ask | Wait | NoAsk:
    if history.suppressed:
        return NoAsk(f"address is suppressed ({history.suppressed})")
    if history.open_complaints:
        return NoAsk("a complaint is open: no asks until the owner resolves it")
    recent = history.latest_score
    if recent is not None and now - recent[1] > rules.score_window:
        recent = None
    if moment is Moment.PROJECT_COMPLETED:
        if recent is None:
            days = rules.score_window.days
            return Wait(f"no score in the last {days} days: asking after a promoter answer")
        if segment(recent[0]) is not Segment.PROMOTER:
            return NoAsk(_not_promoter(recent))
    elif moment is Moment.SURVEY_ANSWER and (
        recent is None or segment(recent[0]) is not Segment.PROMOTER
    ):
        return NoAsk(_not_promoter(recent) if recent else "no answer to the survey")
    # TESTIMONIAL and REFERRAL_WON: they just showed they are promoters, whatever an old score
    # says (a detractor with an open complaint was refused above). PARTNER_JOINED: a partner is
    # a business that refers both ways, not a customer with a score.
    if history.asks:
        last = max(history.asks)
        if now - last < rules.cool_down:
            return NoAsk(
                f"cool-down: asked on {last:%Y-%m-%d}; the next ask may go after "
                f"{last + rules.cool_down:%Y-%m-%d}"
            )
        year = [at for at in history.asks if now - at < timedelta(days=365)]
        if len(year) >= rules.yearly_cap:
            return NoAsk(f"yearly cap: {len(year)} asks in the last 12 months")
    elif rules.yearly_cap == 0:
        return NoAsk("yearly cap is 0: referral asks are switched off")
    return Ask(due_at=now + rules.delay)


def _not_promoter(recent: tuple[int, datetime]) -> str:
    score, at = recent
    return (
        f"latest score {score} ({segment(score).value}) on {at:%Y-%m-%d}: only promoters are asked"
    )
