"""The owner's dashboard over HTTP: the real app, store, templates and SMTP server, a fake clock.

Login (password, rate limit, session expiry), CSRF on every change, and that each button does
what it says: resolve a complaint, move a referral on (the advocate's email arrives), retry a
failed email (it goes out).
"""

from __future__ import annotations

import asyncio
import html
import json
import math
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from loop import Loop, parse, running, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.engine import findings
from daemon.engine.lifecycle_types import NAMES
from daemon.engine.segments import Nps
from daemon.errors import ConfigError
from daemon.mail.render import KINDS
from daemon.referrals import offers, sources
from daemon.web import admin, admin_advocates, admin_pages, admin_partners

from dashboard_data import (
    ANSWERS,
    AUTH,
    CONFIG_CHANGES,
    DETRACTOR,
    ENV_EXTRA,
    FRIENDS,
    PASSWORD,
    PASSWORD_ENV,
    crowd,
    field,
    seed,
)
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer


@pytest.fixture
def dashboard_config(tmp_path: Path, smtp_server: SmtpServer) -> Callable[..., Config]:
    def make(changes: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> Config:
        all_changes = merge(merge(smtp_changes(smtp_server), CONFIG_CHANGES), changes or {})
        path = write_business(tmp_path / "biz", all_changes)
        return load_config(path, {**ENV, **ENV_EXTRA, **(env or {})}, need_secrets=True)

    return make


@pytest.fixture
def loop_config(dashboard_config: Callable[..., Config]) -> Config:
    return dashboard_config()


async def login(client: httpx.AsyncClient, password: str = PASSWORD) -> httpx.Response:
    form = await client.get("/admin/login")
    assert form.status_code == 200
    return await client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": "/admin", "password": password},
    )


async def csrf(client: httpx.AsyncClient, path: str = "/admin") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return field(page.text, "csrf")


# logging in -------------------------------------------------------------------------------------


async def test_every_admin_page_and_action_needs_a_session(loop: Loop) -> None:
    """Every route of the routers the dashboard installs (but the login), found from them."""
    routes = [
        (method, route.path)
        for router in admin.ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and route.path != "/admin/login"
        for method in route.methods or ()
    ]
    assert len(routes) >= 17
    for router in (admin_pages.router, admin_partners.router, admin_advocates.router):
        assert router in admin.ROUTERS
    await seed(loop.services, loop.client)
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "x", path)
        answer = await loop.client.request(method, url, data={"csrf": "x"})
        if method == "GET":
            assert answer.status_code == 303, (method, path)
            assert answer.headers["location"].startswith("/admin/login?next=")
        else:
            assert answer.status_code == 401, (method, path)
            assert "log in" in answer.text.lower()
    customer = await loop.services.store.customer_by_email(DETRACTOR[1])
    assert customer is not None and await loop.services.store.open_complaints(customer.id) == 1


async def test_wrong_password_is_refused_right_one_gives_a_strict_cookie(loop: Loop) -> None:
    wrong = await login(loop.client, "not-the-password-at-all")
    assert wrong.status_code == 401
    assert "not the dashboard password" in wrong.text
    assert "vouch_admin" not in wrong.headers.get("set-cookie", "")
    assert (await loop.client.get("/admin")).status_code == 303
    right = await login(loop.client)
    assert right.status_code == 303 and right.headers["location"] == "/admin"
    cookie = next(c for c in right.headers.get_list("set-cookie") if c.startswith("vouch_admin="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    page = await loop.client.get("/admin")
    assert page.status_code == 200 and "NPS now" in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "<script" not in page.text  # works without JavaScript, and the CSP forbids inline


async def test_login_is_locked_after_five_failures_per_address(loop: Loop) -> None:
    for _ in range(5):
        assert (await login(loop.client, "guess-guess-guess-guess")).status_code == 401
    locked = await login(loop.client)  # even the right password, while locked
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) == 15 * 60
    assert "Try again in 15 minutes" in locked.text
    assert (await loop.client.get("/admin")).status_code == 303
    elsewhere = httpx.AsyncClient(
        transport=httpx.ASGITransport(
            app=loop.client._transport.app,  # type: ignore[attr-defined]
            client=("192.0.2.7", 5555),
        ),
        base_url="http://vouch.test",
    )
    async with elsewhere:
        assert (await login(elsewhere)).status_code == 303  # another address is not locked
    loop.clock.advance(timedelta(minutes=14))
    assert (await login(loop.client)).status_code == 429
    loop.clock.advance(timedelta(minutes=1))
    assert (await login(loop.client)).status_code == 303


async def test_login_form_needs_its_own_token(loop: Loop) -> None:
    answer = await loop.client.post("/admin/login", data={"password": PASSWORD})
    assert answer.status_code == 403 and "expired" in answer.text
    assert (await loop.client.get("/admin")).status_code == 303


async def test_session_ends_after_twelve_hours_and_a_forged_cookie_is_refused(loop: Loop) -> None:
    await login(loop.client)
    assert (await loop.client.get("/admin")).status_code == 200
    cookie = loop.client.cookies["vouch_admin"]
    loop.client.cookies.clear()
    loop.client.cookies.set("vouch_admin", cookie[:-2] + "AA", path="/admin")
    assert (await loop.client.get("/admin")).status_code == 303
    loop.client.cookies.set("vouch_admin", cookie, path="/admin")
    loop.clock.advance(timedelta(hours=11, minutes=59))
    assert (await loop.client.get("/admin")).status_code == 200
    loop.clock.advance(timedelta(minutes=1))
    assert (await loop.client.get("/admin")).status_code == 303


async def test_logout(loop: Loop) -> None:
    await login(loop.client)
    token = await csrf(loop.client)
    out = await loop.client.post("/admin/logout", data={"csrf": token})
    assert out.status_code == 303 and out.headers["location"] == "/admin/login"
    assert (await loop.client.get("/admin")).status_code == 303


async def test_logout_ends_the_session_on_the_server(loop: Loop) -> None:
    """The cookie copied before logging out is refused when replayed after, though it is still
    genuine and within its 12 hours; another session goes on."""
    await seed(loop.services, loop.client)
    await login(loop.client)
    token = await csrf(loop.client)
    cookie = loop.client.cookies["vouch_admin"]
    other = httpx.AsyncClient(transport=loop.client._transport, base_url="http://vouch.test")
    async with other:
        await login(other)
        out = await loop.client.post("/admin/logout", data={"csrf": token})
        assert out.status_code == 303
        replay = httpx.AsyncClient(
            transport=loop.client._transport,
            base_url="http://vouch.test",
            cookies={"vouch_admin": cookie},
        )
        async with replay:
            page = await replay.get("/admin")
            assert page.status_code == 303
            assert page.headers["location"].startswith("/admin/login")
            (complaint,) = await loop.services.store.open_complaint_list(10)
            action = await replay.post(
                f"/admin/complaints/{complaint.id}/resolve", data={"csrf": token}
            )
            assert action.status_code == 401 and "log in" in action.text.lower()
            assert len(await loop.services.store.open_complaint_list(10)) == 1
        assert (await other.get("/admin")).status_code == 200  # only that session ended


async def test_without_a_password_the_dashboard_is_off(
    dashboard_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = dashboard_config(env={PASSWORD_ENV: ""})
    async with running(config, smtp_server, store_url) as loop:
        page = await loop.client.get("/admin/login")
        assert "switched off" in page.text and PASSWORD_ENV in page.text
        assert 'type="password"' not in page.text
        nonce = loop.client.cookies["vouch_login"]  # as a forged form would send it
        answer = await loop.client.post("/admin/login", data={"nonce": nonce, "password": ""})
        assert answer.status_code == 403 and "switched off" in answer.text
        assert (await loop.client.get("/admin")).status_code == 303


def test_a_short_dashboard_password_is_a_config_problem(
    dashboard_config: Callable[..., Config],
) -> None:
    with pytest.raises(ConfigError) as raised:
        dashboard_config(env={PASSWORD_ENV: "short"})
    assert "secrets.dashboard_password_env" in str(raised.value)
    assert "at least 16 characters" in str(raised.value)


# the dashboard ----------------------------------------------------------------------------------


def half_up(value: float) -> int:
    return math.floor(value + 0.5)


async def test_dashboard_shows_nps_charts_complaints_pipeline_and_skips(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    await loop.run()
    await login(loop.client)
    page = (await loop.client.get("/admin")).text
    scores = [a[2] for a in ANSWERS] + [DETRACTOR[2], 10]  # and the advocate's second answer
    nps = Nps.of(scores)
    assert nps.score is not None and nps.margin is not None
    assert nps.low is not None and nps.high is not None
    assert f'{half_up(nps.score):+d} <span class="margin">±{half_up(nps.margin)}</span>' in page
    assert f"95% interval {half_up(nps.low):+d} to {half_up(nps.high):+d}" in page
    assert f"from {len(scores)} answers" in page
    assert page.count('<g class="bar ') == 11
    assert f"<title>score 10: {scores.count(10)} responses</title>" in page
    assert f"<title>score 2: {scores.count(2)} response</title>" in page
    february = Nps.of([a[2] for a in ANSWERS if a[0].startswith("2026-02")] + [10])  # and Olivia's
    assert february.score is not None
    assert f"<title>2026-02: NPS {half_up(february.score):+d} (95% interval" in page
    assert DETRACTOR[3] in page  # the open complaint's comment
    assert "Could not be happier." in page  # a latest response's comment
    for part in ("/admin/referrals", "/admin/reports", "/admin/sending"):  # a page each
        assert f'href="{part}"' in page
    pipeline = (await loop.client.get("/admin/referrals")).text
    for name, *_ in FRIENDS:
        assert name in pipeline
    reports = (await loop.client.get("/admin/reports")).text
    assert "Olivia Bennett" in reports.split('id="champions"')[1]
    skipped = (await loop.client.get("/admin/sending")).text.split('id="skipped"')[1]
    assert "a complaint is open: no asks until the owner resolves it" in skipped
    assert "only promoters are asked" in skipped


async def test_the_reports_say_it_in_words_with_the_figures_a_click_away(loop: Loop) -> None:
    """Each report on the Reports page leads with its findings (daemon/engine/findings.py, from
    the same figures), and its table waits folded under "The figures"."""
    await seed(loop.services, loop.client)
    await loop.run()
    await login(loop.client)
    page = (await loop.client.get("/admin/reports")).text
    store, config = loop.services.store, loop.services.config
    currency = config.settings.business.currency
    data = sources.report(await store.referral_facts(), await store.tags_by_kind(), currency)
    said = findings.sources(data, config.money)
    assert "referrals so far" in said[0]
    for section, sentences in (
        ("sources", said),
        (
            "offers",
            findings.offers(
                offers.report(
                    offers.configured(config.settings.referrals),
                    await store.offer_facts(),
                    currency,
                )
            ),
        ),
    ):
        part = page.split(f'id="{section}"')[1].split("</section>")[0]
        words, figures = part.split('<details class="figures">')
        for sentence in sentences:
            assert html.escape(sentence, quote=False) in words
        assert "<summary>The figures</summary>" in figures and "<table" in figures
        assert "<table" not in words
    for section in ("funnel", "partner-balance", "influence", "life-cycle"):
        assert f'id="{section}"' in page
    advocates = (await loop.client.get("/admin/advocates")).text
    assert '<ul class="findings">' in advocates.split('id="offers"')[1]


async def test_comments_are_escaped(loop: Loop) -> None:
    body = {
        "customer": {"email": "mallory@example.com"},
        "survey": "post_purchase",
        "score": 9,
        "comment": "<script>alert(1)</script><img src=x onerror=alert(2)>",
    }
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202
    await login(loop.client)
    page = (await loop.client.get("/admin")).text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


async def test_resolve_needs_the_csrf_token_then_closes_the_complaint(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    store = loop.services.store
    customer = await store.customer_by_email(DETRACTOR[1])
    assert customer is not None
    (complaint,) = await store.open_complaint_list(10)
    path = f"/admin/complaints/{complaint.id}/resolve"
    await login(loop.client)
    assert (await loop.client.post(path, data={"note": "x"})).status_code == 403
    assert (await loop.client.post(path, data={"csrf": "forged.token"})).status_code == 403
    other = httpx.AsyncClient(transport=loop.client._transport, base_url="http://vouch.test")
    async with other:  # a token from another session is no good here
        await login(other)
        foreign = await csrf(other)
    refused = await loop.client.post(path, data={"csrf": foreign})
    assert refused.status_code == 403 and "Nothing was changed" in refused.text
    assert await store.open_complaints(customer.id) == 1
    done = await loop.client.post(
        path, data={"csrf": await csrf(loop.client), "note": "Replaced the tiles"}
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin?done=resolved"
    assert await store.open_complaints(customer.id) == 0
    page = (await loop.client.get(done.headers["location"])).text
    assert "Complaint resolved" in page and DETRACTOR[3] not in page.split('id="responses"')[0]
    timeline = (await loop.client.get(f"/admin/customers/{customer.public_id}")).text
    assert "Complaint resolved" in timeline and "Replaced the tiles" in timeline
    again = await loop.client.post(path, data={"csrf": await csrf(loop.client)})
    assert again.status_code == 409 and f"no open complaint {complaint.id}" in again.text


async def test_every_open_complaint_is_counted_and_can_be_seen_and_resolved(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """23 open complaints: the overview says 23 (it lists the latest 5) and links to all of
    them, a page at a time, each with its resolve button."""
    for n in range(23):
        body = {
            "customer": {"email": f"unhappy{n:02d}@example.com"},
            "survey": "post_purchase",
            "score": n % 7,
            "comment": f"Problem number {n:02d}.",
        }
        answer = await loop.client.post("/v1/responses", json=body, headers=AUTH)
        assert answer.status_code == 202, answer.text
    await login(loop.client)
    page = (await loop.client.get("/admin")).text
    assert '<h2>Open complaints</h2>\n    <p class="big alert">23</p>' in page
    listed = page.split('id="complaints"')[1].split("</section>")[0]
    assert 'Open complaints <span class="count">23</span>' in listed
    assert listed.count('class="item complaint"') == admin.COMPLAINTS_SHOWN == 5
    assert '<a href="/admin/complaints">All 23 open complaints</a>' in listed

    def numbers(html_page: str) -> list[str]:
        return re.findall(r"Problem number (\d\d)\.", html_page)

    every = (await loop.client.get("/admin/complaints")).text
    assert sorted(numbers(every)) == [f"{n:02d}" for n in range(23)]
    assert every.count('class="item complaint"') == 23 and "Page 1 of" not in every

    monkeypatch.setattr(admin, "COMPLAINTS_PER_PAGE", 10)
    seen: list[str] = []
    for number in (1, 2, 3):
        shown = (await loop.client.get(f"/admin/complaints?page={number}")).text
        assert f"Page {number} of 3" in shown
        assert ('rel="next"' in shown) == (number < 3) and ('rel="prev"' in shown) == (number > 1)
        seen += numbers(shown)
    assert seen == [f"{n:02d}" for n in reversed(range(23))]  # latest first, none twice
    last = (await loop.client.get("/admin/complaints?page=3")).text
    complaint_id = re.findall(r'action="/admin/complaints/(\d+)/resolve"', last)[-1]
    done = await loop.client.post(
        f"/admin/complaints/{complaint_id}/resolve",
        data={"csrf": field(last, "csrf"), "back": field(last, "back"), "note": "Called back"},
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/complaints?done=resolved"
    after = (await loop.client.get(done.headers["location"])).text
    assert "Complaint resolved." in after and "Problem number 00." not in after
    assert 'Open complaints <span class="count">22</span>' in after
    assert '<p class="big alert">22</p>' in (await loop.client.get("/admin")).text


@pytest.mark.parametrize(
    "path",
    ["/admin/customers", "/admin/complaints", "/admin/upcoming", "/admin/upcoming/not-sent"],
)
async def test_a_paged_list_answers_any_page_number(loop: Loop, path: str) -> None:
    """Page 0, -5, past the end, and a number too large for any offset the store can hold
    (25 nines: SQLite refused it, a 500) each show the list's first or last page, here its
    one page."""
    await seed(loop.services, loop.client)
    await login(loop.client)
    first = await loop.client.get(f"{path}?page=1")
    assert first.status_code == 200
    for number in ("0", "-5", "2", "9" * 25):
        answer = await loop.client.get(f"{path}?page={number}")
        assert answer.status_code == 200, (number, answer.text[:200])
        assert answer.text == first.text, number


async def test_a_busy_pipeline_shows_the_latest_and_lists_each_status_a_page_at_a_time(
    loop: Loop,
) -> None:
    """33 new referrals: the pipeline's New column shows its count and the latest few, and links
    to all of them, REFERRALS_PER_PAGE at a time, each card with the moves it has in the
    column; a move from page 2 comes back to page 2."""
    await seed(loop.services, loop.client)
    crowded = await crowd(loop.services, 30)
    await login(loop.client)
    pipeline = (await loop.client.get("/admin/referrals")).text
    new = pipeline.split('class="stage new"')[1].split('class="stage contacted"')[0]
    assert 'New <span class="count">33</span>' in new
    assert new.count('<article class="referral"') == admin.PIPELINE_SHOWN
    assert f'href="/admin/referrals/{crowded[-1]}"' in new  # the latest, to its own page
    assert '<a href="/admin/referrals/status/new">All 33 new referrals</a>' in new
    assert "All 0" not in pipeline and "/admin/referrals/status/contacted" not in pipeline

    def cards(page: str) -> list[str]:
        return re.findall(
            r'<article class="referral".*?action="/admin/referrals/(r_[\w-]+)/status"', page, re.S
        )

    first, second = [
        (await loop.client.get(f"/admin/referrals/status/new?page={n}")).text for n in (1, 2)
    ]
    assert 'New referrals <span class="count">33</span>' in first
    assert "Page 1 of 2" in first and "1–24 of 33" in first and 'rel="next"' in first
    assert "Page 2 of 2" in second and "25–33 of 33" in second and 'rel="prev"' in second
    listed = cards(first) + cards(second)
    assert len(set(listed)) == len(listed) == 33 and set(crowded) <= set(listed)  # each once
    assert listed[:24] == crowded[::-1][:24]  # the latest change first
    for move in ("contacted", "meeting", "won", "lost"):
        assert second.count(f'name="status" value="{move}"') == 9
    assert second.count('name="back" value="/admin/referrals/status/new?page=2"') == 9
    beyond = await loop.client.get("/admin/referrals/status/new?page=99")  # clamps to the last
    assert beyond.status_code == 200 and cards(beyond.text) == cards(second)
    assert cards((await loop.client.get("/admin/referrals/status/new?page=0")).text) == cards(first)
    huge = await loop.client.get("/admin/referrals/status/new?page=" + "9" * 25)  # no offset holds
    assert huge.status_code == 200 and cards(huge.text) == cards(second)

    moved = cards(second)[0]
    done = await loop.client.post(
        f"/admin/referrals/{moved}/status",
        data={"csrf": field(second, "csrf"), "back": field(second, "back"), "status": "contacted"},
    )
    assert done.headers["location"] == "/admin/referrals/status/new?page=2&done=contacted"
    after = (await loop.client.get(done.headers["location"])).text
    assert "Referral marked contacted" in after and moved not in cards(after)
    assert 'New referrals <span class="count">32</span>' in after
    contacted = (await loop.client.get("/admin/referrals/status/contacted")).text
    assert cards(contacted) == [moved] and "Page 1 of" not in contacted
    assert "moved to contacted by" in contacted
    empty = (await loop.client.get("/admin/referrals/status/won")).text
    assert "No referral is won now." in empty

    wrong = await loop.client.get("/admin/referrals/status/pending")
    assert wrong.status_code == 404
    assert "There is no referral status “pending”" in html.unescape(wrong.text)
    assert "new, contacted, meeting, won or lost" in wrong.text


async def test_moving_a_referral_on_tells_the_advocate(loop: Loop) -> None:
    seeded = await seed(loop.services, loop.client)
    await loop.run()
    loop.new_mail()
    await login(loop.client)
    first = seeded.referrals[0]
    path = f"/admin/referrals/{first}/status"
    assert (await loop.client.post(path, data={"status": "won"})).status_code == 403
    contacted = await loop.client.post(
        path,
        data={"csrf": await csrf(loop.client), "status": "contacted", "note": "Lovely chat."},
    )
    assert contacted.status_code == 303
    await loop.run()
    (update,) = loop.new_mail()
    assert update["To"].addresses[0].addr_spec == "olivia.bennett@example.com"
    assert "Lovely chat." in text_of(update)
    asked = {"csrf": await csrf(loop.client), "status": "won", "value": "12,500"}
    sure = await loop.client.post(path, data=asked)
    assert sure.status_code == 200 and "as won?" in sure.text
    assert 'name="confirmed" value="yes"' in sure.text and 'value="12,500"' in sure.text
    await loop.run()
    assert loop.new_mail() == []  # nothing moved before the owner said yes
    won = await loop.client.post(path, data={**asked, "confirmed": "yes"})
    assert won.headers["location"] == "/admin?done=won"
    await loop.run()
    (reward,) = loop.new_mail()
    assert reward["To"].addresses[0].addr_spec == "olivia.bennett@example.com"
    assert re.search(r"THANKS-[A-Z0-9-]+", text_of(reward))
    referral = await loop.services.store.referral(first)
    assert referral is not None and (referral.status, referral.value) == ("won", 12500.0)
    backwards = await loop.client.post(
        path, data={"csrf": await csrf(loop.client), "status": "contacted"}
    )
    assert backwards.status_code == 409 and "it cannot become contacted" in backwards.text
    bad_value = await loop.client.post(
        f"/admin/referrals/{seeded.referrals[1]}/status",
        data={"csrf": await csrf(loop.client), "status": "won", "value": "lots"},
    )
    # refused before the "are you sure?" page
    assert bad_value.status_code == 400 and "must be a number" in bad_value.text


async def test_retry_requeues_a_failed_email_and_it_goes_out(
    dashboard_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = dashboard_config({"sender": {"max_attempts": 1}})
    async with running(config, smtp_server, store_url) as loop:
        smtp_server.handler.fail_rcpt("451 4.3.0 mailbox busy, try later", times=1)
        body = {"customer": {"email": "kim@example.com"}, "survey": "post_purchase", "score": 1}
        assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).is_success
        await loop.run()
        (failed,) = await loop.services.store.failed_emails(10)
        await login(loop.client)
        page = (await loop.client.get("/admin/sending")).text
        assert "451 4.3.0 mailbox busy" in page
        retried = await loop.client.post(
            f"/admin/outbox/{failed.id}/retry", data={"csrf": await csrf(loop.client)}
        )
        assert retried.status_code == 303
        assert (await loop.services.store.outbox_row(failed.id)).state == "queued"  # type: ignore[union-attr]
        before = len(loop.mail())
        await loop.run()
        assert len(loop.mail()) == before + 1
        assert (await loop.services.store.outbox_row(failed.id)).state == "sent"  # type: ignore[union-attr]
        again = await loop.client.post(
            f"/admin/outbox/{failed.id}/retry", data={"csrf": await csrf(loop.client)}
        )
        assert again.status_code == 409


async def test_a_suppressed_address_is_not_retried(
    dashboard_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    async with running(dashboard_config(), smtp_server, store_url) as loop:
        smtp_server.handler.fail_rcpt("550 5.1.1 no such user", times=None)
        body = {"customer": {"email": "gone@example.com"}, "survey": "post_purchase", "score": 2}
        assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).is_success
        await loop.run()
        failed = await loop.services.store.failed_emails(10)
        (row,) = [f for f in failed if f.recipient == "gone@example.com"]
        await login(loop.client)
        answer = await loop.client.post(
            f"/admin/outbox/{row.id}/retry", data={"csrf": await csrf(loop.client)}
        )
        assert answer.status_code == 409 and "suppression list" in answer.text
        assert (await loop.services.store.outbox_row(row.id)).state == "failed"  # type: ignore[union-attr]


# customers, emails, templates -------------------------------------------------------------------


async def test_customer_page_tells_the_whole_story_by_public_id(loop: Loop) -> None:
    seeded = await seed(loop.services, loop.client)
    await loop.run()
    store = loop.services.store
    advocate = await store.customer_by_email("olivia.bennett@example.com")
    assert advocate is not None
    await login(loop.client)
    page = (await loop.client.get(f"/admin/customers/{advocate.public_id}")).text
    for expected in (
        "Purchase completed",
        "Answered 10 (promoter) to “post purchase”",
        "Could not be happier.",
        "Introduced Daniel Price (grade B)",
        "Thank-you for an introduction sent",
    ):
        assert expected in page, expected
    assert seeded.referrals[0] in page
    by_row = await loop.client.get(f"/admin/customers/{advocate.id}")
    assert by_row.status_code == 404


async def test_a_sent_email_is_shown_as_sent_html_in_a_sandbox(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    await loop.run()
    advocate = await loop.services.store.customer_by_email("olivia.bennett@example.com")
    assert advocate is not None
    await login(loop.client)
    timeline = (await loop.client.get(f"/admin/customers/{advocate.public_id}")).text
    email_path = re.findall(r'href="(/admin/emails/\d+)"', timeline)[0]
    page = await loop.client.get(email_path)
    assert page.status_code == 200
    stored = await loop.services.store.stored_email(int(email_path.rsplit("/", 1)[1]))
    assert stored is not None
    message_id = parse(stored.message)["Message-ID"]
    (sent,) = [
        m.message() for m in loop.smtp.handler.messages if m.message()["Message-ID"] == message_id
    ]
    assert html.escape(str(sent["Subject"]), quote=False) in page.text
    assert html.escape(text_of(sent), quote=False) in page.text  # the text part, as it was sent
    assert f'<iframe class="preview" sandbox src="{email_path}/html"' in page.text
    frame = await loop.client.get(f"{email_path}/html")
    assert frame.status_code == 200
    assert "default-src 'none'" in frame.headers["content-security-policy"]
    assert "script" not in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert "Olivia" in frame.text


async def test_search_by_email(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    await login(loop.client)
    exact = await loop.client.get("/admin/customers", params={"email": "Ruby@Example.com"})
    ruby = await loop.services.store.customer_by_email("ruby@example.com")
    assert ruby is not None
    assert exact.status_code == 303
    assert exact.headers["location"] == f"/admin/customers/{ruby.public_id}"
    some = await loop.client.get("/admin/customers", params={"email": "example.com"})
    assert some.status_code == 200 and "Olivia Bennett" in some.text and "Ruby Stone" in some.text
    none = await loop.client.get("/admin/customers", params={"email": "100%_nobody"})
    assert "No customer" in none.text


async def test_templates_page_previews_every_kind_and_each_segment_page(loop: Loop) -> None:
    await login(loop.client)
    page = await loop.client.get("/admin/templates")
    assert page.status_code == 200
    for kind in KINDS:
        assert f'id="{kind}"' in page.text
        frame = await loop.client.get(f"/admin/templates/{kind}/html")
        assert frame.status_code == 200 and "<html" in frame.text.lower(), kind
        assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    survey = loop.services.config.surveys["post_purchase"]
    for segment in ("promoter", "passive", "detractor"):
        shown = await loop.client.get(f"/admin/templates/pages/post_purchase/{segment}/survey")
        assert getattr(survey.follow_up, segment) in shown.text.replace("&#39;", "'")
        thanks = await loop.client.get(f"/admin/templates/pages/post_purchase/{segment}/thanks")
        assert thanks.status_code == 200 and "Thank" in thanks.text
    with_locale = await loop.client.get("/admin/templates", params={"locale": "fr"})
    assert with_locale.status_code == 200 and "?locale=fr" in with_locale.text
    assert "Une petite question de" in with_locale.text  # the French survey's subject
    french = await loop.client.get(
        "/admin/templates/pages/post_purchase/promoter/thanks", params={"locale": "fr"}
    )
    assert french.status_code == 200 and "Merci" in french.text
    bad = await loop.client.get("/admin/templates", params={"locale": "<x>"})
    assert bad.status_code == 400 and "&lt;x&gt;" in bad.text
    missing = await loop.client.get("/admin/templates/pages/nope/promoter/survey")
    assert missing.status_code == 404


# partners ---------------------------------------------------------------------------------------

PARTNER = {
    "name": "Harbor Physio",
    "contact": "Dana Lee",
    "email": "Dana@Physio.example",
    "trade": "physiotherapy",
    "wants": "people recovering from an injury",
}
BALANCE = ("received", "received-won", "given", "given-won", "balance")


async def partners_report(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> dict[str, Any]:
    """`vouch report partners --format json`, as the owner would type it."""
    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)
    args = ["report", "partners", "--format", "json", "--config", str(loop.services.config.path)]
    assert await asyncio.to_thread(main, args) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def partner_row(page: str, partner_id: str) -> tuple[str, dict[str, int]]:
    """A partner's row of the list, and its balance figures by column."""
    row = page.split(f'<tr id="{partner_id}">')[1].split("</tr>")[0]
    figures = {c: int(re.findall(rf'<td class="num {c}">([+-]?\d+)</td>', row)[0]) for c in BALANCE}
    return row, figures


def field_errors(page: str) -> dict[str, str]:
    return {
        name: html.unescape(text)
        for name, text in re.findall(r'<p class="field-error" id="e-(\w+)">([^<]*)</p>', page)
    }


async def test_adding_a_partner_through_the_form_lists_it_as_the_report_does(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = loop.services.store
    await login(loop.client)
    empty = await loop.client.get("/admin/partners")
    assert empty.status_code == 200 and "No partners yet" in empty.text
    token = field(empty.text, "csrf")
    forged = await loop.client.post("/admin/partners", data=PARTNER)
    assert forged.status_code == 403 and await store.partners() == []
    bad = await loop.client.post(
        "/admin/partners",
        data={**PARTNER, "csrf": token, "email": "dana at physio", "trade": "  "},
    )
    assert bad.status_code == 400 and "The partner was not added" in bad.text
    errors = field_errors(bad.text)
    assert errors == {"email": "An email address must have an @-sign.", "trade": "required"}
    assert 'value="Harbor Physio"' in bad.text and 'value="dana at physio"' in bad.text  # kept
    assert await store.partners() == []
    added = await loop.client.post(
        "/admin/partners", data={**PARTNER, "csrf": token, "reward": "yes"}
    )
    assert added.status_code == 303 and added.headers["location"] == "/admin/partners?done=added"
    (partner,) = await store.partners()
    assert (partner.name, partner.contact, partner.email, partner.reward) == (
        "Harbor Physio",
        "Dana Lee",
        "dana@physio.example",
        True,
    )
    page = (await loop.client.get(added.headers["location"])).text
    assert "Partner added" in page
    row, figures = partner_row(page, partner.public_id)
    for shown in (
        f'<a href="/admin/partners/{partner.public_id}">Harbor Physio</a>',
        "Dana Lee",
        "dana@physio.example",
        "physiotherapy",
        "people recovering from an injury",
        f"http://vouch.test/r/{partner.code}",
    ):
        assert shown in row, shown
    assert figures == dict.fromkeys(BALANCE, 0)
    report = await partners_report(loop, monkeypatch, capsys)
    assert report["partners"] == [
        {
            "id": partner.public_id,
            "partner": "Harbor Physio",
            "contact": "Dana Lee",
            "email": "dana@physio.example",
            "received": 0,
            "received_won": 0,
            "value_won": 0.0,
            "given": 0,
            "given_won": 0,
            "balance": 0,
        }
    ]
    twice = await loop.client.post(
        "/admin/partners",
        data={
            **PARTNER,
            "name": "Harbour Physio Ltd",
            "email": "dana@physio.example",
            "csrf": token,
        },
    )
    assert twice.status_code == 409
    assert "already a partner: Harbor Physio" in field_errors(twice.text)["email"]
    assert len(await store.partners()) == 1


async def test_a_client_given_and_its_outcome_change_the_balance(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = loop.services.store
    await login(loop.client)
    token = await csrf(loop.client, "/admin/partners")
    await loop.client.post("/admin/partners", data={**PARTNER, "csrf": token})
    (partner,) = await store.partners()
    sent = await loop.client.post(  # a client the partner sent us, recorded through the API
        f"/v1/partners/{partner.public_id}/received",
        json={"client_name": "Eve Moss", "client_email": "eve@example.net"},
        headers=AUTH,
    )
    assert sent.status_code == 201
    path = f"/admin/partners/{partner.public_id}"
    page = (await loop.client.get(path)).text
    assert "Eve Moss" in page.split('id="received"')[1]
    give = f"{path}/given"
    assert (await loop.client.post(give, data={"client": "Fay"})).status_code == 403
    bad = await loop.client.post(give, data={"csrf": token, "client": "Fay <fay@@example>"})
    assert bad.status_code == 400 and "Nothing was recorded" in bad.text
    assert "'fay@@example' is not an email address" in field_errors(bad.text)["client"]
    assert 'value="Fay &lt;fay@@example&gt;"' in bad.text
    nobody = await loop.client.post(give, data={"csrf": token, "client": " ", "note": "knee"})
    assert nobody.status_code == 400
    assert field_errors(nobody.text) == {"client": "give the client's name, email address or both"}
    assert await store.given_to(partner.id) == []
    fay = await loop.client.post(
        give,
        data={"csrf": token, "client": "Fay Lin <Fay@Example.net>", "note": "Knee rehab"},
    )
    assert fay.status_code == 303 and fay.headers["location"] == f"{path}?done=given"
    assert (
        await loop.client.post(give, data={"csrf": token, "client": "gus@example.net"})
    ).is_redirect
    given_fay, given_gus = await store.given_to(partner.id)
    assert (given_fay.client_name, given_fay.client_email, given_fay.note) == (
        "Fay Lin",
        "Fay@example.net",  # as `vouch partner gave` takes it: the domain in lower case
        "Knee rehab",
    )
    listed = (await loop.client.get("/admin/partners")).text
    assert partner_row(listed, partner.public_id)[1] == {
        "received": 1,
        "received-won": 0,
        "given": 2,
        "given-won": 0,
        "balance": -1,
    }
    outcome = f"{give}/{given_fay.public_id}/outcome"
    assert (await loop.client.post(outcome, data={"status": "won"})).status_code == 403
    won = await loop.client.post(outcome, data={"csrf": token, "status": "won", "value": "1,200"})
    assert won.status_code == 303 and won.headers["location"] == f"{path}?done=won"
    closed = await store.given_referral(given_fay.public_id)
    assert closed is not None and (closed.status, closed.value) == ("won", 1200.0)
    shown = (await loop.client.get(won.headers["location"])).text
    assert "Marked won." in shown and f"{given_fay.public_id} · given" in shown
    flip = await loop.client.post(outcome, data={"csrf": token, "status": "lost"})
    assert flip.status_code == 409 and "it cannot become lost" in flip.text
    bad_value = await loop.client.post(
        f"{give}/{given_gus.public_id}/outcome",
        data={"csrf": token, "status": "lost", "value": "lots"},
    )
    assert bad_value.status_code == 400 and "must be a number" in bad_value.text
    unknown = await loop.client.post(f"{give}/g_nothing/outcome", data={"csrf": token})
    assert unknown.status_code == 404
    assert (await store.given_referral(given_gus.public_id)).status == "given"  # type: ignore[union-attr]
    listed = (await loop.client.get("/admin/partners")).text
    figures = partner_row(listed, partner.public_id)[1]
    assert figures == {
        "received": 1,
        "received-won": 0,
        "given": 2,
        "given-won": 1,
        "balance": -1,
    }
    (reported,) = (await partners_report(loop, monkeypatch, capsys))["partners"]
    assert {c: reported[c.replace("-", "_")] for c in BALANCE} == figures
    assert (await loop.client.get("/admin/partners/p_nobody")).status_code == 404


# life cycle -------------------------------------------------------------------------------------


async def test_life_cycle_on_the_dashboard_matches_the_seeded_history(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    for id_, type_, email, when in (
        ("lead-nina", "lead.created", "nina@example.com", "2026-02-03T10:00:00Z"),
        ("news-nina", "newsletter.subscribed", "nina@example.com", "2026-02-05T10:00:00Z"),
        ("consult-omar", "consultation.booked", "omar@example.com", "2025-11-15T10:00:00Z"),
        ("trial-pia", "trial.started", "pia@example.com", "2026-02-20T10:00:00Z"),
    ):
        body = {"id": id_, "type": type_, "occurred_at": when, "customer": {"email": email}}
        assert (await loop.client.post("/v1/events", json=body, headers=AUTH)).status_code == 202
    answer = {"customer": {"email": "quinn@example.com"}, "survey": "post_purchase", "score": 8}
    assert (await loop.client.post("/v1/responses", json=answer, headers=AUTH)).is_success
    await loop.run()
    await login(loop.client)
    page = (await loop.client.get("/admin/reports")).text
    # By hand: of the 25 who answered, 24 bought once (Buy) and Olivia twice, then introduced
    # three friends (Refer); Ruby bought (Buy); the two friends who expect contact know us;
    # Nina likes, Omar trusts, Pia tries; Quinn only answered a survey (no stage).
    now = {"know": 2, "like": 1, "trust": 1, "try": 1, "buy": 25, "repeat": 0, "refer": 1}
    for stage, n in now.items():
        assert f"<title>{stage.capitalize()}: {n} customer{'' if n == 1 else 's'}</title>" in page
    assert "1 customer with no stage yet" in page
    # Purchases are put 40 days before each answer: 10 Oct answers bought on 31 Aug, 10 Nov on
    # 1 Oct, 10 Dec on 31 Oct, 10 Jan on 1 Dec, 10 Feb on 1 Jan, 1 Mar on 20 Jan; Olivia's
    # second purchase (before her 20 Feb answer) on 11 Jan.
    moved = {
        "2025-08": {"buy": 4},
        "2025-10": {"buy": 5 + 3},
        "2025-11": {"trust": 1},
        "2025-12": {"buy": 5},
        "2026-01": {"buy": 6 + 3, "repeat": 1},
        "2026-02": {"know": 1, "like": 1, "try": 1},
        "2026-03": {"know": 2, "refer": 1},
    }
    rows = re.findall(r'<tr id="moves-(\d{4}-\d{2})">(.*?)</tr>', page)
    assert [month for month, _ in rows][::11] == ["2026-03", "2025-04"]  # 12 months, newest first
    assert len(rows) == 12
    for month, cells in rows:
        expected = [moved.get(month, {}).get(stage, 0) for stage in NAMES]
        figures = [int(n) for n in re.findall(r'<td class="num[^"]*">(\d+)</td>', cells)]
        assert figures == [*expected, sum(expected)], month
    report = (await loop.client.get("/v1/reports/stages", headers=AUTH)).json()
    assert report["now"] == now and report["unstaged"] == 1


async def test_the_customer_page_shows_the_road(loop: Loop) -> None:
    await seed(loop.services, loop.client)
    await loop.run()
    store = loop.services.store
    await login(loop.client)
    olivia = await store.customer_by_email("olivia.bennett@example.com")
    assert olivia is not None
    page = (await loop.client.get(f"/admin/customers/{olivia.public_id}")).text
    road = page.split('id="road"')[1].split("</section>")[0]
    assert "Life cycle: stands at Refer" in road
    steps = re.findall(r'<li class="([a-z ]+)">\s*<strong>(\w+)</strong>\s*(.*?)</li>', road, re.S)
    assert [(cls, stage) for cls, stage, _ in steps] == [
        ("ahead", "Know"),
        ("ahead", "Like"),
        ("ahead", "Trust"),
        ("ahead", "Try"),
        ("reached", "Buy"),
        ("reached", "Repeat"),
        ("reached now", "Refer"),
    ]
    said = {stage: re.sub(r"<[^>]+>", "", text).strip() for _, stage, text in steps}
    # in London time: BST in August, GMT in January and March
    assert said["Buy"] == "31 Aug 2025, 11:00 · purchase completed"
    assert said["Repeat"] == "11 Jan 2026, 10:00 · purchase completed"
    assert said["Refer"] == "2 Mar 2026, 09:00 · introduced a friend"
    friend = await store.customer_by_email(FRIENDS[0][1])
    assert friend is not None
    shown = (await loop.client.get(f"/admin/customers/{friend.public_id}")).text
    assert "Life cycle: stands at Know" in shown and "a friend introduced them" in shown
    stranger = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": "quinn@example.com"}, "survey": "post_purchase", "score": 8},
        headers=AUTH,
    )
    assert stranger.is_success
    quinn = await store.customer_by_email("quinn@example.com")
    assert quinn is not None
    unplaced = (await loop.client.get(f"/admin/customers/{quinn.public_id}")).text
    assert "Life cycle: no stage yet" in unplaced and 'class="reached' not in unplaced


# offers and advocates ---------------------------------------------------------------------------


async def test_the_advocates_page_shows_the_offer_test_and_influence(
    dashboard_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    from test_offers import CHARITY, OLD, VOUCHER
    from test_offers import seed as seed_offers

    offers = [VOUCHER, CHARITY, dict(OLD, retired=True)]
    async with running(
        dashboard_config({"referrals": {"offers": offers}}), smtp_server, store_url
    ) as loop:
        await seed_offers(loop)
        await login(loop.client)
        answer = await loop.client.get("/admin/advocates")
    assert answer.status_code == 200
    page = html.unescape(answer.text)

    def row(offer: str) -> str:
        found = page.split(f'<tr id="offer-{offer}">')[1].split("</tr>")[0]
        return " ".join(re.sub(r"<[^>]+>", " ", found).split())

    # the figures test_offers worked by hand: 30 of 200 against 45 of 200
    assert row("voucher50").startswith("voucher50 control")
    assert "200 30 30 3 15.0% 10.7% to 20.6% —" in row("voucher50")
    assert "200 45 50 5 22.5% 17.3% to 28.8% +7.5 pts (-0.2 pts to +15.1 pts)" in row("charity")
    assert row("charity").endswith("not significant (p = 0.0547)")
    assert "old10 retired" in row("old10") and "too few to tell" in row("old10")
    # influence by hand: charity's first five advocates each made two referrals (+2), one a
    # grade A introduction (+2) that was won (+3): 7, ahead of the control's first (A, won: 6)
    ranked = re.findall(
        r'<td class="num">(\d+)</td>\s*<td><a href="[^"]+">([^<]+)</a></td>\s*'
        r'<td class="num influence">([\d.]+)</td>\s*<td class="why">([^<]*)</td>',
        page,
    )
    assert ranked[:6] == [
        *(
            (
                str(n),
                f"a{200 + n}@example.com",
                "7",
                "2 referrals +2; 1 grade A introduction +2; 1 win +3",
            )
            for n in range(1, 6)
        ),
        ("6", "a1@example.com", "6", "1 referral +1; 1 grade A introduction +2; 1 win +3"),
    ]
    assert len(ranked) == 20 and "(the first 20 of " in page
