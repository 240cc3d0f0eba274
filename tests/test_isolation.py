"""One bad row never stops the daemon (issue 12, items 3b, 3c and 6).

Against the real app (HTTP client), the real SQLite store, the real templates and the real
aiosmtpd server, with a fake clock. Bad rows are put straight into the SQLite file (a date the
scheduler cannot plan, a time zone that does not exist) or come from an owner's template that
fails for one customer: nothing here depends on what intake accepts. A full disk is a real
SQLITE_FULL, made with `PRAGMA max_page_count` on the store's own connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from loop import AUTH, Loop, path_of, running, score_links, smtp_changes

from daemon.config import Config, load_config
from daemon.mail.outbox import Pause
from daemon.store import SQLiteStore

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field
from helpers import ENV, merge, plant, query, write_business
from smtp_server import SmtpServer

OWNER = "owner@harborlane.example"
YEAR_9999 = datetime(9999, 12, 31, tzinfo=UTC)


@pytest.fixture
def make(tmp_path: Path, smtp_server: SmtpServer) -> Callable[..., Config]:
    """The business (with a dashboard password), its email going to the test SMTP server."""

    def build(changes: dict[str, Any] | None = None) -> Config:
        all_changes = merge(merge(smtp_changes(smtp_server), CONFIG_CHANGES), changes or {})
        path = write_business(tmp_path / "biz", all_changes)
        return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)

    return build


@pytest.fixture
def loop_config(make: Callable[..., Config]) -> Config:
    return make()


def sql(store: Any, statement: str, *params: object) -> list[Any]:
    """Straight into the store, as a bad row would be there (another connection): a read, or
    a write committed at once."""
    if statement.lstrip().upper().startswith("SELECT"):
        return query(store, statement, params)
    plant(store, statement, params)
    return []


def recipients(loop: Loop) -> list[tuple[str, str]]:
    """(to, subject) of the mail received since the last look."""
    return sorted((m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in loop.new_mail())


async def customer(loop: Loop, email: str) -> dict[str, Any]:
    answer = await loop.client.get(f"/v1/customers/{email}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def dashboard(client: httpx.AsyncClient, path: str = "/admin/sending") -> str:
    form = await client.get("/admin/login")
    await client.post(
        "/admin/login",
        data={"nonce": field(form.text, "nonce"), "next": "/admin", "password": PASSWORD},
    )
    page = await client.get(path)
    assert page.status_code == 200
    return page.text


async def purchase(loop: Loop, email: str, name: str = "Ann Example", **extra: Any) -> None:
    await loop.event("purchase.completed", email, "2026-03-02T10:00:00Z", name=name, **extra)


# 3(b): the scheduler sets a failing item aside and goes on --------------------------------------


async def test_an_event_that_cannot_be_planned_is_set_aside_and_the_others_surveyed(
    make: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = make()
    async with running(config, smtp_server, store_url) as loop:
        await purchase(loop, "zed@example.com", "Zed Poison")  # first in line, then spoiled:
        store = loop.services.store
        sql(store, "UPDATE events SET occurred_at = ? WHERE id LIKE '%zed%'", YEAR_9999)
        await purchase(loop, "ann@example.com")
        await purchase(loop, "bob@example.com", "Bob Builder")
        await loop.travel(timedelta(days=3, hours=2))
        surveys = [("ann@example.com", "Quick question from Harbor Lane Renovations")]
        surveys.append(("bob@example.com", surveys[0][1]))
        assert recipients(loop) == surveys

        (aside,) = (await customer(loop, "zed@example.com"))["set_aside"]
        assert aside["kind"] == "event" and aside["error"].startswith("OverflowError")
        assert (await customer(loop, "ann@example.com"))["set_aside"] == []
        page = await dashboard(loop.client)
        assert 'id="set-aside"' in page and "OverflowError" in page and "Zed Poison" in page
        first = sql(store, "SELECT at, error FROM set_aside")
        await loop.travel(timedelta(hours=3))  # set aside once, not retried every tick
        assert sql(store, "SELECT at, error FROM set_aside") == first

    async with running(
        config, smtp_server, store_url
    ) as loop:  # a restart: still aside, others flow
        loop.seen = len(loop.mail())
        await purchase(loop, "cat@example.com")
        await loop.travel(timedelta(days=3, hours=2))
        assert ("cat@example.com", surveys[0][1]) in recipients(loop)
        assert sql(loop.services.store, "SELECT at, error FROM set_aside") == first
        assert (await loop.client.get("/healthz")).status_code == 200


async def test_a_survey_and_a_reminder_that_cannot_be_queued_are_set_aside(loop: Loop) -> None:
    store = loop.services.store
    for email in ("ann@example.com", "cat@example.com", "zed@example.com"):
        await purchase(loop, email, timezone="Europe/London")
    await loop.run()  # planned: three surveys scheduled
    bad_zone = "UPDATE customers SET timezone = 'Mars/Olympus_Mons' WHERE email = ?"
    sql(store, bad_zone, "zed@example.com")  # a zone that does not exist, in the file
    await loop.travel(timedelta(days=3, hours=2))
    assert [to for to, _ in recipients(loop)] == ["ann@example.com", "cat@example.com"]
    (aside,) = (await customer(loop, "zed@example.com"))["set_aside"]
    assert aside["kind"] == "survey" and "ZoneInfoNotFoundError" in aside["error"]
    reason = sql(store, "SELECT state, reason FROM invitations WHERE customer_id = 3")
    assert reason[0][0] == "skipped" and reason[0][1].startswith("set aside: ZoneInfo")

    sql(store, bad_zone, "cat@example.com")  # surveyed, then spoiled before its reminder
    await loop.travel(timedelta(days=4, hours=2))
    reminders = recipients(loop)
    assert [to for to, _ in reminders] == ["ann@example.com"]  # ann's reminder went out
    (aside,) = (await customer(loop, "cat@example.com"))["set_aside"]
    assert aside["kind"] == "reminder" and "ZoneInfoNotFoundError" in aside["error"]
    assert "Mars/Olympus_Mons" in await dashboard(loop.client)


async def test_a_complaint_alert_that_cannot_be_built_is_set_aside(
    make: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """The owner's alert template uses the surname: fine for 'Bob Builder' (and `vouch check`'s
    sample), an error for a customer known by one name only."""
    config = make()
    alert = config.root / "templates" / "email" / "owner_alert.txt"
    alert.write_text(
        alert.read_text().replace(
            "Customer: {{ customer.name",
            "Surname: {{ customer.name.split()[1] }}\nCustomer: {{ customer.name",
        )
    )
    async with running(config, smtp_server, store_url) as loop:
        await purchase(loop, "cher@example.com", "Cher")
        await purchase(loop, "bob@example.com", "Bob Builder")
        await loop.travel(timedelta(days=3, hours=2))
        for survey in loop.new_mail():
            link = path_of(score_links(survey)[2])
            answer = await loop.client.post(link, data={"score": "2", "comment": "", "via": "form"})
            assert answer.status_code == 200
        await loop.run()
        got = recipients(loop)
        assert (OWNER, "Unhappy customer: Bob Builder answered 2") in got
        assert not [m for m in got if "Cher" in m[1]]
        (aside,) = (await customer(loop, "cher@example.com"))["set_aside"]
        assert aside["kind"] == "complaint alert"
        assert aside["error"].startswith("TemplateError: templates/email/owner_alert.txt: line 14")
        await loop.travel(timedelta(hours=2))  # not retried, and the rest still flows
        assert recipients(loop) == []
        assert len((await customer(loop, "cher@example.com"))["set_aside"]) == 1


async def test_a_referral_ask_that_cannot_be_built_is_set_aside(
    make: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """The owner simplified the ask's greeting: fine for a customer with a name, an error for
    one without."""
    config = make()
    ask = config.root / "templates" / "email" / "referral_ask.txt"
    greeting = "{% if customer_name %}Hi {{ customer_name }},{% else %}Hello,{% endif %}"
    assert greeting in ask.read_text()
    ask.write_text(ask.read_text().replace(greeting, "Hi {{ customer_name.title() }},"))
    async with running(config, smtp_server, store_url) as loop:
        for email, name in (("ann@example.com", "Ann Example"), ("anon@example.com", None)):
            await loop.event("purchase.completed", email, "2026-02-20T10:00:00Z", name=name)
            answer = await loop.client.post(
                "/v1/responses",
                json={"customer": {"email": email}, "survey": "post_purchase", "score": 10},
                headers=AUTH,
            )
            assert answer.status_code == 202
            await loop.event("project.completed", email, "2026-03-02T09:00:00Z", name=name)
        await loop.travel(timedelta(days=3))
        assert recipients(loop) == [("ann@example.com", "Ann, a small favour?")]
        (aside,) = (await customer(loop, "anon@example.com"))["set_aside"]
        assert aside["kind"] == "ask"
        assert aside["error"].startswith("TemplateError: templates/email/referral_ask.txt")
        anon = await loop.services.store.customer_by_email("anon@example.com")
        assert anon is not None
        moments = [(a.state, a.reason) for a in await loop.services.store.asks_of(anon.id)]
        assert moments == [("skipped", "set aside: " + aside["error"])]


async def test_a_digest_that_cannot_be_built_is_set_aside_once(
    make: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """The owner shortened the digest's subject, dropping the guard for a period with no
    answers (no NPS): that period's digest is set aside, once; the surveys still go out."""
    config = make({"digest": {"every": "daily", "at": "08:00"}})
    digest = config.root / "templates" / "email" / "owner_digest.txt"
    guarded = '{% if nps is not none %}, NPS {{ "%+d" | format(nps) }}{% endif %}'
    assert guarded in digest.read_text()
    digest.write_text(digest.read_text().replace(guarded, ', NPS {{ "%+d" | format(nps) }}'))
    async with running(config, smtp_server, store_url) as loop:
        await purchase(loop, "ann@example.com")
        await loop.travel(timedelta(days=3, hours=2))
        assert recipients(loop) == [
            ("ann@example.com", "Quick question from Harbor Lane Renovations")
        ]
        count, digests = await loop.services.store.set_aside_items(10)
        assert count == len(digests) >= 1
        assert {d.kind for d in digests} == {"digest"}
        assert all(
            d.error.startswith("TemplateError: templates/email/owner_digest") for d in digests
        )
        assert "owner_digest" in await dashboard(loop.client)
        latest = digests[0]
        await loop.travel(timedelta(hours=6))  # the same period: not tried again
        assert (await loop.services.store.set_aside_items(10))[1][0] == latest


# 3(c): /healthz and /metrics say when a loop is stuck -----------------------------------------


async def test_healthz_fails_when_the_scheduler_has_not_completed_a_pass(loop: Loop) -> None:
    health = loop.services.health
    health.watch("scheduler", loop.clock.now())  # as Scheduler.run does when the daemon starts
    assert (await loop.client.get("/healthz")).status_code == 200
    loop.clock.advance(timedelta(minutes=6))  # no pass since: stuck
    stale = await loop.client.get("/healthz")
    assert stale.status_code == 503
    assert stale.json()["status"] == "failing"
    assert stale.json()["problems"] == [
        "scheduler has completed no pass since 2026-03-02T09:00:00Z"
    ]
    metrics = (await loop.client.get("/metrics", headers=AUTH)).text
    assert "vouch_healthy 0.0" in metrics
    await loop.scheduler.tick()
    healthy = await loop.client.get("/healthz")
    assert healthy.status_code == 200 and healthy.json()["problems"] == []
    assert healthy.json()["loops"]["scheduler"]["last_pass"] == "2026-03-02T09:06:00+00:00"
    metrics = (await loop.client.get("/metrics", headers=AUTH)).text
    assert "vouch_healthy 1.0" in metrics
    assert 'vouch_loop_last_pass_timestamp_seconds{loop="scheduler"} 1.77244236e+09' in metrics
    assert datetime(2026, 3, 2, 9, 6, tzinfo=UTC).timestamp() == 1.77244236e09
    assert "vouch_store_writable 1.0" in metrics and "vouch_sending_paused 0.0" in metrics


@pytest.mark.sqlite_only("PostgreSQL's jsonb column refuses a body that is not JSON")
async def test_a_sweep_that_fails_as_a_whole_stops_no_other_and_healthz_says_so(
    loop: Loop,
) -> None:
    """An event whose stored body is not JSON fails the query that reads new events: the
    events sweep fails every tick (nothing to set aside: no item was read). The other sweeps
    go on (the survey already planned goes out), and /healthz names the failing sweep."""
    health = loop.services.health
    health.watch("scheduler", loop.clock.now())
    await purchase(loop, "ann@example.com")
    await loop.run()  # ann's survey is planned
    await purchase(loop, "bob@example.com")
    sql(loop.services.store, "UPDATE events SET payload = '{not json' WHERE id LIKE '%bob%'")
    await loop.travel(timedelta(days=3, hours=2))
    assert recipients(loop) == [("ann@example.com", "Quick question from Harbor Lane Renovations")]
    failing = await loop.client.get("/healthz", headers=AUTH)
    assert failing.status_code == 503
    assert failing.json()["problems"] == [
        "scheduler has not completed a pass since 2026-03-02T09:00:00Z "
        "(last error: events: OperationalError: malformed JSON)"
    ]
    assert failing.json()["loops"]["scheduler"]["last_error"].startswith("events: ")
    # without the admin token: the problem, not the error (an error can quote a customer)
    public = await loop.client.get("/healthz")
    assert public.status_code == 503
    assert public.json()["problems"] == [
        "scheduler has not completed a pass since 2026-03-02T09:00:00Z"
    ]
    assert public.json()["loops"]["scheduler"]["last_error"] is None


async def test_healthz_fails_while_sending_is_paused(loop: Loop) -> None:
    reason = "554 5.7.1 Relay access denied (3 recipients in a row)"
    now = loop.clock.now()
    await loop.services.store.pause_sending(
        Pause(reason, now, now + timedelta(minutes=5), 300), (), now
    )
    paused = await loop.client.get("/healthz")
    assert paused.status_code == 503
    assert paused.json()["problems"] == [
        "sending is paused: 554 5.7.1 Relay access denied (3 recipients in a row)"
    ]
    assert "vouch_sending_paused 1.0" in (await loop.client.get("/metrics", headers=AUTH)).text
    await loop.services.store.resume_sending()
    assert (await loop.client.get("/healthz")).status_code == 200


# 6: a full disk is a 503, never a lost event --------------------------------------------------


async def fill_the_disk(store: SQLiteStore) -> None:
    """No room left in the store's file: its next write that needs a page fails SQLITE_FULL."""
    await store._db.execute("VACUUM")  # no free pages left inside the file either
    rows = await store._db.execute_fetchall("PRAGMA page_count")
    (pages,) = rows
    await store._db.execute(f"PRAGMA max_page_count = {pages[0]}")


async def free_the_disk(store: SQLiteStore) -> None:
    await store._db.execute("PRAGMA max_page_count = 1073741823")


def event(number: int) -> dict[str, Any]:
    return {
        "id": f"order-{number:04}",
        "type": "purchase.completed",
        "occurred_at": "2026-03-02T10:00:00Z",
        "customer": {"email": f"buyer{number}@example.com", "name": f"Buyer {number}"},
        "data": {"note": "x" * 200},
    }


@pytest.mark.sqlite_only(
    "the full disk is SQLite's max_page_count on the store's file; PostgreSQL's server runs "
    "out of disk on its own filesystem, beyond a test's reach"
)
@pytest.mark.slow
async def test_a_full_disk_answers_503_with_retry_after_and_loses_nothing(loop: Loop) -> None:
    store, client = loop.services.store, loop.client
    assert isinstance(store, SQLiteStore)
    assert await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await fill_the_disk(store)
    health = await client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["problems"] == ["the store cannot write: database or disk is full"]
    assert "vouch_store_writable 0.0" in (await client.get("/metrics", headers=AUTH)).text

    accepted: list[int] = []
    refused: list[int] = []
    for number in range(400):  # the fast path (application/json): until the file is full
        answer = await client.post("/v1/events", json=event(number), headers=AUTH)
        assert answer.status_code in (202, 503), answer.text
        (accepted if answer.status_code == 202 else refused).append(number)
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] == "30"
            assert "database or disk is full" in answer.json()["detail"]
    assert refused, "the file never filled up"
    routed = await client.post(  # FastAPI's route (a +json type): the same answer
        "/v1/events",
        content=json.dumps(event(999)).encode(),
        headers={**AUTH, "Content-Type": "application/merge-patch+json"},
    )
    assert routed.status_code == 503 and routed.headers["Retry-After"] == "30"
    assert "database or disk is full" in routed.json()["detail"]
    await loop.scheduler.tick()  # the store's fault is nobody's item: nothing set aside
    assert (await store.set_aside_items(10))[0] == 0

    await free_the_disk(store)
    assert (await client.get("/healthz")).status_code == 200
    for number in [*refused, 999]:  # the client sends again after Retry-After
        answer = await client.post("/v1/events", json=event(number), headers=AUTH)
        assert answer.status_code == 202 and "Idempotent-Replayed" not in answer.headers
    for number in accepted:  # everything answered 202 was kept: a replay now
        answer = await client.post("/v1/events", json=event(number), headers=AUTH)
        assert answer.headers["Idempotent-Replayed"] == "true"
    counted = query(store, "SELECT count(*) FROM events")
    assert counted[0][0] == 1 + 400 + 1
    await loop.travel(timedelta(days=3, hours=2))  # and they are all planned and surveyed
    assert len(loop.new_mail()) == 1 + 400 + 1
    assert (await store.set_aside_items(10))[0] == 0


@pytest.mark.sqlite_only(
    "the full disk is SQLite's max_page_count on the store's file; PostgreSQL's server runs "
    "out of disk on its own filesystem, beyond a test's reach"
)
async def test_the_sender_outlives_a_full_disk(
    make: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    """Its loop (Sender.run, as the daemon runs it) fails its passes while the disk is full and
    says so to /healthz; it goes on, and the survey goes out once there is room again (the row
    it had claimed comes back when its lease ends: nothing is lost)."""
    from daemon.run.health import Health

    class Told(Health):
        """Health that also says when a loop's pass completed or failed."""

        def __init__(self) -> None:
            super().__init__()
            self.failing, self.passing = asyncio.Event(), asyncio.Event()

        def failed(self, loop: str, error: str) -> None:
            super().failed(loop, error)
            self.failing.set()

        def passed(self, loop: str, now: datetime) -> None:
            super().passed(loop, now)
            self.passing.set()

    config = make({"sender": {"poll_seconds": 0.01}})
    async with running(config, smtp_server, store_url) as loop:
        store = loop.services.store
        assert isinstance(store, SQLiteStore)
        health = loop.services.health = loop.sender.health = Told()  # as the daemon wires it
        await purchase(loop, "ann@example.com")
        loop.clock.advance(timedelta(days=3, hours=2))
        await loop.scheduler.tick()  # the survey is queued, unrendered
        await fill_the_disk(store)
        sender = asyncio.create_task(loop.sender.run())
        try:
            await asyncio.wait_for(health.failing.wait(), timeout=30)
            assert "database or disk is full" in str(health.loops["sender"].error)
            assert not sender.done()
            await free_the_disk(store)
            loop.clock.advance(timedelta(seconds=config.settings.sender.lease_seconds + 1))
            loop.sender.wake()
            async with asyncio.timeout(30):
                while not loop.mail():  # pass after pass until the survey is out
                    health.passing.clear()
                    await health.passing.wait()
        finally:
            loop.sender.stop()
            await sender  # ends as asked, not with an error
        survey = ("ann@example.com", "Quick question from Harbor Lane Renovations")
        assert recipients(loop) == [survey]
        assert health.loops["sender"].error is None
