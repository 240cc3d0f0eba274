"""When a referral closed by mistake may be reopened (pure rule, daemon/engine/reopen.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.engine.reopen import why_not

CLOSED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


@pytest.mark.parametrize(
    ("status", "after", "reward", "told", "said"),
    [
        ("lost", timedelta(days=7), None, False, None),  # the last moment of the window
        ("won", timedelta(hours=1), "awaiting_approval", False, None),
        ("won", timedelta(hours=1), "awaiting_code", False, None),
        ("lost", timedelta(days=7, seconds=1), None, False, "more than 7 days ago"),
        ("won", timedelta(hours=1), "issued", False, "a given reward cannot be taken back"),
        ("won", timedelta(hours=1), None, True, "thanked for the win"),
        ("contacted", timedelta(0), None, False, "there is nothing to reopen"),
    ],
)
def test_why_not(
    status: str, after: timedelta, reward: str | None, told: bool, said: str | None
) -> None:
    found = why_not(status, CLOSED, reward, CLOSED + after, WEEK, told)
    assert (found is None) == (said is None), found
    if said is not None:
        assert found is not None and said in found


def test_the_window_is_said_in_days_and_names_the_setting() -> None:
    said = why_not("won", CLOSED, None, CLOSED + timedelta(days=2), timedelta(days=1), False)
    assert said == (
        "it was marked won on 2026-03-02, more than 1 day ago; a referral can be reopened only "
        "within 1 day of being marked won or lost (referrals.reopen_days)"
    )
    assert why_not("won", None, None, CLOSED, WEEK, False) is not None  # no closing time known
