"""Events as they arrive, written by group commit."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from daemon.clock import to_ms
from daemon.intake.events import EventIn
from daemon.store.customers import UPSERT_CUSTOMER, upsert_params
from daemon.store.db import DB, GroupCommit
from daemon.store.privacy import erased_key, erased_keys
from daemon.store.rows import EventOutcome, Recorded

_INSERT_EVENT = """
    INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                        body_hash, payload, receipt)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_BATCH = 500


class Events(Protocol):
    """The intake's events: recorded once (a replay answers as before), counted."""

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome: ...
    async def event_counts(self) -> dict[str, int]: ...


class EventsSQL(DB):
    @cached_property
    def _events(self) -> GroupCommit[tuple[EventIn, datetime], EventOutcome]:
        return GroupCommit(self._record_batch, _BATCH)

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome:
        return await self._events((event, now))

    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        """One transaction for many events, in a fixed number of statements, run in the
        connection's thread in one trip. What needs no database (hashes, receipts, JSON) is
        worked out here first, so the transaction holds the write lock for SQL alone."""
        prepared = [
            _Prepared(
                event.id,
                event.body_hash(),
                event.receipt(),
                (
                    event.id,
                    event.type,
                    int(event.known),
                    to_ms(event.occurred_at),
                    to_ms(now),
                    event.model_dump_json(),
                ),
                None if event.customer is None else upsert_params(event.customer, now),
                tuple(erased_keys(self.erasure_keys, event.id)),
            )
            for event, now in batch
        ]
        keys = self.erasure_keys
        return await self._transaction(lambda db: _record(db, prepared, keys))

    async def event_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT type, count(*) FROM events GROUP BY type")
        return {str(r[0]): int(r[1]) for r in rows}


@dataclass(frozen=True)
class _Prepared:
    """An event ready to store: its row (less customer, hash and receipt) and its customer's."""

    id: str
    body_hash: str
    receipt: dict[str, Any]
    row: tuple[object, ...]  # id, type, known, occurred_at, received_at, payload
    customer: tuple[object, ...] | None  # UPSERT_CUSTOMER's parameters
    erased: tuple[str, ...]  # the id as forgetting its person would have kept it, by key


def _record(
    db: sqlite3.Connection, batch: list[_Prepared], keys: tuple[str, ...]
) -> list[EventOutcome]:
    """The events of one batch, inside the caller's transaction: a replay of an id with the
    same body gets its first receipt, a different body under a used id is a conflict. An id
    whose person was forgotten is found by its keyed hash, and compared by its body's."""
    ids = sorted({p.id for p in batch} | {e for p in batch for e in p.erased})
    rows = db.execute(
        f"SELECT id, body_hash, receipt FROM events WHERE id IN ({_marks(ids)})", ids
    ).fetchall()
    seen: dict[str, tuple[str, dict[str, Any]]] = {r[0]: (r[1], json.loads(r[2])) for r in rows}
    for p in batch:
        for n, erased in enumerate(p.erased):
            if p.id not in seen and erased in seen:
                body_hash, receipt = seen[erased]
                same = body_hash == erased_key(keys[n], p.body_hash)
                seen[p.id] = (p.body_hash if same else body_hash, {**receipt, "id": p.id})
    outcomes: list[EventOutcome] = []
    new: list[_Prepared] = []
    for p in batch:
        if p.id in seen:
            earlier_hash, receipt = seen[p.id]
            same = earlier_hash == p.body_hash
            outcomes.append(EventOutcome(Recorded.REPLAY if same else Recorded.CONFLICT, receipt))
        else:
            seen[p.id] = (p.body_hash, p.receipt)
            new.append(p)
            outcomes.append(EventOutcome(Recorded.NEW, p.receipt))
    customers = [p.customer for p in new if p.customer is not None]
    customer_ids: dict[str, int] = {}
    if customers:
        db.executemany(UPSERT_CUSTOMER, customers)
        emails = sorted({str(c[0]) for c in customers})
        rows = db.execute(
            f"SELECT email, id FROM customers WHERE email IN ({_marks(emails)})", emails
        ).fetchall()
        customer_ids = {str(r[0]): int(r[1]) for r in rows}
    db.executemany(
        _INSERT_EVENT,
        [
            (
                *p.row[:5],
                customer_ids[str(p.customer[0])] if p.customer else None,
                p.body_hash,
                p.row[5],
                json.dumps(p.receipt),
            )
            for p in new
        ],
    )
    return outcomes


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))
