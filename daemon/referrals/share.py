"""What a promoter's thank-you page offers them to pass their referral link on: plain links a
phone opens in its own apps (text message, WhatsApp, email), and a QR code to show a friend.

Plain links work without JavaScript; nothing here sends anything (the promoter's phone does,
if they choose). The QR code is drawn here as SVG, so the page needs no network or image host.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import segno


@dataclass(frozen=True)
class ShareLinks:
    sms: str
    whatsapp: str
    email: str


def share_links(message: str, subject: str, body: str) -> ShareLinks:
    """`message` (with the link in it) for a text or WhatsApp; `subject` and `body` for an email.
    Every character outside RFC 3986's unreserved set is percent-encoded (a space as %20, never
    +, which mail apps would show), so &, ?, # or quotes in a name cannot end a parameter."""
    text = quote(message, safe="")
    mail_body = quote(body.replace("\r\n", "\n").replace("\n", "\r\n"), safe="")  # RFC 6068
    return ShareLinks(
        sms=f"sms:?&body={text}",  # the form both Android and iOS read
        whatsapp=f"https://wa.me/?text={text}",
        email=f"mailto:?subject={quote(subject, safe='')}&body={mail_body}",
    )


def qr_svg(url: str) -> str:
    """The URL as a QR code in an inline <svg> (medium error correction: readable when a phone
    screen shows it a little blurred); only path data, no text from anyone."""
    return str(segno.make(url, error="m", micro=False).svg_inline(scale=5, svgclass="qr"))
