"""The NPS survey loop end to end: event → survey in the send window → one-click answer →
segment, alerts, unsubscribe, reminders; with a fake clock and a real SMTP server."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from loop import AUTH, Loop, html_of, path_of, score_links, text_of

from daemon.store import SQLiteStore

from helpers import query, stored_time

OWNER = "owner@harborlane.example"


async def invitations(loop: Loop) -> list[tuple[str, str | None, str | None]]:
    store = loop.services.store
    rows = query(store, "SELECT survey, state, reason FROM invitations ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def responses(loop: Loop) -> list[tuple[int, str, str | None, str]]:
    store = loop.services.store
    rows = query(store, "SELECT score, segment, comment, source FROM responses ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_purchase_to_promoter_answer(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z", timezone="Europe/London"
    )
    await loop.travel(timedelta(days=2, hours=23))
    assert loop.new_mail() == []  # never at the cash register: three days later
    await loop.travel(timedelta(hours=2))
    (survey,) = loop.new_mail()
    assert survey["To"].addresses[0].addr_spec == "ann@example.com"
    assert survey["Subject"] == "Quick question from Harbor Lane Renovations"
    sent = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert survey["Date"].datetime.astimezone(UTC) <= sent + timedelta(hours=1)
    # one-click answers in both parts, unsubscribe in the headers (RFC 8058) and the body
    links = score_links(survey)
    assert sorted(links) == list(range(11))
    html = html_of(survey)
    for url in links.values():
        assert f'href="{url}"' in html
    assert survey["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(http[^>]+/u/[^>]+)>", survey["List-Unsubscribe"])
    assert unsubscribe and unsubscribe.group(1) in text_of(survey)

    # the customer clicks 9: the page shows it chosen and asks the promoter's follow-up
    page = await loop.client.get(path_of(links[9]))
    assert page.status_code == 200
    assert 'value="9" checked' in page.text
    assert "Wonderful! What did we do best?" in page.text
    assert await responses(loop) == []  # a GET records nothing
    thanks = await loop.client.post(
        path_of(links[9]), data={"score": "9", "comment": "Great crew", "via": "form"}
    )
    assert thanks.status_code == 200 and "Thank you!" in thanks.text
    assert await responses(loop) == [(9, "promoter", "Great crew", "page")]

    # answering again updates the one response
    await loop.client.post(path_of(links[9]), data={"score": "10", "comment": "", "via": "form"})
    assert await responses(loop) == [(10, "promoter", "Great crew", "page")]

    await loop.travel(timedelta(days=10), step=timedelta(hours=6))
    assert loop.new_mail() == []  # answered: no reminder
    assert await invitations(loop) == [("post_purchase", "answered", None)]


async def survey_for(
    loop: Loop, email: str = "ann@example.com", **customer: object
) -> dict[int, str]:
    """Post a purchase, travel until its survey arrives, and return its score links."""
    await loop.event("purchase.completed", email, "2026-03-02T10:00:00Z", **customer)
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = [m for m in loop.new_mail() if m["Subject"].startswith("Quick question")]
    return score_links(survey)


async def test_detractor_alerts_the_owner_at_once_and_opens_a_complaint(loop: Loop) -> None:
    links = await survey_for(loop, name="Bob Builder")
    await loop.client.post(
        path_of(links[3]), data={"score": "3", "comment": "Mess left behind", "via": "form"}
    )
    await loop.run()  # the very next moment: no waiting for a digest
    mail = {m["To"].addresses[0].addr_spec: m for m in loop.new_mail()}
    alert, note = mail[OWNER], mail["ann@example.com"]
    assert alert["To"].addresses[0].addr_spec == OWNER
    assert alert["Subject"] == "Unhappy customer: Bob Builder answered 3"
    body = text_of(alert)
    assert '"Mess left behind"' in body
    assert "survey post_purchase sent" in body and "event purchase.completed" in body
    complaint = re.search(r"vouch resolve (\d+)", body)
    assert complaint is not None
    assert note["Subject"] == "We hear you" and "Bob" in text_of(note)

    store = loop.services.store
    customer = await store.customer_by_email("ann@example.com")
    assert customer is not None and await store.open_complaints(customer.id) == 1
    await loop.event("complaint.resolved", "ann@example.com", "2026-03-06T10:00:00Z")
    await loop.run()
    assert await store.open_complaints(customer.id) == 0


async def test_link_scanner_records_nothing(loop: Loop) -> None:
    links = await survey_for(loop)
    # A mail security scanner fetches every link, twice, within a second of delivery...
    for _ in range(2):
        for url in links.values():
            assert (await loop.client.get(path_of(url))).status_code == 200
    # ...and the smarter ones run the page's script, which posts the clicked score.
    for score, url in links.items():
        await loop.client.post(path_of(url), data={"score": str(score), "via": "script"})
    await loop.travel(timedelta(minutes=5), step=timedelta(seconds=5))
    assert await responses(loop) == []
    assert loop.new_mail() == []  # no owner alert for the scanner's zeros


async def test_a_click_and_a_closed_tab_still_counts(loop: Loop) -> None:
    links = await survey_for(loop)
    page = await loop.client.get(path_of(links[8]))
    assert 'data-autorecord="8"' in page.text  # the page's script will post the score
    await loop.client.post(path_of(links[8]), data={"score": "8", "via": "script"})
    await loop.run()
    assert await responses(loop) == []  # held while a scanner could still show itself
    await loop.travel(timedelta(seconds=20), step=timedelta(seconds=5))
    assert await responses(loop) == [(8, "passive", None, "click")]


async def test_one_click_unsubscribe_stops_the_reminder(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    found = re.search(r"<(http[^>]+/u/[^>]+)>", survey["List-Unsubscribe"])
    assert found is not None
    url = path_of(found.group(1))
    page = await loop.client.get(url)
    assert page.status_code == 200 and "Unsubscribe?" in page.text
    assert await loop.services.store.suppressed(["ann@example.com"]) == set()  # GET: nothing
    one_click = await loop.client.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200
    assert await loop.services.store.suppressed(["ann@example.com"]) == {"ann@example.com"}
    await loop.travel(timedelta(days=10), step=timedelta(hours=6))
    assert loop.new_mail() == []
    assert await invitations(loop) == [
        ("post_purchase", "skipped", "address is suppressed (unsubscribed)")
    ]
    # and no new survey either
    await loop.event("purchase.completed", "ann@example.com", "2026-03-15T10:00:00Z")
    await loop.travel(timedelta(days=5), step=timedelta(hours=6))
    assert loop.new_mail() == []
    assert (await invitations(loop))[-1][2] == "address is suppressed (unsubscribed)"


async def test_exactly_one_reminder_to_non_responders(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.travel(timedelta(days=3, hours=2))
    assert len(loop.new_mail()) == 1
    await loop.travel(timedelta(days=4))
    (reminder,) = loop.new_mail()
    assert reminder["Subject"] == "One click for Harbor Lane Renovations?"
    assert sorted(score_links(reminder)) == list(range(11))
    await loop.travel(timedelta(days=30), step=timedelta(hours=12))
    assert loop.new_mail() == []


async def test_expired_survey_says_so(loop: Loop) -> None:
    links = await survey_for(loop)
    await loop.travel(timedelta(days=31), step=timedelta(days=1))
    page = await loop.client.get(path_of(links[9]))
    assert page.status_code == 410 and "This survey has closed" in page.text
    answer = await loop.client.post(path_of(links[9]), data={"score": "9", "via": "form"})
    assert answer.status_code == 410
    assert await responses(loop) == []


async def test_tampered_or_unknown_tokens_get_a_plain_404(loop: Loop) -> None:
    links = await survey_for(loop)
    path = path_of(links[9])
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    for bad in (tampered, "/s/nonsense", "/s/" + "x" * 40 + "." + "y" * 22, "/u/abc.def"):
        page = await loop.client.get(bad)
        assert page.status_code == 404 and "This link is not valid" in page.text
        assert (await loop.client.post(bad, data={"score": "9"})).status_code == 404


async def test_throttle_one_survey_per_90_days(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.run()
    await loop.event("purchase.completed", "ann@example.com", "2026-03-03T08:00:00Z", id="second")
    await loop.event("project.completed", "ann@example.com", "2026-03-03T08:30:00Z", id="job")
    await loop.run()
    states = await invitations(loop)
    assert states[0] == ("post_purchase", "scheduled", None)
    for _survey, state, reason in states[1:]:
        assert state == "skipped" and reason is not None
        assert reason.startswith("throttled: surveyed on 2026-03-05")


async def test_an_answer_by_webhook_counts_as_surveyed(loop: Loop) -> None:
    """A customer who already answered (say by SMS, through POST /v1/responses) before the
    purchase event is planned is not surveyed again within the throttle."""
    answered = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": "ann@example.com"}, "survey": "post_purchase", "score": 9},
        headers=AUTH,
    )
    assert answered.status_code == 202
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T08:00:00Z")
    await loop.run()
    [(survey, state, reason)] = await invitations(loop)
    assert (survey, state) == ("post_purchase", "skipped")
    assert reason is not None and reason.startswith("throttled: surveyed on 2026-03-02")
    loop.clock.advance(timedelta(days=5))
    await loop.run()
    assert [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == "ann@example.com"] == []


async def test_old_events_do_not_flood_inboxes(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2025-12-01T10:00:00Z")
    await loop.run()
    ((_survey, state, reason),) = await invitations(loop)
    assert state == "skipped" and reason is not None and "older than the survey's life" in reason


async def test_send_window_in_the_customers_zone_across_dst(loop: Loop) -> None:
    # New York moves to summer time on Sunday 8 March 2026. A purchase on Thursday evening plus
    # three days lands on that Sunday: the survey waits for Monday 09:00 local = 13:00 UTC.
    loop.clock.advance(datetime(2026, 3, 5, 23, 45, tzinfo=UTC) - loop.clock.now())  # reported
    await loop.event(
        "purchase.completed", "ny@example.com", "2026-03-05T23:30:00Z", timezone="America/New_York"
    )
    await loop.run()
    store = loop.services.store
    (row,) = query(store, "SELECT due_at FROM invitations")
    assert stored_time(row[0]) == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    await loop.travel(timedelta(days=3, hours=13, minutes=14), step=timedelta(minutes=30))
    assert loop.new_mail() == []
    await loop.travel(timedelta(hours=1), step=timedelta(minutes=30))
    assert len(loop.new_mail()) == 1


async def test_response_webhook_by_token_and_by_email(loop: Loop) -> None:
    links = await survey_for(loop)
    token = path_of(links[0]).removeprefix("/s/")
    by_token = await loop.client.post(
        "/v1/responses",
        json={"id": "sms-1", "invitation": token, "score": 10, "comment": "Brilliant"},
        headers=AUTH,
    )
    assert by_token.status_code == 202 and by_token.json()["segment"] == "promoter"
    again = await loop.client.post(
        "/v1/responses", json={"id": "sms-1", "invitation": token, "score": 10}, headers=AUTH
    )
    assert again.status_code == 202 and again.headers["idempotent-replayed"] == "true"

    by_email = await loop.client.post(
        "/v1/responses",
        json={
            "customer": {"email": "zoe@example.com"},
            "survey": "project_completion",
            "score": 2,
            "comment": "Late and over budget",
            "answered_at": "2026-03-05T12:00:00Z",
        },
        headers=AUTH,
    )
    assert by_email.status_code == 202 and by_email.json()["segment"] == "detractor"
    await loop.run()
    alerts = [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == OWNER]
    assert len(alerts) == 1 and "Late and over budget" in text_of(alerts[0])
    assert sorted(await responses(loop)) == [
        (2, "detractor", "Late and over budget", "webhook"),
        (10, "promoter", "Brilliant", "webhook"),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"invitation": "forged.token", "score": 9}, "invitation"),
        ({"customer": {"email": "a@example.com"}, "survey": "nope", "score": 9}, "survey"),
        ({"customer": {"email": "a@example.com"}, "survey": "post_purchase", "score": 11}, "score"),
        (
            {"customer": {"email": "a@example.com"}, "survey": "post_purchase", "score": "9"},
            "score",
        ),
        ({"score": 9}, "body"),
    ],
)
async def test_response_webhook_says_what_is_wrong(
    loop: Loop, body: dict[str, object], field: str
) -> None:
    answer = await loop.client.post("/v1/responses", json=body, headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["problems"][0]["field"] == field


@pytest.mark.sqlite_only(
    "SQLite's EXPLAIN QUERY PLAN on SQLite's columns (epoch ms); PostgreSQL's indexes are "
    "held to SQLite's by tests/test_pg_schema.py, and its planner scans tables this small"
)
async def test_due_invitation_queries_use_their_indexes(loop: Loop) -> None:
    store = loop.services.store
    assert isinstance(store, SQLiteStore)
    for sql in (
        "SELECT id FROM invitations WHERE state = 'scheduled' AND due_at <= 0 ORDER BY due_at",
        "SELECT id FROM invitations WHERE state = 'sent' AND reminder_at IS NOT NULL "
        "AND reminder_at <= 0 ORDER BY reminder_at",
        "SELECT id FROM clicks WHERE state = 'pending' ORDER BY at",
        "SELECT id FROM complaints WHERE alerted = 0 ORDER BY id",
        "SELECT seq FROM events WHERE processed_at IS NULL ORDER BY seq",
    ):
        plan = " ".join(await store.explain(sql))
        assert "USING INDEX" in plan or "USING COVERING INDEX" in plan, (sql, plan)


async def test_owner_resolves_from_the_cli(loop: Loop, monkeypatch: pytest.MonkeyPatch) -> None:
    from daemon.cli import main

    from helpers import ENV

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    links = await survey_for(loop)
    await loop.client.post(path_of(links[1]), data={"score": "1", "via": "form"})
    await loop.run()
    alert = next(m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == OWNER)
    found = re.search(r"vouch resolve (\d+)", text_of(alert))
    assert found is not None
    path = str(loop.services.config.path)
    args = ["resolve", found.group(1), "--note", "called, fixed", "--config", path]
    assert await asyncio.to_thread(main, args) == 0
    customer = await loop.services.store.customer_by_email("ann@example.com")
    assert customer is not None and await loop.services.store.open_complaints(customer.id) == 0
    assert await asyncio.to_thread(main, args) == 1  # already resolved
