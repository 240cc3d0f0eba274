"""What any input must be before it is accepted, wherever it comes from (the API, the public
forms, the webhooks, `vouch import`, `vouch event`, the dashboard): one set of rules, so a value
refused at one door is refused at every door, with the same words.

- Dates: from 1970 to at most a day ahead of now. Further ahead is a typo (9999-12-31) that
  would hold a survey or an ask for ever; before 1970 is no date a business records.
- Text: no control characters. One-line values (names, ids, tags) take none at all; free text
  (comments, notes) takes tab and line breaks. Control characters come out raw in pages and
  exports, and NUL cuts text short in other tools.
- JSON: nested at most MAX_DEPTH levels (Python's parser gives up near 1000, and pydantic's
  serializer at 255: a deeper body must be a 422, never a 500).
- Email addresses: sendable over plain SMTP. An internationalised domain is kept in its IDNA
  (xn--) form, which every relay takes; a non-ASCII part before the @ needs SMTPUTF8 end to
  end, which Vouch does not do, so it is refused at the door rather than failed later.

Pure: no I/O, no clock (now is passed in).
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from email_validator import EmailNotValidError, validate_email

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
AHEAD = timedelta(days=1)
MAX_DEPTH = 32

_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# A JSON string (escapes included), optionally a key (a colon after it), or a bracket.
_JSON_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"\s*:|"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


def when_problem(value: datetime, now: datetime) -> str | None:
    """None for a date an event or an answer may have; otherwise what is wrong, in words."""
    if value < EARLIEST:
        return f"{value.isoformat()} is before 1970"
    if value > now + AHEAD:
        return (
            f"{value.isoformat()} is more than a day ahead of now ({now.isoformat()}); "
            "give the date it happened"
        )
    return None


def text_problem(value: str, *, free: bool = False) -> str | None:
    """None for text without control characters; `free` text may also hold tabs and line
    breaks."""
    found = (_FREE_TEXT if free else _ONE_LINE).search(value)
    if found is None:
        return None
    char = found.group()
    what = "not valid Unicode" if "\ud800" <= char <= "\udfff" else "a control character"
    allowed = "tabs and line breaks are the only ones allowed" if free else "one line of text"
    return f"contains {what} (U+{ord(char):04X} at character {found.start() + 1}): {allowed}"


def check_text(value: str, *, free: bool = False) -> str:
    """`text_problem` as a validator: the value, or ValueError."""
    problem = text_problem(value, free=free)
    if problem:
        raise ValueError(problem)
    return value


def too_deep(body: bytes, limit: int = MAX_DEPTH) -> str | None:
    """None when JSON text nests at most `limit` objects and arrays inside one another;
    otherwise where it goes deeper: the first keys on the way ("data.a.a"), or "body".
    Read without parsing (the point is to stop before the parser does), stopping there."""
    if body.count(b"{") + body.count(b"[") <= limit:
        return None  # the usual case, decided at C speed
    keys: list[bytes] = []  # the key each open object or array was found under
    key = b""
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token in (b"{", b"["):
            if len(keys) >= limit:
                named = [k.decode("utf-8", "replace") for k in keys[1:4] if k]
                return ".".join(named) or "body"
            keys.append(key)
            key = b""
        elif token in (b"}", b"]"):
            if keys:
                keys.pop()
            key = b""
        elif token.endswith(b":"):
            key = token[1 : token.rstrip(b": \t\r\n").rfind(b'"')]
    return None


def depth_problem(limit: int = MAX_DEPTH) -> str:
    return f"nested more than {limit} levels deep (objects and arrays inside one another)"


@functools.lru_cache(maxsize=4096)
def address(value: str) -> str:
    """An email address as Vouch stores and sends it (ValueError says why not): the domain
    lower-cased, in IDNA (xn--) form when internationalised. Cached: the same customers'
    addresses arrive again and again, and checking is costly."""
    try:
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        problem = str(exc)
    else:
        if checked.ascii_email is not None:  # always so without SMTPUTF8
            return checked.ascii_email
        problem = "not a plain ASCII email address"
    if not value.rpartition("@")[0].isascii():
        problem = (
            f"{value!r} has non-ASCII characters before the @: Vouch sends only to "
            "addresses whose part before the @ is plain ASCII (the domain may be "
            "internationalised)"
        )
    raise ValueError(problem)


def mailbox(value: str) -> str:
    """An address as mail headers and providers write it, `Name <addr>` or bare, checked by
    `address`."""
    if "<" in value:
        value = parseaddr(value)[1] or value
    return address(value)
