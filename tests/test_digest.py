"""The owner's digest: the period rule (a table of cases, DST included), and end to end on a
seeded history with the fake clock, delivered to the real aiosmtpd sink."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from loop import AUTH, Loop, running, smtp_changes, text_of

from daemon.config import Config, load_config
from daemon.engine.digest import DigestFacts, Period, ReferralLine, build, latest_period
from daemon.engine.grades import Introduction
from daemon.errors import ConfigError
from daemon.referrals import follow_up
from daemon.run.scheduler import Scheduler
from daemon.store.migrations import MIGRATIONS

from helpers import ENV, write_business
from smtp_server import SmtpServer

LONDON = ZoneInfo("Europe/London")
OWNER = "owner@harborlane.example"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "every", "weekday", "expected"),
    [
        # daily at 08:00 London (GMT in early March): the day that ended at 08:00 today
        (utc(2026, 3, 3, 9, 0), "daily", "mon", (utc(2026, 3, 2, 8), utc(2026, 3, 3, 8))),
        # exactly at the boundary: that period has just ended
        (utc(2026, 3, 3, 8, 0), "daily", "mon", (utc(2026, 3, 2, 8), utc(2026, 3, 3, 8))),
        # a moment before it: still the period before
        (
            utc(2026, 3, 3, 7, 59, 59),
            "daily",
            "mon",
            (utc(2026, 3, 1, 8), utc(2026, 3, 2, 8)),
        ),
        # across the clocks going forward (29 March): a 23-hour day, 08:00 on the wall
        (utc(2026, 3, 29, 12, 0), "daily", "mon", (utc(2026, 3, 28, 8), utc(2026, 3, 29, 7))),
        # and back (25 October): 25 hours
        (utc(2026, 10, 25, 12, 0), "daily", "mon", (utc(2026, 10, 24, 7), utc(2026, 10, 25, 8))),
        # weekly on Mondays: from a Wednesday, the week that ended on Monday
        (utc(2026, 3, 4, 12, 0), "weekly", "mon", (utc(2026, 2, 23, 8), utc(2026, 3, 2, 8))),
        # on the Monday before 08:00: the week before that
        (utc(2026, 3, 9, 7, 0), "weekly", "mon", (utc(2026, 2, 23, 8), utc(2026, 3, 2, 8))),
        (utc(2026, 3, 9, 8, 0), "weekly", "mon", (utc(2026, 3, 2, 8), utc(2026, 3, 9, 8))),
        # weekly on Fridays, seen on a Sunday
        (utc(2026, 3, 8, 12, 0), "weekly", "fri", (utc(2026, 2, 27, 8), utc(2026, 3, 6, 8))),
    ],
)
def test_latest_period(
    now: datetime, every: str, weekday: str, expected: tuple[datetime, datetime]
) -> None:
    period = latest_period(now, every, time(8, 0), weekday, LONDON)
    assert period is not None
    assert (period.start, period.end) == expected
    assert period.start < period.end <= now
    assert period.previous_start < period.start


def test_periods_tile_time_without_gaps_or_overlaps() -> None:
    """Walking through a year an hour at a time (two daylight-saving changes), each new period
    starts where the last one ended: half-open periods leave nothing at a boundary out and
    count nothing twice."""
    for every, length in (("daily", 1), ("weekly", 7)):
        now, last, seen = utc(2026, 1, 1, 0, 0), None, 0
        while now < utc(2027, 1, 1):
            period = latest_period(now, every, time(8, 0), "wed", LONDON)
            assert period is not None and period.end <= now
            if last is not None and period != last:
                assert period.start == last.end
                assert period.previous_start == last.start
                seen += 1
            last = period
            now += timedelta(hours=1)
        assert seen in (365 // length, 365 // length + 1)
    assert latest_period(now, "off", time(8, 0), "mon", LONDON) is None


def line(**changes: Any) -> ReferralLine:
    base: dict[str, Any] = {
        "public_id": "r_1",
        "advocate_name": "Ann Example",
        "advocate_email": "ann@example.com",
        "friend_name": "Eve",
        "need": None,
        "timing": "soon",
        "grade": "B",
        "status": "new",
        "flag": None,
        "public_thanks_ok": False,
        "created_at": utc(2026, 3, 2, 10),
        "closed_at": None,
        "value": None,
    }
    return ReferralLine(**{**base, **changes})


def test_build_counts_nps_change_and_public_thanks_once_per_advocate() -> None:
    period = Period(utc(2026, 3, 2, 8), utc(2026, 3, 3, 8), utc(2026, 3, 1, 8))
    facts = DigestFacts(
        segments=(3, 1, 1),
        previous_segments=(1, 0, 1),
        open_complaints=[],
        new_referrals=[line(public_thanks_ok=True), line(public_id="r_2", friend_name="Fay")],
        won=[line(status="won", public_thanks_ok=True, closed_at=utc(2026, 3, 2, 15))],
        pending_rewards=[],
    )
    digest = build(facts, period, "daily", "https://vouch.example/admin")
    assert digest["responses"] == {"count": 5, "promoters": 3, "passives": 1, "detractors": 1}
    assert (digest["nps"], digest["previous_nps"], digest["nps_change"]) == (40, 0, 40)
    assert digest["public_thanks"] == [{"advocate": "Ann Example", "referrals": 1}]
    quiet = build(
        DigestFacts((0, 0, 0), (2, 0, 0), [], [], [], []),
        period,
        "daily",
        "https://vouch.example/admin",
    )
    assert (quiet["nps"], quiet["previous_nps"], quiet["nps_change"]) == (None, 100, None)


# end to end ---------------------------------------------------------------------------------


@pytest.fixture
def digest_config(tmp_path: Path, smtp_server: SmtpServer) -> Callable[..., Config]:
    def make(**digest: str) -> Config:
        changes = {
            **smtp_changes(smtp_server),
            "digest": digest,
            "referrals": {"reward": {"approval": True}},
        }
        return load_config(write_business(tmp_path / "biz", changes), ENV, need_secrets=True)

    return make


def digests(loop: Loop) -> list[EmailMessage]:
    return [
        m
        for m in loop.mail()
        if m["To"].addresses[0].addr_spec == OWNER and "digest" in str(m["Subject"])
    ]


async def answer(loop: Loop, email: str, score: int, name: str | None = None) -> None:
    """A score by the response webhook; a named customer bought something the week before."""
    if name:
        when = (loop.clock.now() - timedelta(days=7)).isoformat()
        await loop.event("purchase.completed", email, when, name=name)
    body: dict[str, Any] = {"customer": {"email": email}, "survey": "post_purchase", "score": score}
    reply = await loop.client.post("/v1/responses", json=body, headers=AUTH)
    assert reply.status_code == 202, reply.text


async def refer(loop: Loop, advocate_email: str, friend: str, timing: str, thanks: bool) -> str:
    services = loop.services
    customer = await services.store.customer_by_email(advocate_email)
    assert customer is not None
    advocate = await services.store.ensure_advocate(customer.id, loop.clock.now())
    intro = Introduction(
        friend_name=friend,
        friend_email=f"{friend.split()[0].lower()}@example.net",
        friend_phone=None,
        need="A new kitchen",
        timing=timing,
        relationship="neighbour",
        expects_contact=True,
        advocate_introduces=False,
        public_thanks_ok=thanks,
    )
    referral = await follow_up.introduce(services, advocate, intro, "introduce")
    return referral.public_id


async def go_to(loop: Loop, moment: datetime) -> None:
    """Travel to `moment` (UTC), letting the daemon work each hour on the way and there."""
    await loop.travel(moment - loop.clock.now())


async def test_daily_digest_once_a_day_with_the_right_content(
    digest_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = digest_config(every="daily", at="08:00")
    async with running(
        config, smtp_server, store_url
    ) as loop:  # a new store, Monday 2 March, 09:00 GMT
        await loop.run()
        assert digests(loop) == []  # the day that ended at 08:00 this morning: before the store

        # Monday's history
        await go_to(loop, utc(2026, 3, 2, 10))
        await answer(loop, "ann@example.com", 10, name="Ann Example")
        await answer(loop, "bo@example.com", 9, name="Bo Lee")
        await answer(loop, "cy@example.com", 3, name="Cy Dour")  # opens a complaint
        await answer(loop, "dee@example.com", 8)
        eve = await refer(loop, "ann@example.com", "Eve Friend", "within a month", thanks=True)
        await refer(loop, "bo@example.com", "Fay Friend", "next spring", thanks=False)
        await go_to(loop, utc(2026, 3, 2, 15))
        referral = await loop.services.store.referral(eve)
        assert referral is not None
        await follow_up.change_status(loop.services, referral, "won", value=5000)
        # the boundary: a second before 08:00 is Monday's, 08:00 itself is Tuesday's
        await go_to(loop, utc(2026, 3, 3, 7, 59, 59))
        await answer(loop, "gus@example.com", 10)
        loop.clock.advance(1)
        await answer(loop, "hal@example.com", 0)
        await loop.run()

        monday = digests(loop)[-1]
        assert len(digests(loop)) == 1
        text = text_of(monday)
        assert str(monday["Subject"]) == "Your daily Vouch digest: 5 new answers, NPS +40"
        assert "from 2 March 2026, 08:00 GMT\nto 3 March 2026, 08:00 GMT" in text
        assert "5 new answers: promoters 3, passives 1, detractors 1." in text
        assert "NPS +40 (no answers in the period before to compare with)." in text
        assert "Cy Dour answered 3 (2 March 2026, 10:00 GMT)" in text
        assert "hal@example.com answered 0" in text  # open now, though answered on Tuesday
        assert "Eve Friend, introduced by Ann Example (grade B, won)" in text
        assert "Timing: within a month." in text
        assert "Fay Friend, introduced by Bo Lee (grade B, new)" in text
        assert "Timing: next spring." in text
        dashboard = loop.services.url("/admin")
        assert (
            "a thank-you voucher for Ann Example (who introduced Eve Friend), "
            f"waiting for your approval\n  Open in your dashboard: {dashboard}/referrals/{eve}\n"
            f"  (or: vouch reward approve {eve})"
        ) in text
        assert (
            "Ann Example <ann@example.com>: introduced Eve Friend, won 2 March 2026, "
            "15:00 GMT (value £5,000.00)."
        ) in text
        public = text.split("WORTH THANKING PUBLICLY", 1)[1]
        assert "Ann Example (1 referral" in public and "Bo Lee" not in public

        # Tuesday: the reward approved, Cy's complaint resolved; Hal's answer is Tuesday's
        await loop.services.store.approve_reward(referral.id, loop.clock.now())
        cy = await loop.services.store.customer_by_email("cy@example.com")
        assert cy is not None
        resolved = await loop.services.store.resolve_complaints(
            customer_id=cy.id, complaint_id=None, note="called", now=loop.clock.now()
        )
        assert resolved == 1
        await go_to(loop, utc(2026, 3, 4, 9))
        tuesday = digests(loop)[-1]
        assert len(digests(loop)) == 2
        text = text_of(tuesday)
        assert str(tuesday["Subject"]) == "Your daily Vouch digest: 1 new answer, NPS -100"
        assert "NPS -100, -140 on the period before (+40)." in text
        assert "Cy Dour" not in text and "hal@example.com answered 0" in text
        assert "NEW REFERRALS\nNone in this period." in text
        assert "REWARDS TO SEND\nNothing waiting." in text
        assert "HANDWRITTEN THANK-YOU NOTES DUE\nNone this time." in text

        # on through Friday: one a day, no more
        await go_to(loop, utc(2026, 3, 6, 12))
        assert len(digests(loop)) == 4
        # a restarted scheduler (a new daemon on the same store) sends none twice
        await Scheduler(loop.services).tick()
        await loop.sender.drain()
        assert len(digests(loop)) == 4
        ends = [re.search(r"\nto (.+)\.\n", text_of(m)) for m in digests(loop)]
        assert [e.group(1) for e in ends if e] == [
            f"{day} March 2026, 08:00 GMT" for day in (3, 4, 5, 6)
        ]


async def test_weekly_digest_once_a_week(
    digest_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = digest_config(every="weekly", at="08:00", weekday="wed")
    async with running(config, smtp_server, store_url) as loop:  # a new store, Monday 2 March
        await loop.run()
        assert digests(loop) == []  # the week that ended on Wednesday 25 February: before it
        await loop.travel(timedelta(days=16), step=timedelta(hours=3))  # to Wednesday 18 March
        weekly = digests(loop)
        assert len(weekly) == 3  # Wednesdays 4, 11 and 18 March
        assert all(str(m["Subject"]).startswith("Your weekly Vouch digest") for m in weekly)
        assert "from 11 March 2026, 08:00 GMT\nto 18 March 2026, 08:00 GMT" in text_of(weekly[-1])


async def test_a_new_store_sends_no_digest_about_a_time_before_it_began(
    digest_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = digest_config(every="weekly", at="08:00", weekday="wed")
    async with running(
        config, smtp_server, store_url
    ) as loop:  # a new store, first started Monday 09:00
        await loop.run()
        assert digests(loop) == []  # the week that ended on Wednesday 25 February: before it
        await go_to(loop, utc(2026, 3, 4, 7, 59, 59))
        assert digests(loop) == []
        await go_to(loop, utc(2026, 3, 4, 8, 0))
        (first,) = digests(loop)  # the week the store began in, once it has ended
        assert str(first["Subject"]) == "Your weekly Vouch digest: 0 new answers"
        assert "No new answers." in text_of(first)
        assert "to 4 March 2026, 08:00 GMT." in text_of(first)
        assert await loop.services.store.store_created(loop.clock.now()) == utc(2026, 3, 2, 9)


@pytest.mark.sqlite_only(
    "a store from before the mark's migration is a SQLite file: PostgreSQL's store begins "
    "with it (its baseline, 18)"
)
async def test_a_store_from_before_the_mark_began_at_its_earliest_record(
    digest_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """An upgraded store is not new: migration 14 dates it from its first customer, and its
    owner's digest goes on at the next start."""
    config = digest_config(every="weekly", at="08:00", weekday="wed")
    mark = next(v for v, name, _ in MIGRATIONS if name.startswith("when the store began"))
    config.store_path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(config.store_path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for version, name, sql in MIGRATIONS:
        if version < mark:
            db.executescript(sql)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, name))
    january = int(utc(2026, 1, 10).timestamp() * 1000)
    db.execute(
        "INSERT INTO customers (email, created_at, updated_at, public_id) "
        "VALUES ('ann@example.com', ?, ?, 'p1')",
        (january, january),
    )
    db.commit()
    db.close()
    async with running(config, smtp_server, store_url) as loop:
        assert await loop.services.store.store_created(loop.clock.now()) == utc(2026, 1, 10)
        await loop.run()
        assert len(digests(loop)) == 1  # the week that ended on Wednesday 25 February


def test_no_period_that_ended_before_the_store_began() -> None:
    now = utc(2026, 3, 3, 9, 0)  # the day that ended at 08:00 today is 2 March 08:00 - 3 March
    for since, due in [
        (utc(2026, 3, 3, 8, 30), False),  # begun after it ended
        (utc(2026, 3, 3, 8, 0), False),  # at its very end: nothing of it is in the store
        (utc(2026, 3, 3, 7, 59), True),  # a minute of it is
        (utc(2026, 1, 1), True),
    ]:
        period = latest_period(now, "daily", time(8, 0), "mon", LONDON, since=since)
        assert (period is not None) == due, since


async def test_off_sends_none(
    digest_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    async with running(digest_config(every="off"), smtp_server, store_url) as loop:
        await answer(loop, "ann@example.com", 10)
        await loop.travel(timedelta(days=9), step=timedelta(hours=6))
        assert digests(loop) == []


def test_digest_config_names_the_key(tmp_path: Path) -> None:
    bad = {"digest": {"every": "monthly", "at": "8am", "weekday": "monday"}}
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(tmp_path / "biz", bad), ENV)
    text = str(caught.value)
    assert 'config.toml: digest.every: must be "daily", "weekly" or "off", got "monthly"' in text
    assert 'digest.at: must be a time "HH:MM" in the business time zone, got "8am"' in text
    assert 'digest.weekday: must be the day a weekly digest comes, e.g. "mon", got "monday"' in text
