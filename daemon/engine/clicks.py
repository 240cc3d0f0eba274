"""Telling a person's click from a mail scanner's.

Mail security scanners (Safe Links, Mimecast, Barracuda) open every link in a message, often
twice, within seconds of delivery; some run the page's script too. A person clicks one score.
So a score clicked in the email is held as pending, and becomes an answer only when no
*different* score was clicked for the same invitation within `window` of it, on either side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Click:
    id: int
    score: int
    at: datetime


@dataclass(frozen=True)
class Verdict:
    confirm: Click | None  # the click that becomes the answer
    scanner: tuple[int, ...]  # ids of clicks judged to be a scanner's
    settled: tuple[int, ...]  # ids of clicks decided now (confirmed, superseded or scanner)


def judge(pending: Sequence[Click], now: datetime, window: timedelta) -> Verdict:
    """Decide what one invitation's pending clicks mean; undecided clicks wait for the window."""
    clicks = sorted(pending, key=lambda c: c.at)
    scanner = {
        c.id
        for c in clicks
        for other in clicks
        if other.score != c.score and abs(other.at - c.at) <= window
    }
    people = [c for c in clicks if c.id not in scanner]
    ripe = [c for c in people if now - c.at >= window]
    settled = sorted(scanner | {c.id for c in ripe})
    return Verdict(
        confirm=ripe[-1] if ripe else None,
        scanner=tuple(sorted(scanner)),
        settled=tuple(settled),
    )
