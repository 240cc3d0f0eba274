"""The owner's digest, the pure part: which period is due, and what the digest says about it.

A period is half-open, [start, end): something at exactly `end` belongs to the next digest, so
nothing on a boundary is counted twice or lost. Periods end at `at` (local time in the business
time zone) every day, or every week on `weekday`; across a daylight-saving change a day is 23
or 25 hours long, as the owner's wall clock says.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from daemon.engine import dashboard_links
from daemon.engine.segments import Nps

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Period:
    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    previous_start: datetime  # the period before is [previous_start, start)


@dataclass(frozen=True)
class OpenComplaint:
    id: int
    name: str | None
    email: str
    score: int
    comment: str | None
    opened_at: datetime
    customer: str  # the customer's public id, for the link to their page


@dataclass(frozen=True)
class ReferralLine:
    """A referral with its advocate, as the digest lists it."""

    public_id: str
    advocate_name: str | None
    advocate_email: str
    friend_name: str | None
    need: str | None
    timing: str | None  # the friend's timing, in the advocate's words
    grade: str
    status: str
    flag: str | None
    public_thanks_ok: bool
    created_at: datetime
    closed_at: datetime | None
    value: float | None


@dataclass(frozen=True)
class PendingReward:
    referral: str  # public id
    advocate_name: str | None
    advocate_email: str
    friend_name: str | None
    description: str
    state: str  # awaiting_approval, awaiting_code, or to_give (a gift issued in the period)


@dataclass(frozen=True)
class DigestFacts:
    """What the store knows for one period (the store's `digest_facts` reads it)."""

    segments: tuple[int, int, int]  # promoters, passives, detractors answering in the period
    previous_segments: tuple[int, int, int]  # the same in the period before
    open_complaints: Sequence[OpenComplaint]  # open now, oldest first
    new_referrals: Sequence[ReferralLine]  # made in the period
    won: Sequence[ReferralLine]  # won in the period
    pending_rewards: Sequence[PendingReward]  # waiting for approval or a code, or to be given


def latest_period(
    now: datetime,
    every: str,
    at: time,
    weekday: str,
    zone: ZoneInfo,
    since: datetime | None = None,
) -> Period | None:
    """The latest period that has ended by `now`; None when the digest is off, or when that
    period ended before `since` (the store began): nothing of it can be in the store, and a
    new owner's first email would be a digest of a week before Vouch existed."""
    if every == "off":
        return None
    step = 1 if every == "daily" else 7
    day = now.astimezone(zone).date()
    if every == "weekly":
        day -= timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)
    if _at(day, at, zone) > now:
        day -= timedelta(days=step)
    end = _at(day, at, zone)
    if since is not None and end <= since:
        return None
    return Period(
        start=_at(day - timedelta(days=step), at, zone),
        end=end,
        previous_start=_at(day - timedelta(days=2 * step), at, zone),
    )


def _at(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _waiting(reward: PendingReward) -> dict[str, str]:
    """What a reward waits for, and the command that gives it (none for a gift: the owner
    gives a donation or a present by hand, so the digest says so once, in its period)."""
    if reward.state == "awaiting_approval":
        return {
            "waiting_for": "your approval",
            "command": f"vouch reward approve {reward.referral}",
        }
    if reward.state == "awaiting_code":
        return {"waiting_for": "a code from your pool", "command": "vouch reward load FILE"}
    return {"waiting_for": "you to give it (the advocate chose it; it has no code)", "command": ""}


def build(facts: DigestFacts, period: Period, every: str, dashboard: str) -> dict[str, Any]:
    """The owner_digest email's variables (see render.KINDS for their shape); each item links
    to its page under `dashboard` (the public URL's /admin)."""
    nps = Nps.from_counts(*facts.segments)
    previous = Nps.from_counts(*facts.previous_segments)
    now_score = _rounded(nps.score)
    before = _rounded(previous.score)
    thanked: dict[str, dict[str, Any]] = {}
    for line in [*facts.new_referrals, *facts.won]:
        if line.public_thanks_ok:
            entry = thanked.setdefault(
                line.advocate_email, {"advocate": _who(line), "referrals": set()}
            )
            entry["referrals"].add(line.public_id)
    return {
        "every": every,
        "period_start": period.start,
        "period_end": period.end,
        "responses": {
            "count": nps.responses,
            "promoters": nps.promoters,
            "passives": nps.passives,
            "detractors": nps.detractors,
        },
        "nps": now_score,
        "previous_nps": before,
        "nps_change": now_score - before if now_score is not None and before is not None else None,
        "complaints": [
            {
                "customer": {"name": c.name, "email": c.email},
                "score": c.score,
                "comment": c.comment,
                "opened_at": c.opened_at,
                "link": dashboard_links.customer(dashboard, c.customer),
                "resolve_command": f"vouch resolve {c.id} --note '...'",
            }
            for c in facts.open_complaints
        ],
        "referrals": [
            {
                "friend": line.friend_name or "a friend",
                "advocate": _who(line),
                "grade": line.grade,
                "need": line.need,
                "timing": line.timing,
                "status": line.status,
                "flag": line.flag,
                "link": dashboard_links.referral(dashboard, line.public_id),
            }
            for line in facts.new_referrals
        ],
        "rewards": [
            {
                "advocate": r.advocate_name or r.advocate_email,
                "friend": r.friend_name or "a friend",
                "reward": r.description,
                "link": dashboard_links.referral(dashboard, r.referral),
                **_waiting(r),
            }
            for r in facts.pending_rewards
        ],
        "thank_you_notes": [
            {
                "advocate": _who(line),
                "email": line.advocate_email,
                "friend": line.friend_name or "a friend",
                "won_at": line.closed_at,
                "value": line.value,
            }
            for line in facts.won
        ],
        "public_thanks": [
            {"advocate": entry["advocate"], "referrals": len(entry["referrals"])}
            for entry in thanked.values()
        ],
    }


def _who(line: ReferralLine) -> str:
    return line.advocate_name or line.advocate_email


def _rounded(score: float | None) -> int | None:
    return round(score) if score is not None else None
