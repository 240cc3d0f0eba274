"""The Upcoming page over HTTP through the real app, store, scheduler and templates: what is
planned (surveys, reminders, asks, queued emails), soonest first, to whom and why; and the
decisions not to send with their reasons; each a page at a time."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import Loop, smtp_changes
from test_dashboard import login
from test_store_concerns import AT, customer_id, execute

from daemon.config import Config, load_config
from daemon.mail.compose import build_email, enqueue
from daemon.web import admin_upcoming

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    return load_config(
        write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )


def rows(page: str) -> list[str]:
    """The table's rows as text, one string a row."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    found = re.findall(r"<tr>(.*?)</tr>", body, re.S)
    cells = [re.findall(r"<td>(.*?)</td>", r, re.S) for r in found]
    return [" | ".join(re.sub(r"<[^>]+>", "", c).strip() for c in row) for row in cells]


def at(loop: Loop, hours: float) -> str:
    return (loop.clock.now() - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_planned_and_not_sent_in_words(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", at(loop, 2), name="Ann Able")
    await loop.event("purchase.completed", "bo@example.com", at(loop, 1), name="Bo Bell")
    await loop.event(
        "purchase.completed", "ann@example.com", at(loop, 0.5), id="again", name="Ann Able"
    )
    await loop.run()
    await login(loop.client)
    page = await loop.client.get("/admin/upcoming")
    assert page.status_code == 200
    survey = "Survey “post purchase” | after purchase completed"
    assert rows(page.text) == [
        f"5 Mar 2026, 09:00 | Ann Able | {survey}",
        f"5 Mar 2026, 09:00 | Bo Bell | {survey}",
    ]
    assert 'role="region" tabindex="0" aria-label="Planned, 1 to 2 of 2"' in page.text
    assert 'aria-current="page">Planned' in page.text
    skipped = await loop.client.get("/admin/upcoming/not-sent")
    assert rows(skipped.text) == [
        "2 Mar 2026, 09:00 | Ann Able | Survey “post purchase” not sent | throttled: surveyed "
        "on 2026-03-05, and no customer gets a second survey within 90 days"
    ]

    await loop.services.store.suppress("bo@example.com", "unsubscribed", loop.clock.now())
    await loop.travel(timedelta(days=3, hours=2))  # Ann's survey goes; Bo's is held back
    await login(loop.client)  # the session has ended meanwhile
    page = await loop.client.get("/admin/upcoming")
    assert rows(page.text) == [
        "9 Mar 2026, 09:00 | Ann Able | Reminder of the survey “post purchase” | no answer yet"
    ]
    skipped = await loop.client.get("/admin/upcoming/not-sent")
    assert rows(skipped.text) == [  # the latest decision first: Bo's, when it fell due
        "5 Mar 2026, 09:00 | Bo Bell | Survey “post purchase” not sent | address is suppressed "
        "(unsubscribed)",
        "2 Mar 2026, 09:00 | Ann Able | Survey “post purchase” not sent | throttled: surveyed "
        "on 2026-03-05, and no customer gets a second survey within 90 days",
    ]


async def test_each_list_is_paged(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(admin_upcoming, "PER_PAGE", 2)
    for n in range(5):
        await loop.event("purchase.completed", f"c{n}@example.com", at(loop, 5 - n), name=f"C{n}")
    await loop.run()
    await login(loop.client)
    first = await loop.client.get("/admin/upcoming")
    assert "Page 1 of 3" in first.text and 'rel="next"' in first.text
    assert 'rel="prev"' not in first.text
    assert [r.split(" | ")[1] for r in rows(first.text)] == ["C0", "C1"]
    last = await loop.client.get("/admin/upcoming", params={"page": 9})  # past the end: the last
    assert "Page 3 of 3" in last.text and [r.split(" | ")[1] for r in rows(last.text)] == ["C4"]
    assert 'aria-label="Planned, 5 to 5 of 5"' in last.text
    none = await loop.client.get("/admin/upcoming/not-sent")
    assert "Nothing was held back." in none.text and "<table>" not in none.text


async def test_a_queued_email_and_one_to_a_suppressed_address(loop: Loop) -> None:
    """An email in the queue is planned, linked to itself; one for a suppressed address is
    never queued, and says why."""
    services = loop.services
    await services.store.suppress("gone@example.com", "bounced", loop.clock.now())
    for address in ("new@example.com", "gone@example.com"):
        email = build_email(
            services,
            kind="test",
            context={"recipient": address, "sent_at": loop.clock.now()},
            to_email=address,
            dedupe_key=f"test:{address}",
        )
        assert await enqueue(services, email) is not None
    await login(loop.client)
    page = await loop.client.get("/admin/upcoming")
    assert rows(page.text) == ["2 Mar 2026, 09:00 | new@example.com | Test email, in the queue | "]
    skipped = await loop.client.get("/admin/upcoming/not-sent")
    (line,) = rows(skipped.text)
    assert line.startswith("2 Mar 2026, 09:00 | gone@example.com | Test email not sent | ")
    assert "the address is on the suppression list" in line
    for answer in (page, skipped):
        link = re.search(r'href="(/admin/emails/\d+)"', answer.text)
        assert link is not None
        assert (await loop.client.get(link[1])).status_code == 200


async def test_the_lists_are_the_same_on_each_store(concerns: Any) -> None:
    """The store's two lists on SQLite and on PostgreSQL (one SQL, written once)."""
    ann = await customer_id(concerns, "ann@example.com")
    soon, later = AT + timedelta(days=1), AT + timedelta(days=2)
    await execute(
        concerns,
        "INSERT INTO invitations (public_id, customer_id, survey, event_id, state, reason, "
        "due_at, created_at) VALUES (?, ?, 'post_purchase', ?, ?, ?, ?, ?)",
        *("a" * 32, ann, "ev-ann@example.com", "scheduled", None, later, AT),
    )
    await execute(
        concerns,
        "INSERT INTO invitations (public_id, customer_id, survey, event_id, state, reason, "
        "due_at, created_at) VALUES (?, ?, 'post_purchase', ?, ?, ?, ?, ?)",
        *("b" * 32, ann, "ev-2", "skipped", "throttled", None, AT),
    )
    await execute(
        concerns,
        "INSERT INTO asks (customer_id, moment, source, state, reason, due_at, created_at) "
        "VALUES (?, 'project_completed', 'event:1', 'scheduled', NULL, ?, ?)",
        *(ann, soon, AT),
    )
    await execute(
        concerns,
        "INSERT INTO asks (customer_id, moment, source, state, reason, due_at, created_at) "
        "VALUES (?, 'testimonial', 'reply:1', 'skipped', 'complaint open', NULL, ?)",
        *(ann, AT + timedelta(hours=1)),
    )
    total, planned = await concerns.planned(10, 0)
    assert total == 2
    assert [(p.at, p.kind, p.what, p.why) for p in planned] == [
        (soon, "ask", "project_completed", None),
        (later, "survey", "post_purchase", "purchase.completed"),
    ]
    assert planned[0].customer is not None and planned[0].customer.name == "Ann"
    total, held = await concerns.not_sent(1, 0)  # a page of one: the latest decision
    assert total == 2
    assert [(h.at, h.kind, h.what, h.why) for h in held] == [
        (AT + timedelta(hours=1), "ask", "testimonial", "complaint open")
    ]
    assert [h.kind for h in (await concerns.not_sent(1, 1))[1]] == ["survey"]
