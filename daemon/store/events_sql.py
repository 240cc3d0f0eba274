"""Events and customers."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from daemon.clock import to_ms
from daemon.events import EventIn
from daemon.store._sql import SQL
from daemon.store.base import Customer, EventOutcome, Recorded

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

_INSERT_EVENT = """
    INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                        body_hash, payload, receipt)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

_BATCH = 500

Pending = tuple[EventIn, datetime, "asyncio.Future[EventOutcome]"]


class EventsSQL(SQL):
    """Events are written by group commit: every event that arrives while a transaction is
    being written joins the next one, so a burst of API calls costs a few transactions rather
    than one each. Each caller still gets its answer only after its event is committed."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        super().__init__(db, path)
        self._pending: list[Pending] = []
        self._writer: asyncio.Task[None] | None = None

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[EventOutcome] = loop.create_future()
        self._pending.append((event, now, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write_events())
        return await asyncio.shield(future)  # a caller who gives up does not undo the batch

    async def _write_events(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:_BATCH], self._pending[_BATCH:]
            try:
                outcomes = await self._record_batch([(e, now) for e, now, _ in batch])
            except Exception as exc:
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def _record_batch(self, batch: list[tuple[EventIn, datetime]]) -> list[EventOutcome]:
        """One transaction for many events, in a fixed number of statements."""
        hashes = [event.body_hash() for event, _ in batch]
        ids = sorted({event.id for event, _ in batch})
        outcomes: list[EventOutcome] = []
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"SELECT id, body_hash, receipt FROM events WHERE id IN ({_marks(ids)})", ids
            )
            seen: dict[str, tuple[str, dict[str, Any]]] = {
                r[0]: (r[1], json.loads(r[2])) for r in rows
            }
            new: list[tuple[EventIn, datetime, str]] = []
            for (event, now), body_hash in zip(batch, hashes, strict=True):
                if event.id in seen:
                    earlier_hash, receipt = seen[event.id]
                    same = earlier_hash == body_hash
                    outcomes.append(
                        EventOutcome(Recorded.REPLAY if same else Recorded.CONFLICT, receipt)
                    )
                else:
                    receipt = event.receipt()
                    seen[event.id] = (body_hash, receipt)
                    new.append((event, now, body_hash))
                    outcomes.append(EventOutcome(Recorded.NEW, receipt))
            customers = [(e.customer, now) for e, now, _ in new if e.customer is not None]
            customer_ids: dict[str, int] = {}
            if customers:
                await db.executemany(
                    UPSERT_CUSTOMER,
                    [
                        (
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
                        for c, now in customers
                    ],
                )
                emails = sorted({c.email.lower() for c, _ in customers})
                rows = await db.execute_fetchall(
                    f"SELECT email, id FROM customers WHERE email IN ({_marks(emails)})", emails
                )
                customer_ids = {str(r[0]): int(r[1]) for r in rows}
            await db.executemany(
                _INSERT_EVENT,
                [
                    (
                        e.id,
                        e.type,
                        int(e.known),
                        to_ms(e.occurred_at),
                        to_ms(now),
                        customer_ids[e.customer.email.lower()] if e.customer else None,
                        body_hash,
                        e.model_dump_json(),
                        json.dumps(seen[e.id][1]),
                    )
                    for e, now, body_hash in new
                ],
            )
        return outcomes

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


def _marks(values: list[str]) -> str:
    return ", ".join("?" * len(values))
