"""Whom a relay's permanent refusal is about, and when refusals mean the relay refuses us.

Pure: no I/O. The sender (run/sender.py) applies these rules so that a broken relay (relaying
denied, a failed login, our sender refused, a policy block) suppresses nobody:

- `about` reads one refusal: only a reply about the recipient (mailbox unknown, 5.1.1, 5.2.1 ...)
  may suppress that recipient; a reply at the greeting, AUTH or MAIL FROM, or about our sender
  address (5.1.7, 5.7.8, "Sender address rejected") is about us; anything else (relaying,
  policy, content, or no telling) is about neither and suppresses nobody;
- `judge` follows a run of outcomes: a refusal about us pauses sending at once; the same other
  refusal for `threshold` different recipients in a row pauses it too; while paused, the rows
  the relay refuses stay queued without using up a try, and only a probe the relay accepts (or
  the owner) resumes;
- `probe_wait` spaces the probes out while the relay keeps refusing.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass


class Stage(enum.StrEnum):
    """Where in the SMTP conversation the reply came."""

    CONNECT = "connect"  # the greeting, EHLO, STARTTLS
    AUTH = "auth"
    MAIL = "mail"  # MAIL FROM: our sender address
    RCPT = "rcpt"  # RCPT TO: the recipient
    DATA = "data"  # the message (one recipient per transaction)


class About(enum.StrEnum):
    RECIPIENT = "recipient"  # this recipient's mailbox: suppress it
    SENDER = "sender"  # us: our login, our address, our connection: pause at once
    OTHER = "other"  # relaying, policy, content, or no telling: nobody is suppressed


@dataclass(frozen=True)
class Refusal:
    """A relay's reply that refused an email, as it said it."""

    stage: Stage
    reply: str  # the whole reply: "554 5.7.1 <ann@example.com>: Relay access denied"

    @property
    def status(self) -> str | None:
        """The enhanced status code (RFC 3463), "5.1.1", when the reply has one."""
        found = _STATUS.match(self.reply)
        return found.group(1) if found else None

    @property
    def summary(self) -> str:
        """The reply for the owner, e.g. on /healthz: the addresses it quotes (a customer's)
        masked, and what it answered."""
        said = " ".join(_ADDRESS.sub("<…>", self.reply).split())
        return f"{said} (the answer to {_ANSWERED[self.stage]})"

    @property
    def words(self) -> str:
        """The reply without its codes and the addresses it quotes, lower-cased: two replies
        with the same words are the same refusal, whoever they were about."""
        text = _STATUS.sub("", self.reply, count=1)
        text = _ADDRESS.sub("<>", text)
        return " ".join(text.lower().split())


_ANSWERED = {
    Stage.CONNECT: "our connection",
    Stage.AUTH: "our login",
    Stage.MAIL: "MAIL FROM, our sender address",
    Stage.RCPT: "RCPT TO",
    Stage.DATA: "the message",
}
_STATUS = re.compile(r"^\s*[245]\d\d[ -]+([245]\.\d{1,3}\.\d{1,3})\b|^\s*[245]\d\d\b")
_ADDRESS = re.compile(r"<[^<>]*>|[^\s<>]+@[^\s<>]+")

# RFC 3463 and its registry: the statuses that name the recipient's mailbox or domain ...
RECIPIENT_STATUSES = frozenset(
    {
        "5.1.1",  # bad destination mailbox address (user unknown)
        "5.1.2",  # bad destination system address (no such domain)
        "5.1.3",  # bad destination mailbox address syntax
        "5.1.4",  # destination mailbox address ambiguous
        "5.1.6",  # destination mailbox has moved, no forwarding address
        "5.1.10",  # recipient address has a null MX (RFC 7505)
        "5.2.1",  # mailbox disabled, not accepting messages
    }
)
# ... and those that name us: our address, our login, our domain's authentication.
SENDER_STATUSES = frozenset(
    {
        "5.1.7",  # bad sender's mailbox address syntax
        "5.1.8",  # bad sender's system address
        "5.7.8",  # authentication credentials invalid
        "5.7.9",  # authentication mechanism too weak
        "5.7.11",  # encryption required for the authentication mechanism
        "5.7.13",  # user account disabled
        "5.7.14",  # trust relationship required
        "5.7.23",  # SPF validation failed
        "5.7.24",  # SPF validation error
        "5.7.25",  # reverse DNS validation failed
        "5.7.26",  # multiple authentication checks failed (DMARC)
        "5.7.27",  # sender address has a null MX
    }
)
# Without an informative status (none, or x.0.0), the words decide; "sender" first, so that
# "Sender address rejected" quoted at RCPT (Postfix's default) is about us.
_SENDER_WORDS = re.compile(r"\bsender\b|\bauthenticat|\bnot (?:logged in|authorized to send)")
_RECIPIENT_WORDS = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|recipient|person)|"
    r"(?:mailbox|recipient|user|address) (?:does not|doesn't) exist|"
    r"mailbox (?:not found|unavailable|disabled)|unknown recipient|recipient unknown|"
    r"invalid recipient|invalid mailbox"
)


def about(refusal: Refusal) -> About:
    """Whom a permanent refusal is about (the module's doc says what follows from each)."""
    if refusal.stage in (Stage.CONNECT, Stage.AUTH, Stage.MAIL):
        return About.SENDER
    status = refusal.status
    if status in RECIPIENT_STATUSES:
        return About.RECIPIENT
    if status in SENDER_STATUSES:
        return About.SENDER
    words = refusal.words
    if _SENDER_WORDS.search(words):
        return About.SENDER
    if (status is None or status.endswith(".0.0")) and _RECIPIENT_WORDS.search(words):
        return About.RECIPIENT
    return About.OTHER


@dataclass(frozen=True)
class Seen:
    """What the relay did with one email: accepted it (`refusal` None) or refused it for good."""

    row_id: int
    recipient: str
    refusal: Refusal | None = None


@dataclass(frozen=True)
class Streak:
    """The run of one same refusal about neither side, and the rows and recipients it hit."""

    words: str = ""
    recipients: frozenset[str] = frozenset()
    rows: tuple[int, ...] = ()


@dataclass(frozen=True)
class Verdict:
    streak: Streak  # the run after this outcome
    hold: bool = False  # keep the row queued without counting the try
    pause: Refusal | None = None  # pause sending (or stay paused) because of this reply
    resume: bool = False  # the relay took a probe: send again
    refund: tuple[int, ...] = ()  # earlier rows of the run: their tries do not count either


def judge(streak: Streak, seen: Seen, *, paused: bool, probe: bool, threshold: int) -> Verdict:
    """The sender's next step after the relay accepted or refused one email for good.

    `paused`: sending is paused; `probe`: this email was the one try made to see whether the
    relay works again; `threshold`: how many different recipients refused the same way in a
    row pause sending. Temporary failures are not outcomes here: they say nothing either way.
    """
    refusal = seen.refusal
    whom = about(refusal) if refusal is not None else None
    if whom is None or whom is About.RECIPIENT:  # the relay took our email, or judged the mailbox
        return Verdict(Streak(), resume=paused and probe)
    assert refusal is not None
    if paused or whom is About.SENDER:
        return Verdict(Streak(), hold=True, pause=refusal)
    recipient = seen.recipient.lower()
    if streak.words == refusal.words:
        run = Streak(refusal.words, streak.recipients | {recipient}, (*streak.rows, seen.row_id))
    else:
        run = Streak(refusal.words, frozenset({recipient}), (seen.row_id,))
    if len(run.recipients) < threshold:
        return Verdict(run)
    return Verdict(Streak(), hold=True, pause=refusal, refund=run.rows[:-1])


def probe_wait(previous: float | None, first: float, longest: float) -> float:
    """Seconds until the next probe: `first` after a new pause, then twice as long each time
    the relay refuses again, never more than `longest`."""
    if previous is None:
        return first
    return max(first, min(longest, previous * 2))
