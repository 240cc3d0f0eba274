"""The referral funnel: per month and per channel, the asks or offers shown, the referral links
opened by people, the introductions, the purchases attributed and the value won.

The channels are the ways a friend reaches the business: the ask email (`ask`), the share links
of a promoter's thank-you page (`thanks`), its QR code (`qr`), and the friend offer's code typed
at a checkout (`offer`). A link carries its channel (`?via=`); the referral it leads to keeps it.

Shown: asks sent (ask); thank-you pages shown with their share links and QR (thanks, qr: one
showing counts for both); landing pages that showed a friend offer (offer). Opened: referral
links fetched by people. A mail scanner fetches every link of a message within seconds, so an
opening is a scanner's when the same advocate's link of the same channel to another page
(landing, introduce, learn) was fetched within the window: the survey score clicks' rule
(daemon/engine/clicks.py). Introductions, purchases attributed and value won are counted on the
referrals, in the month each was made (flagged ones, such as self-referrals, never count).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from daemon.engine.clicks import Click, judge

CHANNELS = ("ask", "thanks", "qr", "offer")
#: The channel of each way in, as the owner reads it.
NAMES = {
    "ask": "Ask email",
    "thanks": "Thank-you page",
    "qr": "QR code",
    "offer": "Friend offer",
}
LINKS = ("landing", "introduce", "learn")  # the pages a referral link opens
STEPS = ("shown", "opened", "introductions", "purchases", "value_won")


def via(raw: object) -> str | None:
    """A link's `?via=` as a channel a link can carry, or None (no channel, or an unknown one)."""
    return raw if isinstance(raw, str) and raw in CHANNELS and raw != "offer" else None


@dataclass(frozen=True)
class Opened:
    id: int
    advocate_id: int
    channel: str
    link: str
    at: datetime


@dataclass(frozen=True)
class Shown:
    advocate_id: int
    channel: str
    at: datetime


@dataclass(frozen=True)
class Made:
    """A referral with a known channel."""

    channel: str
    at: datetime
    attributed: bool
    won: bool
    value: float | None


def people(opened: Sequence[Opened], now: datetime, window: timedelta) -> list[Opened]:
    """The openings that were people's: each advocate's links of one channel judged together."""
    groups: dict[tuple[int, str], list[Opened]] = defaultdict(list)
    for o in opened:
        groups[(o.advocate_id, o.channel)].append(o)
    scanner: set[int] = set()
    for group in groups.values():
        clicks = [Click(o.id, LINKS.index(o.link), o.at) for o in group]
        scanner.update(judge(clicks, now, window).scanner)
    return [o for o in opened if o.id not in scanner]


def shown_to_people(
    shown: Sequence[Shown], opened: Sequence[Opened], kept: Sequence[Opened]
) -> list[Shown]:
    """What was shown, but a friend offer on a landing page that a scanner fetched (recorded
    at the same instant as that opening): shown to no one."""
    people_ids = {o.id for o in kept}
    scanned = {(o.advocate_id, o.at) for o in opened if o.id not in people_ids}
    return [s for s in shown if s.channel != "offer" or (s.advocate_id, s.at) not in scanned]


def report(
    labels: Sequence[str],
    timezone: str,
    asks_sent: Iterable[datetime],
    shown: Iterable[Shown],
    opened: Iterable[Opened],
    made: Iterable[Made],
) -> dict[str, Any]:
    """The funnel per month (`labels`, "YYYY-MM" in `timezone`) and channel, and its totals;
    `shown` and `opened` are people's (see `people` and `shown_to_people`). Things outside the
    months are left out."""
    place = ZoneInfo(timezone)
    months: dict[str, dict[str, dict[str, float]]] = {
        label: {c: dict.fromkeys(STEPS, 0) for c in CHANNELS} for label in labels
    }

    def add(channel: str, at: datetime, step: str, amount: float = 1) -> None:
        month = months.get(f"{at.astimezone(place):%Y-%m}")
        if month is not None and channel in month:
            month[channel][step] += amount

    for at in asks_sent:
        add("ask", at, "shown")
    for s in shown:
        add(s.channel, s.at, "shown")
    for o in opened:
        add(o.channel, o.at, "opened")
    for m in made:
        add(m.channel, m.at, "introductions")
        if m.attributed:
            add(m.channel, m.at, "purchases")
        if m.won:
            add(m.channel, m.at, "value_won", m.value or 0.0)
    totals: dict[str, dict[str, float]] = {c: dict.fromkeys(STEPS, 0) for c in CHANNELS}
    for month in months.values():
        for c in CHANNELS:
            for step in STEPS:
                totals[c][step] += month[c][step]
    for c in CHANNELS:
        totals[c]["value_won"] = round(totals[c]["value_won"], 2)
    return {
        "timezone": timezone,
        "channels": [{"id": c, "name": NAMES[c]} for c in CHANNELS],
        "months": [{"month": label, "channels": months[label]} for label in labels],
        "totals": totals,
    }
