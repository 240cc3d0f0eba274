"""Events and customers."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from daemon.clock import to_ms
from daemon.intake.events import CustomerIn, EventIn
from daemon.store.base import Customer, EventOutcome, Recorded
from daemon.store.db import DB, GroupCommit
from daemon.store.privacy_sql import erased_key, erased_keys

CUSTOMER_COLUMNS = "id, email, name, external_id, timezone, locale, tags, public_id"


def customer_row(r: Any) -> Customer:
    return Customer(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7])


# An event's customer: an empty value keeps what is stored.
UPSERT_CUSTOMER = """
    INSERT INTO customers (email, name, external_id, timezone, locale, tags,
                           created_at, updated_at, public_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (email) DO UPDATE SET
        name = coalesce(excluded.name, name),
        external_id = coalesce(excluded.external_id, external_id),
        timezone = coalesce(excluded.timezone, timezone),
        locale = coalesce(excluded.locale, locale),
        tags = CASE WHEN excluded.tags = '[]' THEN tags ELSE excluded.tags END,
        updated_at = excluded.updated_at
"""


def upsert_params(customer: CustomerIn, now: datetime) -> tuple[object, ...]:
    """UPSERT_CUSTOMER's parameters for an event's (or an import's) customer."""
    c = customer
    return (
        c.email.lower(),
        c.name,
        c.external_id,
        c.timezone,
        c.locale,
        json.dumps(sorted(set(c.tags))),
        to_ms(now),
        to_ms(now),
        secrets.token_hex(16),
    )


_INSERT_EVENT = """
    INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                        body_hash, payload, receipt)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_BATCH = 500


class EventsSQL(DB):
    """Events are written by group commit (`GroupCommit`): a burst of API calls costs a few
    transactions rather than one each, and each caller gets its answer once its event is
    committed."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        super().__init__(db, path)
        self._events = GroupCommit(self._record_batch, _BATCH)

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome:
        return await self._events((event, now))

    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        """One transaction for many events, in a fixed number of statements. What needs no
        database (hashes, receipts, JSON) is worked out here first, so the transaction holds
        the write lock for SQL alone."""
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
        async with self._write() as db:
            return await _record(db, prepared, self.erasure_keys)

    async def customer_by_email(self, email: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = ?", (email.lower(),)
        )
        return customer_row(rows[0]) if rows else None

    async def ensure_customer(self, email: str, now: datetime) -> Customer:
        """The customer with this address, created bare if new (a response from elsewhere)."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                (email.lower(), to_ms(now), to_ms(now), secrets.token_hex(16)),
            )
            cursor = await db.execute(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = ?", (email.lower(),)
            )
            row = await cursor.fetchone()
        assert row is not None
        return customer_row(row)

    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id IN ({', '.join('?' * len(ids))})",
            ids,
        )
        return {int(r[0]): customer_row(r) for r in rows}

    async def customer(self, customer_id: int) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,)
        )
        return customer_row(rows[0]) if rows else None

    async def customer_by_public_id(self, public_id: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE public_id = ?", (public_id,)
        )
        return customer_row(rows[0]) if rows else None

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


async def _record(
    db: aiosqlite.Connection, batch: list[_Prepared], keys: tuple[str, ...]
) -> list[EventOutcome]:
    """The events of one batch, inside the caller's transaction: a replay of an id with the
    same body gets its first receipt, a different body under a used id is a conflict. An id
    whose person was forgotten is found by its keyed hash, and compared by its body's."""
    ids = sorted({p.id for p in batch} | {e for p in batch for e in p.erased})
    rows = await db.execute_fetchall(
        f"SELECT id, body_hash, receipt FROM events WHERE id IN ({_marks(ids)})", ids
    )
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
        await db.executemany(UPSERT_CUSTOMER, customers)
        emails = sorted({str(c[0]) for c in customers})
        rows = await db.execute_fetchall(
            f"SELECT email, id FROM customers WHERE email IN ({_marks(emails)})", emails
        )
        customer_ids = {str(r[0]): int(r[1]) for r in rows}
    await db.executemany(
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
