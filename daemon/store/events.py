"""Events as they arrive, written by group commit."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from daemon.intake.events import EventIn
from daemon.store.customers import UPSERT_CUSTOMER, upsert_params
from daemon.store.db import DB, GroupCommit, ms
from daemon.store.pgdb import PGDB
from daemon.store.privacy import erased_key, erased_keys
from daemon.store.queries import Queries
from daemon.store.rows import EventOutcome, Recorded

_INSERT_EVENT = """
    INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                        body_hash, payload, receipt)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

#: An event and its customer in one statement (PostgreSQL): the customer merged as
#: UPSERT_CUSTOMER merges it, the event stored with the customer's id the merge returns.
_INSERT_CUSTOMER_AND_EVENT = f"""
    WITH customer AS ({UPSERT_CUSTOMER} RETURNING id)
    INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                        body_hash, payload, receipt)
    VALUES (?, ?, ?, ?, ?, (SELECT id FROM customer), ?, ?, ?)
"""

_BATCH = 500

#: The seed of the advisory locks taken on event ids (any number: the same in every process).
_LOCKS = 0x6576656E74  # "event"


class Events(Protocol):
    """The intake's events: recorded once (a replay answers as before), counted."""

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome: ...
    async def event_counts(self) -> dict[str, int]: ...


class EventsQueries(Queries):
    """Both halves' calls, by group commit; each half writes a batch its own way."""

    @cached_property
    def _events(self) -> GroupCommit[tuple[EventIn, datetime], EventOutcome]:
        return GroupCommit(self._record_batch, _BATCH)

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome:
        return await self._events((event, now))

    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        """One transaction for many events, in a fixed number of statements. What needs no
        database (hashes, receipts, JSON) is worked out first (`_prepared`), so the
        transaction holds its locks for SQL alone."""
        raise NotImplementedError

    def _prepared(self, batch: list[tuple[EventIn, datetime]]) -> list[_Prepared]:
        return [
            _Prepared(
                event.id,
                event.body_hash(),
                event.receipt(),
                (
                    event.id,
                    event.type,
                    event.known,
                    event.occurred_at,
                    now,
                    event.model_dump_json(),
                ),
                None if event.customer is None else upsert_params(event.customer, now),
                tuple(erased_keys(self.erasure_keys, event.id)),
            )
            for event, now in batch
        ]

    async def event_counts(self) -> dict[str, int]:
        rows = await self._fetch("SELECT type, count(*) FROM events GROUP BY type")
        return {str(r[0]): int(r[1]) for r in rows}


class EventsSQL(EventsQueries, DB):
    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        """Run in the connection's thread in one trip (SQLite's write lock is the store's)."""
        prepared = self._prepared(batch)
        keys = self.erasure_keys
        return await self._transaction(lambda db: _record(db, prepared, keys))


class EventsPG(EventsQueries, PGDB):
    """Events on PostgreSQL, by group commit per process. Processes sharing the store take a
    lock per event id (an advisory one, for the transaction) before they look, so the same id
    sent to two at once is recorded once and both answer as SQLite would. Each event is
    stored with its customer in one statement, a batch's in one trip: five trips a batch
    (begin, lock, look, store, commit) where looking up the customers' ids apart took seven,
    each a wait for the server on a busy machine."""

    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        prepared = self._prepared(batch)
        ids = sorted({p.id for p in prepared})
        looked = sorted(set(ids) | {e for p in prepared for e in p.erased})
        async with self._tx() as tx:
            await tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(id, ?)) "
                "FROM (SELECT unnest(CAST(? AS text[])) AS id ORDER BY 1) AS ids",
                _LOCKS,
                ids,
            )
            rows = await tx.fetch(
                "SELECT id, body_hash, receipt FROM events WHERE id = ANY(?)", looked
            )
            seen = {r[0]: (r[1], json.loads(r[2])) for r in rows}
            outcomes, new = _outcomes(prepared, seen, self.erasure_keys)
            # Customers in one order in every process (by email), so two batches never wait
            # on each other. The events of one batch came at once: no order among them is
            # lost (one customer's keep theirs).
            await tx.executemany(
                _INSERT_CUSTOMER_AND_EVENT,
                [
                    (*p.customer, *p.row[:5], p.body_hash, p.row[5], json.dumps(p.receipt))
                    for p in sorted(new, key=lambda p: str(p.customer[0]) if p.customer else "")
                    if p.customer
                ],
            )
            await tx.executemany(_INSERT_EVENT, _event_rows([p for p in new if not p.customer], {}))
        return outcomes


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
    """The events of one batch, inside the caller's transaction (see `_outcomes`)."""
    ids = sorted({p.id for p in batch} | {e for p in batch for e in p.erased})
    rows = db.execute(
        f"SELECT id, body_hash, receipt FROM events WHERE id IN ({_marks(ids)})", ids
    ).fetchall()
    outcomes, new = _outcomes(batch, {r[0]: (r[1], json.loads(r[2])) for r in rows}, keys)
    customers = [p.customer for p in new if p.customer is not None]
    customer_ids: dict[str, int] = {}
    if customers:
        db.executemany(UPSERT_CUSTOMER, [ms(c) for c in customers])
        emails = sorted({str(c[0]) for c in customers})
        rows = db.execute(
            f"SELECT email, id FROM customers WHERE email IN ({_marks(emails)})", emails
        ).fetchall()
        customer_ids = {str(r[0]): int(r[1]) for r in rows}
    db.executemany(_INSERT_EVENT, [ms(row) for row in _event_rows(new, customer_ids)])
    return outcomes


def _event_rows(new: list[_Prepared], customer_ids: dict[str, int]) -> list[tuple[object, ...]]:
    """_INSERT_EVENT's parameters for the events to store (their customers' ids found)."""
    return [
        (
            *p.row[:5],
            customer_ids[str(p.customer[0])] if p.customer else None,
            p.body_hash,
            p.row[5],
            json.dumps(p.receipt),
        )
        for p in new
    ]


def _outcomes(
    batch: list[_Prepared], seen: dict[str, tuple[str, dict[str, Any]]], keys: tuple[str, ...]
) -> tuple[list[EventOutcome], list[_Prepared]]:
    """Each event's outcome given the stored ones (`seen`: id to body hash and receipt), and
    the events to store: a replay of an id with the same body gets its first receipt, a
    different body under a used id is a conflict. An id whose person was forgotten is found
    by its keyed hash, and compared by its body's."""
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
    return outcomes, new


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))
