"""The store's interface: all SQL lives behind it.

SQLite implements it today; a PostgreSQL store will implement the same methods (outbox claims are
leases, so `FOR UPDATE SKIP LOCKED` can serve them there) and run under the same tests.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.clicks import Click
from daemon.events import EventIn
from daemon.outbox import NewEmail, OutboxRow, Settlement, State


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


class Store(Protocol):
    async def close(self) -> None: ...

    # events and customers
    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome: ...
    async def customer_by_email(self, email: str) -> Customer | None: ...
    async def event_counts(self) -> dict[str, int]: ...

    # outbox
    async def enqueue(self, email: NewEmail, now: datetime) -> int | None: ...
    async def claim(
        self, owner: str, now: datetime, lease_seconds: float, limit: int, ids: Sequence[int] = ()
    ) -> list[OutboxRow]: ...
    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None: ...
    async def release_leases(self, owner: str, now: datetime) -> int: ...
    async def outbox_counts(self) -> dict[State, int]: ...
    async def outbox_row(self, row_id: int) -> OutboxRow | None: ...
    async def next_due(self) -> datetime | None: ...

    # suppressions
    async def suppress(self, email: str, reason: str, now: datetime) -> None: ...
    async def suppressed(self, emails: Iterable[str]) -> set[str]: ...
    async def suppression_reason(self, email: str) -> str | None: ...

    # the survey loop
    async def customer(self, customer_id: int) -> Customer | None: ...
    async def customer_by_public_id(self, public_id: str) -> Customer | None: ...
    async def unprocessed_events(self, limit: int) -> list[StoredEvent]: ...
    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]: ...
    async def suppression_reasons(self, emails: Iterable[str]) -> dict[str, str]: ...
    async def last_surveyed(self, customer_ids: Sequence[int]) -> dict[int, datetime]: ...
    async def settle_event(
        self, seq: int, customer_id: int | None, plans: Sequence[NewInvitation], now: datetime
    ) -> list[int]: ...
    async def settle_events(
        self,
        decided: Sequence[tuple[int, int | None, Sequence[NewInvitation]]],
        now: datetime,
    ) -> list[list[int]]: ...
    async def due_invitations(self, now: datetime, limit: int) -> list[Invitation]: ...
    async def due_reminders(self, now: datetime, limit: int) -> list[Invitation]: ...
    async def invitation_sent(
        self, invitation_id: int, sent_at: datetime, reminder_at: datetime | None
    ) -> None: ...
    async def invitation_reminded(self, invitation_id: int, at: datetime) -> None: ...
    async def skip_invitation(self, invitation_id: int, reason: str) -> None: ...
    async def invitation_by_public_id(self, public_id: str) -> Invitation | None: ...
    async def invitation(self, invitation_id: int) -> Invitation | None: ...
    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None: ...
    async def move_invitation(
        self, invitation_id: int, when: datetime, *, reminder: bool
    ) -> None: ...
    async def ensure_customer(self, email: str, now: datetime) -> Customer: ...
    async def add_click(self, invitation_id: int, score: int, at: datetime) -> None: ...
    async def pending_clicks(self, limit: int) -> dict[int, list[Click]]: ...
    async def settle_clicks(self, scanner: Sequence[int], settled: Sequence[int]) -> None: ...
    async def save_answer(self, answer: Answer, now: datetime) -> Saved: ...
    async def response_by_external_id(self, external_id: str) -> int | None: ...
    async def invitation_response(self, invitation_id: int) -> Response | None: ...
    async def unalerted_complaints(self, limit: int) -> list[ComplaintAlert]: ...
    async def complaint_alerted(self, complaint_id: int) -> None: ...
    async def open_complaints(self, customer_id: int) -> int: ...
    async def resolve_complaints(
        self, *, customer_id: int | None, complaint_id: int | None, note: str, now: datetime
    ) -> int: ...
    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]: ...

    # reports (daemon.report shapes these; kind is "survey" or "tag")
    async def score_tallies(self) -> list[tuple[str, str, int, int, int]]: ...
    async def sent_tallies(self) -> list[tuple[str, str, int, int]]: ...
    async def monthly_tallies(
        self, starts: Sequence[datetime]
    ) -> list[tuple[str, str, int, int, int]]: ...


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
