"""An optional inbound SMTP listener: replies to Vouch emails delivered straight to the daemon.

The owner points a reply address (or an MX) at it. It accepts mail for any recipient, parses each
message into an `InboundMail` and awaits the handler before answering the sending server:

- the handler returns None → "250 OK" (the handler may return another SMTP reply instead);
- the handler raises → "451 4.3.0 try again later": the sending server keeps the message and
  retries, so nothing is lost while the store is unavailable;
- a message over `max_bytes` → 552, from aiosmtpd (which also announces the limit as SIZE).

aiosmtpd is an optional extra (`pip install 'vouch[inbound]'`): it is imported when a listener
starts, never when this module is, so the parsing below serves POST /v1/inbound without it.

    listener = InboundListener(record_reply, "0.0.0.0", 2525)
    await listener.start()
    ...
    await listener.stop()
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import re
import socket
import weakref
from collections.abc import Awaitable, Callable, Sequence
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any, Self

from daemon.engine.replies import InboundMail

if TYPE_CHECKING:
    from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

Handler = Callable[[InboundMail], Awaitable[str | None]]

RETRY_LATER = "451 4.3.0 try again later"
SHUTTING_DOWN = "451 4.3.2 shutting down, try again later"


def smtp_protocol() -> type[SMTP]:
    """aiosmtpd's SMTP protocol; ImportError when the `inbound` extra is not installed."""
    from aiosmtpd.smtp import SMTP

    return SMTP


class InboundListener:
    """An aiosmtpd server in the running event loop that hands each message to `handler`.

    `port` is the bound port once started (pass 0 to let the system pick one).
    `stop()` stops listening, lets messages being handled finish (up to `grace` seconds), then
    closes every connection; a message cut off before its 250 is retried by its sender.
    """

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        max_bytes: int = 1_000_000,
        *,
        hostname: str | None = None,
        timeout: float = 300.0,
    ) -> None:
        self.host = host
        self.port = port
        self.max_bytes = max_bytes
        self.hostname = hostname or socket.gethostname()  # the name in the greeting and EHLO
        self.timeout = timeout  # idle seconds before aiosmtpd drops a connection
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._in_flight: set[asyncio.Future[None]] = set()
        self._stopping = False

    async def start(self) -> Self:
        loop = asyncio.get_running_loop()
        self._stopping = False
        protocol_class = smtp_protocol()

        def factory() -> SMTP:
            protocol = protocol_class(
                self,
                data_size_limit=self.max_bytes,
                enable_SMTPUTF8=True,
                hostname=self.hostname,
                timeout=self.timeout,
                loop=loop,
            )
            self._connections.add(protocol)
            return protocol

        self._server = await loop.create_server(factory, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("inbound SMTP listening on %s:%d", self.host, self.port)
        return self

    async def stop(self, grace: float = 5.0) -> None:
        if self._server is None:
            return
        self._stopping = True
        self._server.close()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=grace)
        tasks = []
        for protocol in list(self._connections):
            if isinstance(protocol.transport, asyncio.Transport):
                protocol.transport.abort()
            if protocol._handler_coroutine is not None:
                protocol._handler_coroutine.cancel()
                tasks.append(protocol._handler_coroutine)
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook: called once a whole message (within `max_bytes`) has arrived."""
        if self._stopping:
            return SHUTTING_DOWN
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight.add(done)
        try:
            raw = envelope.original_content or b""
            mail = parse_inbound(raw, envelope.mail_from, envelope.rcpt_tos)
            reply = await self._handler(mail)
        except Exception:
            log.exception("inbound mail from %s: not recorded, asked to retry", envelope.mail_from)
            return RETRY_LATER
        finally:
            self._in_flight.discard(done)
            done.set_result(None)
        return reply or "250 OK"


# --- parsing (pure) ----------------------------------------------------------------------------

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def parse_inbound(
    raw: bytes, mail_from: str | None = None, rcpt_tos: Sequence[str] = ()
) -> InboundMail:
    """An `InboundMail` from a message's bytes and its SMTP envelope.

    `from_addr` is the From header's address (the envelope sender is only a fallback: it is often
    a bounce address); `to_addrs` are the envelope recipients (they include Bcc and forwarded
    addresses), the To header's addresses when there is no envelope. `text` is the text/plain
    body, else the HTML body as plain text (quotes marked with "> "), else "".
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    from_addr = parseaddr(_header(message, "From"))[1] or (mail_from or "")
    to_addrs = list(rcpt_tos) or [
        address for _, address in getaddresses([_header(message, "To")]) if address
    ]
    return InboundMail(
        from_addr=from_addr,
        to_addrs=to_addrs,
        subject=_header(message, "Subject"),
        text=_body(message),
        in_reply_to=_first_id(_header(message, "In-Reply-To")),
        references=_MESSAGE_ID.findall(_header(message, "References")),
        message_id=_first_id(_header(message, "Message-ID")),
        raw=raw,
    )


def _header(message: Message, name: str) -> str:
    """A header as text ("" when absent); RFC 2047 words decoded, the raw text if they are bad."""
    try:
        value = message.get(name)
        return "" if value is None else " ".join(str(value).split())
    except Exception:  # the email package raises assorted errors on malformed headers
        raw = next((v for k, v in message.raw_items() if k.lower() == name.lower()), "")
        return " ".join(str(raw).split())


def _first_id(value: str) -> str | None:
    found = _MESSAGE_ID.search(value)
    if found:
        return found.group(0)
    return value or None


def _body(message: Message) -> str:
    if not isinstance(message, EmailMessage):
        return ""
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return _decoded(part)
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return html_to_text(_decoded(part))
    return ""


def _decoded(part: Message) -> str:
    """A text part's content as str: its declared charset, else UTF-8, never an exception."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    # Strictly as declared, then as UTF-8 ("us-ascii" is often mislabelled UTF-8), then
    # as declared with replacement characters; an unknown or non-text charset means UTF-8.
    for attempt, errors in ((charset, "strict"), ("utf-8", "strict"), (charset, "replace")):
        try:
            return payload.decode(attempt, errors).replace("\r\n", "\n")
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", "replace").replace("\r\n", "\n")


# --- HTML to plain text ------------------------------------------------------------------------

_SKIP = frozenset({"head", "script", "style", "template", "title"})
_BLOCKS = frozenset(
    {"address", "article", "dd", "div", "dl", "dt", "footer", "form", "h1", "h2", "h3", "h4"}
    | {"h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table", "tr", "ul"}
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._words: list[str] = []
        self._depth = 0  # blockquote nesting
        self._skipping = 0

    def _end_line(self, *, keep_empty: bool = False) -> None:
        text = " ".join("".join(self._words).split())
        self._words = []
        if text or keep_empty:
            prefix = "> " * self._depth
            self.lines.append((prefix + text).rstrip())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag == "br":
            self._end_line(keep_empty=True)
        elif tag == "blockquote":
            self._end_line()
            self._depth += 1
        elif tag in _BLOCKS:
            self._end_line()

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)  # <br/> is one break, not two

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag == "blockquote":
            self._end_line()
            self._depth = max(0, self._depth - 1)
        elif tag == "p":
            self._end_line()
            self.lines.append("")
        elif tag in _BLOCKS:
            self._end_line()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._words.append(data)


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML email: one line per block or <br>, blank lines between
    paragraphs, blockquotes prefixed with "> " (so `strip_quoted` drops them), no scripts or
    styles, entities decoded."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    extractor._end_line()
    text = "\n".join(extractor.lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()
