"""The owner's dashboard over HTTP: the real app, store, templates and SMTP server, a fake clock.

Login (password, rate limit, session expiry), CSRF on every change, and that each button does
what it says: resolve a complaint, move a referral on (the advocate's email arrives), retry a
failed email (it goes out).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from loop import Loop, parse, running, smtp_changes, text_of

from daemon.config import Config, load_config
from daemon.engine.segments import Nps
from daemon.errors import ConfigError
from daemon.render import KINDS
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
async def loop(
    dashboard_config: Callable[..., Config], smtp_server: SmtpServer
) -> AsyncIterator[Loop]:
    async with running(dashboard_config(), smtp_server) as loop:
        yield loop


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
        for method in route.methods
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


async def test_without_a_password_the_dashboard_is_off(
    dashboard_config: Callable[..., Config], smtp_server: SmtpServer
) -> None:
    config = dashboard_config(env={PASSWORD_ENV: ""})
    async with running(config, smtp_server) as loop:
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
    for name, *_ in FRIENDS:
        assert name in page
    assert "Olivia Bennett" in page.split('id="champions"')[1]
    skipped = page.split('id="skipped"')[1]
    assert "a complaint is open: no asks until the owner resolves it" in skipped
    assert "only promoters are asked" in skipped


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
    assert "Complaint resolved" in page and DETRACTOR[3] not in page.split('id="referrals"')[0]
    timeline = (await loop.client.get(f"/admin/customers/{customer.public_id}")).text
    assert f"complaint {complaint.id} resolved" in timeline and "Replaced the tiles" in timeline
    again = await loop.client.post(path, data={"csrf": await csrf(loop.client)})
    assert again.status_code == 409 and f"no open complaint {complaint.id}" in again.text


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
    won = await loop.client.post(
        path, data={"csrf": await csrf(loop.client), "status": "won", "value": "12,500"}
    )
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
    assert bad_value.status_code == 400 and "must be a number" in bad_value.text


async def test_retry_requeues_a_failed_email_and_it_goes_out(
    dashboard_config: Callable[..., Config], smtp_server: SmtpServer
) -> None:
    config = dashboard_config({"sender": {"max_attempts": 1}})
    async with running(config, smtp_server) as loop:
        smtp_server.handler.fail_rcpt("451 4.3.0 mailbox busy, try later", times=1)
        body = {"customer": {"email": "kim@example.com"}, "survey": "post_purchase", "score": 1}
        assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).is_success
        await loop.run()
        (failed,) = await loop.services.store.failed_emails(10)
        await login(loop.client)
        page = (await loop.client.get("/admin")).text
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
    dashboard_config: Callable[..., Config], smtp_server: SmtpServer
) -> None:
    async with running(dashboard_config(), smtp_server) as loop:
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
        "event purchase.completed",
        "answered 10 (promoter) to post_purchase",
        "Could not be happier.",
        "introduced Daniel Price (grade B",
        "email advocate_thanks sent",
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
