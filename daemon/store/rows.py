"""The store's row types: what its calls take and return, shared by every concern and its users,
and the column lists and readers more than one concern reads rows with."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any


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
    complaint the owner may resolve."""

    at: datetime
    kind: (
        str  # event, survey, email, response, complaint, testimonial, ask, referral, reward, reply
    )
    text: str
    detail: str | None = None
    email_id: int | None = None
    complaint_id: int | None = None


@dataclass(frozen=True)
class SetAside:
    kind: str  # one of KINDS
    item: str  # its key in its own table (an event's seq, an invitation's id, a fact's id...)
    customer: Person | None  # whom it was for, if anyone
    error: str
    at: datetime


PERSON = "c.public_id, c.email, c.name"


def person_row(r: Any, at: int) -> Person:
    return Person(str(r[at]), str(r[at + 1]), r[at + 2])


def maybe_person(r: Any, at: int) -> Person | None:
    return person_row(r, at) if r[at] is not None else None


CUSTOMER_COLUMNS = "id, email, name, external_id, timezone, locale, tags, public_id"


def customer_row(r: Any) -> Customer:
    return Customer(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7])


REFERRAL = (
    "id, public_id, advocate_id, friend_name, friend_email, friend_phone, need, timing, "
    "relationship, expects_contact, advocate_introduces, reward_choice, grade, channel, flag, "
    "status, value"
)


def referral_row(r: Any) -> Referral:
    return Referral(
        id=r[0],
        public_id=r[1],
        advocate_id=r[2],
        friend_name=r[3],
        friend_email=r[4],
        friend_phone=r[5],
        need=r[6],
        timing=r[7],
        relationship=r[8],
        expects_contact=bool(r[9]),
        advocate_introduces=bool(r[10]),
        reward_choice=r[11],
        grade=r[12],
        channel=r[13],
        flag=r[14],
        status=r[15],
        value=r[16],
    )
