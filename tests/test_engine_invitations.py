"""The pure rules for when a survey goes out, and for telling people's clicks from scanners'."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from daemon.engine.clicks import Click, judge
from daemon.engine.invitations import (
    History,
    Plan,
    Skip,
    plan_invitation,
    reminder_at,
    too_old,
)
from daemon.engine.window import SendWindow
from daemon.surveys.definitions import Survey

LONDON = ZoneInfo("Europe/London")
WINDOW = SendWindow.default()
SURVEY = Survey(id="post_purchase", trigger="purchase.completed")  # 3 days, 30 open, 90 quiet
MONDAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
NOBODY = History(suppressed=None, last_surveyed_at=None)


def test_three_days_later_inside_the_window() -> None:
    plan = plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, NOBODY, MONDAY)
    assert plan == Plan(
        due_at=datetime(2026, 3, 5, 10, 0, tzinfo=UTC),
        expires_at=datetime(2026, 4, 4, 10, 0, tzinfo=UTC),
    )


def test_friday_evening_waits_for_monday_morning() -> None:
    friday_evening = datetime(2026, 3, 3, 18, 30, tzinfo=UTC)  # + 3 days = Friday 18:30
    plan = plan_invitation(SURVEY, friday_evening, LONDON, WINDOW, NOBODY, friday_evening)
    assert isinstance(plan, Plan) and plan.due_at == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def test_suppressed_customers_are_never_surveyed() -> None:
    history = History(suppressed="unsubscribed", last_surveyed_at=None)
    assert plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, history, MONDAY) == Skip(
        "address is suppressed (unsubscribed)"
    )


def test_throttle_counts_any_survey_either_side() -> None:
    for days in (-89, -1, 0, 30, 89):
        history = History(None, datetime(2026, 3, 5, 10, 0, tzinfo=UTC) + timedelta(days=days))
        decided = plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, history, MONDAY)
        assert isinstance(decided, Skip) and decided.reason.startswith("throttled"), days
    history = History(None, datetime(2026, 3, 5, 10, 0, tzinfo=UTC) - timedelta(days=91))
    assert isinstance(plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, history, MONDAY), Plan)


def test_late_events_go_out_now_or_not_at_all() -> None:
    now = MONDAY + timedelta(days=10)  # the event arrives late (an import, an outage)
    late = plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, NOBODY, now)
    assert isinstance(late, Plan) and late.due_at == now
    too_old = plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, NOBODY, MONDAY + timedelta(days=40))
    assert isinstance(too_old, Skip) and "older than the survey's life" in too_old.reason


def test_history_is_surveyed_now_only_when_asked() -> None:
    end = MONDAY + timedelta(days=33)  # 3 days' delay, then 30 days' life
    assert not too_old(SURVEY, MONDAY, end - timedelta(microseconds=1))
    assert too_old(SURVEY, MONDAY, end)
    later = end + timedelta(days=402)  # a Tuesday, 11:00 in London
    assert isinstance(plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, NOBODY, later), Skip)
    asked = plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, NOBODY, later, any_age=True)
    assert asked == Plan(due_at=later, expires_at=later + timedelta(days=30))
    history = History("unsubscribed", None)  # never past an unsubscribe or the throttle
    assert isinstance(
        plan_invitation(SURVEY, MONDAY, LONDON, WINDOW, history, later, any_age=True), Skip
    )


def test_reminder_is_optional_and_in_the_window() -> None:
    sent = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)  # Thursday; + 4 days = Monday
    assert reminder_at(SURVEY, sent, LONDON, WINDOW) == datetime(2026, 3, 9, 10, 0, tzinfo=UTC)
    no_reminder = Survey(id="x", trigger="purchase.completed", reminder_days=0)
    assert reminder_at(no_reminder, sent, LONDON, WINDOW) is None


T0 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
WAIT = timedelta(seconds=15)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_single_click_is_confirmed_after_the_window() -> None:
    clicks = [Click(1, 9, at(0))]
    assert judge(clicks, at(10), WAIT).confirm is None
    verdict = judge(clicks, at(15), WAIT)
    assert verdict.confirm == clicks[0] and verdict.settled == (1,) and verdict.scanner == ()


def test_a_burst_of_different_scores_is_a_scanner() -> None:
    clicks = [Click(i, i, at(i * 0.1)) for i in range(11)]
    verdict = judge(clicks, at(60), WAIT)
    assert verdict.confirm is None and verdict.scanner == tuple(range(11))


def test_the_same_score_twice_is_a_person_and_the_latest_counts() -> None:
    clicks = [Click(1, 7, at(0)), Click(2, 7, at(1)), Click(3, 9, at(100))]
    verdict = judge(clicks, at(200), WAIT)
    assert verdict.scanner == () and verdict.confirm == clicks[2]
    assert verdict.settled == (1, 2, 3)
