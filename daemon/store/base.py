"""The store's interface: all SQL lives behind it.

SQLite implements it today; a PostgreSQL store will implement the same methods (outbox claims are
leases, so `FOR UPDATE SKIP LOCKED` can serve them there) and run under the same tests.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.clicks import Click
from daemon.engine.digest import DigestFacts
from daemon.engine.grades import Introduction
from daemon.engine.influence import Facts
from daemon.engine.lifecycle_types import Move, RoadRule, Stage
from daemon.engine.offers import Terms
from daemon.engine.webhooks import Fact
from daemon.intake.events import CustomerIn, EventIn
from daemon.mail.outbox import NewEmail, OutboxRow, Pause, Settlement, State
from daemon.store.admin_sql import (
    FailedEmail,
    OpenComplaint,
    Person,
    PipelineReferral,
    ResponseLine,
    SkippedAsk,
    StoredEmail,
    TimelineEntry,
)
from daemon.store.setaside_sql import SetAside


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
    erasure_keys: tuple[str, ...]  # see PrivacySQL.forget

    async def close(self) -> None: ...

    # events and customers
    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome: ...
    async def customer_by_email(self, email: str) -> Customer | None: ...
    async def event_counts(self) -> dict[str, int]: ...
    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]: ...

    # outbox
    async def enqueue(self, email: NewEmail, now: datetime) -> int | None: ...
    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        ids: Sequence[int] = (),
        *,
        webhooks: bool | None = None,
    ) -> list[OutboxRow]: ...
    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None: ...
    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]: ...
    async def release_leases(self, owner: str, now: datetime) -> int: ...
    async def sending_pause(self) -> Pause | None: ...
    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None: ...
    async def resume_sending(self) -> Pause | None: ...
    async def outbox_counts(self) -> dict[State, int]: ...
    async def outbox_row(self, row_id: int) -> OutboxRow | None: ...
    async def next_due(self) -> datetime | None: ...

    # suppressions
    async def suppress(self, email: str, reason: str, now: datetime) -> None: ...
    async def suppressed(self, emails: Iterable[str]) -> set[str]: ...
    async def suppression_reason(self, email: str) -> str | None: ...
    async def suppressions_of(self, email: str) -> list[tuple[str, datetime]]: ...
    async def lift_suppression(
        self, email: str, reason: str, by: str, now: datetime
    ) -> datetime | None: ...

    # a person's data (daemon/store/privacy_sql.py)
    async def person_export(self, email: str) -> dict[str, Any]: ...
    async def forget(self, email: str, now: datetime) -> dict[str, Any]: ...
    async def checkpoint(self) -> bool: ...

    # bounces and complaints that arrive as mail
    async def record_bounce(
        self,
        *,
        email: str,
        kind: str,
        status: str | None,
        diagnostic: str | None,
        original_message_id: str | None,
        dedupe: str,
        at: datetime,
    ) -> int: ...
    async def soft_bounces(self, email: str) -> int: ...
    async def bounces_of(self, email: str) -> list[Bounce]: ...

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
    async def invitations_sent(
        self, sent: Sequence[tuple[int, datetime, datetime | None]]
    ) -> None: ...
    async def invitations_reminded(self, ids: Sequence[int], at: datetime) -> None: ...
    async def enqueue_many(self, emails: Sequence[NewEmail], now: datetime) -> None: ...
    async def skip_invitation(self, invitation_id: int, reason: str) -> None: ...
    async def invitation_by_public_id(self, public_id: str) -> Invitation | None: ...
    async def invitation(self, invitation_id: int) -> Invitation | None: ...
    async def invitations(self, invitation_ids: Iterable[int]) -> dict[int, Invitation]: ...
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

    # the referral engine
    async def ask_facts(
        self, customer_id: int
    ) -> tuple[str | None, int, tuple[int, datetime] | None, list[datetime]]: ...
    async def add_ask(
        self,
        customer_id: int,
        moment: str,
        source: str,
        *,
        state: str,
        reason: str | None,
        due_at: datetime | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> int | None: ...
    async def update_ask(
        self, ask_id: int, *, state: str, reason: str | None, due_at: datetime | None
    ) -> None: ...
    async def ask_sent(self, ask_id: int, at: datetime) -> None: ...
    async def due_asks(self, now: datetime, limit: int) -> list[AskRow]: ...
    async def waiting_asks(self, now: datetime, limit: int) -> list[tuple[AskRow, bool]]: ...
    async def asks_of(self, customer_id: int) -> list[AskRow]: ...
    async def ensure_advocate(self, customer_id: int, now: datetime) -> Advocate: ...
    async def advocate_by_code(self, code: str) -> Advocate | None: ...
    async def advocate(self, advocate_id: int) -> Advocate | None: ...
    async def add_testimonial(
        self,
        customer_id: int,
        text: str,
        source: str,
        solicited: bool,
        origin: str,
        at: datetime,
    ) -> int | None: ...
    async def sent_email(self, message_id: str) -> tuple[int, int | None, str, str] | None: ...
    async def add_reply(
        self,
        *,
        customer_id: int | None,
        outbox_id: int | None,
        from_addr: str,
        subject: str | None,
        text: str,
        verdict: str,
        explanation: str,
        dedupe: str,
        at: datetime,
        invitation_id: int | None = None,
    ) -> int | None: ...
    async def has_history(self, email: str) -> bool: ...
    async def add_referral(
        self,
        advocate_id: int,
        intro: Introduction,
        *,
        grade: str,
        channel: str,
        flag: str | None,
        friend_customer_id: int | None,
        now: datetime,
    ) -> Referral: ...
    async def referral(self, public_id: str) -> Referral | None: ...
    async def referral_by_id(self, referral_id: int) -> Referral | None: ...
    async def referrals_since(self, advocate_id: int, since: datetime) -> int: ...
    async def unnotified_referrals(self, limit: int) -> list[Referral]: ...
    async def referral_notified(self, referral_id: int) -> None: ...
    async def move_referral(
        self,
        referral_id: int,
        status: str,
        *,
        value: float | None,
        note: str | None,
        shared: bool,
        now: datetime,
    ) -> None: ...
    async def unnotified_steps(self, limit: int) -> list[Step]: ...
    async def step_notified(self, step_id: int) -> None: ...
    async def create_reward(
        self,
        referral: Referral,
        *,
        description: str,
        kind: str,
        code_prefix: str,
        approval: bool,
        now: datetime,
    ) -> Reward: ...
    async def load_reward_codes(self, codes: Sequence[str], now: datetime, state: str) -> int: ...
    async def approve_reward(self, referral_id: int, now: datetime) -> Reward | None: ...
    async def unnotified_rewards(self, limit: int) -> list[Reward]: ...
    async def reward_notified(self, reward_id: int) -> None: ...
    async def rewards_of(self, advocate_id: int) -> list[Reward]: ...

    async def referral_facts(self) -> list[tuple[Any, ...]]: ...
    async def customer_overview(self, customer_id: int) -> dict[str, Any]: ...
    def export_rows(self, name: str) -> AsyncIterator[list[Any]]: ...
    async def tags_by_kind(self) -> list[tuple[str, int, int]]: ...

    # offer tests (daemon/store/offers_sql.py)
    async def offer_terms(self, advocate_id: int) -> Terms | None: ...
    async def assign_offer(self, advocate_id: int, terms: Terms, now: datetime) -> Terms: ...
    async def offer_facts(self) -> list[tuple[Any, ...]]: ...

    # influence and the daily ask cap (daemon/store/influence_sql.py)
    async def set_influence_mark(
        self, customer_id: int, mark: int | None, *, source: str, now: datetime
    ) -> None: ...
    async def influence_facts(self, customer_ids: Sequence[int]) -> dict[int, Facts]: ...
    async def influential(self, tags: Sequence[str]) -> list[tuple[Facts, str, str | None]]: ...
    async def asks_planned_before(self, before: datetime, limit: int) -> list[AskRow]: ...
    async def asks_sent_between(self, start: datetime, end: datetime) -> int: ...

    # partners (daemon/store/partners_sql.py)
    async def add_partner(
        self,
        *,
        email: str,
        name: str,
        contact: str | None,
        trade: str,
        wants: str,
        reward: bool,
        now: datetime,
    ) -> Partner | None: ...
    async def update_partner(
        self,
        partner_id: int,
        *,
        name: str | None,
        contact: str | None,
        trade: str | None,
        wants: str | None,
        reward: bool | None,
        now: datetime,
    ) -> Partner: ...
    async def partners_matching(self, ref: str) -> list[Partner]: ...
    async def partner_by_advocate(self, advocate_id: int) -> Partner | None: ...
    async def partners(self) -> list[Partner]: ...
    async def referrals_from(self, advocate_id: int) -> list[Referral]: ...
    async def give_referral(
        self,
        partner_id: int,
        *,
        client_name: str | None,
        client_email: str | None,
        note: str | None,
        now: datetime,
    ) -> GivenReferral: ...
    async def given_referral(self, public_id: str) -> GivenReferral | None: ...
    async def close_given(
        self, given_id: int, status: str, value: float | None, now: datetime
    ) -> GivenReferral: ...
    async def given_to(self, partner_id: int) -> list[GivenReferral]: ...
    async def organization_joined(self, event_id: str) -> str | None: ...
    async def partner_facts(self) -> list[tuple[Any, ...]]: ...

    # the customer life cycle (store/lifecycle_sql.py; daemon.owner.stages passes the engine's
    # rule to the refreshes and shapes the report)
    async def refresh_stages(
        self, customer_ids: Iterable[int], kinds: Collection[str], rule: RoadRule
    ) -> int: ...
    async def refresh_pending_stages(
        self, limit: int, kinds: Collection[str], rule: RoadRule
    ) -> int: ...
    async def stored_stage(self, customer_id: int) -> tuple[Stage | None, bool]: ...
    async def customer_road(self, customer_id: int) -> list[Move]: ...
    async def stage_counts(self) -> StageCounts: ...
    async def stage_moves_by_month(
        self, starts: Sequence[datetime]
    ) -> list[tuple[int, str, int]]: ...

    # outbound webhooks (daemon/owner/webhooks.py)
    async def unreported_facts(self, limit: int) -> list[Fact]: ...
    async def report_facts(
        self, facts: Sequence[Fact], deliveries: Sequence[NewEmail], now: datetime
    ) -> None: ...

    # the owner's digest (daemon/owner/digest.py)
    async def store_created(self, now: datetime) -> datetime: ...
    async def outbox_has(self, dedupe_key: str) -> bool: ...
    async def digest_facts(
        self, start: datetime, end: datetime, previous_start: datetime
    ) -> DigestFacts: ...

    # work set aside (daemon/run/isolation.py, daemon/store/setaside_sql.py)
    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None: ...
    async def is_set_aside(self, kind: str, item: str) -> bool: ...
    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]: ...

    async def write_probe(self) -> None: ...

    # the owner's dashboard (daemon/store/admin_sql.py)
    async def open_session(
        self, session_id: bytes, expires_at: datetime, now: datetime
    ) -> None: ...
    async def session_open(self, session_id: bytes, now: datetime) -> bool: ...
    async def end_session(self, session_id: bytes) -> None: ...
    async def open_complaint_count(self) -> int: ...
    async def open_complaint_list(self, limit: int, offset: int = 0) -> list[OpenComplaint]: ...
    async def latest_responses(self, limit: int) -> list[ResponseLine]: ...
    async def referral_pipeline(
        self, per_status: int
    ) -> tuple[dict[str, int], list[PipelineReferral]]: ...
    async def failed_emails(self, limit: int) -> list[FailedEmail]: ...
    async def retry_email(self, row_id: int, now: datetime) -> bool: ...
    async def skipped_asks(self, limit: int) -> list[SkippedAsk]: ...
    async def find_customers(self, text: str, limit: int) -> list[Person]: ...
    async def stored_email(self, row_id: int) -> StoredEmail | None: ...
    async def customer_timeline(
        self, customer_id: int, limit: int = 200
    ) -> list[TimelineEntry]: ...

    # reports (daemon.owner.report shapes these; kind is "survey" or "tag")
    async def score_tallies(self) -> list[tuple[str, str, int, int, int]]: ...
    async def sent_tallies(self) -> list[tuple[str, str, int, int]]: ...
    async def monthly_tallies(
        self, starts: Sequence[datetime]
    ) -> list[tuple[str, str, int, int, int]]: ...


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
