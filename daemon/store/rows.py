"""The store's row types: what its calls take and return, shared by every concern and its users,
and the column lists and readers more than one concern reads rows with."""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast, get_args, get_type_hints

from daemon.clock import from_ms
from daemon.engine.grades import Introduction


class Recorded(enum.Enum):
    NEW = "new"
    REPLAY = "replay"  # the same id with the same body: answer as before
    CONFLICT = "conflict"  # the same id with a different body


@dataclass(frozen=True)
class EventOutcome:
    recorded: Recorded
    receipt: dict[str, Any]


@dataclass(frozen=True)
class Customer:
    id: int
    email: str
    name: str | None
    external_id: str | None
    timezone: str | None
    locale: str | None
    tags: tuple[str, ...]
    public_id: str


@dataclass(frozen=True)
class Bounce:
    """A bounce or complaint that arrived as mail (a DSN or an ARF report), one per address."""

    email: str
    kind: str  # hard_bounce, soft_bounce, complaint
    status: str | None
    diagnostic: str | None
    original_message_id: str | None
    received_at: datetime


@dataclass(frozen=True)
class StoredEvent:
    """What the scheduler needs of a recorded event (validated once, when it arrived)."""

    seq: int
    id: str
    type: str
    occurred_at: datetime
    customer_id: int | None
    data: dict[str, Any]


@dataclass(frozen=True)
class Invitation:
    id: int
    public_id: str
    customer_id: int
    survey: str
    state: str  # scheduled, sent, answered, skipped
    reason: str | None
    due_at: datetime | None
    sent_at: datetime | None
    reminder_at: datetime | None
    expires_at: datetime | None
    replied_at: datetime | None = None  # a reply to its email: no reminder, like an answer


@dataclass(frozen=True)
class Job:
    """What the event behind a survey says of the job, for its templates ("How did your deck
    build go?"): each None when the event did not say, or said something unusable."""

    title: str | None = None
    product: str | None = None
    amount: float | None = None

    @classmethod
    def of(cls, title: Any, product: Any, amount: Any) -> Job:
        """From an event's data as stored: text kept to one short line, an amount a number."""
        try:
            number = float(amount) if amount is not None and amount != "" else None
        except (TypeError, ValueError):
            number = None
        finite = number is not None and math.isfinite(number)
        return cls(_line(title), _line(product), number if finite else None)


def _line(value: Any) -> str | None:
    text = " ".join(str(value).split())[:120] if value is not None else ""
    return text or None


@dataclass(frozen=True)
class NewInvitation:
    """What the engine decided for one (event, survey): a plan, or a skip with its reason."""

    survey: str
    due_at: datetime | None
    expires_at: datetime | None
    reason: str | None = None  # set: skipped, recorded so the owner can see why


@dataclass(frozen=True)
class Answer:
    """A score (and maybe a comment) however it arrived: page, email click, webhook, reply."""

    customer_id: int
    survey: str
    score: int
    segment: str
    comment: str | None
    source: str
    answered_at: datetime
    invitation_id: int | None = None
    external_id: str | None = None


@dataclass(frozen=True)
class Response:
    id: int
    score: int
    segment: str
    comment: str | None
    source: str


@dataclass(frozen=True)
class Saved:
    response_id: int
    new: bool  # False: an earlier answer to the same invitation (or external id) was updated
    complaint_id: int | None  # a complaint opened by this answer


@dataclass(frozen=True)
class ComplaintAlert:
    """An open complaint whose owner alert is not yet in the outbox."""

    complaint_id: int
    customer: Customer
    survey: str
    score: int
    comment: str | None
    answered_at: datetime
    response_id: int


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    what: str


@dataclass(frozen=True)
class AskRow:
    id: int
    customer_id: int
    moment: str
    source: str
    state: str
    reason: str | None
    due_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Advocate:
    id: int
    customer_id: int
    code: str


@dataclass(frozen=True)
class Referral:
    id: int
    public_id: str
    advocate_id: int
    friend_name: str | None
    friend_email: str | None
    friend_phone: str | None
    need: str | None
    timing: str | None
    relationship: str | None
    expects_contact: bool
    advocate_introduces: bool
    reward_choice: str | None
    grade: str
    channel: str
    flag: str | None
    status: str
    value: float | None


@dataclass(frozen=True)
class Step:
    id: int
    referral: Referral
    status: str
    note: str | None


@dataclass(frozen=True)
class Reward:
    id: int
    referral_id: int
    advocate_id: int
    description: str
    code: str | None
    state: str


@dataclass(frozen=True)
class Partner:
    """A business that refers clients and receives them: an advocate with a trade. Its contact
    (the person we write to) and address are its customers row's name and email."""

    id: int
    public_id: str
    advocate_id: int
    customer_id: int
    code: str
    name: str
    contact: str | None
    email: str
    trade: str
    wants: str
    reward: bool
    created_at: datetime


@dataclass(frozen=True)
class GivenReferral:
    """A client the owner sent to a partner."""

    id: int
    public_id: str
    partner_id: int
    client_name: str | None
    client_email: str | None
    note: str | None
    status: str  # given, won, lost
    value: float | None
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class StageCounts:
    at: dict[str, int]  # customers standing at each stage now, every stage named (0 included)
    unstaged: int  # customers nothing has placed on the road yet
    pending: int  # customers whose stage the backfill after an upgrade has yet to work out


@dataclass(frozen=True)
class Person:
    """A customer as the dashboard links to them: by public id, never the row id."""

    public_id: str
    email: str
    name: str | None

    @property
    def label(self) -> str:
        return self.name or self.email


@dataclass(frozen=True)
class OpenComplaint:
    id: int
    opened_at: datetime
    customer: Person
    survey: str
    score: int
    comment: str | None


@dataclass(frozen=True)
class ResponseLine:
    answered_at: datetime
    customer: Person
    survey: str
    score: int
    segment: str
    comment: str | None
    source: str


@dataclass(frozen=True)
class PipelineReferral:
    public_id: str
    status: str
    grade: str
    friend_name: str | None
    friend_email: str | None
    friend_phone: str | None
    need: str | None
    timing: str | None
    flag: str | None
    value: float | None
    advocate: Person
    updated_at: datetime
    attribution: str | None = None  # what a friend's purchase matched, in words
    attribution_value: float | None = None  # its amount: what a one-click "won" confirms


@dataclass(frozen=True)
class FailedEmail:
    id: int
    kind: str
    recipient: str
    attempts: int
    last_error: str | None
    updated_at: datetime
    customer: Person | None


@dataclass(frozen=True)
class SkippedAsk:
    created_at: datetime
    customer: Person
    moment: str
    reason: str | None


@dataclass(frozen=True)
class StoredEmail:
    """One outbox row as the owner may read it: the message exactly as it was (or will be) sent."""

    id: int
    kind: str
    recipient: str
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message: bytes
    customer: Person | None


@dataclass(frozen=True)
class TimelineEntry:
    """One line of a customer's story. `email_id` links a sent email; `complaint_id` an open
    complaint the owner may resolve; `item` names what the dashboard's actions on it are
    recorded under (store/users.py), to say who did it."""

    at: datetime
    kind: (
        str  # event, survey, email, response, complaint, testimonial, ask, referral, reward, reply
    )
    text: str
    detail: str | None = None
    email_id: int | None = None
    complaint_id: int | None = None
    item: str | None = None


@dataclass(frozen=True)
class SetAside:
    kind: str  # one of KINDS
    item: str  # its key in its own table (an event's seq, an invitation's id, a fact's id...)
    customer: Person | None  # whom it was for, if anyone
    error: str
    at: datetime


# What the longer writes take: one value each rather than a long list of keyword arguments.


@dataclass(frozen=True)
class NewAsk:
    """A moment's decision about a referral ask: scheduled (due), waiting (until it expires),
    or skipped (with its reason)."""

    customer_id: int
    moment: str
    source: str  # what made the moment (an event, a referral): one decision a moment and source
    state: str
    reason: str | None = None
    due_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class NewReferral:
    advocate_id: int
    intro: Introduction
    grade: str
    channel: str
    flag: str | None  # why it earns no reward (a self-referral, an existing customer)
    friend_customer_id: int | None  # the friend's customers row, when they expect contact
    via: str | None = None  # the funnel's channel it came through (daemon/engine/funnel.py)


@dataclass(frozen=True)
class ReferralMove:
    """A step on a referral's road, and whether the advocate is to be told of it."""

    status: str
    value: float | None = None
    note: str | None = None
    shared: bool = False


@dataclass(frozen=True)
class NewReward:
    """How a won referral's reward is made: a generated code, one from the owner's pool, or
    none (a gift); issued at once or awaiting the owner's approval."""

    description: str
    kind: str
    code_prefix: str
    approval: bool


@dataclass(frozen=True)
class NewPartner:
    email: str
    name: str
    trade: str
    wants: str
    contact: str | None = None
    reward: bool = False


@dataclass(frozen=True)
class PartnerEdit:
    """What to change about a partner: None keeps a field (an empty contact clears it)."""

    name: str | None = None
    trade: str | None = None
    wants: str | None = None
    contact: str | None = None
    reward: bool | None = None


@dataclass(frozen=True)
class GivenClient:
    client_name: str | None
    client_email: str | None
    note: str | None


@dataclass(frozen=True)
class NewTestimonial:
    customer_id: int
    text: str
    source: str
    solicited: bool
    origin: str  # unique: where it came from (an event, a reply), so it is kept once
    at: datetime


@dataclass(frozen=True)
class NewReply:
    """A reply to one of our emails (or to none), with the verdict on what it is."""

    customer_id: int | None
    outbox_id: int | None
    from_addr: str
    subject: str | None
    text: str
    verdict: str
    explanation: str
    dedupe: str
    at: datetime
    invitation_id: int | None = None  # replying to a survey or reminder: no reminder after it


@dataclass(frozen=True)
class User:
    """A named dashboard user (daemon/owner/users.py): an owner or staff."""

    id: int
    email: str
    name: str
    role: str  # owner | staff
    password_hash: str
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class Holder:
    """Who holds an open dashboard session: a user, or (user_id None) the shared-password
    owner."""

    user_id: int | None
    name: str
    role: str


@dataclass(frozen=True)
class Action:
    """The latest thing done to an item from the dashboard, and by whom."""

    item: str
    action: str
    by: str
    at: datetime


PERSON = "c.public_id, c.email, c.name"

R = TypeVar("R")


def read(cls: type[R], row: Sequence[Any], start: int = 0) -> R:
    """A row type filled from `row[start:]`, one column a field in the dataclass's own order
    (so a SELECT lists its columns in that order), each value converted by the field's declared
    type: a datetime from epoch ms (or as PostgreSQL gives it), a bool from 0/1, an enum from
    its value, bytes from a blob; a row type field (a Person) from its own columns, None when
    its first one is NULL."""
    return cast(R, _reader(cast(type, cls))[1](row, start))


_Read = Callable[[Sequence[Any], int], Any]


@cache
def _reader(cls: type) -> tuple[int, _Read]:
    """How many columns `cls` takes, and the function that reads it at an offset."""
    hints = get_type_hints(cls)
    steps: list[tuple[str, int, _Read]] = []
    width = 0
    for f in fields(cls):
        taken, fn = _column(hints[f.name])
        steps.append((f.name, width, fn))
        width += taken

    def reader(row: Sequence[Any], start: int) -> Any:
        return cls(**{name: fn(row, start + at) for name, at, fn in steps})

    return width, reader


def _column(hint: Any) -> tuple[int, _Read]:
    """How many columns a field of type `hint` takes, and how it is read at an offset."""
    args = get_args(hint)
    optional = type(None) in args
    kind = next((a for a in args if a is not type(None)), hint) if optional else hint
    if is_dataclass(kind):
        taken, nested = _reader(cast(type, kind))
        if optional:
            return taken, lambda row, i: None if row[i] is None else nested(row, i)
        return taken, nested
    convert = _CONVERT.get(kind)
    if convert is None and isinstance(kind, type) and issubclass(kind, enum.Enum):
        convert = kind
    if convert is None:
        return 1, lambda row, i: row[i]
    if optional:
        return 1, lambda row, i: None if row[i] is None else convert(row[i])
    return 1, lambda row, i: convert(row[i])


def as_time(value: Any) -> datetime:
    """SQLite keeps epoch ms; PostgreSQL gives a datetime (timestamptz) as it is."""
    return value if isinstance(value, datetime) else from_ms(value)


_CONVERT: dict[Any, Callable[[Any], Any]] = {datetime: as_time, bool: bool, bytes: bytes}


CUSTOMER_COLUMNS = "id, email, name, external_id, timezone, locale, tags, public_id"


def customer_row(r: Any) -> Customer:
    return Customer(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7])


REFERRAL = (
    "id, public_id, advocate_id, friend_name, friend_email, friend_phone, need, timing, "
    "relationship, expects_contact, advocate_introduces, reward_choice, grade, channel, flag, "
    "status, value"
)
