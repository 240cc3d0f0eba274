"""SmtpTransport against a real aiosmtpd server on 127.0.0.1, faults injected server-side."""

from __future__ import annotations

import asyncio
import email.policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from daemon.clock import Clock, FakeClock, SystemClock
from daemon.engine.refusals import Refusal, Stage
from daemon.errors import PermanentDeliveryError, TemporaryDeliveryError
from daemon.transport.smtp import SmtpTransport

from smtp_server import (
    PASSWORD,
    USERNAME,
    RecordingHandler,
    SmtpServer,
    ThreadedSmtpServer,
    TlsMaterial,
)

SENDER = "hello@acme.test"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return TlsMaterial.create(tmp_path_factory.mktemp("tls"))


def message(n: int, to: str = "ann@example.com") -> bytes:
    msg = EmailMessage()
    msg["From"] = f"Acme <{SENDER}>"
    msg["To"] = to
    msg["Subject"] = f"How likely are you to recommend us? #{n}"
    msg["Message-ID"] = f"<{n}@acme.test>"
    msg.set_content(f"Hello #{n}\n.a line that starts with a dot\n")
    return msg.as_bytes(policy=email.policy.SMTP)


def transport(
    server: SmtpServer | ThreadedSmtpServer,
    tmp_path: Path,
    *,
    password: str | None = PASSWORD,
    clock: Clock | None = None,
    **overrides: Any,
) -> SmtpTransport:
    settings = server.smtp_settings(**overrides)
    return SmtpTransport(settings, password, clock or SystemClock(), base_dir=tmp_path)


async def test_delivers_messages_over_reused_connections(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path, connections=2)
        sent = [message(n, f"c{n}@example.com") for n in range(12)]
        replies = await asyncio.gather(
            *(smtp.send(SENDER, f"c{n}@example.com", m, key=f"k{n}") for n, m in enumerate(sent))
        )
        replies.append(await smtp.send(SENDER, "last@example.com", message(99), key="last"))
        await smtp.aclose()

    assert smtp.concurrency == 2
    assert all(reply.startswith("250 OK queued as") for reply in replies)
    received = server.handler.messages
    assert len(received) == 13
    assert server.handler.connections <= 2
    by_recipient = {r.rcpt_tos[0]: r for r in received}
    for n, data in enumerate(sent):
        got = by_recipient[f"c{n}@example.com"]
        assert got.mail_from == SENDER
        assert got.data == data  # dot-stuffing undone, bytes intact
        assert got.message()["Subject"] == f"How likely are you to recommend us? #{n}"
        assert ".a line that starts with a dot" in got.message().get_content()


async def test_starttls_and_login_with_private_ca(tmp_path: Path, tls: TlsMaterial) -> None:
    async with SmtpServer(security="starttls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path)
        reply = await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        await smtp.aclose()
    assert reply.startswith("250")
    assert server.handler.messages[0].authenticated


async def test_relative_ca_file_resolves_against_base_dir(tmp_path: Path, tls: TlsMaterial) -> None:
    (tmp_path / "ca.pem").write_bytes(tls.ca_file.read_bytes())
    async with SmtpServer(security="starttls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path, ca_file=Path("ca.pem"))
        assert (await smtp.send(SENDER, "ann@example.com", message(1), key="k")).startswith("250")
        await smtp.aclose()


async def test_wrong_password_is_a_refusal_at_auth_and_says_authentication(
    tmp_path: Path, tls: TlsMaterial
) -> None:
    """Permanent, but about us: the sender pauses sending on it, suppressing nobody."""
    async with SmtpServer(security="starttls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path, password="wrong")
        with pytest.raises(PermanentDeliveryError, match="authentication") as caught:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        await smtp.aclose()
    assert caught.value.code == 535
    assert caught.value.refusal == Refusal(
        Stage.AUTH, "535 5.7.8 Authentication credentials invalid"
    )
    assert server.handler.messages == []


async def test_untrusted_certificate_is_temporary(tmp_path: Path, tls: TlsMaterial) -> None:
    async with SmtpServer(security="starttls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path, ca_file=None)  # the system CAs do not know trustme's
        with pytest.raises(TemporaryDeliveryError, match=r"(?i)certificate"):
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        await smtp.aclose()


async def test_implicit_tls(tmp_path: Path, tls: TlsMaterial) -> None:
    async with SmtpServer(security="tls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path)
        for n in range(3):
            await smtp.send(SENDER, "ann@example.com", message(n), key=f"k{n}")
        await smtp.aclose()
    assert [m.authenticated for m in server.handler.messages] == [True] * 3
    assert server.handler.connections == 1


async def test_4xx_on_rcpt_is_temporary_until_the_server_accepts(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_rcpt("451 4.3.0 try again later", times=2)
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        for _ in range(2):
            with pytest.raises(TemporaryDeliveryError) as caught:
                await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
            assert caught.value.code == 451
        assert (await smtp.send(SENDER, "ann@example.com", message(1), key="k1")).startswith("250")
        await smtp.aclose()
    assert len(handler.messages) == 1


async def test_421_on_rcpt_is_temporary(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_rcpt("421 4.3.2 shutting down")
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(TemporaryDeliveryError) as caught:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        assert caught.value.code == 421
        assert (await smtp.send(SENDER, "ann@example.com", message(1), key="k1")).startswith("250")
        await smtp.aclose()


async def test_5xx_on_rcpt_is_permanent(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_rcpt("550 5.1.1 no such user", times=None)
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(PermanentDeliveryError, match="no such user") as caught:
            await smtp.send(SENDER, "nobody@example.com", message(1), key="k1")
        await smtp.aclose()
    assert caught.value.code == 550


async def test_5xx_on_data_is_permanent(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_data("554 5.6.0 message refused")
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(PermanentDeliveryError) as caught:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        assert (await smtp.send(SENDER, "bob@example.com", message(2), key="k2")).startswith("250")
        await smtp.aclose()
    assert caught.value.code == 554


async def test_5xx_on_mail_from_is_a_refusal_of_our_sender(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_mail("553 5.7.1 sender not allowed")
    handler.fail_mail("451 4.3.0 try later")
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(PermanentDeliveryError, match="sender") as caught:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        with pytest.raises(TemporaryDeliveryError, match="sender") as later:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        await smtp.aclose()
    assert caught.value.code == 553
    assert caught.value.refusal == Refusal(Stage.MAIL, "553 5.7.1 sender not allowed")
    assert later.value.refusal == Refusal(Stage.MAIL, "451 4.3.0 try later")


async def test_each_refusal_says_where_it_came(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.fail_rcpt("554 5.7.1 <{rcpt}>: Relay access denied")
    handler.fail_data("554 5.7.0 rejected by policy")
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(PermanentDeliveryError) as at_rcpt:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        with pytest.raises(PermanentDeliveryError) as at_data:
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        with pytest.raises(PermanentDeliveryError) as by_us:  # the transport's own check
            await smtp.send(SENDER, "ann@example.com>\r\nRCPT TO:<x@y.z", message(1), key="k2")
        await smtp.aclose()
    assert at_rcpt.value.refusal == Refusal(
        Stage.RCPT, "554 5.7.1 <ann@example.com>: Relay access denied"
    )
    assert at_data.value.refusal == Refusal(Stage.DATA, "554 5.7.0 rejected by policy")
    assert by_us.value.refusal is None


async def test_connection_dropped_mid_data_is_temporary_and_the_pool_recovers(
    tmp_path: Path,
) -> None:
    handler = RecordingHandler()
    handler.drop_data()
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path, connections=1)
        with pytest.raises(TemporaryDeliveryError):
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        assert (await smtp.send(SENDER, "ann@example.com", message(1), key="k1")).startswith("250")
        await smtp.aclose()
    assert len(handler.messages) == 1
    assert handler.connections == 2


async def test_a_stall_times_out_as_temporary_and_the_pool_recovers(tmp_path: Path) -> None:
    handler = RecordingHandler()
    handler.stall_data()
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path, connections=1, timeout_seconds=0.3)
        with pytest.raises(TemporaryDeliveryError, match="timed out"):
            await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        assert (await smtp.send(SENDER, "ann@example.com", message(1), key="k1")).startswith("250")
        await smtp.aclose()
    assert len(handler.messages) == 1


async def test_idle_connection_closed_by_the_server_is_replaced(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path, connections=1)
        await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        await server.disconnect_all()
        await smtp.send(SENDER, "ann@example.com", message(2), key="k2")
        await smtp.aclose()
    assert len(server.handler.messages) == 2
    assert server.handler.connections == 2


async def test_a_drop_on_a_reused_connection_is_retried_once_on_a_new_one(tmp_path: Path) -> None:
    handler = RecordingHandler()
    async with SmtpServer(handler) as server:
        smtp = transport(server, tmp_path, connections=1)
        await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
        handler.drop_data()
        await smtp.send(SENDER, "ann@example.com", message(2), key="k2")
        await smtp.aclose()
    assert [m.message()["Message-ID"] for m in handler.messages] == [
        "<1@acme.test>",
        "<2@acme.test>",
    ]


async def test_connection_refused_is_temporary(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        pass  # the port is now closed
    smtp = transport(server, tmp_path)
    with pytest.raises(TemporaryDeliveryError, match="connect"):
        await smtp.send(SENDER, "ann@example.com", message(1), key="k1")
    await smtp.aclose()


async def test_rate_limit_spaces_sends_on_the_injected_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path, clock=clock, rate_per_minute=60)
        for n in range(3):
            await smtp.send(SENDER, "ann@example.com", message(n), key=f"k{n}")
        await smtp.aclose()
    assert clock.monotonic() == pytest.approx(2.0)
    assert len(server.handler.messages) == 3


async def test_no_rate_limit_never_sleeps(tmp_path: Path) -> None:
    clock = FakeClock()
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path, clock=clock)
        for n in range(3):
            await smtp.send(SENDER, "ann@example.com", message(n), key=f"k{n}")
        await smtp.aclose()
    assert clock.monotonic() == 0.0


async def test_internationalised_recipient_uses_smtputf8(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path)
        await smtp.send(SENDER, "josé@example.com", message(1), key="k1")
        await smtp.aclose()
    assert server.handler.messages[0].rcpt_tos == ["josé@example.com"]


async def test_an_address_that_cannot_go_on_the_wire_is_permanent(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path)
        with pytest.raises(PermanentDeliveryError):
            await smtp.send(SENDER, "ann@example.com>\r\nRCPT TO:<x@y.z", message(1), key="k")
        await smtp.aclose()
    assert server.handler.connections == 0


async def test_aclose_quits_and_refuses_later_sends(tmp_path: Path) -> None:
    async with SmtpServer() as server:
        smtp = transport(server, tmp_path, connections=3)
        await asyncio.gather(
            *(smtp.send(SENDER, "ann@example.com", message(n), key=f"k{n}") for n in range(3))
        )
        await smtp.aclose()
        await smtp.aclose()  # idempotent
        with pytest.raises(RuntimeError):
            await smtp.send(SENDER, "ann@example.com", message(9), key="k9")
    assert len(server.handler.messages) == 3


def test_login_pair_is_the_test_servers(tls: TlsMaterial) -> None:
    """Guard the helper's constants: the fixtures above rely on them."""
    assert USERNAME and PASSWORD and tls.ca_file.read_bytes().startswith(b"-----BEGIN")


async def test_threaded_server_with_starttls(tmp_path: Path, tls: TlsMaterial) -> None:
    """The Controller-based server (its own thread and loop) behaves like the in-loop one."""
    with ThreadedSmtpServer(security="starttls", tls=tls, auth=True) as server:
        smtp = transport(server, tmp_path)
        for n in range(2):
            await smtp.send(SENDER, "ann@example.com", message(n), key=f"k{n}")
        await smtp.aclose()
    assert [m.authenticated for m in server.handler.messages] == [True, True]
    assert server.handler.connections == 1
