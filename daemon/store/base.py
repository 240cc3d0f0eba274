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
