"""The send window: hand-made tables (incl. daylight-saving days) plus properties checked
against a brute-force minute scan. Nothing here reads the clock or the machine's zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.window import SendWindow, in_window, next_in_window

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")

WEEKDAYS = SendWindow.default()
SUNDAY = 6


def sundays(start: time, end: time) -> SendWindow:
    return SendWindow(frozenset({SUNDAY}), start, end)


def every_day(start: time, end: time) -> SendWindow:
    return SendWindow(frozenset(range(7)), start, end)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    """A local clock reading; a repeated one means its first occurrence (fold=0)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


# (name, zone, window, moment, expected). 2026 changes: EU 29 Mar / 25 Oct at 01:00 UTC;
# US 8 Mar / 1 Nov at 02:00 local; Sydney 5 Apr (back) / 4 Oct (forward).
CASES = [
    # Plain days, four continents.
    (
        "london friday evening -> monday 09:00",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 1, 16, 19, 0),
        local(LONDON, 2026, 1, 19, 9, 0),
    ),
    (
        "london inside -> unchanged",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 6, 17, 12, 34, 56),
        local(LONDON, 2026, 6, 17, 12, 34, 56),
    ),
    (
        "london before start -> same day 09:00 (BST)",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 6, 17, 7, 0),
        utc(2026, 6, 17, 8, 0),
    ),
    (
        "london at start -> unchanged",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 6, 17, 9, 0),
        local(LONDON, 2026, 6, 17, 9, 0),
    ),
    (
        "london end is exclusive -> next day",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 6, 17, 18, 0),
        local(LONDON, 2026, 6, 18, 9, 0),
    ),
    (
        "london saturday -> monday",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 6, 20, 11, 0),
        local(LONDON, 2026, 6, 22, 9, 0),
    ),
    (
        "new york friday evening -> monday 09:00",
        NEW_YORK,
        WEEKDAYS,
        local(NEW_YORK, 2026, 5, 15, 18, 30),
        utc(2026, 5, 18, 13, 0),
    ),
    (
        "sydney good friday evening -> monday 09:00, across its autumn change",
        SYDNEY,
        WEEKDAYS,
        local(SYDNEY, 2026, 4, 3, 19, 0),  # AEDT, +11
        utc(2026, 4, 5, 23, 0),  # Monday 09:00 AEST, +10
    ),
    (
        "sydney sunday night, given in UTC -> monday 09:00",
        SYDNEY,
        WEEKDAYS,
        utc(2026, 7, 12, 12, 0),  # Sunday 22:00 AEST
        utc(2026, 7, 12, 23, 0),
    ),
    (
        "kolkata friday evening -> monday 09:00 (+05:30)",
        KOLKATA,
        WEEKDAYS,
        local(KOLKATA, 2026, 5, 15, 18, 0),
        utc(2026, 5, 18, 3, 30),
    ),
    (
        "kolkata a minute early -> 09:00",
        KOLKATA,
        WEEKDAYS,
        local(KOLKATA, 2026, 5, 19, 8, 59),
        local(KOLKATA, 2026, 5, 19, 9, 0),
    ),
    (
        "chatham early wednesday, given in UTC -> 09:00 (+12:45)",
        CHATHAM,
        WEEKDAYS,
        utc(2026, 7, 14, 17, 15),  # Wednesday 06:00 local
        utc(2026, 7, 14, 20, 15),
    ),
    (
        "chatham friday evening -> monday 09:00 (+13:45 in summer)",
        CHATHAM,
        WEEKDAYS,
        local(CHATHAM, 2026, 1, 16, 20, 0),
        utc(2026, 1, 18, 19, 15),
    ),
    # London spring forward, Sunday 29 March: 01:00 GMT -> 02:00 BST, 01:xx never happens.
    (
        "london start inside the gap opens when the gap ends",
        LONDON,
        sundays(time(1, 30), time(3, 0)),
        local(LONDON, 2026, 3, 29, 0, 0),
        utc(2026, 3, 29, 1, 0),  # 02:00 BST
    ),
    (
        "london ordinary window on the change day uses the new offset",
        LONDON,
        every_day(time(9), time(18)),
        local(LONDON, 2026, 3, 28, 20, 0),
        utc(2026, 3, 29, 8, 0),  # 09:00 BST
    ),
    (
        "london friday evening -> monday 09:00 BST across the change",
        LONDON,
        WEEKDAYS,
        local(LONDON, 2026, 3, 27, 18, 30),
        utc(2026, 3, 30, 8, 0),
    ),
    # London fall back, Sunday 25 October: 02:00 BST -> 01:00 GMT, 01:xx happens twice.
    (
        "london ambiguous start takes the first 01:30 (BST)",
        LONDON,
        sundays(time(1, 30), time(4, 0)),
        local(LONDON, 2026, 10, 25, 0, 0),
        utc(2026, 10, 25, 0, 30),
    ),
    (
        "london second 01:10 is inside a window that opened at the first 01:30",
        LONDON,
        sundays(time(1, 30), time(4, 0)),
        utc(2026, 10, 25, 1, 10),  # 01:10 GMT, the second pass
        utc(2026, 10, 25, 1, 10),
    ),
    (
        "london window ending in the fold closes at the first 01:30; the repeat never reopens",
        LONDON,
        sundays(time(0, 30), time(1, 30)),
        utc(2026, 10, 25, 1, 10),  # 01:10 GMT, the second pass
        local(LONDON, 2026, 11, 1, 0, 30),
    ),
    (
        "a window time carrying fold=1 still means the first occurrence",
        LONDON,
        sundays(time(0, 30), time(1, 15, fold=1)),
        utc(2026, 10, 25, 1, 0),  # 01:00 GMT, the second pass: the window closed at 01:15 BST
        local(LONDON, 2026, 11, 1, 0, 30),
    ),
    # New York spring forward, Sunday 8 March: 02:00 EST -> 03:00 EDT.
    (
        "new york 02:30 start does not exist: opens at 03:00 EDT",
        NEW_YORK,
        sundays(time(2, 30), time(18, 0)),
        local(NEW_YORK, 2026, 3, 7, 22, 0),
        utc(2026, 3, 8, 7, 0),
    ),
    (
        "new york window wholly inside the gap is empty that day",
        NEW_YORK,
        sundays(time(2, 0), time(2, 45)),
        local(NEW_YORK, 2026, 3, 8, 0, 0),
        local(NEW_YORK, 2026, 3, 15, 2, 0),
    ),
    (
        "new york window ending inside the gap is open until the change",
        NEW_YORK,
        sundays(time(1, 0), time(2, 30)),
        utc(2026, 3, 8, 6, 59),  # 01:59 EST
        utc(2026, 3, 8, 6, 59),
    ),
    (
        "new york window ending inside the gap is closed at 03:00 EDT",
        NEW_YORK,
        sundays(time(1, 0), time(2, 30)),
        utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        local(NEW_YORK, 2026, 3, 15, 1, 0),
    ),
    # New York fall back, Sunday 1 November: 02:00 EDT -> 01:00 EST.
    (
        "new york ambiguous 01:30 start takes the first (EDT)",
        NEW_YORK,
        sundays(time(1, 30), time(18, 0)),
        local(NEW_YORK, 2026, 10, 31, 23, 0),
        utc(2026, 11, 1, 5, 30),
    ),
    (
        "new york friday evening -> monday 09:00 EST across the change",
        NEW_YORK,
        WEEKDAYS,
        local(NEW_YORK, 2026, 10, 30, 18, 0),
        utc(2026, 11, 2, 14, 0),
    ),
]


@pytest.mark.parametrize(
    ("zone", "window", "moment", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_next_in_window(
    zone: ZoneInfo, window: SendWindow, moment: datetime, expected: datetime
) -> None:
    got = next_in_window(moment, zone, window)
    assert got == expected
    assert got.tzinfo is UTC
    assert in_window(got, zone, window)
    assert in_window(moment, zone, window) == (got == moment)


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_in_window(datetime(2026, 6, 17, 12, 0), LONDON, WEEKDAYS)
    with pytest.raises(ValueError, match="timezone-aware"):
        in_window(datetime(2026, 6, 17, 12, 0), LONDON, WEEKDAYS)


def test_default_is_weekdays_nine_to_six() -> None:
    assert SendWindow.default() == SendWindow(frozenset({0, 1, 2, 3, 4}), time(9), time(18))


@pytest.mark.parametrize(
    ("days", "start", "end", "message"),
    [
        (frozenset(), time(9), time(18), "one or more"),
        (frozenset({7}), time(9), time(18), "0 \\(Monday\\) to 6"),
        (frozenset({-1, 0}), time(9), time(18), "0 \\(Monday\\) to 6"),
        (frozenset({0}), time(18), time(9), "must come before"),
        (frozenset({0}), time(9), time(9), "must come before"),
        (frozenset({0}), time(9, tzinfo=UTC), time(18), "without a zone"),
    ],
)
def test_a_bad_window_is_refused(
    days: frozenset[int], start: time, end: time, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SendWindow(days, start, end)


# --- properties ----------------------------------------------------------------------------

ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/London",
        "Europe/Berlin",
        "America/New_York",
        "America/St_Johns",  # -03:30
        "America/Santiago",  # changes at local midnight
        "America/Havana",  # changes at local midnight
        "America/Sao_Paulo",
        "Africa/Casablanca",  # goes back an hour for Ramadan
        "Asia/Kolkata",
        "Asia/Kathmandu",  # +05:45
        "Asia/Tokyo",
        "Australia/Sydney",
        "Australia/Lord_Howe",  # half-hour daylight saving
        "Pacific/Chatham",  # +12:45 / +13:45
        "Pacific/Auckland",
    )
]

# Where and when the offset changes in 2026 (UTC), so that many examples land on awkward days.
CHANGES = [
    ("Europe/London", utc(2026, 3, 29, 1)),
    ("Europe/London", utc(2026, 10, 25, 1)),
    ("Europe/Berlin", utc(2026, 3, 29, 1)),
    ("Europe/Berlin", utc(2026, 10, 25, 1)),
    ("America/New_York", utc(2026, 3, 8, 7)),
    ("America/New_York", utc(2026, 11, 1, 6)),
    ("America/Havana", utc(2026, 3, 8, 5)),
    ("America/Havana", utc(2026, 11, 1, 5)),
    ("America/St_Johns", utc(2026, 3, 8, 5, 30)),
    ("America/St_Johns", utc(2026, 11, 1, 4, 30)),
    ("America/Santiago", utc(2026, 4, 5, 3)),
    ("America/Santiago", utc(2026, 9, 6, 4)),
    ("Africa/Casablanca", utc(2026, 2, 15, 2)),
    ("Africa/Casablanca", utc(2026, 3, 22, 2)),
    ("Australia/Sydney", utc(2026, 4, 4, 16)),
    ("Australia/Sydney", utc(2026, 10, 3, 16)),
    ("Australia/Lord_Howe", utc(2026, 4, 4, 15)),
    ("Australia/Lord_Howe", utc(2026, 10, 3, 15, 30)),
    ("Pacific/Chatham", utc(2026, 4, 4, 14)),
    ("Pacific/Chatham", utc(2026, 9, 26, 14)),
    ("Pacific/Auckland", utc(2026, 4, 4, 14)),
    ("Pacific/Auckland", utc(2026, 9, 26, 14)),
]

anywhen = st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC))
any_clock_time = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@st.composite
def scenes(draw: st.DrawFn) -> tuple[datetime, ZoneInfo, SendWindow]:
    """A moment, a zone and a window: anything in 2020–2035, or (half the time) a moment within
    a day of an offset change, with window edges at clock times around it, gaps included."""
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    if draw(st.booleans()):
        moment, zone = draw(anywhen), draw(st.sampled_from(ZONES))
        times = any_clock_time
    else:
        name, change = draw(st.sampled_from(CHANGES))
        moment, zone = change + timedelta(minutes=draw(st.integers(-1440, 1440))), ZoneInfo(name)
        # The last reading before the change and the first after, then naive steps around them.
        edges = [(change + timedelta(minutes=m)).astimezone(zone) for m in (-1, 0)]
        times = st.sampled_from(
            [(edge + timedelta(minutes=m)).time() for edge in edges for m in range(-60, 61, 15)]
        )
        days |= {edge.weekday() for edge in edges}
    times = st.builds(time.replace, times, fold=st.integers(0, 1))  # fold must not matter
    start, end = sorted(draw(st.lists(times, min_size=2, max_size=2, unique=True)))
    return moment, zone, SendWindow(days, start, end)


def clock_says(reading: datetime, window: SendWindow) -> bool:
    return reading.weekday() in window.days and window.start <= reading.time() < window.end


def high_water(moment: datetime, zone: ZoneInfo) -> Iterator[tuple[datetime, datetime]]:
    """Instants from `moment` on, a minute apart, each with the highest reading the local clock
    has shown by then. An independent oracle: a window day runs from the first reading of its
    start to the first reading of its end, so an instant is inside exactly when this highest
    reading is inside. Offsets, changes and window edges are whole minutes, so minutes suffice."""
    step = timedelta(minutes=1)
    t = moment.replace(second=0, microsecond=0)
    high = max((t - k * step).astimezone(zone).replace(tzinfo=None) for k in range(180))
    t = moment
    while True:
        high = max(high, t.astimezone(zone).replace(tzinfo=None))
        yield t, high
        t = t.replace(second=0, microsecond=0) + step


@settings(max_examples=200, deadline=None, database=None)
@given(scenes(), st.sampled_from(ZONES))
def test_next_in_window_matches_a_minute_by_minute_scan(
    scene: tuple[datetime, ZoneInfo, SendWindow], written_in: ZoneInfo
) -> None:
    moment, zone, window = scene
    got = next_in_window(moment.astimezone(written_in), zone, window)
    assert got.tzinfo is UTC
    assert got >= moment
    assert in_window(got, zone, window)
    assert got == next(t for t, high in high_water(moment, zone) if clock_says(high, window))
    if got > moment:  # an opening: the clock itself reads inside the window
        assert clock_says(got.astimezone(zone), window)


@settings(max_examples=200, deadline=None, database=None)
@given(scenes())
def test_in_window_matches_the_highest_reading(
    scene: tuple[datetime, ZoneInfo, SendWindow],
) -> None:
    moment, zone, window = scene
    _, high = next(high_water(moment, zone))
    assert in_window(moment, zone, window) == clock_says(high, window)
