"""The whole send path over real SMTP: outbox row → sender → SmtpTransport → a real aiosmtpd
server that records what it receives and misbehaves on cue."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.mail.compose import build_email, enqueue
from daemon.mail.outbox import State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.sender import Sender
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.transport import build_transport

from helpers import ENV
from smtp_server import PASSWORD, PASSWORD_ENV, SmtpServer


def smtp_config(make_config: Callable[..., Config], server: SmtpServer, **smtp: Any) -> Config:
    settings = {"host": server.host, "port": server.port, "security": "none", **smtp}
    return make_config({"email": {"transport": "smtp", "smtp": settings}})


async def send_one(
    config: Config, store: SQLiteStore, clock: FakeClock, to: str = "ann@example.com"
) -> tuple[Sender, int]:
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    row_id = await enqueue(
        services,
        build_email(
            services,
            kind="test",
            context={"recipient": to, "sent_at": clock.now()},
            to_email=to,
            to_name="Ann Example",
            dedupe_key=f"test:{to}",
        ),
    )
    assert row_id is not None
    sender = Sender(
        store,
        build_transport(config, clock),
        clock,
        config.settings.sender,
        services.metrics,
        rng=random.Random(3),
    )
    return sender, row_id


async def settle_over_days(sender: Sender, clock: FakeClock, rounds: int = 6) -> None:
    """Drain, then jump past any backoff, a few times: days pass in milliseconds."""
    for _ in range(rounds):
        await sender.drain()
        clock.advance(timedelta(hours=2))
    await sender.transport.aclose()


async def test_delivered_message_is_the_rendered_one(
    smtp_server: SmtpServer,
    make_config: Callable[..., Config],
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    config = smtp_config(make_config, smtp_server)
    sender, row_id = await send_one(config, store, clock)
    await settle_over_days(sender, clock)
    (got,) = smtp_server.handler.messages
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.SENT
    assert got.data.replace(b"\r\n", b"\n") == row.message.replace(b"\r\n", b"\n")
    message = got.message()
    assert got.mail_from == "hello@harborlane.example" and got.rcpt_tos == ["ann@example.com"]
    assert message["Message-ID"] == row.message_id
    assert message["Subject"] == "Test email from Harbor Lane Renovations"
    assert message["To"].addresses[0].display_name == "Ann Example"
    assert message.get_content_type() == "multipart/alternative"


async def test_421_and_451_are_retried_and_delivered_once(
    smtp_server: SmtpServer,
    make_config: Callable[..., Config],
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    smtp_server.handler.fail_rcpt("421 4.7.0 try again later", times=1)
    smtp_server.handler.fail_data("451 4.3.0 local problem", times=1)
    config = smtp_config(make_config, smtp_server)
    sender, row_id = await send_one(config, store, clock)
    await settle_over_days(sender, clock)
    assert len(smtp_server.handler.messages) == 1
    row = await store.outbox_row(row_id)
    assert row is not None and (row.state, row.attempts) == (State.SENT, 3)


async def test_550_is_final_and_suppresses(
    smtp_server: SmtpServer,
    make_config: Callable[..., Config],
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    smtp_server.handler.fail_rcpt("550 5.1.1 no such user", times=None)
    config = smtp_config(make_config, smtp_server)
    sender, row_id = await send_one(config, store, clock, to="gone@example.com")
    await settle_over_days(sender, clock)
    row = await store.outbox_row(row_id)
    assert row is not None and (row.state, row.attempts) == (State.FAILED, 1)
    assert row.last_error is not None and "550" in row.last_error
    assert await store.suppressed(["gone@example.com"]) == {"gone@example.com"}
    assert smtp_server.handler.messages == []


async def test_connection_dropped_mid_data_is_retried(
    smtp_server: SmtpServer,
    make_config: Callable[..., Config],
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    smtp_server.handler.drop_data(times=1)
    config = smtp_config(make_config, smtp_server)
    sender, row_id = await send_one(config, store, clock)
    await sender.drain()
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.QUEUED and row.attempts == 1
    await settle_over_days(sender, clock)
    assert len(smtp_server.handler.messages) == 1
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.SENT


async def test_stalled_server_times_out_and_is_retried(
    smtp_server: SmtpServer,
    make_config: Callable[..., Config],
    store: SQLiteStore,
    clock: FakeClock,
) -> None:
    smtp_server.handler.stall_data(times=1)
    config = smtp_config(make_config, smtp_server, timeout_seconds=0.3)
    sender, row_id = await send_one(config, store, clock)
    await sender.drain()
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.QUEUED
    assert row.last_error is not None and "timed out" in row.last_error
    await settle_over_days(sender, clock)
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.SENT
    assert len(smtp_server.handler.messages) == 1


async def test_starttls_and_auth(
    smtp_server_starttls: SmtpServer, tmp_path: Any, store: SQLiteStore, clock: FakeClock
) -> None:
    from helpers import write_business

    server = smtp_server_starttls
    settings = server.smtp_settings().model_dump(mode="json", exclude_none=True)
    path = write_business(tmp_path / "biz", {"email": {"transport": "smtp", "smtp": settings}})
    config = load_config(path, {**ENV, PASSWORD_ENV: PASSWORD}, need_secrets=True)
    sender, row_id = await send_one(config, store, clock)
    await settle_over_days(sender, clock)
    (got,) = server.handler.messages
    assert got.authenticated
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.SENT
