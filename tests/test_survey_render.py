"""Survey and reminder emails are queued unrendered by a scheduler tick and rendered when the
sender claims them (surveys/survey_email.py): what arrives is a full render, stored before it is
sent; a retry sends the stored bytes; a render error keeps the row; a forgotten person's row
never goes out. Real SMTP server, real store and templates, fake clock."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.smtp import SMTP, Envelope, Session
from loop import AUTH, Loop, parse, running, smtp_changes
from test_dashboard import login

from daemon.config import Config, load_config
from daemon.mail import compose
from daemon.mail.links import score_links, survey_url
from daemon.mail.outbox import Cancel, OutboxRow, State
from daemon.mail.render import Renderer
from daemon.surveys import survey_email
from daemon.surveys.answers import answer_invitation

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, query, write_business
from smtp_server import RecordingHandler, SmtpServer

ANN = "ann@example.com"
BOUNDARY = re.compile(rb"=_[0-9a-f]{24}")
LONDON = ZoneInfo("Europe/London")  # the business's zone: its Date headers


async def queued(loop: Loop, kind: str, hours: int = 24 * 10) -> OutboxRow:
    """Scheduler ticks only (no sender), an hour apart, until a `kind` row is in the outbox."""
    store = loop.services.store
    for _ in range(hours):
        rows = query(store, "SELECT id FROM outbox WHERE kind = ?", (kind,))
        if rows:
            row = await store.outbox_row(int(rows[0][0]))
            assert row is not None
            return row
        loop.clock.advance(timedelta(hours=1))
        await loop.scheduler.tick()
    raise AssertionError(f"no {kind} email was queued")


async def purchase(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", ANN, "2026-03-02T10:00:00Z", name="Ann Example", locale="en-GB"
    )


async def full_render(loop: Loop, row: OutboxRow) -> bytes:
    """The email a full render (no stamp) of this row's invitation gives, boundaries made equal."""
    services, store = loop.services, loop.services.store
    assert row.invitation_id is not None
    invitation = await store.invitation(row.invitation_id)
    assert invitation is not None
    customer = await store.customer(invitation.customer_id)
    assert customer is not None
    words = services.config.surveys[invitation.survey].words(
        services.renderer.language(row.kind, customer.locale)
    )
    context = {
        "customer_name": "Ann",
        "question": services.renderer.survey_question(words.question),
        "low_label": words.low_label,
        "high_label": words.high_label,
        "scores": score_links(services, invitation),
        "survey_url": survey_url(services, invitation),
        "job": services.renderer.job(None),  # the event said nothing of the job
    }
    message = compose.message(
        services, row.kind, *compose.to_customer(services, customer, context, row.message_id)
    )
    return BOUNDARY.sub(b"=_boundary", message)


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


async def test_surveys_and_reminders_are_queued_unrendered_and_sent_as_a_full_render(
    loop: Loop,
) -> None:
    await purchase(loop)
    for kind in ("survey", "reminder"):
        row = await queued(loop, kind)
        assert row.unrendered and row.message == b"" and row.state is State.QUEUED
        assert row.recipient == ANN and row.dedupe_key == f"{kind}:{row.invitation_id}"
        assert re.fullmatch(r"<\S+@harborlane\.example>", row.message_id)
        await loop.sender.drain()
        (got,) = loop.new_mail()
        arrived = loop.smtp.handler.messages[-1]
        stored = await loop.services.store.outbox_row(row.id)
        assert stored is not None and stored.state is State.SENT
        assert crlf(arrived.data) == crlf(stored.message)  # stored: exactly what was sent
        assert BOUNDARY.sub(b"=_boundary", stored.message) == await full_render(loop, row)
        assert got["Message-ID"] == row.message_id  # the one chosen at enqueue
        assert "Hi Ann," in str(got.get_body(("plain",)).get_content())  # type: ignore[union-attr]


class Attempts(RecordingHandler):
    """Records every message's bytes as they came in DATA, refused or not."""

    def __init__(self) -> None:
        super().__init__()
        self.tried: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.original_content, bytes)
        self.tried.append(envelope.original_content)
        return await super().handle_DATA(server, session, envelope)


async def test_a_retry_sends_the_stored_bytes_not_a_new_render(
    make_config: Any, store_url: str | None
) -> None:
    handler = Attempts()
    handler.fail_data("451 4.3.0 try again later", times=1)
    async with (
        SmtpServer(handler) as server,
        running(make_config(smtp_changes(server)), server, store_url) as loop,
    ):
        await purchase(loop)
        row = await queued(loop, "survey")
        first_try = loop.clock.now()
        await loop.sender.drain()
        kept = await loop.services.store.outbox_row(row.id)
        assert kept is not None and (kept.state, kept.attempts) == (State.QUEUED, 1)
        assert kept.message and not kept.unrendered  # rendered once, stored before sending
        loop.clock.advance(timedelta(hours=3))  # a new render would carry a new Date
        await loop.sender.drain()
        sent = await loop.services.store.outbox_row(row.id)
        assert sent is not None and (sent.state, sent.attempts) == (State.SENT, 2)
        assert len(handler.tried) == 2 and handler.tried[0] == handler.tried[1]
        assert crlf(handler.tried[1]) == crlf(kept.message) == crlf(sent.message)
        (got,) = loop.new_mail()
        assert got["Message-ID"] == row.message_id
        assert str(got["Date"]) == format_datetime(first_try.astimezone(LONDON))


def break_survey_for_ann(config: Config) -> tuple[Path, str]:
    """A mistake `vouch check` cannot see: it only bites for a customer called Ann."""
    path = config.templates_dir / "survey.txt"
    good = path.read_text()
    path.write_text(
        good.replace(
            "{% block content %}",
            '{% block content %}{% if customer_name == "Ann" %}{{ customer_name.nick.x }}'
            "{% endif %}",
            1,
        )
    )
    return path, good


async def test_a_render_error_at_claim_keeps_the_row_until_the_owner_fixes_it(
    make_config: Any,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = make_config(smtp_changes(smtp_server))
    path, good = break_survey_for_ann(config)
    async with running(config, smtp_server, store_url) as loop:
        assert loop.services.renderer.check() == []
        await purchase(loop)
        row = await queued(loop, "survey")
        await loop.sender.drain()
        kept = await loop.services.store.outbox_row(row.id)
        assert kept is not None and (kept.state, kept.attempts) == (State.QUEUED, 1)
        assert kept.unrendered  # nothing stored: it is rendered afresh once fixed
        assert kept.last_error is not None
        assert kept.last_error.startswith("could not render: ")
        assert "survey.txt" in kept.last_error and "nick" in kept.last_error
        loop.clock.advance(timedelta(hours=2))
        await loop.sender.drain()  # still broken: retried, not lost, not sent
        assert loop.new_mail() == []
        again = await loop.services.store.outbox_row(row.id)
        assert again is not None and (again.state, again.attempts) == (State.QUEUED, 2)

        path.write_text(good)  # the owner fixes it and reloads (SIGHUP swaps the renderer)
        loop.services.renderer = Renderer(loop.services.config, loop.clock)
        loop.clock.advance(timedelta(hours=2))
        await loop.sender.drain()
        (got,) = loop.new_mail()
        assert got["Message-ID"] == row.message_id
        sent = await loop.services.store.outbox_row(row.id)
        assert sent is not None and sent.state is State.SENT and sent.last_error is None


async def test_render_errors_fail_the_row_after_max_attempts(
    make_config: Any,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = make_config(smtp_changes(smtp_server))
    break_survey_for_ann(config)
    async with running(config, smtp_server, store_url) as loop:
        await purchase(loop)
        row = await queued(loop, "survey")
        for _ in range(config.settings.sender.max_attempts):
            await loop.sender.drain()
            loop.clock.advance(timedelta(hours=2))
        failed = await loop.services.store.outbox_row(row.id)
        assert failed is not None and failed.state is State.FAILED
        assert failed.last_error is not None and "could not render" in failed.last_error
        assert loop.smtp.handler.messages == []


async def test_a_forgotten_customers_unrendered_survey_is_never_sent(loop: Loop) -> None:
    await purchase(loop)
    row = await queued(loop, "survey")
    done = await loop.client.delete(f"/v1/customers/{ANN}", headers=AUTH)
    assert done.status_code == 200, done.text
    await loop.travel(timedelta(days=10))
    assert loop.smtp.handler.messages == []
    gone = await loop.services.store.outbox_row(row.id)
    assert gone is not None and gone.state is State.SUPPRESSED and gone.message == b""
    assert gone.recipient.startswith("forgotten-") and ANN not in gone.dedupe_key


async def test_forgotten_while_being_rendered_nothing_is_stored_or_sent(loop: Loop) -> None:
    """The person is forgotten between the claim and the storing of the rendered bytes."""
    services = loop.services
    await purchase(loop)
    row = await queued(loop, "survey")

    async def render_then_forget(rows: Sequence[OutboxRow]) -> dict[int, bytes | str | Cancel]:
        made = await survey_email.render_claimed(services, rows)
        assert b"Ann" in made[row.id]  # type: ignore[operator]
        await services.store.forget(ANN, services.clock.now())
        return made

    loop.sender.render = render_then_forget
    await loop.sender.drain()
    assert loop.smtp.handler.messages == []
    gone = await services.store.outbox_row(row.id)
    assert gone is not None and gone.state is State.SUPPRESSED and gone.message == b""


async def test_an_address_suppressed_before_the_claim_is_not_rendered(loop: Loop) -> None:
    await purchase(loop)
    row = await queued(loop, "survey")
    await loop.services.store.suppress(ANN, "unsubscribed", loop.clock.now())
    await loop.sender.drain()
    kept = await loop.services.store.outbox_row(row.id)
    assert kept is not None and kept.state is State.SUPPRESSED and kept.unrendered
    assert loop.smtp.handler.messages == []


async def test_the_dashboard_shows_an_unrendered_email_as_not_rendered_yet(
    tmp_path: Path,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    config = load_config(
        write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )
    async with running(config, smtp_server, store_url) as loop:
        await dashboard_shows_not_rendered_yet(loop)


async def dashboard_shows_not_rendered_yet(loop: Loop) -> None:
    await purchase(loop)
    row = await queued(loop, "survey")
    customer = await loop.services.store.customer_by_email(ANN)
    assert customer is not None
    await login(loop.client)
    timeline = await loop.client.get(f"/admin/customers/{customer.public_id}")
    assert timeline.status_code == 200
    assert f'href="/admin/emails/{row.id}"' in timeline.text
    page = await loop.client.get(f"/admin/emails/{row.id}")
    assert page.status_code == 200
    assert "Not rendered yet" in page.text
    assert (await loop.client.get(f"/admin/emails/{row.id}/html")).status_code == 404
    await loop.sender.drain()
    page = await loop.client.get(f"/admin/emails/{row.id}")
    assert "Not rendered yet" not in page.text
    assert "Quick question from Harbor Lane Renovations" in page.text
    (got,) = loop.new_mail()
    stored = await loop.services.store.stored_email(row.id)
    assert stored is not None and parse(stored.message)["Message-ID"] == got["Message-ID"]


async def test_a_sender_that_cannot_render_keeps_the_row(loop: Loop) -> None:
    """e.g. `vouch send-test`'s sender, which has no renderer: the row waits for the daemon."""
    await purchase(loop)
    row = await queued(loop, "survey")
    loop.sender.render = None
    await loop.sender.drain()
    kept = await loop.services.store.outbox_row(row.id)
    assert kept is not None and (kept.state, kept.attempts) == (State.QUEUED, 1)
    assert kept.unrendered and kept.last_error == (
        "could not render: RuntimeError: this sender cannot render survey emails"
    )
    assert loop.smtp.handler.messages == []


async def test_a_reminder_is_cancelled_when_the_customer_answered_after_it_was_queued(
    loop: Loop,
) -> None:
    """The reminder was queued; the customer then answered the survey (here on its page)
    before the sender claimed it: it is never sent, and the outbox says why."""
    await purchase(loop)
    await queued(loop, "survey")
    await loop.sender.drain()
    assert len(loop.new_mail()) == 1
    reminder = await queued(loop, "reminder")
    assert reminder.invitation_id is not None
    invitation = await loop.services.store.invitation(reminder.invitation_id)
    assert invitation is not None
    await answer_invitation(loop.services, invitation, 9, "Lovely work", source="page")
    await loop.sender.drain()
    assert loop.new_mail() == []
    row = await loop.services.store.outbox_row(reminder.id)
    assert row is not None and row.state is State.CANCELLED and row.message == b""
    assert row.last_error == "the customer answered before the reminder went out"
    assert row.attempts == 0
