"""The dashboard's pure parts: chart geometry, session cookie and CSRF token, login guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.clock import FakeClock
from daemon.engine.segments import Nps
from daemon.mail.tokens import Signer
from daemon.web import charts
from daemon.web.session import (
    LoginGuard,
    csrf_ok,
    csrf_token,
    login_nonce,
    login_nonce_ok,
    new_session,
    password_ok,
    read_session,
    session_cookie,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SIGNER = Signer(["a-signing-key-of-some-length"])


def test_bars_scale_to_the_tallest_and_carry_their_segment() -> None:
    chart = charts.distribution([0, 1, 0, 0, 0, 0, 2, 1, 0, 3, 6])
    tallest = chart.bars[10]
    assert tallest.y == 22 and tallest.y + tallest.height == chart.baseline
    assert chart.bars[9].height == pytest.approx(tallest.height / 2, abs=0.1)
    assert chart.bars[0].height == 0
    assert [b.segment for b in chart.bars] == ["detractor"] * 7 + ["passive"] * 2 + ["promoter"] * 2
    assert chart.bars[1].title == "score 1: 1 response"
    assert chart.total == 13 and "10: 6" in chart.summary
    assert all(b.x + b.width <= charts.WIDTH for b in chart.bars)
    with pytest.raises(ValueError, match="11 counts"):
        charts.distribution([1, 2, 3])


def test_an_empty_distribution_draws_flat_bars() -> None:
    chart = charts.distribution([0] * 11)
    assert {b.height for b in chart.bars} == {0}


def test_trend_points_skip_empty_months_and_span_the_scale() -> None:
    months = ["2025-12", "2026-01", "2026-02"]
    scores = [Nps.from_counts(4, 0, 0), Nps.from_counts(0, 0, 0), Nps.from_counts(0, 0, 2)]
    chart = charts.trend(months, scores)
    top, _, bottom = chart.points
    assert top.y == 22 and bottom.y == charts.HEIGHT - 34  # +100 at the top, -100 at the bottom
    assert chart.points[1].y is None and chart.points[1].title == "2026-01: no responses"
    assert chart.line == f"{top.x},{top.y} {bottom.x},{bottom.y}"
    assert (top.label, top.year, chart.points[1].year, bottom.year) == ("Dec", "2025", "2026", None)
    assert top.title.startswith("2025-12: NPS +100 (95% interval ")
    assert top.low_y is not None and top.low_y > top.y  # the whisker reaches down
    assert dict(chart.grid)[0] == (top.y + bottom.y) / 2
    with pytest.raises(ValueError):
        charts.trend(months, scores[:2])


def test_stage_bars_follow_the_road_and_scale_to_the_largest() -> None:
    counts = {"know": 2, "like": 0, "trust": 1, "try": 0, "buy": 8, "repeat": 4, "refer": 1}
    chart = charts.road(counts)
    assert [(b.stage, b.count) for b in chart.bars] == list(counts.items())
    know, like, _, _, buy, repeat, refer = chart.bars
    assert repeat.width == pytest.approx(buy.width / 2, abs=0.1) and like.width == 0
    assert know.width == pytest.approx(buy.width / 4, abs=0.1)
    assert chart.left + buy.width + 40 < charts.WIDTH  # room left for the count after it
    assert [b.y for b in chart.bars] == sorted({b.y for b in chart.bars})  # one row each
    assert chart.bars[-1].y + chart.bar <= chart.height
    assert (know.title, refer.title) == ("Know: 2 customers", "Refer: 1 customer")
    assert chart.summary.startswith("Customers at each stage now: Know: 2 customers, Like: 0")
    assert {b.width for b in charts.road(dict.fromkeys(counts, 0)).bars} == {0}


@pytest.mark.parametrize(
    ("value", "shown"),
    [(None, "—"), (0.4, "0"), (-0.5, "0"), (0.5, "+1"), (-12.5, "-12"), (48.2, "+48")],
)
def test_signed_rounds_half_up_like_the_report(value: float | None, shown: str) -> None:
    assert charts.signed(value) == shown


def test_a_session_cookie_is_genuine_until_it_expires() -> None:
    session = new_session(NOW)
    cookie = session_cookie(SIGNER, session)
    assert read_session(SIGNER, cookie, NOW + timedelta(hours=11)) == session
    assert read_session(SIGNER, cookie, NOW + timedelta(hours=12)) is None
    assert read_session(Signer(["another-key-entirely-here"]), cookie, NOW) is None
    assert read_session(SIGNER, cookie[:-1] + ("A" if cookie[-1] != "A" else "B"), NOW) is None
    assert read_session(SIGNER, None, NOW) is None
    # a token signed for another purpose is not a session, even with the same key
    assert read_session(SIGNER, csrf_token(SIGNER, session), NOW) is None


def test_csrf_token_belongs_to_its_session() -> None:
    mine, theirs = new_session(NOW), new_session(NOW)
    token = csrf_token(SIGNER, mine)
    assert csrf_ok(SIGNER, mine, token)
    assert not csrf_ok(SIGNER, theirs, token)
    assert not csrf_ok(SIGNER, mine, None)
    assert not csrf_ok(SIGNER, mine, session_cookie(SIGNER, mine))


def test_login_nonce_is_a_signed_double_submit() -> None:
    nonce = login_nonce(SIGNER)
    assert login_nonce_ok(SIGNER, nonce, nonce)
    assert not login_nonce_ok(SIGNER, nonce, login_nonce(SIGNER))
    assert not login_nonce_ok(SIGNER, None, nonce)
    assert not login_nonce_ok(SIGNER, "made.up", "made.up")


def test_password_check() -> None:
    assert password_ok("correct horse battery", "correct horse battery")
    assert not password_ok("correct horse battery", "correct horse batter")
    assert not password_ok(None, "")
    assert not password_ok("", "")
    assert not password_ok("x" * 20, None)


def test_login_guard_locks_after_five_failures_within_the_window() -> None:
    clock = FakeClock(NOW)
    guard = LoginGuard(clock, limit=5, window=900, lock=900)
    for _ in range(4):
        guard.failed("198.51.100.1")
    assert guard.locked_for("198.51.100.1") == 0
    clock.advance(901)  # the window passed: the count starts again
    for _ in range(4):
        guard.failed("198.51.100.1")
    assert guard.locked_for("198.51.100.1") == 0
    guard.failed("198.51.100.1")
    assert guard.locked_for("198.51.100.1") == 900
    assert guard.locked_for("198.51.100.2") == 0
    clock.advance(600)
    assert guard.locked_for("198.51.100.1") == 300
    clock.advance(300)
    assert guard.locked_for("198.51.100.1") == 0
    guard.failed("198.51.100.1")
    guard.succeeded("198.51.100.1")  # a right password forgives
    for _ in range(4):
        guard.failed("198.51.100.1")
    assert guard.locked_for("198.51.100.1") == 0


def test_login_guard_forgets_the_least_recent_beyond_its_size() -> None:
    guard = LoginGuard(FakeClock(NOW), limit=1, max_entries=2)
    for address in ("a", "b", "c"):
        guard.failed(address)
    assert guard.locked_for("a") == 0 and guard.locked_for("c") > 0
