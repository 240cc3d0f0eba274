"""Bounces (RFC 3464 DSNs) and spam complaints (RFC 5965 ARF) that come back as mail: the parser
on realistic samples, then end to end through the SMTP listener and POST /v1/inbound."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import aiosmtplib
import httpx
import pytest
from loop import AUTH

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.engine.bounces import Failure, parse_report
from daemon.engine.replies import InboundMail
from daemon.intake import inbound
from daemon.intake.inbound_smtp import InboundListener
from daemon.mail.outbox import NewEmail, State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.web import create_app

from helpers import query


def crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


# --- samples, trimmed from real ones -----------------------------------------------------------

POSTFIX_HARD = crlf("""
Return-Path: <>
Received: by mx.harborlane.example (Postfix) id 4Q8Vz10Xyz; Mon,  2 Mar 2026 10:00:03 +0000 (UTC)
Date: Mon,  2 Mar 2026 10:00:03 +0000 (UTC)
From: MAILER-DAEMON@mx.harborlane.example (Mail Delivery System)
Subject: Undelivered Mail Returned to Sender
To: hello@harborlane.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="4Q8Vz10Xyz.1772445603/mx.harborlane.example"
Content-Transfer-Encoding: 8bit
Message-Id: <20260302100003.4Q8Vz10Xyz@mx.harborlane.example>

This is a MIME-encapsulated message.

--4Q8Vz10Xyz.1772445603/mx.harborlane.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.harborlane.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

                   The mail system

<gone@example.com>: host mx.example.com[203.0.113.7] said: 550 5.1.1
    <gone@example.com>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

--4Q8Vz10Xyz.1772445603/mx.harborlane.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.harborlane.example
X-Postfix-Queue-ID: 4Q8Vz10Xyz
X-Postfix-Sender: rfc822; bounces@harborlane.example
Arrival-Date: Mon,  2 Mar 2026 10:00:01 +0000 (UTC)

Final-Recipient: rfc822; Gone@Example.com
Original-Recipient: rfc822;gone@example.com
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.com
Diagnostic-Code: smtp; 550 5.1.1 <gone@example.com>: Recipient address
    rejected: User unknown in virtual mailbox table

--4Q8Vz10Xyz.1772445603/mx.harborlane.example
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

Return-Path: <bounces@harborlane.example>
From: Harbor Lane <hello@harborlane.example>
To: gone@example.com
Subject: How did we do?
Message-ID: <survey-17.a1b2c3@harborlane.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

How likely are you to recommend Harbor Lane to a friend?

--4Q8Vz10Xyz.1772445603/mx.harborlane.example--
""")

POSTFIX_DELAYED = crlf("""
From: MAILER-DAEMON@mx.harborlane.example (Mail Delivery System)
Subject: Delayed Mail (still being retried)
To: hello@harborlane.example
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"
Message-Id: <20260302140000.5R9@mx.harborlane.example>

--B1
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.harborlane.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

--B1
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.harborlane.example
Arrival-Date: Mon,  2 Mar 2026 10:00:01 +0000 (UTC)

Final-Recipient: rfc822; slow@example.org
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.org[198.51.100.4]:25: Connection
    timed out
Will-Retry-Until: Mon, 7 Mar 2026 10:00:01 +0000 (UTC)

--B1
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Harbor Lane <hello@harborlane.example>
To: slow@example.org
Subject: How did we do?
Message-ID: <survey-18.d4e5f6@harborlane.example>

--B1--
""")

EXIM_HARD = crlf("""
Return-path: <>
From: Mail Delivery System <Mailer-Daemon@relay.harborlane.example>
To: hello@harborlane.example
References: <survey-19.0a0b@harborlane.example>
Content-Type: multipart/report; report-type=delivery-status; boundary=1772445603-eximdsn-1804289383
MIME-Version: 1.0
Subject: Mail delivery failed: returning message to sender
Message-Id: <E1wXYZ-000123-AB@relay.harborlane.example>
Date: Mon, 02 Mar 2026 10:00:03 +0000

--1772445603-eximdsn-1804289383
Content-type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  nobody@example.net
    host mx.example.net [192.0.2.25]
    SMTP error from remote mail server after RCPT TO:<nobody@example.net>:
    550 No such user here

--1772445603-eximdsn-1804289383
Content-type: message/delivery-status

Reporting-MTA: dns; relay.harborlane.example

Action: failed
Final-Recipient: rfc822;nobody@example.net
Status: 5.0.0
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 No such user here

--1772445603-eximdsn-1804289383
Content-type: message/rfc822

Received: from vouch by relay.harborlane.example with local (Exim 4.97)
From: Harbor Lane <hello@harborlane.example>
To: nobody@example.net
Subject: How did we do?
Message-ID: <survey-19.0a0b@harborlane.example>

How likely are you to recommend us?

--1772445603-eximdsn-1804289383--
""")

GMAIL_SOFT = crlf("""
Delivered-To: hello@harborlane.example
Return-Path: <>
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: hello@harborlane.example
Auto-Submitted: auto-replied
Subject: Delivery Status Notification (Failure)
References: <survey-20.beef@harborlane.example>
In-Reply-To: <survey-20.beef@harborlane.example>
X-Failed-Recipients: full@gmail.com
Message-ID: <67c4a1b3.050a0220.3d1e2f.0042.GMR@mx.google.com>
Date: Mon, 02 Mar 2026 02:00:03 -0800 (PST)
MIME-Version: 1.0
Content-Type: multipart/report; boundary="000000000000a1b2c3d4e5f6";
	report-type=delivery-status

--000000000000a1b2c3d4e5f6
Content-Type: multipart/related; boundary="000000000000a1b2c3d4e5f7"

--000000000000a1b2c3d4e5f7
Content-Type: multipart/alternative; boundary="000000000000a1b2c3d4e5f8"

--000000000000a1b2c3d4e5f8
Content-Type: text/plain; charset="UTF-8"

** Message not delivered **

Your message couldn't be delivered to full@gmail.com because the
recipient's inbox is out of storage space.

--000000000000a1b2c3d4e5f8
Content-Type: text/html; charset="UTF-8"

<html><body><h2>Message not delivered</h2></body></html>

--000000000000a1b2c3d4e5f8--
--000000000000a1b2c3d4e5f7--
--000000000000a1b2c3d4e5f6
Content-Type: message/delivery-status

Reporting-MTA: dns; googlemail.com
Received-From-MTA: dns; harborlane.example
Arrival-Date: Mon, 02 Mar 2026 02:00:01 -0800 (PST)
X-Original-Message-ID: <survey-20.beef@harborlane.example>

Final-Recipient: rfc822; full@gmail.com
Action: failed
Status: 4.2.2
Remote-MTA: dns; gmail-smtp-in.l.google.com. (2607:f8b0:4864:20::a2e,
 the server for the domain gmail.com.)
Diagnostic-Code: smtp; 452-4.2.2 The recipient's inbox is out of storage space.
 Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp
Last-Attempt-Date: Mon, 02 Mar 2026 02:00:03 -0800 (PST)

--000000000000a1b2c3d4e5f6
Content-Type: message/rfc822

From: Harbor Lane <hello@harborlane.example>
To: full@gmail.com
Subject: How did we do?
Message-ID: <survey-20.beef@harborlane.example>

How likely are you to recommend us?

--000000000000a1b2c3d4e5f6--
""")

MIXED = crlf("""
From: postmaster@relay.example
To: hello@harborlane.example
Subject: Delivery report
MIME-Version: 1.0
Content-Type: multipart/report; report-type="delivery-status"; boundary="M"

--M
Content-Type: text/plain

Delivery report.

--M
Content-Type: message/delivery-status

Reporting-MTA: dns; relay.example

Final-Recipient: rfc822; ok@example.com
Action: delivered
Status: 2.0.0

Final-Recipient: rfc822; relayed@example.com
Action: relayed
Status: 2.0.0

Final-Recipient: rfc822; quota@example.com
Action: failed
Status: 4.2.2
Diagnostic-Code: smtp; 452 4.2.2 Mailbox full

Final-Recipient: rfc822; gone@example.com
Action: failed
Diagnostic-Code: smtp; 550 5.1.1 No such mailbox

--M--
""")

DELIVERED_ONLY = MIXED.split(b"Final-Recipient: rfc822; quota")[0] + b"--M--\r\n"

YAHOO_ARF = crlf("""
Return-Path: <feedback@arf.mail.yahoo.com>
From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>
To: abuse@harborlane.example
Subject: FW: How did we do?
Date: Mon, 2 Mar 2026 11:02:03 +0000
Message-ID: <1772449323.arf.1234@arf.mail.yahoo.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
	boundary="_----------=_arf_1772449323"

--_----------=_arf_1772449323
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP 192.0.2.10 on
Mon, 2 Mar 2026 10:00:04 +0000. For more information about this format please see
http://www.mipassoc.org/arf/.

--_----------=_arf_1772449323
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Yahoo!-Mail-Feedback/2.0
Version: 0.1
Original-Mail-From: <bounces@harborlane.example>
Original-Rcpt-To: <Spam.Clicker@yahoo.com>
Received-Date: Mon, 2 Mar 2026 10:00:04 +0000
Reported-Domain: harborlane.example
Authentication-Results: mta1001.mail.bf1.yahoo.com  from=harborlane.example;
 domainkeys=neutral (no sig);  from=harborlane.example; dkim=pass (ok)

--_----------=_arf_1772449323
Content-Type: message/rfc822

From: Harbor Lane <hello@harborlane.example>
To: spam.clicker@yahoo.com
Subject: How did we do?
Message-ID: <survey-21.cafe@harborlane.example>

How likely are you to recommend us?

--_----------=_arf_1772449323--
""")

MICROSOFT_ARF = crlf("""
From: staff@hotmail.com
To: abuse@harborlane.example
Subject: complaint about message from 192.0.2.10
Message-ID: <JMRP-0001@hotmail.com>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="JMRP"

--JMRP
Content-Type: text/plain

This is a Junk Mail Reporting Program (JMRP) report.

--JMRP
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: Microsoft-SNDS/1.0
Version: 1
Source-IP: 192.0.2.10

--JMRP
Content-Type: message/rfc822
Content-Disposition: inline

X-HmXmrOriginalRecipient: <annoyed@outlook.com>
From: Harbor Lane <hello@harborlane.example>
To: Annoyed Person <annoyed@outlook.com>
Subject: How did we do?
Message-ID: <survey-22.f00d@harborlane.example>

How likely are you to recommend us?

--JMRP--
""")

REDACTED_ARF = MICROSOFT_ARF.replace(
    b"To: Annoyed Person <annoyed@outlook.com>", b"To: redacted"
).replace(b"<survey-22.f00d@harborlane.example>", b"<sent-by-vouch@harborlane.example>")

ORDINARY_REPLY = (
    crlf("""
From: Ann Example <ann@example.com>
To: hello@harborlane.example
Subject: Re: How did we do?
In-Reply-To: <survey-17.a1b2c3@harborlane.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="R"

--R
Content-Type: text/plain

10! Lovely work. The bounce report you asked about:

--R
Content-Type: message/rfc822

""")
    + POSTFIX_HARD
    + b"\r\n--R--\r\n"
)


# --- the parser ----------------------------------------------------------------------------------


def test_postfix_user_unknown_is_a_hard_bounce() -> None:
    report = parse_report(POSTFIX_HARD)
    assert report is not None
    assert report.kind == "hard_bounce"
    assert report.recipients == ("gone@example.com",)
    assert report.status == "5.1.1"
    assert report.diagnostic is not None and "User unknown in virtual mailbox" in report.diagnostic
    assert report.original_message_id == "<survey-17.a1b2c3@harborlane.example>"


def test_postfix_delay_warning_is_a_soft_bounce_with_the_original_from_its_headers() -> None:
    report = parse_report(POSTFIX_DELAYED)
    assert report is not None
    assert (report.kind, report.recipients, report.status) == (
        "soft_bounce",
        ("slow@example.org",),
        "4.4.1",
    )
    assert report.original_message_id == "<survey-18.d4e5f6@harborlane.example>"


def test_exim_failure() -> None:
    report = parse_report(EXIM_HARD)
    assert report is not None
    assert (report.kind, report.recipients, report.status) == (
        "hard_bounce",
        ("nobody@example.net",),
        "5.0.0",
    )
    assert report.diagnostic == "smtp; 550 No such user here"
    assert report.original_message_id == "<survey-19.0a0b@harborlane.example>"


def test_gmail_full_mailbox_is_soft() -> None:
    report = parse_report(GMAIL_SOFT)
    assert report is not None
    assert (report.kind, report.recipients, report.status) == (
        "soft_bounce",
        ("full@gmail.com",),
        "4.2.2",
    )
    assert report.diagnostic is not None and "out of storage space" in report.diagnostic
    assert report.original_message_id == "<survey-20.beef@harborlane.example>"


def test_a_mixed_report_acts_on_each_failure_and_ignores_deliveries() -> None:
    report = parse_report(MIXED)
    assert report is not None
    assert report.kind == "hard_bounce" and report.recipients == ("gone@example.com",)
    assert report.status == "5.1.1"  # read from the Diagnostic-Code: there is no Status
    assert report.failures == (
        Failure("quota@example.com", "soft_bounce", "4.2.2", "smtp; 452 4.2.2 Mailbox full"),
        Failure("gone@example.com", "hard_bounce", "5.1.1", "smtp; 550 5.1.1 No such mailbox"),
    )
    assert report.original_message_id is None
    assert parse_report(DELIVERED_ONLY) is None


def test_yahoo_arf_is_a_complaint_for_the_original_recipient() -> None:
    report = parse_report(YAHOO_ARF)
    assert report is not None
    assert report.kind == "complaint" and report.feedback_type == "abuse"
    assert report.recipients == ("spam.clicker@yahoo.com",)
    assert report.original_message_id == "<survey-21.cafe@harborlane.example>"


def test_microsoft_arf_names_the_recipient_only_in_the_original() -> None:
    report = parse_report(MICROSOFT_ARF)
    assert report is not None
    assert (report.kind, report.recipients) == ("complaint", ("annoyed@outlook.com",))
    assert report.original_message_id == "<survey-22.f00d@harborlane.example>"
    redacted = parse_report(REDACTED_ARF)
    assert redacted is not None and redacted.recipients == ()
    assert redacted.original_message_id == "<sent-by-vouch@harborlane.example>"


def test_not_spam_feedback_is_no_complaint() -> None:
    assert (
        parse_report(YAHOO_ARF.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")) is None
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff garbage \r\n\r\n\x80",
        b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\nno parts",
        b"Content-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n"
        b"\r\n--x\r\nContent-Type: text/plain\r\n\r\nread\r\n--x--\r\n",
        b"From: ann@example.com\r\nSubject: Re: survey\r\n\r\n9 - great crew\r\n",
        ORDINARY_REPLY,  # a bounce forwarded inside a reply is the customer's, not a bounce
        POSTFIX_HARD.replace(b"Action: failed", b"Action: delivered"),
        POSTFIX_HARD.replace(b"Status: 5.1.1", b"Status: 2.0.0").replace(b"550 5.1.1", b"250"),
        YAHOO_ARF.replace(b"Original-Rcpt-To: <Spam.Clicker@yahoo.com>\r\n", b"")
        .replace(b"To: spam.clicker@yahoo.com\r\n", b"")
        .replace(b"Message-ID: <survey-21.cafe@harborlane.example>\r\n", b""),
    ],
)
def test_what_is_not_a_report(raw: bytes) -> None:
    assert parse_report(raw) is None


# --- end to end ----------------------------------------------------------------------------------


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as client:
        yield client


def email_to(address: str, key: str, services: Services) -> NewEmail:
    return NewEmail(
        dedupe_key=key,
        kind="survey",
        recipient=address,
        envelope_from="bounces@harborlane.example",
        message_id=f"<{key}@harborlane.example>",
        message=b"Subject: hi\r\n\r\nhello\r\n",
        not_before=services.clock.now(),
    )


async def test_a_dsn_by_smtp_suppresses_the_address_and_later_mail_is_not_sent(
    services: Services, store: SQLiteStore
) -> None:
    verdicts: list[inbound.Verdict] = []

    async def handle(mail: InboundMail) -> None:
        verdicts.append(await inbound.handle(services, mail))

    async with InboundListener(handle, "127.0.0.1", 0) as listener:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=listener.port)
        async with smtp:  # "" below: the null reverse-path every DSN is sent with
            await smtp.sendmail("", ["hello@harborlane.example"], POSTFIX_HARD)
    assert [v.verdict for v in verdicts] == ["bounce"]
    assert "gone@example.com bounced for good (5.1.1" in verdicts[0].explanation
    reason = await store.suppression_reason("gone@example.com")
    assert reason is not None and reason.startswith("hard bounce: 5.1.1 smtp; 550 5.1.1")
    (bounce,) = await store.bounces_of("GONE@example.com")
    assert bounce.kind == "hard_bounce"
    assert bounce.original_message_id == "<survey-17.a1b2c3@harborlane.example>"
    assert query(store, "SELECT count(*) FROM replies") == [(0,)]  # not a reply

    row_id = await store.enqueue(
        email_to("Gone@example.com", "later", services), services.clock.now()
    )
    assert row_id is not None
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.SUPPRESSED


async def test_an_arf_complaint_by_http_raw_suppresses(
    services: Services, store: SQLiteStore, client: httpx.AsyncClient
) -> None:
    answer = await client.post(
        "/v1/inbound",
        json={"raw": YAHOO_ARF.decode(), "to": "abuse@harborlane.example"},
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["verdict"] == "complaint"
    assert "spam.clicker@yahoo.com reported a Vouch email as spam" in answer.json()["explanation"]
    assert await store.suppression_reason("spam.clicker@yahoo.com") == "complaint (ARF abuse)"

    # base64, for messages that are not valid UTF-8
    encoded = base64.b64encode(MICROSOFT_ARF).decode()
    answer = await client.post(
        "/v1/inbound", json={"raw": encoded, "raw_encoding": "base64"}, headers=AUTH
    )
    assert answer.status_code == 202 and answer.json()["verdict"] == "complaint"
    assert await store.suppression_reason("annoyed@outlook.com") == "complaint (ARF abuse)"

    bad = await client.post(
        "/v1/inbound", json={"raw": "not base64!", "raw_encoding": "base64"}, headers=AUTH
    )
    assert bad.status_code == 422
    assert (
        await client.post("/v1/inbound", json={"subject": "x"}, headers=AUTH)
    ).status_code == 422


async def test_a_redacted_complaint_is_matched_by_the_original_message_id(
    services: Services, store: SQLiteStore, client: httpx.AsyncClient
) -> None:
    customer = await store.ensure_customer("hidden@outlook.com", services.clock.now())
    sent = email_to("hidden@outlook.com", "sent-by-vouch", services)
    await store.enqueue(
        NewEmail(**{**sent.__dict__, "customer_id": customer.id}), services.clock.now()
    )
    answer = await client.post("/v1/inbound", json={"raw": REDACTED_ARF.decode()}, headers=AUTH)
    assert answer.json()["verdict"] == "complaint", answer.text
    assert await store.suppression_reason("hidden@outlook.com") == "complaint (ARF abuse)"


async def test_a_raw_reply_by_http_is_still_a_reply(
    services: Services, store: SQLiteStore, client: httpx.AsyncClient
) -> None:
    raw = "From: Someone <someone@example.com>\r\nSubject: hello\r\n\r\nJust saying hi.\r\n"
    answer = await client.post("/v1/inbound", json={"raw": raw}, headers=AUTH)
    assert answer.status_code == 202 and answer.json()["verdict"] == "unmatched"
    assert query(store, "SELECT from_addr, text FROM replies") == [
        ("someone@example.com", "Just saying hi.")
    ]


async def test_soft_bounces_suppress_at_the_limit_not_before(
    make_config: Callable[..., Config], store: SQLiteStore, clock: FakeClock
) -> None:
    config = make_config({"bounces": {"soft_limit": 2}})
    services = Services(config, Renderer(config, clock), store, clock, Metrics())

    async def deliver(raw: bytes) -> inbound.Verdict:
        from daemon.intake.inbound_smtp import parse_inbound

        return await inbound.handle(services, parse_inbound(raw))

    first = await deliver(GMAIL_SOFT)
    assert first.verdict == "bounce"
    assert "full@gmail.com soft bounce 1 of 2 (4.2.2" in first.explanation
    assert "not suppressed yet" in first.explanation
    assert await store.suppression_reason("full@gmail.com") is None
    # the same report again (a retried delivery) counts once
    assert "soft bounce 1 of 2" in (await deliver(GMAIL_SOFT)).explanation
    clock.advance(timedelta(days=1))
    # a second report about the same email (a delay warning, then the failure) counts once
    again = GMAIL_SOFT.replace(b"0042.GMR@", b"0043.GMR@")
    assert "soft bounce 1 of 2" in (await deliver(again)).explanation
    assert await store.suppression_reason("full@gmail.com") is None
    # another email bouncing softly reaches the limit
    other = again.replace(b"0043.GMR@", b"0044.GMR@").replace(b"survey-20.", b"survey-30.")
    last = await deliver(other)
    assert "soft bounce 2 of 2" in last.explanation and "suppressed" in last.explanation
    reason = await store.suppression_reason("full@gmail.com")
    assert reason is not None and reason.startswith("2 soft bounces, the last: 4.2.2")
    assert await store.soft_bounces("full@gmail.com") == 2
    assert len(await store.bounces_of("full@gmail.com")) == 3


async def test_a_mixed_report_suppresses_the_hard_and_counts_the_soft(
    services: Services, store: SQLiteStore
) -> None:
    from daemon.intake.inbound_smtp import parse_inbound

    verdict = await inbound.handle(services, parse_inbound(MIXED))
    assert verdict.verdict == "bounce"
    assert await store.suppressed(["gone@example.com", "quota@example.com", "ok@example.com"]) == {
        "gone@example.com"
    }
    assert await store.soft_bounces("quota@example.com") == 1


def test_the_soft_limit_is_checked(make_config: Callable[..., Any]) -> None:
    from daemon.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        make_config({"bounces": {"soft_limit": 0}})
    assert "bounces.soft_limit" in str(raised.value)
