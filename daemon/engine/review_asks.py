"""Whether a review ask may go to a customer now.

A review ask asks a promoter for a public review. It is not a referral ask: it has its own
cool-down, and referral asks do not hold it back (nor it them). It is decided again when due,
since things may have changed since the promoter's answer: only a customer whose latest score
is still a promoter's, with no open complaint, not unsubscribed or suppressed, and not sent a
review ask within the cool-down, is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.engine.segments import Segment, segment


@dataclass(frozen=True)
class ReviewHistory:
    suppressed: str | None
    open_complaints: int
    latest_score: tuple[int, datetime] | None  # the most recent answer, any survey
    last_review_ask: datetime | None  # when one was last sent


def refusal(history: ReviewHistory, cool_down: timedelta, now: datetime) -> str | None:
    """Why no review ask may go now, in words for the owner; None when it may."""
    if history.suppressed:
        return f"address is suppressed ({history.suppressed})"
    if history.open_complaints:
        return "a complaint is open: no review ask until the owner resolves it"
    if history.latest_score is None:
        return "no answer to a survey"
    score, at = history.latest_score
    if segment(score) is not Segment.PROMOTER:
        return (
            f"latest score {score} ({segment(score).value}) on {at:%Y-%m-%d}: only promoters "
            "are asked for a review"
        )
    last = history.last_review_ask
    if last is not None and now - last < cool_down:
        return (
            f"review cool-down: asked on {last:%Y-%m-%d}; the next review ask may go after "
            f"{last + cool_down:%Y-%m-%d}"
        )
    return None
