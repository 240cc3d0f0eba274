"""A broken relay suppresses nobody (issue 12, item 5), over the real aiosmtpd server.

A relay that refuses every email the same way (relaying denied, a failed login, our sender
refused, a policy block) is about us, not about the customers: nobody is suppressed, the emails
stay queued without using up their tries, sending pauses and says why (/healthz, the dashboard,
the log), and it resumes on a later probe or when the owner says so, each email sent once.
Only a reply about the recipient (550 5.1.1 user unknown) suppresses that recipient.

The relay here is the realistic one: STARTTLS, then a login (smtp_server_starttls).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from loop import Loop
from test_dashboard import csrf, login

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.mail.compose import build_email, enqueue
from daemon.mail.outbox import WEBHOOK, NewEmail, Pause, State
from daemon.run.metrics import Metrics
from daemon.run.sender import Sender
from daemon.store import SQLiteStore
from daemon.transport import MemoryTransport, build_transport

from dashboard_data import AUTH, CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, write_business
from smtp_server import PASSWORD, PASSWORD_ENV, RecordingHandler, SmtpServer, ThreadedSmtpServer

PEOPLE = [f"{name}@example.com" for name in ("ann", "bob", "cat", "dan", "eve")]
PROBE_SECONDS = 300  # sender.probe_seconds: the first wait before a probe

Fault = Callable[[RecordingHandler], None]
FAULTS: dict[str, tuple[Fault, str]] = {
    "relay denied at RCPT": (
        lambda h: h.fail_rcpt("554 5.7.1 <{rcpt}>: Relay access denied", times=None),
        "Relay access denied",
    ),
    "530 at AUTH": (
        lambda h: h.fail_auth("530 5.7.0 Authentication required", times=None),
        "530 5.7.0 Authentication required",
    ),
    "535 at AUTH": (
        lambda h: h.fail_auth("535 5.7.8 Authentication credentials invalid", times=None),
        "535 5.7.8 Authentication credentials invalid",
    ),
    "sender refused at MAIL FROM": (
        lambda h: h.fail_mail("550 5.7.1 Sender address rejected: not owned by user", times=None),
        "550 5.7.1 Sender address rejected",
    ),
    "policy block at DATA": (
        lambda h: h.fail_data("554 5.7.0 Message rejected due to local policy", times=None),
        "554 5.7.0 Message rejected due to local policy",
    ),
}


def relay_config(
    tmp_path: Path, server: SmtpServer, changes: dict[str, Any] | None = None
) -> Config:
    smtp = server.smtp_settings().model_dump(mode="json", exclude_none=True)
    all_changes = merge(
        {"email": {"transport": "smtp", "smtp": smtp}, **CONFIG_CHANGES}, changes or {}
    )
    path = write_business(tmp_path / "biz", all_changes)
    return load_config(path, {**ENV, **ENV_EXTRA, PASSWORD_ENV: PASSWORD}, need_secrets=True)


@pytest.fixture
def loop_smtp(smtp_server_starttls: SmtpServer) -> SmtpServer:
    return smtp_server_starttls


@pytest.fixture
def loop_config(tmp_path: Path, loop_smtp: SmtpServer) -> Config:
    return relay_config(tmp_path, loop_smtp)


async def queue_emails(loop: Loop, people: list[str] = PEOPLE) -> list[int]:
    ids = []
    for to in people:
        row_id = await enqueue(
            loop.services,
            build_email(
                loop.services,
                kind="test",
                context={"recipient": to, "sent_at": loop.clock.now()},
                to_email=to,
                dedupe_key=f"test:{to}",
            ),
        )
        assert row_id is not None
        ids.append(row_id)
    return ids


async def states(loop: Loop, ids: list[int]) -> list[tuple[State, int]]:
    rows = [await loop.services.store.outbox_row(i) for i in ids]
    return [(r.state, r.attempts) for r in rows if r is not None]


async def assert_paused_and_nobody_suppressed(loop: Loop, ids: list[int], reply: str) -> None:
    store = loop.services.store
    assert await store.suppressed(PEOPLE) == set()
    assert await states(loop, ids) == [(State.QUEUED, 0)] * len(ids)  # no try used up
    health = await loop.client.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["status"] == "failing"
    assert reply in health.json()["paused"]["reason"]
    assert loop.sender.paused is not None and reply in loop.sender.paused


async def assert_each_sent_once(loop: Loop, ids: list[int]) -> None:
    received = sorted(to for m in loop.smtp.handler.messages for to in m.rcpt_tos)
    assert received == sorted(PEOPLE)
    assert await states(loop, ids) == [(State.SENT, 1)] * len(ids)
    assert await loop.services.store.suppressed(PEOPLE) == set()
    health = await loop.client.get("/healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert loop.sender.paused is None


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_broken_relay_pauses_then_a_probe_resumes(loop: Loop, fault: str) -> None:
    breaks, reply = FAULTS[fault]
    breaks(loop.smtp.handler)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    await assert_paused_and_nobody_suppressed(loop, ids, reply)

    loop.smtp.handler.repair()
    loop.clock.advance(timedelta(seconds=PROBE_SECONDS - 1))
    await loop.sender.drain()
    assert loop.smtp.handler.messages == []  # not before the probe is due
    loop.clock.advance(timedelta(seconds=1))
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_broken_relay_pauses_until_the_owner_resumes(loop: Loop, fault: str) -> None:
    breaks, reply = FAULTS[fault]
    breaks(loop.smtp.handler)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    await assert_paused_and_nobody_suppressed(loop, ids, reply)

    loop.smtp.handler.repair()
    answer = await loop.client.post("/v1/sending/resume", headers=AUTH)
    assert answer.status_code == 200 and answer.json()["resumed"] is True
    assert reply in answer.json()["reason"]
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)
    again = await loop.client.post("/v1/sending/resume", headers=AUTH)
    assert again.status_code == 200 and again.json()["resumed"] is False


async def test_the_same_refusal_at_the_probe_pauses_again_for_longer(loop: Loop) -> None:
    loop.smtp.handler.fail_rcpt("554 5.7.1 <{rcpt}>: Relay access denied", times=None)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    first = await loop.services.store.sending_pause()
    assert first is not None and first.probe_at == loop.clock.now() + timedelta(seconds=300)

    loop.clock.advance(timedelta(seconds=PROBE_SECONDS))
    tried = len(loop.smtp.handler.rcpts)
    await loop.sender.drain()
    assert len(loop.smtp.handler.rcpts) == tried + 1  # the probe: one email, once
    second = await loop.services.store.sending_pause()
    assert second is not None and second.since == first.since
    assert second.probe_at == loop.clock.now() + timedelta(seconds=2 * PROBE_SECONDS)
    await assert_paused_and_nobody_suppressed(loop, ids, "Relay access denied")

    loop.clock.advance(timedelta(seconds=PROBE_SECONDS))  # the longer wait is not over
    await loop.sender.drain()
    assert len(loop.smtp.handler.rcpts) == tried + 1
    loop.smtp.handler.repair()
    loop.clock.advance(timedelta(seconds=PROBE_SECONDS))
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)


async def test_new_relay_settings_are_tried_at_once(loop: Loop, tmp_path: Path) -> None:
    """A config reload that changes [email.smtp] (SIGHUP) makes the probe due now."""
    loop.smtp.handler.fail_auth("535 5.7.8 Authentication credentials invalid", times=None)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    await assert_paused_and_nobody_suppressed(loop, ids, "535 5.7.8")
    loop.smtp.handler.repair()  # e.g. the right password in the environment, then SIGHUP
    await loop.sender.use_transport(build_transport(loop.services.config, loop.clock))
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)


async def test_an_unknown_user_suppresses_just_that_recipient(loop: Loop) -> None:
    loop.smtp.handler.refuse(
        "gone@example.com", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown"
    )
    ids = await queue_emails(loop, ["gone@example.com", *PEOPLE])
    await loop.sender.drain()
    store = loop.services.store
    assert await store.suppressed(["gone@example.com", *PEOPLE]) == {"gone@example.com"}
    assert await states(loop, ids[:1]) == [(State.FAILED, 1)]
    await assert_each_sent_once(loop, ids[1:])


async def test_a_policy_refusal_of_one_recipient_suppresses_nobody_and_pauses_nothing(
    loop: Loop,
) -> None:
    loop.smtp.handler.refuse(
        "blocked@example.com", "554 5.7.1 <{rcpt}>: Recipient address rejected: Access denied"
    )
    ids = await queue_emails(loop, ["blocked@example.com", *PEOPLE])
    await loop.sender.drain()
    assert await loop.services.store.suppressed(["blocked@example.com"]) == set()
    assert await states(loop, ids[:1]) == [(State.QUEUED, 1)]  # retried later, like a 4xx
    await assert_each_sent_once(loop, ids[1:])


async def test_the_owner_resumes_with_vouch_resume(
    loop: Loop, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    loop.smtp.handler.fail_auth("535 5.7.8 Authentication credentials invalid", times=None)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    await assert_paused_and_nobody_suppressed(loop, ids, "535 5.7.8")
    loop.smtp.handler.repair()
    args = ["resume", "--config", str(loop.services.config.path)]
    assert await asyncio.to_thread(main, args) == 0  # a command sees and changes the store
    assert "535 5.7.8 Authentication credentials invalid" in capsys.readouterr().out
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)
    assert await asyncio.to_thread(main, args) == 0
    assert "not paused" in capsys.readouterr().out


async def test_the_dashboard_shows_the_pause_and_resumes(loop: Loop) -> None:
    loop.smtp.handler.fail_rcpt("554 5.7.1 <{rcpt}>: Relay access denied", times=None)
    ids = await queue_emails(loop)
    await loop.sender.drain()
    await login(loop.client)
    page = (await loop.client.get("/admin")).text
    assert "Sending is paused" in page and "Relay access denied" in page
    assert 'action="/admin/sending/resume"' in page
    sending = (await loop.client.get("/admin/sending")).text  # the same banner, back to Sending
    assert "Relay access denied" in sending and 'name="back" value="/admin/sending"' in sending
    refused = await loop.client.post("/admin/sending/resume", data={"csrf": "forged"})
    assert refused.status_code == 403
    assert await loop.services.store.sending_pause() is not None
    loop.smtp.handler.repair()
    resumed = await loop.client.post(
        "/admin/sending/resume", data={"csrf": await csrf(loop.client)}
    )
    assert resumed.status_code == 303
    assert "Sending is paused" not in (await loop.client.get("/admin")).text
    await loop.sender.drain()
    await assert_each_sent_once(loop, ids)


async def test_a_pause_outlives_a_restart_and_holds_emails_not_webhooks(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    """The pause is in the store: a sender started afresh (a restart, another worker) keeps it;
    webhook deliveries go over HTTP, not through the relay, and keep going."""
    for n, (kind, to) in enumerate([("test", "ann@example.com"), (WEBHOOK, "http://crm.test/")]):
        await store.enqueue(
            NewEmail(
                f"k{n}", kind, to, "hello@harborlane.example", f"<m{n}@x>", b"body", clock.now()
            ),
            clock.now(),
        )
    since = clock.now()
    pause = Pause("535 5.7.8 Authentication credentials invalid", since, since, 300.0)
    await store.pause_sending(replace(pause, probe_at=since + timedelta(hours=1)), (), since)
    mail, hooks = MemoryTransport(), MemoryTransport()
    sender = Sender(store, mail, clock, config.settings.sender, Metrics(), webhooks=hooks)
    assert await sender.drain() == 1
    assert [m.recipient for m in hooks.sent] == ["http://crm.test/"] and mail.sent == []
    assert sender.paused == "535 5.7.8 Authentication credentials invalid"


def test_send_test_to_a_relay_that_refuses_us_says_sending_is_paused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with ThreadedSmtpServer() as server:
        server.handler.fail_mail("550 5.7.1 Sender address rejected: not owned by user", None)
        smtp = {"host": server.host, "port": server.port, "security": "none"}
        path = write_business(tmp_path, {"email": {"transport": "smtp", "smtp": smtp}})
        assert main(["send-test", "sam@example.com", "--config", str(path)]) == 1
    out = capsys.readouterr().out
    assert "not sent yet" in out and "it stays queued" in out
    assert "sending is paused: 550 5.7.1 Sender address rejected: not owned by user" in out
