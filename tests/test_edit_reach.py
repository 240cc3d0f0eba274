"""An edit saved from the dashboard reaches every process sharing the store, as real processes:
`vouch run --role web` saves it, a `--role worker` renders the next survey email with it (not
with the text it loaded at its start), on SQLite and on PostgreSQL. A worker that cannot load
the files saved last (broken by hand on disk) renders nothing and says so (at debug level, at
each poll it skips), then sends the new text once they are fixed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_store_concerns import fetch

from daemon.clock import FakeClock
from daemon.config import load_config
from daemon.mail.outbox import Pause
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.scheduler import Scheduler
from daemon.run.services import Services, open_store

from daemon_process import DaemonProcess
from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, PASSWORD, field
from helpers import ENV, TOKEN, merge, write_business
from smtp_server import ThreadedSmtpServer

ANN = "ann@example.com"
BOB = "bob@example.com"
OLD_SUBJECT = "Quick question from {{ business.name }}"
NEW_SUBJECT = "How did the work go, {{ customer_name }}?"
#: what the worker's sender logs (at debug level) at each poll it skips, then the sending pause
SKIPPED = r"sender: poll skipped, rendering paused \(sending pause: "


async def survey_queued_and_held(
    path: Path, web: str, email: str = ANN, invitation_id: int = 1
) -> None:
    """Ann's survey email queued unrendered (an event taken by the web process, planned by a
    scheduler of the test's on a fake clock, as a worker's would), and sending paused, so no
    worker renders it before the test lets it."""
    event = {
        "id": f"reach-{invitation_id}",
        "type": "purchase.completed",
        "occurred_at": "2026-03-02T10:00:00Z",
        "customer": {"email": email, "name": email.split("@")[0].title() + " Example"},
    }
    async with httpx.AsyncClient(base_url=web) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert (await client.post("/v1/events", json=event, headers=auth)).status_code == 202
    config = load_config(path, {**ENV, **ENV_EXTRA})
    clock = FakeClock()
    store = await open_store(config)
    try:
        far = datetime(2099, 1, 1, tzinfo=UTC)
        await store.pause_sending(Pause("held by the test", clock.now(), far, 60), (), clock.now())
        scheduler = Scheduler(
            Services(config, Renderer(config, clock), store, clock, Metrics()), holder="planner"
        )
        for _ in range(24 * 10):
            await scheduler.tick()
            invitation = (await store.invitations([invitation_id])).get(invitation_id)
            if invitation is not None and invitation.state == "sent":  # its email is queued
                break
            clock.advance(timedelta(hours=1))
        else:
            raise AssertionError("the survey was never queued")
        await store.release("scheduler", "planner")
    finally:
        await store.close()


async def in_store(path: Path, *, resume: bool = False, saved: bool = False) -> None:
    """Lift the test's pause; or raise the files' generation as a web process's save does."""
    store = await open_store(load_config(path, {**ENV, **ENV_EXTRA}))
    try:
        if resume:
            await store.resume_sending()
        if saved:
            await store.config_saved(FakeClock().now())
            await store.notify_config()
    finally:
        await store.close()


def save_email(web: str, txt: str, html: str) -> None:
    """Log in to the web process's dashboard and save the survey email's text: 303 is the
    acknowledgement the owner sees."""
    with httpx.Client(base_url=web) as client:
        form = client.get("/admin/login")
        client.post(
            "/admin/login",
            data={"nonce": field(form.text, "nonce"), "next": "/admin", "password": PASSWORD},
        )
        page = client.get("/admin/edit/email/survey")
        assert page.status_code == 200, page.text
        saved = client.post(
            "/admin/edit/email/survey",
            data={
                "csrf": field(page.text, "csrf"),
                "locale": "",
                "txt": txt,
                "html": html,
                "action": "save",
            },
        )
        assert saved.status_code == 303, saved.text


async def outbox_to(path: Path, address: str) -> list[str]:
    """The states of the outbox rows to this address, read from the store."""
    store = await open_store(load_config(path, {**ENV, **ENV_EXTRA}))
    try:
        rows = await fetch(store, "SELECT state FROM outbox WHERE recipient = ?", address)
        return [state for (state,) in rows]
    finally:
        await store.close()


def subjects_to(sink: ThreadedSmtpServer, address: str) -> list[str]:
    return [str(m.message()["Subject"]) for m in sink.handler.messages if address in m.rcpt_tos]


def subjects_to_ann(sink: ThreadedSmtpServer) -> list[str]:
    return subjects_to(sink, ANN)


@pytest.mark.slow
def test_an_edit_saved_on_the_web_process_is_what_a_worker_renders(
    tmp_path: Path, shared_store: dict[str, Any]
) -> None:
    with ThreadedSmtpServer() as sink:
        smtp = {
            "transport": "smtp",
            "smtp": {"host": sink.host, "port": sink.port, "security": "none"},
        }
        path = write_business(
            tmp_path / "biz", merge(CONFIG_CHANGES, {"email": smtp, **shared_store})
        )
        txt = path.parent / "templates" / "email" / "survey.txt"
        old, html = txt.read_text(), txt.with_suffix(".html")
        assert OLD_SUBJECT in old
        web = DaemonProcess(path, env=ENV_EXTRA, args=("--role", "web"))
        worker = DaemonProcess(
            path, env=ENV_EXTRA, args=("--role", "worker"), debug=("daemon.run.sender",)
        )
        try:
            web.start()
            asyncio.run(survey_queued_and_held(path, web.url))
            worker.start(ready=r"role worker: scheduling and sending")  # loads the old text

            save_email(web.url, old.replace(OLD_SUBJECT, NEW_SUBJECT), html.read_text())
            asyncio.run(in_store(path, resume=True))  # the worker may render it now
            sink.wait_until(lambda: bool(subjects_to_ann(sink)), timeout=60)
            assert subjects_to_ann(sink) == ["How did the work go, Ann?"]
            worker.wait_for(r"config reloaded \(business: .*\), generation 1")

            # the files saved last are broken by hand before the worker loads them: it pauses
            # (its scheduler too: Bob's survey is planned by the test's)
            txt.write_text(old.replace("{% endblock %}", "{% endblok %}", 1))
            asyncio.run(in_store(path, saved=True))
            worker.wait_for(r"rendering paused: the owner's files saved from the dashboard")
            web.wait_for(r"rendering paused")  # the web process too, and its /healthz says so
            health = httpx.get(f"{web.url}/healthz")
            assert health.status_code == 503
            assert any("rendering paused" in p for p in health.json()["problems"])
            asyncio.run(survey_queued_and_held(path, web.url, BOB, 2))
            # nothing goes out meanwhile: the worker's sender saw the test's pause at a poll it
            # skipped, then skipped two polls that saw it lifted (one process logs in order)
            held = worker.wait_for_line(SKIPPED + r"held by the test\)")
            asyncio.run(in_store(path, resume=True))
            lifted = worker.wait_for_line(SKIPPED + r"none\)", held)  # the first poll after
            worker.wait_for_line(SKIPPED + r"none\)", lifted)  # and the next
            assert subjects_to(sink, BOB) == []
            assert asyncio.run(outbox_to(path, BOB)) == ["queued"]  # not claimed
            txt.write_text(old.replace(OLD_SUBJECT, "Fixed by hand, {{ customer_name }}"))
            asyncio.run(in_store(path, saved=True))
            sink.wait_until(lambda: bool(subjects_to(sink, BOB)), timeout=60)
            assert subjects_to(sink, BOB) == ["Fixed by hand, Bob"]
            worker.wait_for(r"config reloaded \(business: .*\), generation 3")
            web.wait_for(r"config reloaded \(business: .*\), generation 3")
            assert httpx.get(f"{web.url}/healthz").status_code == 200
        finally:
            worker.kill()
            web.kill()
