"""Bounces and complaints that arrive as mail: RFC 3464 delivery status notifications (DSNs) and
RFC 5965 ARF feedback reports. Pure: the stdlib `email` package only, no I/O.

`parse_report(raw)` reads a message's bytes and returns a `Report`, or None when the message is
not a report Vouch acts on (an ordinary reply, garbage, a "delivered"/"relayed" notice, an ARF
"not-spam" report, a report that names no recipient).

- A DSN (`multipart/report; report-type=delivery-status`) has one field block per recipient:
  `Action: failed` with a `5.x.x` status is a hard bounce (the address will never work);
  `failed` or `delayed` with a `4.x.x` status is a soft bounce (full mailbox, greylisting, a
  server down: it may work later); `delivered`, `relayed` and `expanded` are not failures.
  When `Status` is missing the code in `Diagnostic-Code` ("smtp; 550 5.1.1 ...") stands in.
- An ARF report (`multipart/report; report-type=feedback-report`) is a complaint: the recipient
  pressed "this is spam". The complaining address is `Original-Rcpt-To` (or `Removal-Recipient`),
  else the original message's To; many providers redact both, so the original Message-ID (which
  Vouch can match to its outbox) is kept too, and a complaint with only that is still a `Report`.
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses
from typing import Literal

Kind = Literal["hard_bounce", "soft_bounce", "complaint"]


@dataclass(frozen=True)
class Failure:
    """One recipient's outcome in a report."""

    address: str  # lower-cased
    kind: Kind
    status: str | None  # "5.1.1"; for a complaint, None
    diagnostic: str | None  # "smtp; 550 5.1.1 user unknown"; for a complaint, the feedback type


@dataclass(frozen=True)
class Report:
    """A DSN or an ARF report, summed up.

    `kind` is the most severe outcome (hard before soft); `recipients`, `status` and `diagnostic`
    are those of that kind (the first recipient's status and diagnostic); `failures` lists every
    recipient's own outcome, which is what to act on when a DSN mixes hard and soft failures.
    `feedback_type` is the ARF Feedback-Type ("abuse", "fraud", ...), None for a DSN.
    """

    kind: Kind
    recipients: tuple[str, ...]
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    failures: tuple[Failure, ...] = ()
    feedback_type: str | None = None


_STATUS = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")
# "smtp; 550 5.1.1 <a@b>: user unknown" → the enhanced code, else the basic reply code.
_DIAGNOSTIC_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_DIAGNOSTIC_BASIC = re.compile(r"^\s*(?:[\w-]+\s*;)?\s*([245])\d\d\b")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")
_NOT_COMPLAINTS = frozenset({"not-spam"})
_DIAGNOSTIC_MAX = 500


def parse_report(raw: bytes) -> Report | None:
    """The report in a message's bytes, or None (see the module's doc). Never raises."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.compat32)
        report = _find_report(message)
        if report is None:
            return None
        report_type = collapse_rfc2231_value(report.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return _delivery_status(report)
        if report_type == "feedback-report":
            return _feedback(report)
    except Exception:  # the email package raises assorted errors on malformed input
        return None
    return None


def _find_report(message: Message, depth: int = 0) -> Message | None:
    """The multipart/report part: the message itself, or one nested in multipart/* containers
    (some forwarders wrap it), never one inside an attached message."""
    if message.get_content_type() == "multipart/report":
        return message
    if depth < 3 and message.get_content_maintype() == "multipart":
        payload = message.get_payload()
        if isinstance(payload, list):
            for part in payload:
                if isinstance(part, Message) and part.get_content_maintype() == "multipart":
                    found = _find_report(part, depth + 1)
                    if found is not None:
                        return found
    return None


def _parts(report: Message) -> list[Message]:
    payload = report.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _text(value: object) -> str:
    return " ".join(str(value).split()) if value is not None else ""


def _field_blocks(part: Message) -> list[Message]:
    """The field blocks of a message/delivery-status or message/feedback-report part: the
    email package parses the first into a list of blocks and the second into one embedded
    message; when a sender labelled it oddly, the text is split at blank lines here."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [p for p in payload if isinstance(p, Message)]
    if isinstance(payload, Message):
        return [payload]
    body = part.get_payload(decode=True)
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(payload or "")
    text = text.replace("\r\n", "\n")
    return [HeaderParser().parsestr(block) for block in re.split(r"\n[ \t]*\n", text)]


def _original_headers(parts: list[Message]) -> Message | None:
    """The returned original: its headers, from a message/rfc822 or text/rfc822-headers part."""
    for part in parts[1:]:
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
            if isinstance(payload, Message):
                return payload
        if kind in ("text/rfc822-headers", "message/global-headers"):
            body = part.get_payload(decode=True)
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
            return HeaderParser().parsestr(text.replace("\r\n", "\n"))
    return None


def _message_id(headers: Message | None) -> str | None:
    if headers is None:
        return None
    found = _MESSAGE_ID.search(_text(headers.get("Message-ID")))
    return found.group(0) if found else None


def _typed_address(value: object) -> str | None:
    """ "rfc822; <Ann@Example.com>" → "ann@example.com"; None for other address types."""
    text = _text(value)
    if not text:
        return None
    address_type, _, address = text.partition(";")
    if not address:
        address_type, address = "rfc822", text
    if address_type.strip().lower() not in ("rfc822", "utf-8"):
        return None
    address = address.strip().strip("<>").strip().lower()
    return address if _ADDRESS.match(address) else None


def _status(block: Message) -> str | None:
    found = _STATUS.match(_text(block.get("Status")))
    if found:
        return ".".join(found.groups())
    diagnostic = _text(block.get("Diagnostic-Code"))
    enhanced = _DIAGNOSTIC_ENHANCED.search(diagnostic)
    if enhanced:
        return ".".join(enhanced.groups())
    basic = _DIAGNOSTIC_BASIC.match(diagnostic)
    return f"{basic.group(1)}.0.0" if basic else None


def _delivery_status(report: Message) -> Report | None:
    parts = _parts(report)
    status_part = next(
        (p for p in parts if p.get_content_type() == "message/delivery-status"), None
    )
    if status_part is None:
        return None
    failures: list[Failure] = []
    for block in _field_blocks(status_part)[1:]:  # the first block is about the message
        action = _text(block.get("Action")).lower()
        address = _typed_address(block.get("Final-Recipient")) or _typed_address(
            block.get("Original-Recipient")
        )
        status = _status(block)
        if address is None or status is None:
            continue
        kind: Kind
        if action == "failed" and status.startswith("5."):
            kind = "hard_bounce"
        elif action in ("failed", "delayed") and status.startswith("4."):
            kind = "soft_bounce"
        else:
            continue  # delivered, relayed, expanded; or a status that does not match the action
        diagnostic = _text(block.get("Diagnostic-Code"))[:_DIAGNOSTIC_MAX] or None
        failures.append(Failure(address, kind, status, diagnostic))
    if not failures:
        return None
    severest: Kind = (
        "hard_bounce" if any(f.kind == "hard_bounce" for f in failures) else "soft_bounce"
    )
    chosen = [f for f in failures if f.kind == severest]
    return Report(
        kind=severest,
        recipients=tuple(dict.fromkeys(f.address for f in chosen)),
        status=chosen[0].status,
        diagnostic=chosen[0].diagnostic,
        original_message_id=_message_id(_original_headers(parts)),
        failures=tuple(failures),
    )


def _feedback(report: Message) -> Report | None:
    parts = _parts(report)
    feedback_part = next(
        (p for p in parts if p.get_content_type() == "message/feedback-report"), None
    )
    if feedback_part is None:
        return None
    fields = Message()
    for block in _field_blocks(feedback_part):
        for name, value in block.items():
            fields[name] = value
    feedback_type = _text(fields.get("Feedback-Type")).lower() or "abuse"
    if feedback_type in _NOT_COMPLAINTS:
        return None
    original = _original_headers(parts)
    named = [*fields.get_all("Original-Rcpt-To", []), *fields.get_all("Removal-Recipient", [])]
    addresses = [_typed_address(value) for value in named]
    if not any(addresses) and original is not None:
        addresses = [
            a.lower() if _ADDRESS.match(a) else None
            for _, a in getaddresses([_text(v) for v in original.get_all("To", [])])
        ]
    recipients = tuple(dict.fromkeys(a for a in addresses if a))
    message_id = _message_id(original)
    if not recipients and message_id is None:
        return None
    return Report(
        kind="complaint",
        recipients=recipients,
        status=None,
        diagnostic=feedback_type,
        original_message_id=message_id,
        failures=tuple(Failure(a, "complaint", None, feedback_type) for a in recipients),
        feedback_type=feedback_type,
    )
