"""The send window: surveys arrive on working days and hours, in the customer's own time zone.

A window day is one span of real time: from the first instant the customer's clock reads `start`
on that date to the first instant it reads `end`. That one rule settles daylight saving:

- a time the clock skips (spring forward) is reached when the gap ends, at the first instant that
  exists after it; a window wholly inside the gap is empty that day;
- a time the clock shows twice (autumn fold) is reached at its first occurrence, so the repeated
  hour neither opens a second window nor closes one early.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class SendWindow:
    """Days (0 = Monday … 6 = Sunday) and local hours [start, end) when surveys may arrive."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError(
                f"send window days must be one or more of 0 (Monday) to 6 (Sunday), "
                f"not {sorted(self.days)}"
            )
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("send window times are local clock times; give them without a zone")
        if not self.start < self.end:
            raise ValueError(
                f"send window start ({self.start:%H:%M}) must come before its end "
                f"({self.end:%H:%M}) on the same day"
            )

    @classmethod
    def default(cls) -> SendWindow:
        """Weekdays, 09:00–18:00."""
        return cls(days=frozenset(range(5)), start=time(9), end=time(18))


def _first_reading(day: date, wall: time, zone: ZoneInfo) -> datetime:
    """The first instant (in UTC) at which a clock in `zone` reads `wall` on `day`, or later."""
    # fold=0 (even if `wall` carries fold=1): a repeated reading means its first occurrence.
    local = datetime.combine(day, wall, tzinfo=zone).replace(fold=0)
    first = local.astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
        return first
    # `local` is skipped. fold=0 read it with the offset from before the change, which lands after
    # the gap; fold=1 with the offset from after, which lands before it. Bisect for the change.
    before = local.replace(fold=1).astimezone(UTC)
    offset = first.astimezone(zone).utcoffset()
    while first - before > timedelta(microseconds=1):
        middle = before + (first - before) // 2
        if middle.astimezone(zone).utcoffset() == offset:
            first = middle
        else:
            before = middle
    return first


@functools.lru_cache(maxsize=1024)
def next_in_window(moment: datetime, zone: ZoneInfo, window: SendWindow) -> datetime:
    """The earliest instant at or after `moment` inside `window` in `zone`'s local time, in UTC.

    Cached: a scheduler tick asks it for every due survey at the same moment, and customers
    share a handful of zones."""
    if moment.utcoffset() is None:
        raise ValueError(f"next_in_window needs a timezone-aware moment, not {moment!r}")
    moment = moment.astimezone(UTC)
    # No earlier local date can matter: its window closed when the clock passed its end.
    day = moment.astimezone(zone).date()
    while True:  # ends within a week or two: `days` is never empty
        if day.weekday() in window.days:
            opens = _first_reading(day, window.start, zone)
            closes = _first_reading(day, window.end, zone)
            if opens < closes and moment < closes:
                return max(opens, moment)
        day += timedelta(days=1)


def in_window(moment: datetime, zone: ZoneInfo, window: SendWindow) -> bool:
    """Whether a survey may arrive at `moment` (defined through next_in_window, so they agree)."""
    return next_in_window(moment, zone, window) == moment
