"""Owner emails lead to the dashboard: the detractor alert, the new referral and the digest's
items each link to the item's own page (public ids only, no secret), a logged-out owner goes
through the login and lands there, and the item's action works from it (CSRF as everywhere).
The login's `next` takes only a path inside /admin: never an open redirect."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from loop import AUTH, Loop, html_of, path_of, smtp_changes, text_of

from daemon.config import Config, load_config
from daemon.engine.grades import Introduction
from daemon.referrals import follow_up

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer

OWNER = "owner@harborlane.example"


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    changes = merge(
        merge(smtp_changes(smtp_server), CONFIG_CHANGES),
        {"digest": {"every": "daily", "at": "08:00"}, "referrals": {"reward": {"approval": True}}},
    )
    path = write_business(tmp_path / "biz", changes)
    return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)


def owner_mail(loop: Loop, subject: str) -> EmailMessage:
    (found,) = [
        m
        for m in loop.mail()
        if m["To"].addresses[0].addr_spec == OWNER and str(m["Subject"]).startswith(subject)
    ]
    return found


def links(loop: Loop, message: EmailMessage, kind: str) -> list[str]:
    """The dashboard links of `kind` ("customers", "referrals") in the text part, checked to be
    in the HTML part too."""
    base = re.escape(loop.services.url("/admin"))
    found = re.findall(rf"{base}/{kind}/[A-Za-z0-9_-]+", text_of(message))
    for link in found:
        assert f'href="{link}"' in html_of(message)
    return found


async def answer(loop: Loop, email: str, score: int, name: str) -> None:
    when = datetime(2026, 2, 23, 10, tzinfo=UTC).isoformat()
    await loop.event("purchase.completed", email, when, name=name)
    body: dict[str, Any] = {"customer": {"email": email}, "survey": "post_purchase", "score": score}
    reply = await loop.client.post("/v1/responses", json=body, headers=AUTH)
    assert reply.status_code == 202, reply.text


async def refer(loop: Loop, advocate_email: str, friend: str) -> str:
    services = loop.services
    customer = await services.store.customer_by_email(advocate_email)
    assert customer is not None
    advocate = await services.store.ensure_advocate(customer.id, loop.clock.now())
    intro = Introduction(
        friend_name=friend,
        friend_email=f"{friend.split()[0].lower()}@example.net",
        friend_phone=None,
        need="A new deck",
        timing="this summer",
        relationship="neighbour",
        expects_contact=True,
        advocate_introduces=False,
        public_thanks_ok=False,
    )
    return (await follow_up.introduce(services, advocate, intro, "introduce")).public_id


async def follow(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """Follow an email's link logged out: to the login, log in there, and land on the item."""
    path = path_of(link)
    first = await client.get(path)
    assert first.status_code == 303
    assert first.headers["location"] == f"/admin/login?next={path}"
    form = await client.get(first.headers["location"])
    assert field(form.text, "next") == path
    logged_in = await client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": path, "password": PASSWORD},
    )
    assert logged_in.status_code == 303
    assert logged_in.headers["location"] == path
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return page


async def test_the_alert_links_to_the_customer_page_with_its_resolve_button(loop: Loop) -> None:
    await answer(loop, "cy@example.com", 3, "Cy Dour")
    await loop.run()
    alert = owner_mail(loop, "Unhappy customer")
    cy = await loop.services.store.customer_by_email("cy@example.com")
    assert cy is not None
    (link,) = links(loop, alert, "customers")
    assert link == loop.services.url(f"/admin/customers/{cy.public_id}")  # its public id
    text = text_of(alert)
    assert text.index(link) < text.index("vouch resolve")  # the link first, the CLI second

    page = await follow(loop.client, link)
    resolve = re.search(r'action="(/admin/complaints/\d+/resolve)"', page.text)
    assert resolve is not None and ">Resolve</button>" in page.text
    refused = await loop.client.post(resolve.group(1), data={"back": path_of(link)})
    assert refused.status_code == 403  # no CSRF token: nothing changed
    assert await loop.services.store.open_complaints(cy.id) == 1
    done = await loop.client.post(
        resolve.group(1), data={"csrf": field(page.text, "csrf"), "back": path_of(link)}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{path_of(link)}?done=resolved"
    assert await loop.services.store.open_complaints(cy.id) == 0


async def test_the_referral_and_digest_link_to_the_referral_page_and_its_actions(
    loop: Loop,
) -> None:
    await answer(loop, "ann@example.com", 10, "Ann Example")
    await answer(loop, "cy@example.com", 3, "Cy Dour")
    eve = await refer(loop, "ann@example.com", "Eve Friend")
    await loop.run()
    told = owner_mail(loop, "New referral")
    (link,) = links(loop, told, "referrals")
    assert link == loop.services.url(f"/admin/referrals/{eve}")
    text = text_of(told)
    assert text.index(link) < text.index(f"vouch referral {eve} contacted")

    page = await follow(loop.client, link)
    assert "Eve Friend" in page.text and "Ann Example" in page.text
    for status in ("contacted", "meeting", "won", "lost"):
        assert f'name="status" value="{status}"' in page.text
    csrf = field(page.text, "csrf")
    asked = {"csrf": csrf, "status": "won", "value": "5000", "back": path_of(link)}
    sure = await loop.client.post(f"/admin/referrals/{eve}/status", data=asked)
    assert sure.status_code == 200 and "as won?" in sure.text  # asked first, nothing moved
    won = await loop.client.post(
        f"/admin/referrals/{eve}/status", data={**asked, "confirmed": "yes"}
    )
    assert won.status_code == 303 and won.headers["location"] == f"{path_of(link)}?done=won"
    page = await loop.client.get(won.headers["location"])
    assert "Referral won." in page.text and "waiting for your approval" in page.text
    assert "£5,000.00" in page.text  # the value won, in the business's currency
    assert f'action="/admin/referrals/{eve}/reward/approve"' in page.text

    # the day's digest: the complaint, the referral and the reward waiting, each linked
    await loop.travel(datetime(2026, 3, 3, 8, 30, tzinfo=UTC) - loop.clock.now())
    digest = owner_mail(loop, "Your daily Vouch digest")
    cy = await loop.services.store.customer_by_email("cy@example.com")
    assert cy is not None
    assert links(loop, digest, "customers") == [
        loop.services.url(f"/admin/customers/{cy.public_id}")
    ]
    assert links(loop, digest, "referrals") == [link, link]  # new in the period; its reward

    # the session has ended overnight: the reward's link goes through the login again to its
    # Approve (`vouch reward approve`'s store call), with the session's CSRF token, recorded
    page = await follow(loop.client, link)
    csrf = field(page.text, "csrf")
    approve = f"/admin/referrals/{eve}/reward/approve"
    assert (await loop.client.post(approve, data={"back": path_of(link)})).status_code == 403
    done = await loop.client.post(approve, data={"csrf": csrf, "back": path_of(link)})
    assert done.status_code == 303
    page = await loop.client.get(done.headers["location"])
    assert "Reward approved" in page.text and "approved the reward by" in page.text
    assert f'action="{approve}"' not in page.text  # nothing waits any more
    again = await loop.client.post(approve, data={"csrf": csrf, "back": path_of(link)})
    assert again.status_code == 409


async def test_a_missing_referral_is_a_404(loop: Loop) -> None:
    await follow_login(loop.client)
    assert (await loop.client.get("/admin/referrals/r_nothing")).status_code == 404


async def follow_login(client: httpx.AsyncClient) -> None:
    form = await client.get("/admin/login")
    answer = await client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": "/admin", "password": PASSWORD},
    )
    assert answer.status_code == 303


EVIL = [
    "https://evil.example",
    "//evil.example",
    "/\\evil",
    "/\\\\evil.example",
    "/other",
    "/adminx",
    "/admin/../x",
    "/admin\n",
    "/admin/customers?x=//evil.example",
    "/admin/referrals/status/new?page=2&x=//evil.example",  # a list's page, and no more
    "/admin?page=2\n",
    "/admin?page=2?page=3",
    "",
]


@pytest.mark.parametrize("where", EVIL)
async def test_the_login_next_is_only_a_path_inside_the_dashboard(loop: Loop, where: str) -> None:
    form = await loop.client.get("/admin/login", params={"next": where})
    assert form.status_code == 200
    assert field(form.text, "next") == "/admin"
    answer = await loop.client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": where, "password": PASSWORD},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/admin"
