"""Bulk emails rendered once and filled in per recipient: the scheduler's survey batches.

A batch of surveys renders the same templates thousands of times where only the customer's name
and links change, and Jinja2, CSS inlining and quoted-printable cost ~0.9 ms an email. A *stamp*
is a kind rendered once with slots (random marker strings) in place of the personal values: the
HTML inlined once, every line without a slot quoted-printable-encoded once. Each email then
fills its slots (HTML-escaped in the HTML) and encodes only the lines holding them, ~0.1 ms.

The stamp is keyed by the shared values and the *shape* of the personal ones (which are None or
empty), so `{% if customer_name %}` still chooses per recipient. A template that transforms a
personal value (`{{ customer_name | upper }}`) leaves a mangled slot: that stamp is refused and
its emails are rendered in full. And a stamp is trusted only after its first email matched a
full render; if not, its shape falls back to full renders too (logged). Either way every email
says what a full render would.
"""

from __future__ import annotations

import html
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import escape

from daemon.mail.render import Renderer, one_line, quoted_printable

log = logging.getLogger(__name__)

_MAX_STAMPS = 256  # shapes × surveys × kinds stay far below; a bound all the same
_JOIN_LINES = 8  # lines without slots between two with slots: encoded with them, per email


@dataclass
class _Stamp:
    subject: str
    text: list[bytes | list[str | int]]  # lines encoded once, or a line's text and slots
    html: list[bytes | list[str | int]]
    sources: tuple[str, str] | None  # text and HTML with slots, until the first check passed


class Stamps:
    """The stamps of one Renderer (a config reload builds a new Renderer, and new stamps)."""

    def __init__(self, renderer: Renderer) -> None:
        self._renderer = renderer
        self._nonce = "vouchslot" + secrets.token_hex(6)
        self._slot = re.compile(self._nonce + r"(\d+)z")
        self._stamps: dict[str, _Stamp | None] = {}

    def render(
        self,
        kind: str,
        context: Mapping[str, Any],
        *,
        personal: frozenset[str],
        to_email: str,
        to_name: str | None,
        message_id: str,
        headers: Mapping[str, str] | None = None,
        locale: str | None = None,
    ) -> bytes:
        """The message `Renderer.render` would build, from a stamp when one can be used."""
        values: list[str] = []
        shaped = {
            name: self._slotted(value, values) if name in personal else value
            for name, value in context.items()
        }
        language = self._renderer.language(kind, locale)
        key = repr((kind, language, sorted(shaped.items())))
        if key not in self._stamps:
            if len(self._stamps) >= _MAX_STAMPS:
                self._stamps.clear()
            self._stamps[key] = self._make(kind, shaped, language)
        stamp = self._stamps[key]
        if stamp is None or not self._trusted(stamp, kind, context, values, language):
            self._stamps[key] = None
            return self._renderer.render(
                kind,
                context,
                to_email=to_email,
                to_name=to_name,
                message_id=message_id,
                headers=headers,
                locale=language,
            ).message
        subject = one_line(self._fill(stamp.subject, values))
        text = self._encode(stamp.text, values)
        body = self._encode(stamp.html, [str(escape(value)) for value in values])
        return self._renderer.envelope(
            kind,
            subject,
            text,
            body,
            to_email=to_email,
            to_name=to_name,
            message_id=message_id,
            headers=headers,
        )

    def _trusted(
        self,
        stamp: _Stamp,
        kind: str,
        context: Mapping[str, Any],
        values: list[str],
        language: str,
    ) -> bool:
        """A stamp's first email is checked against a full render; after that it is trusted."""
        if stamp.sources is None:
            return True
        subject, text, body = self._renderer.parts(kind, context, language)
        text_source, html_source = stamp.sources
        escaped = [str(escape(value)) for value in values]
        if (
            subject != one_line(self._fill(stamp.subject, values))
            or text != self._fill(text_source, values)
            or html.unescape(body) != html.unescape(self._fill(html_source, escaped))
        ):
            log.warning(
                "the %s templates use a personal value in a way a stamp cannot reproduce: "
                "these emails are rendered one by one",
                kind,
            )
            return False
        stamp.sources = None
        return True

    def _make(self, kind: str, shaped: Mapping[str, Any], language: str) -> _Stamp | None:
        subject, text, body = self._renderer.parts(kind, shaped, language)
        for part in (subject, text, body):  # a slot changed by a filter: no stamp
            if part.lower().count(self._nonce) != len(self._slot.findall(part)):
                log.warning(
                    "the %s templates transform a personal value (a filter on the "
                    "customer's name or a link?): these emails are rendered one by one",
                    kind,
                )
                return None
        return _Stamp(subject, self._lines(text), self._lines(body), (text, body))

    def _slotted(self, value: Any, values: list[str]) -> Any:
        """The value with each non-empty string replaced by a slot (its text kept in values)."""
        kind = type(value)
        if kind is str and value:
            values.append(value)
            return f"{self._nonce}{len(values) - 1}z"
        if kind is dict:
            return {k: self._slotted(v, values) for k, v in value.items()}
        if kind is list or kind is tuple:
            return [self._slotted(v, values) for v in value]
        return value

    def _lines(self, body: str) -> list[bytes | list[str | int]]:
        """The body as `quoted_printable` would see it, in chunks of whole lines: a CRLF resets
        its line length, so encoding chunk by chunk and joining gives the same bytes as encoding
        it all. Runs of lines without slots are encoded here; a chunk with slots is kept as its
        pieces (text, slot number, text ...), short runs between its slots included."""
        chunks: list[bytes | list[str | int]] = []
        static: list[str] = []
        pieces: list[str | int] | None = None  # the open chunk with slots
        for line in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if self._nonce not in line:
                static.append(line)
                continue
            if pieces is not None and len(static) <= _JOIN_LINES:
                pieces.append("\n" + "".join(line + "\n" for line in static))
            else:
                if static:
                    chunks.append(quoted_printable("\n".join(static)))
                pieces = []
                chunks.append(pieces)
            static = []
            pieces += [int(p) if n % 2 else p for n, p in enumerate(self._slot.split(line))]
        if static:
            chunks.append(quoted_printable("\n".join(static)))
        return chunks

    @staticmethod
    def _encode(chunks: Sequence[bytes | list[str | int]], values: Sequence[str]) -> bytes:
        return b"".join(
            chunk
            if type(chunk) is bytes
            else quoted_printable("".join(values[p] if type(p) is int else p for p in chunk))  # type: ignore[misc]
            for chunk in chunks
        )

    def _fill(self, text: str, values: Sequence[str]) -> str:
        return self._slot.sub(lambda match: values[int(match[1])], text)
