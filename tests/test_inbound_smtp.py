"""The inbound SMTP listener: real messages sent over 127.0.0.1 to a listener on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import aiosmtplib
import pytest

from daemon.engine.replies import InboundMail, strip_quoted
from daemon.intake.inbound_smtp import InboundListener, html_to_text, parse_inbound

HOST = "127.0.0.1"
REPLY_TO = "reply+abc123@vouch.example"


class Recorder:
    """A handler that records what it is given and answers as told."""

    def __init__(self) -> None:
        self.mails: list[InboundMail] = []
        self.reply: str | None = None
        self.fail = False

    async def __call__(self, mail: InboundMail) -> str | None:
        if self.fail:
            raise RuntimeError("the store is down")
        self.mails.append(mail)
        return self.reply


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
async def listener(recorder: Recorder) -> AsyncIterator[InboundListener]:
    async with InboundListener(recorder, HOST, 0, max_bytes=20_000, hostname="localhost") as lst:
        yield lst


async def send(
    listener: InboundListener,
    message: EmailMessage | MIMEMultipart | bytes,
    *,
    sender: str | None = None,
    recipients: list[str] | None = None,
) -> tuple[dict[str, aiosmtplib.SMTPResponse], str]:
    return await aiosmtplib.send(
        message,
        sender=sender,
        recipients=recipients,
        hostname=HOST,
        port=listener.port,
        start_tls=False,
        timeout=10,
    )


def reply_message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Anna Müller <Anna@Example.com>"
    message["To"] = REPLY_TO
    message["Subject"] = "Re: Wie war unser Einsatz? ✓"
    message["Message-ID"] = "<reply-1@mail.example.com>"
    message["In-Reply-To"] = "<survey-42@vouch.example>"
    message["References"] = "<thread-1@vouch.example> <survey-42@vouch.example>"
    message.set_content(
        "9 - great crew\n\nOn Mon, 2 Mar 2026 at 10:15, Demo <hello@vouch.example> wrote:\n> Hi\n"
    )
    return message


async def test_a_reply_reaches_the_handler_with_its_headers(
    listener: InboundListener, recorder: Recorder
) -> None:
    assert listener.port != 0
    errors, response = await send(listener, reply_message(), recipients=[REPLY_TO, "x@y.example"])
    assert errors == {}
    assert response.startswith("OK")
    [mail] = recorder.mails
    assert mail.from_addr == "Anna@Example.com"
    assert mail.to_addrs == [REPLY_TO, "x@y.example"]  # the envelope, whatever the To header says
    assert mail.subject == "Re: Wie war unser Einsatz? ✓"
    assert mail.in_reply_to == "<survey-42@vouch.example>"
    assert mail.references == ["<thread-1@vouch.example>", "<survey-42@vouch.example>"]
    assert mail.message_id == "<reply-1@mail.example.com>"
    assert mail.text.startswith("9 - great crew\n\nOn Mon, 2 Mar 2026")
    assert strip_quoted(mail.text) == "9 - great crew"
    assert b"In-Reply-To: <survey-42@vouch.example>" in mail.raw


async def test_multipart_alternative_gives_the_plain_part(
    listener: InboundListener, recorder: Recorder
) -> None:
    message = MIMEMultipart("alternative")
    message["From"] = "tom@example.com"
    message["To"] = REPLY_TO
    message["Subject"] = "Re: Thank you"
    message.attach(MIMEText("You saved us, couldn't be happier.\n", "plain", "utf-8"))
    message.attach(MIMEText("<p>You saved us, <b>couldn't</b> be happier.</p>", "html", "utf-8"))
    await send(listener, message)
    [mail] = recorder.mails
    assert mail.text == "You saved us, couldn't be happier.\n"
    assert mail.in_reply_to is None
    assert mail.references == []


async def test_an_html_only_reply_becomes_plain_text_without_its_quote(
    listener: InboundListener, recorder: Recorder
) -> None:
    message = EmailMessage()
    message["From"] = "anne@example.fr"
    message["To"] = REPLY_TO
    message["Subject"] = "Re: Merci"
    message.set_content(
        "<html><head><style>p { color: red }</style></head><body>"
        "<div dir='ltr'>Super &eacute;quipe,<br>merci&nbsp;!</div>"
        "<div class='gmail_quote'><div class='gmail_attr'>Le lun. 2 mars 2026 à 10:15, Demo "
        "&lt;hello@vouch.example&gt; a écrit&nbsp;:<br></div>"
        "<blockquote type='cite'><p>Bonjour Anne,</p><p>Comment était notre travail ?</p>"
        "</blockquote></div></body></html>",
        subtype="html",
    )
    await send(listener, message)
    [mail] = recorder.mails
    assert "color" not in mail.text
    assert "> Bonjour Anne," in mail.text
    assert strip_quoted(mail.text) == "Super équipe,\nmerci !"  # &nbsp; becomes a space


async def test_a_legacy_charset_is_decoded(listener: InboundListener, recorder: Recorder) -> None:
    raw = (
        "From: =?iso-8859-1?q?Ren=E9e?= <renee@example.fr>\r\n"
        f"To: {REPLY_TO}\r\n"
        "Subject: =?iso-8859-1?q?R=E9ponse?=\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "10 - tr\xe8s bien, \xe9quipe g\xe9niale\r\n"
    ).encode("latin-1")
    await send(listener, raw, sender="renee@example.fr", recipients=[REPLY_TO])
    [mail] = recorder.mails
    assert mail.subject == "Réponse"
    assert mail.text == "10 - très bien, équipe géniale\n"
    assert mail.raw.endswith(b"g\xe9niale\r\n")


async def test_a_raising_handler_makes_the_sender_retry(
    listener: InboundListener, recorder: Recorder
) -> None:
    recorder.fail = True
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(listener, reply_message())
    assert refused.value.code == 451
    assert "try again later" in refused.value.message
    recorder.fail = False
    await send(listener, reply_message())  # the retry goes through
    assert len(recorder.mails) == 1


async def test_the_handler_may_choose_the_reply(
    listener: InboundListener, recorder: Recorder
) -> None:
    recorder.reply = "250 2.0.0 recorded as score 9"
    _, response = await send(listener, reply_message())
    assert response == "2.0.0 recorded as score 9"


async def test_an_oversize_message_is_refused_with_552(
    listener: InboundListener, recorder: Recorder
) -> None:
    big = reply_message()
    big.set_content("x" * 70 + "\n" + ("y" * 70 + "\n") * 400)
    with pytest.raises(aiosmtplib.SMTPResponseException) as declared:
        await send(listener, big)  # aiosmtplib declares SIZE=: refused at MAIL FROM
    assert declared.value.code == 552

    client = aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False, timeout=10)
    async with client:
        await client.mail("anna@example.com")  # no SIZE=: refused after DATA
        await client.rcpt(REPLY_TO)
        with pytest.raises(aiosmtplib.SMTPDataError) as undeclared:
            await client.data(big.as_bytes())
    assert undeclared.value.code == 552
    assert recorder.mails == []


async def test_stop_lets_a_message_in_hand_finish(recorder: Recorder) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    async def slow(mail: InboundMail) -> None:
        entered.set()
        await release.wait()
        recorder.mails.append(mail)

    listener = await InboundListener(slow, HOST, 0, hostname="localhost").start()
    sending = asyncio.create_task(send(listener, reply_message()))
    await entered.wait()
    stopping = asyncio.create_task(listener.stop())
    await asyncio.sleep(0)  # let stop() close the listening socket and start waiting
    assert not stopping.done()
    release.set()
    _, response = await sending
    await stopping
    assert response.startswith("OK")
    assert len(recorder.mails) == 1
    with pytest.raises(aiosmtplib.SMTPConnectError):
        await send(listener, reply_message())


async def test_stop_closes_idle_connections_and_is_idempotent(recorder: Recorder) -> None:
    listener = await InboundListener(recorder, HOST, 0, hostname="localhost").start()
    client = aiosmtplib.SMTP(hostname=HOST, port=listener.port, start_tls=False, timeout=10)
    await client.connect()
    await client.ehlo()
    await listener.stop()
    await listener.stop()
    with pytest.raises(aiosmtplib.SMTPException):
        await client.noop()
    client.close()


# --- parsing, without a server ---------------------------------------------------------------


def test_without_from_or_envelope_the_headers_and_envelope_fill_in() -> None:
    raw = b"To: a@example.com, B <b@example.com>\r\nIn-Reply-To: survey-42\r\n\r\nHello\r\n"
    mail = parse_inbound(raw, "bounce@relay.example")
    assert mail.from_addr == "bounce@relay.example"
    assert mail.to_addrs == ["a@example.com", "b@example.com"]
    assert mail.in_reply_to == "survey-42"
    assert mail.subject == ""
    assert mail.message_id is None
    assert mail.text == "Hello\n"


def test_an_unknown_charset_is_read_as_utf8_and_bad_bytes_do_not_raise() -> None:
    unknown = "Content-Type: text/plain; charset=x-klingon\r\n\r\nGr\u00fc\u00dfe\r\n"
    assert parse_inbound(unknown.encode()).text == "Grüße\n"
    mislabelled = "Content-Type: text/plain; charset=us-ascii\r\n\r\nGr\u00fc\u00dfe\r\n"
    assert parse_inbound(mislabelled.encode()).text == "Grüße\n"
    broken = b"Content-Type: text/plain; charset=utf-8\r\n\r\nGr\xfc\xdfe \xff\r\n"
    assert parse_inbound(broken).text == "Gr\ufffd\ufffde \ufffd\n"
    not_text = b"Content-Type: text/plain; charset=base64\r\n\r\nhello\r\n"
    assert parse_inbound(not_text).text == "hello\n"


def test_a_message_with_only_an_attachment_has_no_text() -> None:
    message = EmailMessage()
    message["From"] = "a@example.com"
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="x.pdf")
    assert parse_inbound(message.as_bytes()).text == ""


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One</p><p>Two &amp; three</p>", "One\n\nTwo & three"),
        ("<div>Line one</div><div>Line two</div>", "Line one\nLine two"),
        ("<div>a<br></div><div><br></div><div>b</div>", "a\n\nb"),
        ("Hi<br/>there", "Hi\nthere"),
        ("<script>alert(1)</script><title>T</title>Body", "Body"),
        ("<blockquote>q1<blockquote>q2</blockquote></blockquote>after", "> q1\n> > q2\nafter"),
        ("  spaced \n\n out  <b>bold</b> ", "spaced out bold"),
        ("<p>unclosed <i>tags", "unclosed tags"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
