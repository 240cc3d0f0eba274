"""The outbox: every email (and every webhook delivery) is a row before it is sent.

The types the store and the sender share, and the pure retry policy. Rows hold the flattened
message bytes, rendered once, so a retry sends exactly what the first attempt sent. Survey and
reminder rows are queued unrendered (an empty message and their invitation) so a scheduler tick
stays cheap: the sender renders them when it claims them and stores the bytes before sending.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The kind of outbox rows that are webhook deliveries, not emails: recipient is the endpoint's
#: URL, message the JSON body; the sender hands them to the HTTP transport, and suppressions
#: never apply to them.
WEBHOOK = "webhook"


class State(enum.StrEnum):
    QUEUED = "queued"  # waiting for due_at
    SENDING = "sending"  # leased to a sender until due_at
    SENT = "sent"  # the server said 250 to DATA (or the maildir file is in place)
    FAILED = "failed"  # permanent refusal, or out of attempts
    SUPPRESSED = "suppressed"  # never sent: the address is on the suppression list
    CANCELLED = "cancelled"  # never sent: no longer wanted (a reminder after the answer)


@dataclass(frozen=True)
class Addressed:
    """What an outbox row holds from the start: its dedupe key, its kind, who it goes to and
    from, its Message-ID and its message (empty until rendered, for a survey queued
    unrendered)."""

    dedupe_key: str
    kind: str
    recipient: str
    envelope_from: str
    message_id: str
    message: bytes


@dataclass(frozen=True)
class NewEmail(Addressed):
    """An email to enqueue. dedupe_key is unique per logical email: a second enqueue is a no-op."""

    not_before: datetime
    customer_id: int | None = None
    invitation_id: int | None = None  # with an empty message: rendered when claimed


@dataclass(frozen=True)
class OutboxRow(Addressed):
    """A row as the store holds it, with where it stands."""

    id: int
    state: State
    attempts: int
    last_error: str | None
    invitation_id: int | None = None

    @property
    def unrendered(self) -> bool:
        """A survey or reminder queued without its message: the sender renders it first."""
        return not self.message and self.invitation_id is not None


class Outcome(enum.StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"
    HELD = "held"  # back to the queue, the try not counted: the relay refused us, not them


@dataclass(frozen=True)
class Pause:
    """Sending paused because the relay refuses us (daemon/engine/refusals.py): the emails stay
    queued until a probe at `probe_at` gets through or the owner resumes. Kept in the store, so
    every process (the daemon, `vouch resume`, a second worker) sees the same pause."""

    reason: str  # the relay's reply (the addresses it quotes masked) and what it answered
    since: datetime
    probe_at: datetime  # when one email is tried to see whether the relay works again
    wait_seconds: float  # the wait that led to probe_at; the next one is longer


@dataclass(frozen=True)
class Cancel:
    """What a renderer gives for a row that is no longer to be sent (a reminder to a customer
    who answered after it was queued): the row is settled cancelled and never sent."""

    reason: str


@dataclass(frozen=True)
class Settlement:
    """What happened to one claimed row; applied in batches by Store.settle."""

    row_id: int
    outcome: Outcome
    error: str | None = None
    retry_at: datetime | None = None  # for RETRY
    suppress: str | None = None  # an address to add to the suppression list (permanent refusal)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def next_try(self, attempts: int, now: datetime, rng: random.Random) -> datetime | None:
        """When to try again after `attempts` failed tries, or None when they are used up.

        Exponential backoff with full jitter in the upper half, so a burst of failures does not
        come back as a burst.
        """
        if attempts >= self.max_attempts:
            return None
        ceiling = min(self.max_seconds, self.base_seconds * (2 ** (attempts - 1)))
        return now + timedelta(seconds=ceiling * (0.5 + rng.random() / 2))
