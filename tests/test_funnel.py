"""The referral funnel (issue 15 item 6): per month and channel, the asks or offers shown, the
links opened by people, the introductions, the purchases attributed and the value won.

End to end with the fake clock, the real app, store and SMTP server: a promoter answers, the
thank-you page is shown, a friend opens its link, introduces themself and buys with the friend
offer's code (a Stripe event), and each step is counted once, in its month and channel; a mail
scanner's fetches of the ask email's links are not. Then the pure rules, and the store's half
on both stores."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from loop import AUTH, Loop, smtp_changes, text_of
from test_attribution import STRIPE, stripe
from test_dashboard import login
from test_thanks_page import answer

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.engine import findings
from daemon.engine import funnel as rules
from daemon.engine.grades import Introduction
from daemon.referrals import funnel
from daemon.store.rows import NewReferral

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

ANN, DEE = "ann@example.com", "dee@example.com"
CODE = re.compile(r"FRIEND-[A-Z2-9]{8}")


@pytest.fixture
def loop_config(tmp_path: Any, loop_smtp: SmtpServer) -> Config:
    changes = {
        **smtp_changes(loop_smtp),
        "integrations": {"stripe_secret_env": "STRIPE_WEBHOOK_SECRET"},
        "referrals": {"attribution": "auto", "friend_offer": {"percent_off": 10}},
    }
    env = {**ENV, **ENV_EXTRA, "STRIPE_WEBHOOK_SECRET": STRIPE}
    path = write_business(tmp_path / "biz", merge(CONFIG_CHANGES, changes))
    return load_config(path, env, need_secrets=True)


def path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def asked(loop: Loop) -> list[EmailMessage]:
    """The promoter's project is done: the referral ask a day later."""
    await loop.event("project.completed", ANN, loop.clock.now().isoformat(), name="Ann Example")
    await loop.travel(timedelta(days=2), step=timedelta(hours=6))
    return [m for m in loop.new_mail() if "via=ask" in text_of(m)]


async def test_each_step_is_counted_once_in_its_month_and_channel(loop: Loop) -> None:
    # a promoter answers: the thank-you page shows the share links and the QR code
    page = await answer(loop, 10, ANN)
    (share,) = set(re.findall(r'value="(http[^"]+/r/[^"?]+\?via=thanks)"', page))
    assert "?via=qr" not in share  # the QR code carries its own channel (drawn, not written)
    # the ask email a promoter gets: a mail scanner fetches every link in it within seconds
    (ask,) = await asked(loop)
    links = sorted(set(re.findall(r"https?://\S+/r/\S+via=ask", text_of(ask))))
    assert len(links) == 3  # the landing, the introduce form and the how-to-refer page
    for link in links:
        assert (await loop.client.get(path(link))).status_code == 200
        loop.clock.advance(timedelta(seconds=1))
    # a friend opens the shared link (the friend offer is shown with the advocate's code),
    # asks to be contacted, and buys with the code
    loop.clock.advance(timedelta(hours=2))
    landing = await loop.client.get(path(share))
    assert landing.status_code == 200
    (code,) = set(CODE.findall(landing.text))
    form = {"friend_name": "Dee Friend", "friend_email": DEE, "need": "A garden room"}
    action = re.search(r'<form method="post" action="([^"]+)"', landing.text)
    assert action is not None and "via=thanks" in action.group(1)
    contact = await loop.client.post(action.group(1).replace("&amp;", "&"), data=form)
    assert contact.status_code == 200, contact.text
    await loop.travel(timedelta(days=2))
    await stripe(loop, DEE, 42000, "evt_dee", referral_code=code)
    await stripe(loop, DEE, 42000, "evt_dee", referral_code=code)  # sent twice: credited once
    await loop.travel(timedelta(hours=2))
    assert loop.clock.now() < datetime(2026, 4, 1, tzinfo=UTC)  # all in March (London)

    data = await funnel.from_store(loop.services, 2)
    assert [m["month"] for m in data["months"]] == ["2026-02", "2026-03"]
    february, march = (m["channels"] for m in data["months"])
    assert all(not any(steps.values()) for steps in february.values())
    assert march["thanks"] == {
        "shown": 1,
        "opened": 1,
        "introductions": 1,
        "purchases": 1,
        "value_won": 420.0,
    }
    assert march["qr"] == {
        "shown": 1,
        "opened": 0,
        "introductions": 0,
        "purchases": 0,
        "value_won": 0,
    }
    # the ask was sent; the scanner's three fetches opened nothing
    assert march["ask"] == {
        "shown": 1,
        "opened": 0,
        "introductions": 0,
        "purchases": 0,
        "value_won": 0,
    }
    # the friend offer on the landing page the friend opened (not on the scanner's fetch)
    assert march["offer"]["shown"] == 1
    assert march["offer"]["introductions"] == 0  # the purchase credited the thanks referral
    assert data["totals"]["thanks"]["introductions"] == 1
    # the sources report counts the win the purchase made, as a win the owner marks
    sources = (await loop.client.get("/v1/referrals", headers=AUTH)).json()["totals"]
    assert (sources["won"], sources["won_by_purchase"], sources["value_won"]) == (1, 1, 420.0)
    # the offers report counts the purchase with the friend offer's code (once: the event twice)
    (offer,) = (await loop.client.get("/v1/reports/offers", headers=AUTH)).json()["offers"]
    assert offer["friend_redemptions"] == 1

    # in words, on the dashboard's reports page and in `vouch report funnel`
    said = findings.funnel(data, loop.services.config.money)
    assert said[0] == (
        "Thank-you page: 1 shown, 1 link opened by people, 1 introduction, 1 purchase matched, "
        "£420.00 won."
    )
    await login(loop.client)
    reports = (await loop.client.get("/admin/reports")).text
    assert said[0] in reports
    assert 'id="funnel-2026-03-thanks"' in reports
    assert said[0] in funnel.table(data, loop.services.config.money)


async def test_a_person_opening_the_ask_email_counts(loop: Loop) -> None:
    """A person clicks one link of the ask email (not every link at once): one opening, and
    the introduction they make from it is the ask email's."""
    await answer(loop, 9, ANN)
    (ask,) = await asked(loop)
    (introduce,) = set(re.findall(r"https?://\S+/r/\S+/introduce\?via=ask", text_of(ask)))
    form_page = await loop.client.get(path(introduce))
    action = re.search(r'<form method="post" action="([^"]+)"', form_page.text)
    assert action is not None
    form = {"friend_name": "Dee Friend", "friend_email": DEE, "need": "A kitchen"}
    done = await loop.client.post(action.group(1).replace("&amp;", "&"), data=form)
    assert done.status_code == 200, done.text
    again = re.search(r'<a href="([^"]+)">', done.text.split("<main", 1)[-1])
    assert again is not None  # "introduce another": a step inside our pages, not an opening
    assert (await loop.client.get(again.group(1).replace("&amp;", "&"))).status_code == 200
    data = await funnel.from_store(loop.services, 1)
    (march,) = (m["channels"] for m in data["months"])
    assert march["ask"]["opened"] == 1 and march["ask"]["introductions"] == 1
    assert march["thanks"]["opened"] == 0


async def test_vouch_report_funnel_prints_its_formats(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ENV, **ENV_EXTRA, "STRIPE_WEBHOOK_SECRET": STRIPE}.items():
        monkeypatch.setenv(name, value)
    config = str(loop.services.config.path)

    def run(*args: str) -> tuple[int, str]:
        import contextlib
        import io

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["report", "funnel", *args, "--config", config])
        return code, out.getvalue()

    code, text = await asyncio.to_thread(run, "--months", "2")
    assert code == 0 and text.startswith("Referral funnel\n\n- Nothing through the funnel yet")
    code, raw = await asyncio.to_thread(run, "--format", "json", "--months", "3")
    data = json.loads(raw)
    assert code == 0 and len(data["months"]) == 3
    assert [c["id"] for c in data["channels"]] == ["ask", "thanks", "qr", "offer"]
    code, rows = await asyncio.to_thread(run, "--format", "csv", "--months", "1")
    assert code == 0
    assert rows.splitlines()[0] == (
        "month,channel,shown,opened,introductions,purchases,value_won (GBP)"
    )
    assert len(rows.splitlines()) == 1 + 4


# the rules ----------------------------------------------------------------------------------

T0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
WINDOW = timedelta(seconds=15)


def opened(n: int, link: str, seconds: float, advocate: int = 1, channel: str = "ask") -> Any:
    return rules.Opened(n, advocate, channel, link, T0 + timedelta(seconds=seconds))


def test_a_scanner_opens_every_link_at_once_a_person_one() -> None:
    scanner = [opened(1, "landing", 0), opened(2, "introduce", 1), opened(3, "learn", 2)]
    person = [opened(4, "introduce", 3600)]
    other = [opened(5, "landing", 1, advocate=2), opened(6, "landing", 2, channel="thanks")]
    kept = rules.people([*scanner, *person, *other], T0 + timedelta(days=1), WINDOW)
    assert [o.id for o in kept] == [4, 5, 6]
    # the same page twice is a person's reload, not a scanner
    assert len(rules.people([opened(1, "landing", 0), opened(2, "landing", 1)], T0, WINDOW)) == 2


def test_a_friend_offer_a_scanner_fetched_was_shown_to_no_one() -> None:
    opened_all = [opened(1, "landing", 0), opened(2, "introduce", 1), opened(3, "landing", 99)]
    kept = rules.people(opened_all, T0 + timedelta(days=1), WINDOW)
    assert [o.id for o in kept] == [3]
    shown = [rules.Shown(1, "offer", o.at) for o in (opened_all[0], opened_all[2])]
    shown.append(rules.Shown(1, "thanks", opened_all[0].at))  # only offers are judged so
    assert rules.shown_to_people(shown, opened_all, kept) == shown[1:]


def test_each_is_counted_in_its_month_in_the_business_time_zone() -> None:
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)  # 1 April 00:30 in London (summer time)
    data = rules.report(
        ["2026-03", "2026-04"],
        "Europe/London",
        [late, T0],
        [rules.Shown(1, c, at) for c, at in (("thanks", T0), ("qr", T0), ("offer", late))]
        + [rules.Shown(1, "nowhere", T0)],
        [opened(1, "landing", 0, channel="qr")],
        [
            rules.Made("qr", T0, attributed=True, won=True, value=100.5),
            rules.Made("qr", T0, attributed=False, won=False, value=None),
            rules.Made("offer", late, attributed=True, won=True, value=None),
            rules.Made("ask", datetime(2025, 1, 1, tzinfo=UTC), True, True, 5.0),  # too old
        ],
    )
    march, april = (m["channels"] for m in data["months"])
    assert march["ask"]["shown"] == 1 and april["ask"]["shown"] == 1
    assert march["qr"] == {
        "shown": 1,
        "opened": 1,
        "introductions": 2,
        "purchases": 1,
        "value_won": 100.5,
    }
    assert april["offer"]["shown"] == 1 and april["offer"]["purchases"] == 1
    assert data["totals"]["ask"]["value_won"] == 0


def test_a_link_carries_only_a_known_channel() -> None:
    assert [rules.via(v) for v in ("ask", "thanks", "qr")] == ["ask", "thanks", "qr"]
    assert rules.via("offer") is None  # no link carries it: a code typed at a checkout does
    assert rules.via("<script>") is None and rules.via(None) is None


# the store ----------------------------------------------------------------------------------


async def test_the_store_keeps_the_funnels_steps(
    concerns: Any, make_config: Callable[..., Config]
) -> None:
    store = concerns
    customer = await store.ensure_customer("ann@example.com", T0)
    advocate = await store.ensure_advocate(customer.id, T0)
    await store.record_funnel_step(advocate.id, "thanks", "shown", None, T0)
    await store.record_funnel_step(advocate.id, "ask", "opened", "learn", T0 + WINDOW)
    steps = await store.funnel_steps(T0)
    assert [(s.channel, s.step, s.link, s.at) for s in steps] == [
        ("thanks", "shown", None, T0),
        ("ask", "opened", "learn", T0 + WINDOW),
    ]
    assert await store.funnel_steps(T0 + timedelta(days=1)) == []
    intro = Introduction("Dee", "dee@example.com", None, "A deck", None, None, True, False)
    made = await store.add_referral(
        NewReferral(advocate.id, intro, "B", "landing", None, None, "qr"), T0
    )
    await store.add_referral(NewReferral(advocate.id, intro, "B", "landing", None, None), T0)
    flagged = NewReferral(advocate.id, intro, "B", "landing", "self-referral", None, "qr")
    await store.add_referral(flagged, T0)
    assert await store.attribute(made.id, "purchase.completed evt_1", 99.0)
    (counted,) = await store.funnel_referrals(T0)
    assert (counted.via, counted.created_at, counted.attributed, counted.won) == (
        "qr",
        T0,
        True,
        False,
    )
    assert await store.asks_sent_since(T0) == []
