"""The daily cap on referral asks (`referrals.daily_ask_cap`): who is asked today, who waits.

Every ask scheduled for today (in the business's time zone) competes for today's places, the
most influential customer first (ties: the earlier due, then the older ask). An ask that is due
now goes out if it holds one of the places left; otherwise it waits for the next day, with the
reason recorded, and competes again then. An ask whose moment would be older than
`moment_life` by the next day is not carried over: it is skipped, also with its reason, rather
than sent long after the moment that made it natural.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Candidate:
    ask_id: int
    due_at: datetime
    created_at: datetime  # when the moment was recorded
    influence: float


@dataclass(frozen=True)
class Ration:
    send: list[int] = field(default_factory=list)  # due now, within today's places
    hold: dict[int, str] = field(default_factory=dict)  # due now, wait for the next day: why
    drop: dict[int, str] = field(default_factory=dict)  # the moment will have passed: why


def ration(
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    cap: int,
    sent_today: int,
    next_day: datetime,
    moment_life: timedelta,
) -> Ration:
    """candidates: the asks scheduled before the end of today, due now or later today."""
    ranked = sorted(candidates, key=lambda c: (-c.influence, c.due_at, c.ask_id))
    places = max(cap - sent_today, 0)
    decided = Ration()
    for rank, candidate in enumerate(ranked, start=1):
        if candidate.due_at > now:
            continue  # its place (if any) stays kept for it until it is due
        if rank <= places:
            decided.send.append(candidate.ask_id)
            continue
        why = (
            f"daily cap of {_many(cap, 'ask')} reached on {now:%Y-%m-%d}: influence "
            f"{candidate.influence:g} ranks {_ordinal(rank)} of {len(ranked)} asks for the day"
        )
        if next_day - candidate.created_at > moment_life:
            decided.drop[candidate.ask_id] = (
                f"{why}; the moment of {candidate.created_at:%Y-%m-%d} is more than "
                f"{_many(moment_life / timedelta(days=1), 'day')} old by the next day, "
                "so it is not carried over"
            )
        else:
            decided.hold[candidate.ask_id] = f"{why}; waiting for the next day"
    return decided


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _many(n: float, thing: str) -> str:
    return f"{n:g} {thing}{'' if n == 1 else 's'}"
